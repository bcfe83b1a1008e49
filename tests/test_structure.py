"""Diagnoses from the structure of the error, for any layer: each mechanism on planted layers of
several kinds (dense, elementwise, normalization, image, pooling, recurrent, attention, losses),
written as students write them, with the statement it must produce. None of these statements
names a layer class: each comes from E = analytic − numeric, x, dout and what the layer keeps."""

import numpy as np
import pytest
from planted import (
    BatchNormWrongGamma,
    ConvFlippedKernelGrad,
    ConvForgetsPaddingInBackward,
    MaxPoolGradToWholeWindow,
    SVMCountsTrueClass,
)

import minnet as mn


def alone(layer, x, y=None):
    return mn.check_layer(layer, x, y=y)


def findings(result, param="input"):
    (c,) = [c for c in result.checks if c.param == param]
    assert not c.passed, str(result)
    return " | ".join(c.findings)


def normal(shape, seed=7):
    return np.random.default_rng(seed).standard_normal(shape)


def images(n=3, c=2, size=6, seed=0):
    return np.random.default_rng(seed).standard_normal((n, c, size, size))


# ---- layers written as students write them ------------------------------------------------


class PoolTopLeft(mn.Layer):
    """2×2 max pool whose backward sends each window's gradient to its top-left entry."""

    def forward(self, x):
        N, C, H, W = x.shape
        self.x = x
        return x.reshape(N, C, H // 2, 2, W // 2, 2).max(axis=(3, 5))

    def backward(self, dout):
        dx = np.zeros_like(self.x)
        dx[:, :, ::2, ::2] = dout
        return dx


class NormOverBatch(mn.Layer):
    """Layer norm (no params) whose backward takes its means over the batch axis."""

    def forward(self, x):
        mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
        self.std = np.sqrt(var + 1e-5)
        self.xhat = (x - mu) / self.std
        return self.xhat

    def backward(self, dout):
        xh = self.xhat
        return (dout - dout.mean(axis=0, keepdims=True)
                - xh * (dout * xh).mean(axis=0, keepdims=True)) / self.std


class ConvStrideInDW(mn.Layer):
    """3×3 convolution at stride 2, with loops; its dW takes the windows at stride 1."""

    def __init__(self, C, F, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.params = {"W": rng.standard_normal((F, C, 3, 3)) * 0.3, "b": np.zeros(F)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        N, _, H, W_ = x.shape
        Ho, Wo = (H - 3) // 2 + 1, (W_ - 3) // 2 + 1
        out = np.zeros((N, self.params["W"].shape[0], Ho, Wo))
        for i in range(Ho):
            for j in range(Wo):
                win = x[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3]
                out[:, :, i, j] = np.tensordot(win, self.params["W"], axes=([1, 2, 3], [1, 2, 3]))
        self.cache = (x, Ho, Wo)
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        x, Ho, Wo = self.cache
        W = self.params["W"]
        dx, dW = np.zeros_like(x), np.zeros_like(W)
        for i in range(Ho):
            for j in range(Wo):
                dW += np.tensordot(dout[:, :, i, j], x[:, :, i:i + 3, j:j + 3], axes=([0], [0]))
                dx[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3] += np.tensordot(
                    dout[:, :, i, j], W, axes=([1], [0]))
        self.grads = {"W": dW, "b": dout.sum(axis=(0, 2, 3))}
        return dx


class ReLUReturnsMask(mn.Layer):
    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dout):
        return (self.x > 0).astype(float)  # dout forgotten


class ReLUForgetsMask(mn.Layer):
    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dout):
        return dout.copy()  # the mask forgotten


class CausalMix(mn.Layer):
    """y_t = tanh(Σ_{s <= t} x_s W / (t + 1)): a causal average over time, then a weight."""

    def __init__(self, D, seed=0):
        super().__init__()
        self.params = {"W": np.random.default_rng(seed).standard_normal((D, D)) * 0.5}
        self.grads = {"W": np.zeros((D, D))}

    def mask(self, T):
        m = np.tril(np.ones((T, T)))
        return m / m.sum(axis=1, keepdims=True)

    def forward(self, x):
        self.x, T = x, x.shape[1]
        self.avg = np.einsum("ts,nsd->ntd", self.mask(T), x)
        self.y = np.tanh(self.avg @ self.params["W"])
        return self.y

    def backward(self, dout):
        da = dout * (1 - self.y ** 2)
        self.grads["W"] = np.einsum("ntd,nte->de", self.avg, da)
        davg = da @ self.params["W"].T
        return np.einsum("ts,ntd->nsd", self.backward_mask(self.x.shape[1]), davg)

    def backward_mask(self, T):
        return self.mask(T)


class CausalMixMaskForgotten(CausalMix):
    def backward_mask(self, T):
        return np.ones((T, T)) / np.arange(1, T + 1)[:, None]  # averages over the future too


class RNNNoDhNext(mn.Layer):
    """h_t = tanh(x_t Wx + h_{t-1} Wh), h_{-1} = 0; backward forgets the gradient from t + 1."""

    def __init__(self, D, H, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.params = {"Wx": rng.standard_normal((D, H)) * 0.5,
                       "Wh": rng.standard_normal((H, H)) * 0.5}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        N, T, _ = x.shape
        h, self.cache, out = np.zeros((N, self.params["Wh"].shape[0])), [], []
        for t in range(T):
            hn = np.tanh(x[:, t] @ self.params["Wx"] + h @ self.params["Wh"])
            self.cache.append((x[:, t], h, hn))
            h = hn
            out.append(h)
        return np.stack(out, axis=1)

    def backward(self, dout):
        dx = np.zeros((*dout.shape[:2], self.params["Wx"].shape[0]))
        dWx, dWh = np.zeros_like(self.params["Wx"]), np.zeros_like(self.params["Wh"])
        for t in reversed(range(dout.shape[1])):
            xt, hp, hn = self.cache[t]
            da = dout[:, t] * (1 - hn ** 2)  # + dh_next forgotten
            dx[:, t] = da @ self.params["Wx"].T
            dWx += xt.T @ da
            dWh += hp.T @ da
        self.grads = {"Wx": dWx, "Wh": dWh}
        return dx


class ResidualNoSkip(mn.Residual):
    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout


class ScaledLinear(mn.Layer):
    """y = x W / √d, d the input width; backward forgets the 1/√d."""

    def __init__(self, d, seed=0):
        super().__init__()
        self.d = d
        self.params = {"W": np.random.default_rng(seed).standard_normal((d, 3))}
        self.grads = {"W": np.zeros((d, 3))}

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] / np.sqrt(self.d)

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout  # / √d forgotten
        return dout @ self.params["W"].T / np.sqrt(self.d)


class LSTMGatesSwapped(mn.LSTM):
    """The forget and output gates' gradients packed into each other's columns."""

    def backward(self, dout):
        dx = super().backward(dout)
        H = self.hidden_size
        for k in ("Wx", "Wh", "b"):
            g = self.grads[k].copy()
            g[..., H:2 * H], g[..., 2 * H:3 * H] = self.grads[k][..., 2 * H:3 * H], \
                self.grads[k][..., H:2 * H]
            self.grads[k] = g
        return dx


class ELUWrongSlope(mn.Layer):
    alpha = 1.3

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.alpha * (np.exp(x) - 1))

    def backward(self, dout):
        return dout * self.alpha * np.exp(self.x)  # the slope 1 where x > 0 forgotten


