"""What a recurrence carries back to the step before (gradcheck/carry.py), read off dx.

The layers are written as students write them: a loop over time, a cache of tuples per step, a
`dh_next` carried by hand; each has one mistake in the gradient it carries back."""

import numpy as np
from test_structure import normal

import minnet as mn


class StepRNN(mn.Layer):
    """h_t = tanh(x_t Wx + h_{t-1} Wh + b), h_0 = 0.  x (N, T, D) -> hs (N, T, H)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.params = {"Wx": rng.standard_normal((d, h)) * 0.5,
                       "Wh": rng.standard_normal((h, h)) * 0.5, "b": np.zeros(h)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        N, T, _ = x.shape
        h = np.zeros((N, self.params["Wh"].shape[0]))
        self.cache, hs = [], []
        for t in range(T):
            h_new = self.step(x[:, t], h)
            self.cache.append((x[:, t], h, h_new))
            hs.append(h_new)
            h = h_new
        self.hs = np.stack(hs, axis=1)
        return self.hs

    def step(self, xt, h):
        return np.tanh(xt @ self.params["Wx"] + h @ self.params["Wh"] + self.params["b"])

    def backward(self, dout):
        for k in self.grads:
            self.grads[k] = np.zeros_like(self.params[k])
        dx = np.zeros((dout.shape[0], dout.shape[1], self.params["Wx"].shape[0]))
        dh_next = np.zeros_like(dout[:, 0])
        for t in reversed(range(dout.shape[1])):
            xt, h_prev, h = self.cache[t]
            da = (dout[:, t] + dh_next) * (1 - h**2)
            self.grads["Wx"] += xt.T @ da
            self.grads["Wh"] += h_prev.T @ da
            self.grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ self.params["Wx"].T
            dh_next = self.carry(da, dout[:, t] + dh_next, h_prev)
        return dx

    def carry(self, da, dh, h_prev):
        return da @ self.params["Wh"].T


class ForgetsDhNext(StepRNN):
    def carry(self, da, dh, h_prev):
        return np.zeros_like(h_prev)


class SkipsTheSlope(StepRNN):
    def carry(self, da, dh, h_prev):
        return dh @ self.params["Wh"].T  # tanh's slope left out of what goes back


class ResidualRNN(StepRNN):
    """h_t = h_{t-1} + tanh(x_t Wx + h_{t-1} Wh + b)."""

    def step(self, xt, h):
        return h + super().step(xt, h)

    def backward(self, dout):
        self.cache = [(xt, h_prev, h - h_prev) for xt, h_prev, h in self.cache]  # tanh part
        return super().backward(dout)

    def carry(self, da, dh, h_prev):
        return dh + da @ self.params["Wh"].T


class ResidualWithoutSkip(ResidualRNN):
    def carry(self, da, dh, h_prev):
        return da @ self.params["Wh"].T  # the identity path h_{t-1} -> h_t is missing


def carry_statement(layer):
    result = mn.check_layer(layer, normal((3, 4, 4), seed=5))
    assert result.input is not None
    return result, [f for f in result.input.findings if "carries back" in f]


def test_a_correct_recurrence_gets_no_statement():
    for layer in (StepRNN(4, 3), ResidualRNN(4, 3)):
        result, said = carry_statement(layer)
        assert result.passed and not said, str(result)


def test_a_carried_gradient_left_at_zero_is_told():
    result, said = carry_statement(ForgetsDhNext(4, 3))
    assert said == ["the gradient step 3 carries back to h_2 (dh_2; read off your dx at step 2, "
                    "whose backward of step 2 alone is right; dh_3 is dout at the last step): "
                    "your dh_2 is 0 at every entry: nothing of the gradient at h_3 reaches h_2; "
                    "the true one is not 0"]
    assert result.input.findings[0] == said[0]  # it leads: the headline says it


def test_a_path_left_out_of_the_carry_is_told_as_a_missing_term():
    _, said = carry_statement(ResidualWithoutSkip(4, 3))
    assert len(said) == 1 and said[0].endswith(
        "yours − true = −dh_3 at every entry: your dh_2 lacks a term dh_3 (or has −dh_3 too "
        "many)")


def test_a_slope_left_out_of_the_carry_is_told_before_the_weight():
    _, said = carry_statement(SkipsTheSlope(4, 3))
    assert len(said) == 1 and said[0].endswith(
        "writing your dh_2 and the true one each as D·params['Wh']ᵀ, of D: your D = dh_3; the "
        "true one = "
        "dh_3·(1 − self.hs[:, 3]²): the true one has a factor (1 − self.hs[:, 3]²) that yours "
        "lacks"), said


class LeakyGateRNN(mn.Layer):
    """z = σ(a[:, :H]), n = tanh(a[:, H:]) with a = x_t Wx + h Wh + b; h_t = z·h + (1 − z)·n."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.H = h
        self.params = {"Wx": rng.standard_normal((d, 2 * h)) * 0.5,
                       "Wh": rng.standard_normal((h, 2 * h)) * 0.5, "b": np.zeros(2 * h)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        N, T, _ = x.shape
        h, H = np.zeros((N, self.H)), self.H
        self.cache, hs = [], []
        for t in range(T):
            a = x[:, t] @ self.params["Wx"] + h @ self.params["Wh"] + self.params["b"]
            z, n = 1 / (1 + np.exp(-a[:, :H])), np.tanh(a[:, H:])
            self.cache.append((x[:, t], h, z, n))
            h = z * h + (1 - z) * n
            hs.append(h)
        return np.stack(hs, axis=1)

    def backward(self, dout):
        for k in self.grads:
            self.grads[k] = np.zeros_like(self.params[k])
        dx = np.zeros(dout.shape[:2] + (self.params["Wx"].shape[0],))
        dh_next = np.zeros_like(dout[:, 0])
        for t in reversed(range(dout.shape[1])):
            xt, h, z, n = self.cache[t]
            dh = dout[:, t] + dh_next
            da = np.concatenate([dh * (h - n) * self.gate_slope(z), dh * (1 - z) * (1 - n**2)],
                                axis=1)
            self.grads["Wx"] += xt.T @ da
            self.grads["Wh"] += h.T @ da
            self.grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ self.params["Wx"].T
            dh_next = dh * z + da @ self.params["Wh"].T
        return dx

    def gate_slope(self, z):
        return z * (1 - z)


class GateSlopeOfTanh(LeakyGateRNN):
    def gate_slope(self, z):
        return 1 - z**2  # tanh's slope for a sigmoid gate


def one_step_statement(layer):
    result = mn.check_layer(layer, normal((3, 4, 4), seed=5))
    return result, [f for c in result.checks for f in c.findings if "sequence of one step" in f]


def test_a_mistake_between_steps_is_told_by_a_one_step_sequence():
    result, said = one_step_statement(ForgetsDhNext(4, 3))
    assert said == ["on a sequence of one step (x[:3, :1]: the first step of samples :3, the "
                    "state before it 0) every gradient of yours is right: the mistake is in what "
                    "the steps pass to one another "
                    "(in a recurrence the gradient carried back to h_t−1, c_t−1, or an array "
                    "one step keeps for another; in attention the weights between steps, which "
                    "one step alone does not have)"], str(result)


def test_a_gate_with_the_wrong_slope_is_told_by_its_columns_on_one_step():
    result, said = one_step_statement(GateSlopeOfTanh(4, 3))
    assert len(said) == 1, str(result)
    assert "dWx wrong only in columns 0:3 (block 1)" in said[0]
    assert "db wrong only in features 0:3 (block 1)" in said[0]
    assert "the mistake is inside one step. Of the gradient at a = x·params['Wx'] + " \
        "params['b'] (read off your dWx = xᵀ·da; out: the layer's output there): " in said[0]
    assert "da[:, 0:3]" in said[0] and "da[:, 3:6]" not in said[0]  # the gate, not the rest
    assert one_step_statement(LeakyGateRNN(4, 3))[0].passed
