"""Embedding, RNN, LSTM and GRU against torch.nn (batch_first=True, float64): forward, dx, dh0,
dc0 and every parameter's gradient.

The weights are copied by hand here, not through minnet.bridge, so that these tests hold the
bridge's conversions to account rather than share them. Skipped without torch.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import minnet as mn

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-12, 1e-12
# (N, T, D, H): one sample, one step, one unit; then larger, uneven sizes
CASES = [(1, 1, 1, 1), (2, 5, 3, 4), (4, 9, 6, 3), (3, 17, 2, 8)]
TORCH_GATES = {mn.RNN: [0], mn.LSTM: [0, 1, 3, 2], mn.GRU: [0, 1, 2]}  # torch's block order


def t(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def close(actual, expected):
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else expected
    assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)


def blocks(W, order, H):
    """Reorder the gate blocks of H columns (minnet: i, f, o, g; torch: i, f, g, o)."""
    return np.concatenate([W[..., k * H:(k + 1) * H] for k in order], axis=-1)


def torch_twin(layer):
    """The torch.nn module computing what `layer` computes, with its weights copied by hand."""
    cls, H = type(layer), layer.hidden_size
    module = {mn.RNN: torch.nn.RNN, mn.LSTM: torch.nn.LSTM, mn.GRU: torch.nn.GRU}[cls](
        layer.input_size, H, batch_first=True, dtype=torch.float64)
    order, p = TORCH_GATES[cls], layer.params
    b_ih, b_hh = (p["bx"], p["bh"]) if cls is mn.GRU else (p["b"], np.zeros_like(p["b"]))
    with torch.no_grad():
        module.weight_ih_l0.copy_(t(blocks(p["Wx"], order, H).T))  # torch keeps (G, D)
        module.weight_hh_l0.copy_(t(blocks(p["Wh"], order, H).T))
        module.bias_ih_l0.copy_(t(blocks(b_ih, order, H)))
        module.bias_hh_l0.copy_(t(blocks(b_hh, order, H)))
    return module


def randomized(layer, seed):
    """Give every parameter random values (biases start at 0, which would hide their terms)."""
    rng = np.random.default_rng(seed)
    for k, v in layer.params.items():
        layer.params[k] = rng.uniform(-0.8, 0.8, v.shape)
    return layer


@pytest.mark.parametrize("cls", [mn.RNN, mn.LSTM, mn.GRU])
@pytest.mark.parametrize("case", CASES, ids=[f"N{n}T{s}D{d}H{h}" for n, s, d, h in CASES])
@pytest.mark.parametrize("given", [False, True], ids=["zero_state", "h0_given"])
@pytest.mark.parametrize("sequences", [True, False], ids=["all_steps", "last_step"])
def test_recurrent_layer_matches_torch(cls, case, given, sequences):
    N, T, D, H = case
    rng = np.random.default_rng(sum(case) + 10 * given + 100 * sequences)
    layer = randomized(cls(D, H, seed=0, return_sequences=sequences), seed=T)
    module = torch_twin(layer)
    x = rng.standard_normal((N, T, D)) * 2
    states = {"h0": rng.standard_normal((N, H))}
    if cls is mn.LSTM:
        states["c0"] = rng.standard_normal((N, H))
    xt = t(x, grad=True)
    st = {k: t(v, grad=True) for k, v in states.items()}
    if given:
        ours = layer.forward(x, **states)
        first = (st["h0"][None], st["c0"][None]) if cls is mn.LSTM else st["h0"][None]
        out, _ = module(xt, first)
    else:
        ours = layer.forward(x)
        out, _ = module(xt)
    theirs = out if sequences else out[:, -1]
    dout = rng.standard_normal(ours.shape)
    theirs.backward(t(dout))
    close(ours, theirs)
    close(layer.backward(dout), xt.grad)
    order = TORCH_GATES[cls]
    close(layer.grads["Wx"], blocks(module.weight_ih_l0.grad.numpy().T, order, H))
    close(layer.grads["Wh"], blocks(module.weight_hh_l0.grad.numpy().T, order, H))
    if cls is mn.GRU:
        close(layer.grads["bx"], module.bias_ih_l0.grad.numpy())
        close(layer.grads["bh"], module.bias_hh_l0.grad.numpy())
    else:  # one bias b = b_ih + b_hh: both of torch's get dL/db
        close(layer.grads["b"], blocks(module.bias_ih_l0.grad.numpy(), order, H))
        close(layer.grads["b"], blocks(module.bias_hh_l0.grad.numpy(), order, H))
    if given:
        close(layer.dh0, st["h0"].grad)
        if cls is mn.LSTM:
            close(layer.dc0, st["c0"].grad)


@pytest.mark.parametrize("cls", [mn.RNN, mn.LSTM, mn.GRU])
def test_the_state_after_the_last_step_is_torchs(cls):
    """last_state is (h_T,) (the LSTM: (h_T, c_T)), what torch returns beside the output."""
    layer = randomized(cls(3, 5, seed=0), seed=1)
    x = np.random.default_rng(2).standard_normal((4, 6, 3))
    layer.forward(x)
    _, state = torch_twin(layer)(t(x))
    state = state if cls is mn.LSTM else (state,)
    for ours, theirs in zip(layer.last_state, state, strict=True):
        close(ours, theirs[0])


@pytest.mark.parametrize("cls", [mn.RNN, mn.LSTM, mn.GRU])
def test_init_draws_every_weight_from_torchs_range(cls):
    """U(-1/√H, 1/√H) as torch.nn.RNN, LSTM and GRU; minnet's biases start at 0."""
    layer = cls(40, 25, seed=0)
    for name in ("Wx", "Wh"):
        w = layer.params[name]
        assert np.abs(w).max() <= 1 / 5 and np.abs(w).max() > 0.99 / 5
        assert abs(w.std() - (1 / 5) / np.sqrt(3)) < 0.005  # the std of U(-a, a) is a/√3
    assert all(not layer.params[b].any() for b in layer.biases)


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (5, 2)])
def test_embedding_matches_torch_including_repeated_ids(shape):
    V, D = 6, 4
    rng = np.random.default_rng(sum(shape))
    x = rng.integers(0, V, shape)
    x.flat[0] = x.flat[-1]  # a repeated id, whose gradients must add up
    layer = mn.Embedding(V, D, seed=1)
    module = torch.nn.Embedding(V, D, dtype=torch.float64)
    with torch.no_grad():
        module.weight.copy_(t(layer.params["W"]))
    out = module(torch.from_numpy(x))
    dout = rng.standard_normal((*shape, D))
    out.backward(t(dout))
    close(layer.forward(x), out)
    assert layer.backward(dout) is None  # ids have no gradient
    close(layer.grads["W"], module.weight.grad)