# ---- the statements ------------------------------------------------------------------------


def test_the_right_values_in_the_wrong_place_of_each_pooling_window():
    said = findings(alone(PoolTopLeft(), images()))
    assert ("within each 2×2 window your dx has the right total, at the wrong entry: yours puts "
            "it at offset (0, 0) of every window, the top-left; the true one puts it at the "
            "window's maximum of x") in said


def test_a_pooling_shows_x_beside_the_gradient_of_its_windows():
    x = images()
    result = alone(PoolTopLeft(), x)
    shown = result.input.shown
    at = shown.index("  and there, x (the layer's input) | dout there (the upstream gradient G, "
                     "one of its entries for one 2×2 block of x):")
    sample, channel = (int(w.strip(",")) for w in shown[1].split()[2::2])
    first_row = [float(v) for v in shown[at + 1].replace("|", " ").split()]
    assert len(first_row) == 6 + 3  # a row of x, a row of dout (3 windows across)
    np.testing.assert_allclose(first_row[:6], x[sample, channel, 0], rtol=5e-3)
    assert shown[at + 4].rstrip().endswith("|")  # dout has 3 rows, x 6


def test_the_whole_window_given_the_gradient():
    said = findings(alone(MaxPoolGradToWholeWindow(2), images()))
    assert ("within each 2×2 window your dx gives every entry the window's whole gradient (the "
            "same value 4 times); the true one puts it at the window's maximum of x") in said


def test_a_normalization_with_its_means_over_the_wrong_axis():
    said = findings(alone(NormOverBatch(), normal((8, 6))))
    assert ("your dx is a normalization's backward, (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) / σ, with "
            "its means over the batch (axis 0), in each feature; the true one takes them over "
            "each sample's features (axis 1)") in said
    assert "the true dx sums to 0 over each sample's features (axis 1); yours does not" in said


def test_a_kernel_gradient_paired_with_the_windows_at_the_wrong_stride():
    said = findings(alone(ConvStrideInDW(2, 3), images(size=7)), "W")
    assert ("your dW equals dout against the first windows of self.cache[0] at stride 1; the "
            "true one equals dout against the windows of self.cache[0] at stride 2") in said


def test_a_flipped_kernel_and_a_padding_cut_at_the_wrong_side():
    said = findings(alone(ConvFlippedKernelGrad(2, 2, 3, padding=1, seed=0), images()), "W")
    assert "yours is the true dW flipped along rows and columns (turned by 180°)" in said
    said = findings(alone(ConvForgetsPaddingInBackward(2, 2, 5, padding=2, seed=0), images()))
    assert "yours holds the true dx shifted by 2 rows and 2 columns" in said
    assert ("your dx equals dout·W added back at stride 1; the true one equals dout·W added "
            "back at stride 1, the first 2 rows and columns cut off") in said


def test_a_normalization_gradient_paired_with_the_wrong_kept_array():
    said = findings(alone(BatchNormWrongGamma(5), normal((8, 5))), "gamma")
    assert ("your dgamma equals Σ dout over the batch (axis 0); the true one equals "
            "Σ dout·self.xhat over the batch (axis 0)") in said


def test_what_a_gradient_ignores_dout_or_x():
    x = normal((6, 5))
    assert ("your dx is the same for two different upstream gradients dout: backward does not "
            "use dout") in findings(alone(ReLUReturnsMask(), x))
    assert ("your dx is the same for two different inputs x, where the true one changes: the "
            "derivative at x (a mask, or f'(x)) is missing from it, or taken from entries that "
            "did not change it") in \
        findings(alone(ReLUForgetsMask(), x))


def test_gradient_sent_where_forward_has_no_path_a_causal_mask():
    x = normal((3, 5, 4))
    assert alone(CausalMix(4), x).passed
    said = findings(alone(CausalMixMaskForgotten(4), x))
    assert ("with dout only at time step 1, your dx is not 0 at time steps 2..4, though the "
            "output at time step 1 does not depend on x there") in said


