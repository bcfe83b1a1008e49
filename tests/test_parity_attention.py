"""MultiHeadAttention, GELU and the blocks against PyTorch (float64): forward, dx and every
parameter gradient.

Skipped as a whole when torch is not installed (pip install ".[torch]").
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import minnet as mn

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-12, 1e-12


def t(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def close(actual, expected):
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)


def random_attention(D, H, causal, seed):
    layer = mn.MultiHeadAttention(D, H, causal=causal, seed=seed)
    rng = np.random.default_rng(seed + 1)
    for p in layer.params.values():  # biases too: torch starts them at 0, which hides mistakes
        p[...] = rng.standard_normal(p.shape) * 0.5
    return layer


def torch_attention(layer):
    """nn.MultiheadAttention with the layer's weights: in_proj packs Wq, Wk, Wv as rows of
    (3D, D), each transposed (torch computes x Wᵀ), out_proj is Wo transposed."""
    p = layer.params
    mha = torch.nn.MultiheadAttention(layer.embed_dim, layer.num_heads, batch_first=True,
                                      dtype=torch.float64)
    with torch.no_grad():
        mha.in_proj_weight.copy_(t(np.concatenate([p["Wq"].T, p["Wk"].T, p["Wv"].T])))
        mha.in_proj_bias.copy_(t(np.concatenate([p["bq"], p["bk"], p["bv"]])))
        mha.out_proj.weight.copy_(t(p["Wo"].T))
        mha.out_proj.bias.copy_(t(p["bo"]))
    return mha


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("heads", [1, 2, 4])
@pytest.mark.parametrize("N, T, D", [(1, 1, 4), (3, 5, 8), (2, 9, 12)])
def test_multihead_attention_matches_torch(N, T, D, heads, causal):
    seed = N * 100 + T * 10 + heads
    layer = random_attention(D, heads, causal, seed)
    rng = np.random.default_rng(seed)
    x, dout = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, D))

    mha, xt = torch_attention(layer), t(x, grad=True)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1) if causal else None
    yt, At = mha(xt, xt, xt, attn_mask=mask, need_weights=True, average_attn_weights=False)
    yt.backward(t(dout))

    close(layer.forward(x), yt)
    close(layer.attention, At)
    close(layer.backward(dout), xt.grad)
    D_ = layer.embed_dim
    g = mha.in_proj_weight.grad.numpy()
    b = mha.in_proj_bias.grad.numpy()
    for k, name in enumerate("qkv"):
        close(layer.grads[f"W{name}"], g[k * D_:(k + 1) * D_].T)
        close(layer.grads[f"b{name}"], b[k * D_:(k + 1) * D_])
    close(layer.grads["Wo"], mha.out_proj.weight.grad.T)
    close(layer.grads["bo"], mha.out_proj.bias.grad)


def test_gelu_matches_torchs_tanh_form():
    rng = np.random.default_rng(0)
    x, dout = 4 * rng.standard_normal((7, 11)), rng.standard_normal((7, 11))
    xt = t(x, grad=True)
    yt = torch.nn.functional.gelu(xt, approximate="tanh")
    yt.backward(t(dout))
    layer = mn.GELU()
    close(layer.forward(x), yt)
    close(layer.backward(dout), xt.grad)


def test_residual_and_sequential_match_torch():
    rng = np.random.default_rng(3)
    norm, d1, d2 = mn.LayerNorm(6), mn.Dense(6, 10, seed=0), mn.Dense(10, 6, seed=1)
    norm.params["gamma"][...] = rng.standard_normal(6)
    norm.params["beta"][...] = rng.standard_normal(6)
    block = mn.Sequential(mn.Residual(norm, d1, mn.GELU(), d2), mn.Tanh())
    x, dout = rng.standard_normal((4, 3, 6)), rng.standard_normal((4, 3, 6))

    tn, l1, l2 = (torch.nn.LayerNorm(6, dtype=torch.float64),
                  torch.nn.Linear(6, 10, dtype=torch.float64),
                  torch.nn.Linear(10, 6, dtype=torch.float64))
    with torch.no_grad():
        tn.weight.copy_(t(norm.params["gamma"]))
        tn.bias.copy_(t(norm.params["beta"]))
        for lin, dense in ((l1, d1), (l2, d2)):
            lin.weight.copy_(t(dense.params["W"].T))
            lin.bias.copy_(t(dense.params["b"]))
    xt = t(x, grad=True)
    yt = torch.tanh(xt + l2(torch.nn.functional.gelu(l1(tn(xt)), approximate="tanh")))
    yt.backward(t(dout))

    close(block.forward(x), yt)
    close(block.backward(dout), xt.grad)
    close(block.grads["0.0.gamma"], tn.weight.grad)
    close(block.grads["0.0.beta"], tn.bias.grad)
    close(block.grads["0.1.W"], l1.weight.grad.T)
    close(block.grads["0.3.b"], l2.bias.grad)
