"""The bridge for Embedding, RNN, LSTM and GRU: to_torch and from_torch keep the weights (gate
blocks reordered, torch's two biases folded into one) and the outputs to 1e-12 in float64, and
autograd_check judges sequence models. Skipped without torch."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from planted_sequences import BUGS

import minnet as mn
from minnet import bridge

torch = pytest.importorskip("torch")
from minnet import _torchnet  # noqa: E402  (imports torch)

RECURRENT = [mn.RNN, mn.LSTM, mn.GRU]
V, D, H = 7, 4, 5


def sequence_model(cls, sequences=True, loss=None, seed=0):
    model = mn.Model([mn.Embedding(V, D, seed=seed), cls(D, H, seed=seed + 1,
                                                         return_sequences=sequences),
                      mn.Dense(H, V, seed=seed + 2)], loss=loss or mn.SoftmaxCE())
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p[...] = rng.uniform(-0.8, 0.8, p.shape)
    return model


def data(sequences=True, seed=0, n=3, t=6):
    rng = np.random.default_rng(seed)
    return rng.integers(0, V, (n, t)), rng.integers(0, V, (n, t) if sequences else n)


@pytest.mark.parametrize("cls", RECURRENT)
@pytest.mark.parametrize("sequences", [True, False])
def test_to_torch_outputs_equal_the_models(cls, sequences):
    model = sequence_model(cls, sequences)
    X, _ = data()
    net = bridge.to_torch(model)
    assert [type(m).__name__ for m in net] == ["Embedding", cls.__name__, "Linear"]
    assert net[1].return_sequences is sequences and net[1].batch_first
    out = net(torch.from_numpy(X)).detach().numpy()
    assert_allclose(out, model.forward(X), rtol=1e-12, atol=1e-12)


def test_the_lstm_gates_go_to_torchs_order_and_the_bias_to_bias_ih():
    model = sequence_model(mn.LSTM)
    lstm, net = model.layers[1], bridge.to_torch(model)
    Wx, w_ih = lstm.params["Wx"], net[1].weight_ih_l0.detach().numpy()  # (D, 4H), (4H, D)
    for ours, theirs in enumerate((0, 1, 3, 2)):  # i, f, o, g -> torch's i, f, g, o
        assert_array_equal(w_ih[theirs * H:(theirs + 1) * H], Wx[:, ours * H:(ours + 1) * H].T)
    assert not net[1].bias_hh_l0.detach().numpy().any()
    assert_array_equal(net[1].bias_ih_l0.detach().numpy()[2 * H:3 * H],
                       lstm.params["b"][3 * H:])  # torch's g block is minnet's fourth


@pytest.mark.parametrize("cls", RECURRENT)
def test_from_torch_folds_torchs_two_biases_and_keeps_the_outputs(cls):
    torch.manual_seed(0)
    module = getattr(_torchnet, cls.__name__)(D, H, dtype=torch.float64)
    net = torch.nn.Sequential(torch.nn.Embedding(V, D, dtype=torch.float64), module,
                              torch.nn.Linear(H, V, dtype=torch.float64))
    model = bridge.from_torch(net, loss=mn.SoftmaxCE())
    X, _ = data(seed=1)
    assert_allclose(model.forward(X), net(torch.from_numpy(X)).detach().numpy(), rtol=1e-12,
                    atol=1e-12)
    if cls is not mn.GRU:  # both of torch's biases are random: minnet's b is their sum
        total = (module.bias_ih_l0 + module.bias_hh_l0).detach().numpy()
        order = (0, 1, 3, 2) if cls is mn.LSTM else (0,)
        assert_allclose(model.layers[1].params["b"],
                        np.concatenate([total[k * H:(k + 1) * H] for k in order]), rtol=1e-15)
    back = bridge.to_torch(model)
    assert_allclose(back(torch.from_numpy(X)).detach().numpy(),
                    net(torch.from_numpy(X)).detach().numpy(), rtol=1e-12, atol=1e-12)


def test_from_torch_takes_a_plain_torch_recurrent_module_and_its_output_sequence():
    net = torch.nn.Sequential(torch.nn.GRU(D, H, batch_first=True, dtype=torch.float64))
    model = bridge.from_torch(net, loss=mn.MSE())
    x = np.random.default_rng(0).standard_normal((2, 3, D))
    assert model.layers[0].return_sequences
    assert_allclose(model.forward(x), net[0](torch.from_numpy(x))[0].detach().numpy(),
                    rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("module, words", [
    (lambda: torch.nn.LSTM(D, H, num_layers=2, batch_first=True), "one layer"),
    (lambda: torch.nn.GRU(D, H, bidirectional=True, batch_first=True), "one direction"),
    (lambda: torch.nn.RNN(D, H), "batch_first=True"),
    (lambda: torch.nn.RNN(D, H, nonlinearity="relu", batch_first=True), "tanh"),
    (lambda: torch.nn.LSTM(D, H, proj_size=2, batch_first=True), "proj_size"),
    (lambda: torch.nn.LSTM(D, H, bias=False, batch_first=True), "with biases"),
    (lambda: torch.nn.Embedding(V, D, padding_idx=0), "padding_idx"),
])
def test_from_torch_explains_recurrent_settings_minnet_lacks(module, words):
    with pytest.raises(ValueError, match=f"module 0: .*{words}"):
        bridge.from_torch(torch.nn.Sequential(module()), loss=mn.SoftmaxCE())


def test_to_torch_in_float32_takes_token_ids():
    net = bridge.to_torch(sequence_model(mn.LSTM), dtype=torch.float32)
    X, _ = data()
    assert net(torch.from_numpy(X)).dtype == torch.float32


@pytest.mark.parametrize("cls", RECURRENT)
@pytest.mark.parametrize("sequences", [True, False])
def test_autograd_check_passes_sequence_models(cls, sequences):
    model = sequence_model(cls, sequences, loss=mn.SoftmaxCE(ignore_index=0))
    X, y = data(sequences)
    y.flat[:2] = 0  # two targets that do not count
    before = model.get_flat_params()
    report = bridge.autograd_check(model, X, y)
    assert report.passed, report
    assert report.difference < 1e-13
    assert_array_equal(model.get_flat_params(), before)


class LSTMForgetBlockTwice(mn.LSTM):
    """A bug in the forget gate's block: its columns H:2H of dWx doubled."""

    def backward(self, dout):
        dx = super().backward(dout)
        H = self.hidden_size
        self.grads["Wx"][:, H:2 * H] *= 2
        return dx


def test_autograd_check_names_a_recurrent_layers_wrong_tensor():
    model = sequence_model(mn.LSTM)
    bugged = LSTMForgetBlockTwice(D, H)
    bugged.params = model.layers[1].params
    model = mn.Model([model.layers[0], bugged, model.layers[2]], loss=mn.SoftmaxCE())
    report = bridge.autograd_check(model, *data())
    assert [s.layer_index for s in report.suspects] == [1]
    assert [c.param for c in report.suspects[0].failed] == ["Wx"]


@pytest.mark.parametrize("bug", [b for b in BUGS if "embedding" in b.name or "mask" in b.name],
                         ids=lambda b: b.name)
def test_autograd_check_finds_the_planted_embedding_and_mask_bugs(bug):
    """(The planted recurrent layers override forward, which the bridge cannot translate.)"""
    model, X, y = bug.build(0)
    report = bridge.autograd_check(model, X, y)
    assert [s.layer_index for s in report.suspects] == [bug.suspect]
    assert set(bug.failing) == {c.param for c in report.suspects[0].failed}