def test_gradient_that_does_not_flow_back_in_time():
    said = findings(alone(RNNNoDhNext(3, 4), normal((3, 5, 3))))
    assert ("with dout only at time step 1, your dx is 0 at time step 0, though the output at "
            "time step 1 depends on x there: gradient does not flow back along that path") in said
    assert "along time the error is 0 at the last step (t = 4)" in said


def test_a_residual_without_its_skip_path():
    block = ResidualNoSkip(mn.Dense(4, 4, seed=0), mn.Tanh())
    said = findings(alone(block, normal((5, 4))))
    assert ("the error is −dout at every entry: your dx lacks a term dout itself (as a residual "
            "connection y = x + f(x) adds dout, its skip path, to dx)") in said


def test_a_factor_that_is_the_square_root_of_a_size():
    said = findings(alone(ScaledLinear(9), normal((5, 9))), "W")
    assert ("your dW is 3 × the true one, and 3 = √9, where 9 is a size of this layer's "
            "tensors: a scale 1/√9 missing") in said


def test_gate_blocks_in_another_order():
    result = alone(LSTMGatesSwapped(3, 2, seed=0), normal((3, 4, 3)))
    said = findings(result, "Wx")
    assert ("yours holds the true dWx's blocks in another order: your columns 2:4 (block 2 of "
            "4, the forget f gate) holds the true columns 4:6 (block 3 of 4, the output o "
            "gate)") in said


def test_a_derivative_up_to_a_constant_on_one_side_and_the_settings_shown():
    result = alone(ELUWrongSlope(), normal((6, 5)))
    assert "where x > 0, your dy/dx equals 1.3·exp(x) (true: 1)" in str(result)


def test_a_losss_report_shows_its_scores_and_targets_and_where_it_is_wrong():
    scores, y = normal((6, 3)), np.array([1, 2, 0, 2, 0, 1])
    result = alone(SVMCountsTrueClass(), scores, y)
    said = findings(result)
    assert said.startswith("wrong only at each sample's target class y")
    text = str(result)
    assert "and the scores and targets y of those samples:" in text
    assert f"  sample 0: scores {' '.join(f'{v:+.3g}' for v in scores[0])}   y = 1" in text


def test_small_tensors_are_shown_whole_larger_ones_around_the_worst_entry():
    result = alone(BatchNormWrongGamma(5), normal((8, 5)))
    text = str(result)
    assert "dgamma whole, yours | true, * where yours is wrong: one row × features 0..4" in text
    result = alone(NormOverBatch(), normal((20, 12)))
    assert "dx, yours | true, * where yours is wrong: samples" in str(result)
    assert "(of 20) × features" in str(result) and "(of 12)" in str(result)
    assert "and there, x (the layer's input) | dout (the upstream gradient G):" in str(result)


def test_every_layer_is_accounted_for_and_a_first_layer_checked_alone():
    X = images(c=1)
    model = mn.Model([PoolTopLeft(), mn.Flatten(), mn.Dense(9, 3, seed=2)], loss=mn.SoftmaxCE())
    report = mn.GradientChecker(progress=False).check(model, X, np.arange(3) % 3)
    assert report.passed  # training never uses the first layer's dx ...
    assert report.accounts[0] == ("layer 0 (PoolTopLeft): no parameters; its dx is never used "
                                  "in training (first layer); checked alone: WRONG")
    assert report.warnings[0].startswith("layer 0 (PoolTopLeft): its backward is wrong when "
                                         "checked alone")  # ... but the layer is still wrong
    model = mn.Model([mn.Dense(4, 6, seed=0), mn.Tanh(), mn.Dense(6, 3, seed=1)],
                     loss=mn.SoftmaxCE())
    report = mn.GradientChecker(progress=False).check(model, normal((5, 4)),
                                                      np.arange(5) % 3)
    assert report.accounts == [
        "layer 0 (Dense): W and b compared above; its dx is never used in training (first "
        "layer)",
        "layer 1 (Tanh): no parameters; its dx verified through the gradients of layer 0's W "
        "and b",
        "layer 2 (Dense): W and b compared above; its dx verified through the gradients of "
        "layer 0's W and b",
        "the loss (SoftmaxCE): its dscores verified through every gradient above"]
    assert "Every layer, and how this check verified its backward:" in str(report)


def test_a_table_with_kinks_says_what_they_are():
    x = normal((6, 5))
    x[0, 0] = 0.0  # on ReLU's corner
    text = str(alone(mn.ReLU(), x))
    assert "kinks: entries whose ±eps step crosses a corner of forward" in text


@pytest.mark.parametrize("make, x", [
    (lambda: ResidualNoSkip(mn.Dense(4, 4, seed=0), mn.Tanh()), (5, 4)),
    (PoolTopLeft, (3, 2, 6, 6)),
])
def test_no_statement_names_a_layer_class(make, x):
    result = alone(make(), normal(x))
    for c in result.checks:
        for f in c.findings:
            assert type(result).__name__ not in f and "Residual" not in f \
                and "Pool" not in f


def test_where_a_backward_through_time_goes_wrong_with_dout_at_the_last_step():
    said = findings(alone(RNNNoDhNext(3, 4), normal((3, 5, 3))))
    assert ("with dout only at the last step (t = 4), your dx is right at t = 4, and wrong at "
            "t = 0..3: going back in time, the error enters at step 3") in said


def test_a_suspect_shows_its_settings_and_what_it_keeps():
    text = str(alone(ELUWrongSlope(), normal((6, 5))))
    assert "it keeps from forward: self.x (6, 5)" in text
    text = str(alone(ScaledLinear(9), normal((5, 9))))
    assert "its settings: d = 9" in text


