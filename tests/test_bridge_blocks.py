"""The bridge on blocks and attention: to_torch and from_torch keep weights and outputs of nested
models, MultiHeadAttention packs into nn.MultiheadAttention's in_proj as torch packs it, and
autograd_check judges nested models.

Skipped as a whole when torch is not installed (pip install ".[torch]").
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minnet as mn
from minnet import bridge

torch = pytest.importorskip("torch")

D, H, T, V = 8, 2, 5, 4


def randomized(model, seed=7):
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p[...] = rng.standard_normal(p.shape) * 0.5
    return model


def attention_net(dropout=0.0):
    """A pre-norm Transformer block on float sequences (N, T, D), scores (N, T, V)."""
    mlp = [mn.LayerNorm(D), mn.Dense(D, 2 * D, seed=2), mn.GELU(), mn.Dense(2 * D, D, seed=3)]
    return randomized(mn.Model([
        mn.PositionalEncoding(T, D),
        mn.Sequential(mn.Residual(mn.LayerNorm(D), mn.MultiHeadAttention(D, H, causal=True,
                                                                           seed=1)),
                      mn.Residual(*mlp, *([mn.Dropout(dropout, seed=4)] if dropout else []))),
        mn.Residual(mn.LayerNorm(D), mn.MultiHeadAttention(D, 1, seed=5)),
        mn.LayerNorm(D), mn.Dense(D, V, seed=6)], loss=mn.SoftmaxCE()))


def batchnorm_net():
    """Blocks holding state (BatchNorm's running statistics) and randomness (Dropout)."""
    model = randomized(mn.Model([
        mn.Dense(4, 6, seed=0),
        mn.Residual(mn.BatchNorm(6, momentum=0.8), mn.Tanh(), mn.Dense(6, 6, seed=1),
                    mn.Dropout(0.3, seed=2)),
        mn.Dense(6, 3, seed=3)], loss=mn.SoftmaxCE()))
    bn = model.layers[1].layers[0]
    bn.running_mean[...] = np.arange(6.0)
    bn.running_var[...] = np.linspace(0.5, 2.0, 6)
    return model


def sequences(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, T, D)), rng.integers(0, V, (n, T))


def net_output(net, X):
    with torch.no_grad():
        return net(torch.from_numpy(X)).numpy()


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_to_torch_of_a_nested_attention_model_gives_the_same_outputs(mode):
    model = attention_net()
    X, _ = sequences()
    net = bridge.to_torch(model, mode=mode)
    assert_allclose(net_output(net, X), model.forward(X), rtol=1e-12, atol=1e-12)


def test_attention_weights_sit_in_in_proj_as_torch_packs_them():
    model = attention_net()
    attention = model.layers[1].layers[0].layers[1]
    mha = bridge.to_torch(model)[1][0][1].attention
    assert isinstance(mha, torch.nn.MultiheadAttention) and mha.batch_first
    W = mha.in_proj_weight.detach().numpy()
    for k, n in enumerate("qkv"):
        assert_array_equal(W[k * D:(k + 1) * D], attention.params[f"W{n}"].T)
        assert_array_equal(mha.in_proj_bias.detach().numpy()[k * D:(k + 1) * D],
                           attention.params[f"b{n}"])
    assert_array_equal(mha.out_proj.weight.detach().numpy(), attention.params["Wo"].T)


def test_positional_encoding_is_a_buffer_not_a_parameter():
    net = bridge.to_torch(attention_net())
    assert not list(net[0].parameters())
    assert_array_equal(net[0].table.numpy(), mn.PositionalEncoding(T, D).table)


@pytest.mark.parametrize("make, X", [(attention_net, sequences()[0]),
                                     (batchnorm_net, np.random.default_rng(1).standard_normal(
                                         (6, 4)))], ids=["attention", "batchnorm"])
def test_round_trip_keeps_the_nesting_and_every_array(make, X):
    model = make()
    back = bridge.from_torch(bridge.to_torch(model), loss=mn.SoftmaxCE())
    assert repr(back) == repr(model)
    for (n1, a), (n2, b) in zip(model._arrays().items(), back._arrays().items()):
        assert n1 == n2
        assert_array_equal(a, b)
    model.eval()
    assert_allclose(back.forward(X), model.forward(X), rtol=1e-12, atol=1e-12)


def test_from_torch_reads_torch_attention_with_torchs_own_weights():
    from minnet._torchnet import SelfAttention

    torch.manual_seed(0)
    net = torch.nn.Sequential(SelfAttention(D, H, causal=True, dtype=torch.float64),
                              torch.nn.GELU(approximate="tanh"))
    model = bridge.from_torch(net, loss=mn.MSE())
    X, _ = sequences()
    assert_allclose(model.forward(X), net_output(net, X), rtol=1e-12, atol=1e-12)
    assert model.layers[0].causal


@pytest.mark.parametrize("module, words", [
    (lambda: torch.nn.GELU(), "tanh form"),
    (lambda: _attention(dropout=0.1), "dropout=0"),
    (lambda: _attention(add_bias_kv=True), "add_bias_kv=False"),
    (lambda: _attention(bias=False), "bias=True"),
    (lambda: _attention(kdim=4), "kdim = vdim = embed_dim"),
])
def test_from_torch_explains_attention_settings_minnet_lacks(module, words):
    net = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(D, D), module()))
    with pytest.raises(ValueError, match=f"module 0.1: .*{words}"):
        bridge.from_torch(net, loss=mn.MSE())


def _attention(**options):
    from minnet._torchnet import SelfAttention

    module = SelfAttention(D, H)
    module.attention = torch.nn.MultiheadAttention(D, H, batch_first=True, **options)
    return module


@pytest.mark.parametrize("make, data, inside", [
    (lambda: attention_net(dropout=0.2), sequences, {"1.0.1.Wq", "1.1.3.W", "2.1.bo"}),
    (batchnorm_net, lambda: (np.random.default_rng(1).standard_normal((6, 4)), np.arange(6) % 3),
     {"1.0.gamma", "1.2.W"}),
], ids=["attention", "batchnorm"])
def test_autograd_check_passes_a_nested_model(make, data, inside):
    report = bridge.autograd_check(make(), *data())
    assert report.passed, str(report)
    assert {f"{c.layer_index}.{c.param}" for c in report.params} >= inside


def test_autograd_check_names_the_block_whose_backward_drops_the_skip():
    class NoSkip(mn.Residual):
        def backward(self, dout):
            return super(mn.Residual, self).backward(dout)  # the layers' path only

    model = attention_net()
    model.layers[2] = NoSkip(*model.layers[2].layers)
    report = bridge.autograd_check(model, *sequences())
    assert not report.passed
    assert [s.layer_index for s in report.suspects] == [2]
    assert not report.suspects[0].input.passed
    assert all(c.passed for c in report.suspects[0].params)


def test_autograd_check_passes_the_transformer():
    model = mn.transformer(V, dim=D, heads=H, blocks=2, max_len=T)
    rng = np.random.default_rng(0)
    report = bridge.autograd_check(model, rng.integers(0, V, (3, T)), rng.integers(0, V, (3, T)))
    assert report.passed, str(report)
    net = bridge.to_torch(model)
    X = rng.integers(0, V, (3, T))
    with torch.no_grad():
        assert_allclose(net(torch.from_numpy(X)).numpy(), model.forward(X), rtol=1e-12,
                        atol=1e-12)