class SelfUpdating(mn.Dense):
    """A from-scratch tutorial's habit: backward also takes the SGD step."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.params["W"] -= 0.1 * self.grads["W"]
        return dx


def test_a_backward_that_updates_its_own_parameters_is_named():
    result = alone(SelfUpdating(4, 3, seed=0), normal((5, 4)))
    assert not result.passed
    assert any(p.startswith("backward changes W itself (as an update W -= lr·dW inside "
                            "backward does)") for p in result.problems)
    model = mn.Model([mn.Dense(4, 4, seed=1), SelfUpdating(4, 3, seed=0)], loss=mn.SoftmaxCE())
    report = mn.GradientChecker(progress=False).check(model, normal((5, 4)), np.arange(5) % 3)
    assert any("backward changes 1.W itself" in p for p in report.problems)
    assert [s.layer_index for s in report.suspects] == [1]  # the cause, not "nondeterminism"
    assert report.headline().startswith("Gradient check FAILED: layer 1 (SelfUpdating): "
                                        "backward changes 1.W itself")
    assert not any(p.startswith("nondeterminism") for p in report.problems)
    assert "take the update out of the backward of layer 1 (SelfUpdating)" in str(report)


class ReLUSlopeBand(mn.Layer):
    """A hard sigmoid-like ramp whose slope's mask uses the wrong breakpoints."""

    def forward(self, x):
        self.x = x
        return np.clip(x / 6 + 0.5, 0, 1)

    def backward(self, dout):
        return dout * ((self.x > -1) & (self.x < 1)) / 6  # forward's ramp is -3 < x < 3


def test_an_elementwise_error_in_bands_of_x_says_where_they_end():
    text = str(alone(ReLUSlopeBand(), 2.5 * normal((8, 6))))
    assert "all where x lies in [" in text and "right next to it at x = " in text


# ---- a factor per feature, and a sum mixed up with a mean -----------------------------------


class GatedDense(mn.Layer):
    """y = (x W + b) · g, one learned gain per output; dW and db forget the gain."""

    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(0)
        self.params = {"W": rng.standard_normal((5, 4)), "b": np.zeros(4),
                       "g": np.array([0.5, 2.0, 3.0, -1.5])}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self.x = x
        self.z = x @ self.params["W"] + self.params["b"]
        return self.z * self.params["g"]

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        self.grads["g"] = (dout * self.z).sum(axis=0)
        return (dout * self.params["g"]) @ self.params["W"].T


class AffineShiftTimesGain(mn.Layer):
    """y = x · gamma + beta; dbeta is multiplied by gamma as dgamma's line was."""

    def __init__(self):
        super().__init__()
        self.params = {"gamma": np.array([0.5, 1.5, 2.5]), "beta": np.zeros(3)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self.x = x
        return x * self.params["gamma"] + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = np.sum(dout * self.x, axis=0)
        self.grads["beta"] = np.sum(dout * self.params["gamma"], axis=0)
        return dout * self.params["gamma"]


class RepeatThrice(mn.Layer):
    """Each feature copied 3 times; backward averages the copies' gradients."""

    def forward(self, x):
        return np.repeat(x, 3, axis=1)

    def backward(self, dout):
        N, F3 = dout.shape
        return dout.reshape(N, F3 // 3, 3).mean(axis=2)


class MeanOfPairs(mn.Layer):
    """The mean of each pair of features; backward forgets the 1/2."""

    def forward(self, x):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1, 2).mean(axis=2)

    def backward(self, dout):
        return np.repeat(dout, 2, axis=1)


class TimeWiseScale(mn.Layer):
    """y_t = 2 x_t at every time step, independently; backward forgets the 2."""

    def forward(self, x):
        return 2 * x

    def backward(self, dout):
        return dout.copy()


def test_a_factor_per_column_that_is_a_parameter_is_named():
    said = findings(alone(GatedDense(), normal((6, 5))), "W")
    assert "times a factor per column: 2, 0.5, 0.333, -0.667 (yours / true)" in said
    assert "which is 1/params['g']: the factor g is missing" in said
    said = findings(alone(GatedDense(), normal((6, 5))), "b")
    assert "entry by entry, which is 1/params['g']: the factor g is missing" in said


def test_a_stray_parameter_factor_in_a_one_dimensional_gradient_is_named():
    result = alone(AffineShiftTimesGain(), normal((6, 3)))
    said = findings(result, "beta")
    assert said.startswith("your dbeta is the true one times 0.5, 1.5, 2.5 entry by entry, "
                           "which is params['gamma']: a stray factor gamma")
    assert [c.param for c in result.checks if not c.passed] == ["beta"]


def test_a_mean_where_copies_gradients_add_up_and_a_mean_whose_scale_is_missing():
    said = findings(alone(RepeatThrice(), normal((4, 5))))
    assert "your dx is 1/3 of the true one, and each entry of x reaches 3 outputs" in said
    said = findings(alone(MeanOfPairs(), normal((4, 6))))
    assert "your dx is 2× the true one, and each output reads 2 entries of x" in said
    assert "1/2 of a mean missing" in said


def test_nothing_is_said_about_time_for_a_layer_that_works_step_by_step():
    result = alone(TimeWiseScale(), normal((3, 5, 4)))
    assert "dout only at the last step" not in str(result)
    assert "analytic ≈ 0.5 × numeric" in str(result)


class XMinusSin(mn.Layer):
    """y = x − sin x; backward differentiates only the sine: dy/dx = cos x."""

    def forward(self, x):
        self.x = x
        return x - np.sin(x)

    def backward(self, dout):
        return dout * np.cos(self.x)


class ScalarGain(mn.Layer):
    """y = s · x with one learned number s; ds averages over the entries it was used in."""

    def __init__(self):
        super().__init__()
        self.params = {"s": np.array([1.5])}
        self.grads = {"s": np.zeros(1)}

    def forward(self, x):
        self.x = x
        return self.params["s"] * x

    def backward(self, dout):
        self.grads["s"] = np.array([np.mean(dout * self.x)])
        return dout * self.params["s"]


def test_a_derivative_that_is_a_line_in_the_true_one():
    table = str(alone(XMinusSin(), normal((4, 6))))
    assert "your dy/dx = 1 − true at every wrong entry (a line in the true one" in table


def test_a_parameter_used_by_every_entry_whose_gradient_is_averaged():
    said = findings(alone(ScalarGain(), normal((4, 6))), "s")
    assert ("your ds is 1/24 of the true one, and each entry of s reaches 24 outputs") in said


class NextMinusThis(mn.Layer):
    """y_t = x_{t+1} − x_t (the last step: −x_t); backward sends dout_t to x_{t−1}."""

    def forward(self, x):
        nxt = np.concatenate([x[:, 1:], np.zeros_like(x[:, :1])], axis=1)
        return nxt - x

    def backward(self, dout):
        dx = -dout.copy()
        dx[:, :-1] += dout[:, 1:]
        return dx


def test_gradient_sent_the_other_way_along_time_is_named_as_mirrored():
    said = findings(alone(NextMinusThis(), normal((3, 5, 2))))
    assert ("with dout only at time step 1, your dx reaches time steps 0 and 1 where forward "
            "reads time steps 1 and 2: mirrored around time step 1") in said


class TanhDense(mn.Layer):
    """y = tanh(x W + b), W (4, 4); backward returns the gradient at x W + b as dx."""

    def __init__(self):
        super().__init__()
        self.params = {"W": np.random.default_rng(3).standard_normal((4, 4)), "b": np.zeros(4)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self.x = x
        self.y = np.tanh(x @ self.params["W"] + self.params["b"])
        return self.y

    def backward(self, dout):
        da = dout * (1 - self.y**2)
        self.grads["W"] = self.x.T @ da
        self.grads["b"] = da.sum(axis=0)
        return da


class PrunedDense(mn.Layer):
    """y = x (W ⊙ mask) with a fixed mask, W (5, 3); dx multiplies by the unmasked W."""

    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(4)
        self.params = {"W": rng.standard_normal((5, 3))}
        self.grads = {"W": np.zeros((5, 3))}
        self.mask = (rng.random((5, 3)) > 0.3).astype(float)

    def forward(self, x):
        self.x, self.used = x, self.params["W"] * self.mask
        return x @ self.used

    def backward(self, dout):
        self.grads["W"] = (self.x.T @ dout) * self.mask
        return dout @ self.params["W"].T


def test_the_last_product_of_dx_missing_or_made_with_the_wrong_matrix():
    said = findings(alone(TanhDense(), normal((6, 4))))
    assert ("your dx · params['W']ᵀ is the true dx: is the last product, with params['W']ᵀ, "
            "missing?") in said
    said = findings(alone(PrunedDense(), normal((6, 5))))
    assert ("your dx is the true one with params['W']ᵀ in place of self.usedᵀ in the last "
            "product") in said


class GainTanh(mn.Layer):
    """y = s · tanh(x) with one learned gain s; ds sums dout · y, where y already holds s."""

    def __init__(self):
        super().__init__()
        self.params, self.grads = {"s": np.array([1.7])}, {"s": np.zeros(1)}

    def forward(self, x):
        self.t = np.tanh(x)
        self.y = self.params["s"] * self.t
        return self.y

    def backward(self, dout):
        self.grads["s"] = np.array([np.sum(dout * self.y)])
        return dout * self.params["s"] * (1 - self.t**2)


class Damped(mn.Layer):
    """y = alpha · x with a fixed alpha; backward forgets alpha."""

    def __init__(self, alpha=0.3):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return self.alpha * x

    def backward(self, dout):
        return dout.copy()


def test_a_whole_factor_that_is_a_number_the_layer_holds_is_named():
    result = alone(GainTanh(), normal((4, 5)))
    assert findings(result, "s").startswith("your ds is 1.7 × the true one, which is "
                                            "params['s']: a stray factor s")
    assert "(its settings: params['s'] = [1.7];" in str(result)  # small parameters are shown
    said = findings(alone(Damped(), normal((4, 5))))
    assert "which is 1/self.alpha: the factor alpha is missing" in said


def test_a_failing_layer_prints_the_numbers_to_work_a_guess_by_hand():
    class WideGain(mn.Layer):  # y = x W, W (5, 4): 20 values, more than its settings show
        def __init__(self):
            super().__init__()
            self.params = {"W": normal((5, 4), seed=1)}
            self.grads = {"W": np.zeros((5, 4))}

        def forward(self, x):
            self.x = x
            return x @ self.params["W"]

        def backward(self, dout):
            self.grads["W"] = self.x.T @ dout
            return 2 * dout @ self.params["W"].T  # a stray factor 2

    x = normal((3, 5), seed=2)
    text = str(alone(WideGain(), x))
    lines = text.splitlines()
    at = lines.index("The numbers, to work a guess by hand:")
    assert lines[at + 1] == "params['W'] (5, 4):"
    assert lines[at + 7] == "x (its input) (3, 5):"
    np.testing.assert_allclose([float(v) for v in lines[at + 8].split()], x[0], rtol=1e-3)
    assert lines[at + 11] == "y (its output) (3, 4):"
    np.testing.assert_allclose([float(v) for v in lines[at + 12].split()],
                               x[0] @ normal((5, 4), seed=1), rtol=1e-3)
    assert lines[at + 15] == "dout (G) (3, 4):"
    assert "The numbers" not in str(alone(mn.Dense(5, 4, seed=0), x))  # a passing layer: none
    assert "self.x (3, 5):" not in lines  # a kept copy of x is printed once, as x


def test_the_numbers_include_the_small_arrays_the_layer_keeps():
    class HalfRectified(mn.Layer):  # y = x where x > 0, x/2 elsewhere; dx forgets the half
        def forward(self, x):
            self.slope = np.where(x > 0, 1.0, 0.5)
            self.ids = np.argsort(x, axis=1)  # kept for nothing, as students keep things
            return x * self.slope

        def backward(self, dout):
            return dout * (self.slope > 0)

    x = normal((3, 4), seed=3)
    lines = str(alone(HalfRectified(), x)).splitlines()
    at = lines.index("self.slope (3, 4):")
    assert [float(v) for v in lines[at + 1].split()] == list(np.where(x[0] > 0, 1.0, 0.5))
    at = lines.index("self.ids (3, 4):")
    assert [float(v) for v in lines[at + 1].split()] == list(np.argsort(x[0]))


class ClampedMeanPool(mn.Layer):
    """2×2 mean of max(x, 0.2); backward forgets the 1/4 of the mean."""

    floor = 0.2

    def forward(self, x):
        self.above = x > self.floor
        z = np.maximum(x, self.floor)
        N, C, H, W = x.shape
        return z.reshape(N, C, H // 2, 2, W // 2, 2).mean(axis=(3, 5))

    def backward(self, dout):
        return np.repeat(np.repeat(dout, 2, axis=2), 2, axis=3) * self.above


def test_a_split_at_the_gradients_support_is_no_branch_and_the_mean_is_named():
    said = findings(alone(ClampedMeanPool(), images()))
    assert "wrong exactly where" not in said, said
    assert "your dx is 4× the true one, and each output reads 4 entries of x" in said, said


class TargetTermScaled(mn.Loss):
    """Softmax cross-entropy whose backward scales p at the target by 1.5: p_y − 1 + p_y / 2."""

    def forward(self, scores, y):
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        self.p, self.y = e / e.sum(axis=1, keepdims=True), y
        return float(-np.log(self.p[np.arange(len(y)), y]).mean())

    def backward(self):
        d = self.p.copy()
        rows = np.arange(len(self.y))
        d[rows, self.y] = 1.5 * d[rows, self.y] - 1
        return d / len(self.y)


def test_a_loss_wrong_only_at_the_targets_by_varying_amounts_is_told_so():
    y = np.array([0, 2, 1, 2, 0, 1])
    said = findings(alone(TargetTermScaled(), normal((6, 3), seed=4), y=y))
    assert said.startswith("wrong only at each sample's target class y, by a different amount "
                           "in each sample; right at every other class"), said
    assert "the entries a min picks" not in said and "the entries a max picks" not in said


# ---- yours made of dout alone, a kernel's channels, a factor that is also a plain number ------


class KeepMaxStep(mn.Layer):
    """Keeps, for each sample and feature, only the time step where x is largest: (N, T, D)."""

    def forward(self, x):
        self.mask = (x == x.max(axis=1, keepdims=True))
        return x * self.mask

    def backward(self, dout):
        return self.mask * dout.sum(axis=1, keepdims=True)  # summed over time, not routed


class ReverseTime(mn.Layer):
    """Reads each sequence backwards: y[:, t] = x[:, T - 1 - t]."""

    def forward(self, x):
        return x[:, ::-1]

    def backward(self, dout):
        return dout[:, :, ::-1]  # reversed the wrong axis


def test_yours_pooled_from_dout_where_the_true_one_routes_it():
    said = findings(alone(KeepMaxStep(), normal((3, 5, 4))))
    assert ("your dx is the sum of dout along its time steps; the true one there is dout at "
            "the entry itself") in said, said


def test_yours_is_dout_reversed_along_another_axis_than_the_true_one():
    said = findings(alone(ReverseTime(), normal((3, 5, 4))))
    assert said.startswith("your dx is dout reversed along its features at every entry; the "
                           "true one is dout reversed along its time steps"), said


class ConvTurnedWithNpFlip(mn.Conv2D):
    """Turns the kernel for dx with np.flip(W), which reverses the channels as well."""

    def backward(self, dout):
        dx = super().backward(dout)
        W = self.params["W"]
        self.params["W"] = np.flip(W)  # meant: W[:, :, ::-1, ::-1]
        try:
            return super().backward(dout) + 0 * dx
        finally:
            self.params["W"] = W


def test_a_kernel_with_its_channels_reversed_in_dx():
    conv = ConvTurnedWithNpFlip(2, 2, 3, padding=1, seed=3)
    said = findings(alone(conv, images(c=2)))
    assert "your dx equals dout·W flipped along all four axes (channels reversed too)" in said \
        or "your dx equals dout·W with its in and out channels in reverse order" in said, said
    assert "the true one equals dout·W" in said, said


class HalfStep(mn.Layer):
    """y = x + step·(x W): one Euler step; dW doubles the step by mistake."""

    def __init__(self, d, step, seed=0):
        super().__init__()
        self.step = step
        self.params = {"W": np.random.default_rng(seed).standard_normal((d, d)) * 0.3}
        self.grads = {"W": np.zeros((d, d))}

    def forward(self, x):
        self.x = x
        return x + self.step * x @ self.params["W"]

    def backward(self, dout):
        self.grads["W"] = self.step * self.step * self.x.T @ dout  # step written twice
        return dout + self.step * dout @ self.params["W"].T


def test_a_factor_that_is_a_setting_and_a_plain_number_is_settled_by_changing_it():
    said = findings(alone(HalfStep(3, 0.5), normal((4, 3))), "W")
    assert "which is self.step (with step = 1.75 instead of 0.5, yours is 1.75 × the true one: " \
           "it follows step): a stray factor step" in said, said
    assert "plain" not in said, said
    other = findings(alone(HalfStep(3, 0.3), normal((4, 3))), "W")
    assert "which is self.step: a stray factor step" in other and "plain" not in other, other


def test_round_off_where_the_true_gradient_is_0_is_no_mask():
    from minnet.gradcheck.verdicts import pattern

    n = np.array([0.0, 2.0, 3.0, -1.0])
    assert pattern(np.array([0.3, 2.0, 3.0, -1.0]), n).startswith("mask ignored")
    assert not (pattern(np.array([-6e-32, 2.0, 3.5, -1.0]), n) or "").startswith("mask")


# ---- a window's gradient shared out by the rank of x ------------------------------------------


class MiddlePairPool(mn.Layer):
    """Each 2×2 window's output is the mean of its two middle values (a robust pool)."""

    def forward(self, x):
        N, C, H, W = x.shape
        win = x.reshape(N, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5)
        self.win = win.reshape(N, C, H // 2, W // 2, 4)
        self.order = np.argsort(self.win, axis=-1)
        return np.take_along_axis(self.win, self.order[..., 1:3], axis=-1).mean(axis=-1)

    def backward(self, dout):
        N, C, h, w = dout.shape
        dwin = np.zeros_like(self.win)
        for r in (0, 1):  # off by one: the two smallest, not the two middle ones
            np.put_along_axis(dwin, self.order[..., r:r + 1], dout[..., None] / 2, axis=-1)
        dx = dwin.reshape(N, C, h, w, 2, 2).transpose(0, 1, 2, 4, 3, 5)
        return dx.reshape(N, C, 2 * h, 2 * w)


class TopTwoPool(mn.Layer):
    """Each 2×2 window's output is the sum of its two largest values."""

    def forward(self, x):
        N, C, H, W = x.shape
        self.x = x
        win = x.reshape(N, C, H // 2, 2, W // 2, 2)
        self.low = win.min(axis=(3, 5), keepdims=True)
        return win.sum(axis=(3, 5)) - self.low[:, :, :, 0, :, 0] - self._second(win)

    def _second(self, win):
        flat = np.sort(win.transpose(0, 1, 2, 4, 3, 5).reshape(*win.shape[:3], win.shape[4], 4))
        return flat[..., 1]

    def backward(self, dout):
        N, C, H, W = self.x.shape
        win = self.x.reshape(N, C, H // 2, 2, W // 2, 2)
        mask = win > self.low  # meant: the two largest; this keeps all but the smallest
        return (mask * dout[:, :, :, None, :, None]).reshape(N, C, H, W)


def test_a_window_shared_out_by_rank_in_the_wrong_order_gives_both_shares():
    said = findings(alone(MiddlePairPool(), images()))
    assert ("within each 2×2 window your dx has the right total, shared out by the rank of x "
            "(1 = the smallest, to 4): at ranks 1 to 4 yours gives 0.5, 0.5, 0, 0 of it, the "
            "true one 0, 0.5, 0.5, 0") in said, said


def test_a_window_that_sends_its_gradient_to_the_wrong_ranks_says_which():
    said = findings(alone(TopTwoPool(), images()))
    assert ("within each 2×2 window your dx is not 0 at the entries ranked 2, 3 and 4 (all but "
            "the smallest) in x; the true one only at those ranked 3 and 4 (1 = the smallest)"
            ) in said, said


class LoopDense(mn.Dense):
    """A student's dense layer with a loop over the samples: dW += outer(x_n, dout_n)."""

    def backward(self, dout):
        self.grads["W"] = np.zeros_like(self.params["W"])
        for n in range(self.x.shape[0]):
            self.grads["W"] += np.dot(self.x[n].T, dout[n])  # .T of a 1-D array: a dot product
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"].T


class SummedDense(mn.Dense):
    def backward(self, dout):
        self.grads["W"] = np.full(self.params["W"].shape, np.sum(self.x.T @ dout))
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"].T


def test_a_gradient_that_is_one_number_says_which_number():
    x = np.random.default_rng(3).standard_normal((6, 4))
    r = mn.check_layer(LoopDense(4, 4, seed=0), x)
    said = next(c for c in r.checks if c.param == "W").findings[0]
    assert said.startswith("your dW is one number, ")
    assert "the trace of the true one (the sum of its diagonal): a dot product where the " \
           "outer product belongs" in said
    r = mn.check_layer(SummedDense(4, 3, seed=0), x)
    said = next(c for c in r.checks if c.param == "W").findings[0]
    assert "at every entry, where the true one varies: the sum of the true one's entries: a " \
           "scalar" in said
    assert mn.check_layer(mn.Dense(4, 4, seed=0), x).passed


class ChannelsLast(mn.Layer):
    """y = x moved to channels last, times a gain per channel.  x (N, C, H, W) -> (N, H, W, C)."""

    def __init__(self, c):
        super().__init__()
        self.params = {"g": np.linspace(0.5, 1.5, c)}
        self.grads = {"g": np.zeros(c)}

    def forward(self, x):
        self.t = x.transpose(0, 2, 3, 1)
        return self.t * self.params["g"]

    def backward(self, dout):
        self.grads["g"] = (dout * self.t).sum(axis=(0, 1, 2))
        return (dout * self.params["g"]).transpose(0, 2, 3, 1)  # (0, 3, 1, 2) undoes it


def test_axes_permuted_the_wrong_way_back_are_named():
    x = np.random.default_rng(5).standard_normal((2, 3, 3, 3))
    r = mn.check_layer(ChannelsLast(3), x)
    assert r.checks[0].findings[0] == (
        "yours is the true dx with its axes in another order: your [i, j, k, l] is the true "
        "[i, k, l, j] (a transpose or moveaxis in the wrong order: forward's permutation "
        "where its inverse belongs?)")


class GainBetween(mn.Layer):
    """A gain between two weights: h = x A, y = (h ⊙ g) B.  x (N, D) -> (N, F);
    A (D, R), g (R,), B (R, F);  dg = Σ_n h ⊙ (dout Bᵀ)."""

    def __init__(self, d=4, r=3, f=5):
        super().__init__()
        rng = np.random.default_rng(0)
        self.params = {"A": rng.standard_normal((d, r)), "g": np.linspace(0.5, 1.5, r),
                       "B": rng.standard_normal((r, f))}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self.x, self.h = x, x @ self.params["A"]
        return (self.h * self.params["g"]) @ self.params["B"]

    def backward(self, dout):
        A, g, B = self.params["A"], self.params["g"], self.params["B"]
        dhg = dout @ B.T
        self.grads["B"] = (self.h * g).T @ dout
        self.grads["g"] = self.gain_grad(dout, dhg)
        self.grads["A"] = self.x.T @ (dhg * g)
        return (dhg * g) @ A.T

    def gain_grad(self, dout, dhg):
        return (self.h * dhg).sum(axis=0)


class GainBetweenSkipsB(GainBetween):
    def gain_grad(self, dout, dhg):
        return np.sum(self.h * (dout @ np.ones((dout.shape[1], self.h.shape[1]))), axis=0)


def test_a_gradient_taken_back_through_a_weight_first_is_named_with_it():
    x = np.random.default_rng(6).standard_normal((6, 4))
    assert mn.check_layer(GainBetween(), x).passed
    r = mn.check_layer(GainBetweenSkipsB(), x)
    said = next(c for c in r.checks if c.param == "g").findings
    assert "the true dg equals Σ (dout·params['B']ᵀ)·self.h over the batch (axis 0); yours " \
           "is not that" in said, said


class TemperedSquare(mn.Layer):
    """y = x² / t, with a temperature t = 2 (a setting, not a parameter)."""

    t = 2.0

    def forward(self, x):
        self.x = x
        return x**2 / self.t

    def backward(self, dout):
        return dout * 2 * self.x / self.t


class TemperedSquareStrayT(TemperedSquare):
    def backward(self, dout):
        return dout * 2 * self.x  # the 1/t left out: yours is t × the true one


class TemperedSquareStrayTwo(TemperedSquare):
    def backward(self, dout):
        return dout * 4 * self.x / self.t  # a plain 2 too many


def test_a_factor_equal_to_a_setting_is_told_apart_from_a_plain_number():
    x = np.random.default_rng(7).standard_normal((4, 3))
    assert mn.check_layer(TemperedSquare(), x).passed
    said = " ".join(mn.check_layer(TemperedSquareStrayT(), x).checks[0].findings)
    assert "which is self.t (with t = 3.25 instead of 2, yours is 3.25 × the true one: it " \
           "follows t)" in said, said
    said = " ".join(mn.check_layer(TemperedSquareStrayTwo(), x).checks[0].findings)
    assert "a plain 2, not t (with t = 3.25 instead of 2, yours is still 2 × the true one)" \
           in said, said


class CumSum(mn.Layer):
    """y_t = Σ_{s ≤ t} x_s along time.  x (N, T, D) -> (N, T, D);  dx_t = Σ_{s ≥ t} dout_s."""

    def forward(self, x):
        return np.cumsum(x, axis=1)

    def order(self, grads):
        return grads[::-1]

    def backward(self, dout):
        running, grads = np.zeros_like(dout[:, 0]), []
        for t in reversed(range(dout.shape[1])):
            running = running + dout[:, t]
            grads.append(running)
        return np.stack(self.order(grads), axis=1)


class CumSumNotReversed(CumSum):
    def order(self, grads):
        return grads


def test_a_gradient_reversed_along_time_is_named():
    x = np.random.default_rng(8).standard_normal((3, 4, 2))
    assert mn.check_layer(CumSum(), x).passed
    said = mn.check_layer(CumSumNotReversed(), x).checks[0].findings
    assert said[0] == ("yours is the true dx reversed along its time steps (axis 1): your time "
                       "step i holds the true time step 3 − i (a list built backwards and not "
                       "reversed, or an index counted from the other end?)"), said


class TimeShift(mn.Layer):
    """y_t = (1 − δ)·x_t + δ·x_{t+1} per feature (x_T = 0): a learned sub-step shift in time.
    x (N, T, D) -> y (N, T, D); delta (D,)."""

    def __init__(self, d=3):
        super().__init__()
        self.params = {"delta": np.array([0.25, 0.5, 0.75][:d])}
        self.grads = {"delta": np.zeros(d)}

    def forward(self, x):
        self.x = x
        nxt = np.zeros_like(x)
        nxt[:, :-1] = x[:, 1:]
        self.y = (1 - self.params["delta"]) * x + self.params["delta"] * nxt
        return self.y

    def backward(self, dout):
        d = self.params["delta"]
        y_next = np.zeros_like(self.y)
        y_next[:, :-1] = self.y[:, 1:]
        self.grads["delta"] = (dout * (y_next - self.y)).sum(axis=(0, 1))  # y where x belongs
        dx = (1 - d) * dout
        dx[:, 1:] += d * dout[:, :-1]
        return dx


def test_a_shifts_slope_taken_on_the_output_is_paired_with_the_step_of_each_array():
    text = findings(mn.check_layer(TimeShift(), normal((4, 5, 3), seed=2)), "delta")
    assert ("your ddelta equals Σ dout·(self.y[j + 1] − self.y[j] along axis 1) over axes 0, 1; "
            "the true one equals Σ dout·(self.x[j + 1] − self.x[j] along axis 1) over axes 0, 1"
            ) in text
