"""gradcheck.diagnose: what kind of mistake a wrong gradient is, confirmed by numbers."""

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from planted import (  # noqa: E402
    BUGS,
    BatchNormNoMeanOfDxhat,
    BatchNormNoMeanTerms,
    BatchNormNoXhatTerm,
    BatchNormWrongGamma,
    DenseBiasFromOneSample,
    DenseBiasWrongAxis,
    DenseInputNotTransposed,
    DenseTransposedW,
    LayerNormLike,
    LayerNormNoMeanOfDxhat,
    LeakyReLUForgetsAlpha,
    LeakyReLUSlopesSwapped,
    ReLUDerivativeIsY,
    ReLUInvertedMask,
    SigmoidForgetsOneMinus,
    SigmoidFromX,
    SigmoidSignFlipped,
    SoftmaxCEForgetsOneHot,
    TanhFromX,
    TanhWrongDerivative,
    mlp,
)

import minnet as mn  # noqa: E402
from minnet import plot  # noqa: E402
from minnet.gradcheck.axes import of_input, of_param  # noqa: E402
from minnet.gradcheck.elementwise import elementwise  # noqa: E402
from minnet.gradcheck.probe import LayerProbe  # noqa: E402
from minnet.gradcheck.structure import where  # noqa: E402


def x_of(shape=(8, 5), seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


class Softmax(mn.Layer):
    """y = exp(x) / Σ exp(x) along axis 1: every output depends on every input of its row."""

    def forward(self, x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        self.y = e / e.sum(axis=1, keepdims=True)
        return self.y

    def backward(self, dout):
        return self.y * (dout - (dout * self.y).sum(axis=1, keepdims=True))


class ReLUFromY(mn.ReLU):
    def df(self, x, y):
        return y > 0  # the same mask as x > 0: a correct backward


# ---- recognizing an elementwise layer ------------------------------------------------------


@pytest.mark.parametrize("layer, expected", [
    (mn.Sigmoid(), True), (mn.Tanh(), True), (mn.LeakyReLU(0.1), True),
    (Softmax(), False), (mn.Dense(5, 5, seed=0), False), (mn.BatchNorm(5), False),
    (LayerNormLike(5), False)])
def test_elementwise_layers_are_recognized_by_a_diagonal_jacobian(layer, expected):
    probe = LayerProbe(layer, x_of(), None, 1e-5, 0, True)
    assert elementwise(probe) is expected


def test_a_loss_is_never_elementwise():
    probe = LayerProbe(mn.MSE(), x_of(), x_of(seed=2), 1e-5, 0, True)
    assert not elementwise(probe)


# ---- formula hints, in check_layer and in the model check ---------------------------------

CASES = [  # (layer, words its input-gradient hint must hold)
    (SigmoidForgetsOneMinus, "your dy/dx equals y at every entry checked (true: y·(1 − y)): a "
                             "missing (1 − y)?"),
    (SigmoidFromX, "your dy/dx equals x·(1 − x) at every entry checked (true: y·(1 − y)): the "
                   "derivative is computed from x where it should use y"),
    (TanhWrongDerivative, "your dy/dx equals 1 − y at every entry checked (true: 1 − y²): a "
                          "missing square?"),
    (TanhFromX, "your dy/dx equals 1 − x² at every entry checked (true: 1 − y²): the derivative "
                "is computed from x where it should use y"),
    (lambda: LeakyReLUSlopesSwapped(0.1), "your dy/dx is 0.1 where x > 0 and 1 where x < 0 "
                                          "(true: 1 and 0.1): the slopes of the two pieces are "
                                          "swapped"),
    (lambda: LeakyReLUForgetsAlpha(0.1), "partly zero"),
    (ReLUDerivativeIsY, "your dy/dx equals y at every entry checked (true: 1 where x > 0, 0 "
                        "where x < 0)"),
    (lambda: BatchNormNoMeanOfDxhat(5), "the error is the same all along the batch axis (in "
                                        "each feature): the term − mean(dx̂) is missing"),
    (lambda: BatchNormNoXhatTerm(5), "the term − x̂·mean(dx̂·x̂) is missing"),
    (lambda: BatchNormNoMeanTerms(5), "the terms − mean(dx̂) and − x̂·mean(dx̂·x̂) are both missing"),
    (lambda: LayerNormNoMeanOfDxhat(5), "the error is the same all along the last axis (in "
                                        "each sample): the term − mean(dx̂) is missing"),
]


@pytest.mark.parametrize("make, words", CASES)
def test_check_layer_names_the_formula(make, words):
    result = mn.check_layer(make(), x_of())
    assert not result.passed
    assert words in result.input.hint
    assert words in result.hint  # the layer's own verdict line


@pytest.mark.parametrize("make, words", CASES)
def test_model_check_names_the_formula_of_its_suspect(make, words):
    extra = () if make().params == {} else (make,)
    act = make if extra == () else mn.Tanh
    model, X, y = mlp(act=act, extra=extra, init="he")(0)
    report = mn.GradientChecker(progress=False).check(model, X, y)
    (suspect,) = report.suspects
    assert words in suspect.hint, str(report)


@pytest.mark.parametrize("make, words", [
    (lambda: DenseBiasFromOneSample(5, 3, seed=0),
     "analytic equals the contribution of sample 0 alone: one sample used instead of the sum "
     "over samples"),
    (lambda: DenseBiasWrongAxis(5, 8, seed=0),
     "your db equals Σ dout over axis 1; the true one equals Σ dout over the batch (axis 0)"),
    (lambda: DenseBiasWrongAxis(5, 3, seed=0),
     "(8,) is the shape of dout summed over axis 1, (3,) of dout summed over axis 0: a sum over "
     "the wrong axis?")])
def test_parameter_hints_name_one_sample_and_the_wrong_axis(make, words):
    result = mn.check_layer(make(), x_of())
    (b,) = [c for c in result.params if not c.passed]
    assert b.param == "b" and words in b.hint


TAUGHT = [b for b in BUGS if b.teach]


@pytest.mark.parametrize("bug", TAUGHT, ids=[b.name for b in TAUGHT])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_bug_report_names_the_mistake_in_its_suspect(bug, seed):
    model, X, y = bug.build(seed)
    report = mn.GradientChecker(progress=False, mode="full").check(model, X, y)
    (suspect,) = report.suspects
    assert suspect.layer_index == bug.suspect
    assert bug.teach in suspect.hint, str(report)


class BatchNormShrunkTerms(mn.BatchNorm):
    """Both mean terms at 0.8 of their size, and gamma not all ones."""

    def __init__(self, num_features):
        super().__init__(num_features)
        self.params["gamma"] = np.linspace(0.5, 2.0, num_features)

    def backward(self, dout):
        super().backward(dout)
        g, xhat = dout * self.params["gamma"], self.xhat
        return (g - 0.8 * g.mean(axis=0) - 0.8 * xhat * (g * xhat).mean(axis=0)) / self.std


def test_a_normalization_term_of_the_wrong_size_is_told_from_a_missing_one():
    result = mn.check_layer(BatchNormShrunkTerms(5), x_of())
    assert result.input.hint == (
        "the error is a + b·x̂ along the batch axis (in each feature), x̂ = x standardized over "
        "it: the terms − mean(dx̂) and − x̂·mean(dx̂·x̂) enter 0.8 × instead of once (dx̂ = "
        "dout·γ, the gradient at x̂)")


@pytest.mark.parametrize("make, param, words", [
    (lambda: DenseInputNotTransposed(5, 5, seed=0), "input",
     "analytic equals G·W at every entry (true: G·Wᵀ): a transpose is missing"),
    (lambda: DenseTransposedW(5, 5, seed=0), "W",
     "transposed: analytic ≈ numericᵀ"),
    (lambda: BatchNormWrongGamma(5), "gamma",
     "your dgamma equals Σ dout over the batch (axis 0); the true one equals Σ dout·self.xhat "
     "over the batch (axis 0)")])
def test_products_and_sums_in_the_wrong_order_or_without_a_factor(make, param, words):
    result = mn.check_layer(make(), x_of())
    (c,) = [c for c in [result.input, *result.params] if not c.passed]
    assert c.param == param and words in c.hint


def test_a_loss_wrong_only_at_the_targets_says_so():
    y = np.array([0, 2, 1, 1, 0, 2, 2, 1])
    result = mn.check_layer(SoftmaxCEForgetsOneHot(), x_of((8, 3)), y=y)
    assert result.input.derivatives is None
    assert result.input.hint == ("wrong only at each sample's target class y, where analytic − "
                                 "numeric = 0.125 = 1/N (N = 8); right at every other class")


def test_existing_pattern_words_are_kept_and_added_to():
    result = mn.check_layer(ReLUInvertedMask(), x_of())
    assert result.input.hint.startswith("inverted mask")
    assert "slopes of the two pieces are swapped" in result.input.hint


@pytest.mark.parametrize("make", [ReLUFromY, lambda: LayerNormLike(5)])
def test_correct_layers_written_another_way_pass_without_a_diagnosis(make):
    result = mn.check_layer(make(), x_of())
    assert result.passed, str(result)
    assert result.input.derivatives is None and result.input.hint is None


def test_a_diagnosis_that_cannot_run_leaves_the_check_and_its_pattern_words(monkeypatch):
    from minnet.gradcheck import elementwise

    def broken(*args):
        raise RuntimeError("this layer cannot be probed")

    monkeypatch.setattr(elementwise, "elementwise", broken)
    result = mn.check_layer(ReLUInvertedMask(), x_of())
    assert not result.passed and result.input.hint.startswith("inverted mask")
    assert "swapped" not in result.input.hint and result.input.derivatives is None


# ---- the derivative table ------------------------------------------------------------------


def test_derivative_table_shows_x_y_and_both_derivatives_by_hand():
    x = x_of()
    result = mn.check_layer(SigmoidForgetsOneMinus(), x)
    d = result.input.derivatives
    assert 5 <= len(d.rows) <= 6
    xs = [r[0] for r in d.rows]
    assert xs == sorted(xs) and xs[0] == x.min() and xs[-1] == x.max()  # spread over x
    for xv, yv, yours, true in d.rows:
        s = 1 / (1 + np.exp(-xv))
        assert yv == pytest.approx(s, rel=1e-12)
        assert yours == pytest.approx(s, rel=1e-9)  # this bug's dy/dx is y
        assert true == pytest.approx(s * (1 - s), rel=1e-6)
    worst = d.rows[d.worst]
    assert abs(worst[2] - worst[3]) == pytest.approx(max(abs(p[2] - p[3]) for p in d.points))
    text = str(d)
    assert text.splitlines()[1].split() == ["x", "y", "=", "f(x)", "your", "dy/dx", "true",
                                            "dy/dx"]
    assert "<- worst" in text
    assert "wrong everywhere" in text and "your/true = 1/(1 − y)" in text
    assert "no sign is flipped" in text


def test_pattern_says_where_wrong_and_counts_flipped_signs():
    d = mn.check_layer(LeakyReLUForgetsAlpha(0.1), x_of()).input.derivatives
    negative = int((x_of() < 0).sum())  # the region counts every entry compared, as the table
    assert d.pattern[0] == (f"wrong only where x < 0: at {negative} of the {negative} entries "
                            f"with x < 0, right at all {x_of().size - negative} others")
    d = mn.check_layer(SigmoidFromX(), x_of()).input.derivatives
    flips = sum(p[2] * p[3] < 0 for p in d.points)  # x (1 - x) < 0 outside [0, 1]
    assert flips == sum(not 0 <= p[0] <= 1 for p in d.points) > 0
    assert f"signs flipped at {flips} of the {len(d.points)} entries with |G| >= 0.1" in d.pattern


def test_sign_flip_is_a_constant_factor_of_minus_one():
    d = mn.check_layer(SigmoidSignFlipped(), x_of()).input.derivatives
    assert "your/true = -1 at every wrong entry (a constant factor)" in d.pattern


def test_a_correct_model_report_has_no_derivative_table():
    model, X, y = mlp(act=mn.Sigmoid)(0)
    report = mn.GradientChecker(progress=False).check(model, X, y)
    assert report.passed and "your dy/dx" not in str(report)
    result = mn.check_layer(mn.Sigmoid(), x_of())
    assert result.passed and result.input.derivatives is None


def test_the_table_is_plain_json_in_to_dict():
    model, X, y = mlp(act=SigmoidFromX)(0)
    report = mn.GradientChecker(progress=False).check(model, X, y)
    data = json.loads(json.dumps(report.to_dict()))
    table = data["suspects"][0]["input"]["derivatives"]
    d = report.suspects[0].input.derivatives
    assert table["hint"] == d.hint and table["pattern"] == d.pattern
    assert table["rows"] == [list(r) for r in d.rows]


def test_only_the_elementwise_suspect_carries_a_table():
    model, X, y = mlp(act=TanhFromX)(0)
    report = mn.GradientChecker(progress=False).check(model, X, y)
    tables = [lc.layer_index for lc in report.layers
              if lc.input is not None and lc.input.derivatives is not None]
    assert tables == [1]


# ---- where the error lives -----------------------------------------------------------------


def test_where_names_a_row_a_column_a_sample_an_offset_and_a_scale():
    n = np.arange(1.0, 13.0).reshape(3, 4)
    matrix, batch = of_param((3, 4), (5, 3), (5, 4)), of_input((3, 4))

    def said(a, axes=matrix, err=None):
        err = a - n if err is None else err
        checked = np.isfinite(err)
        wrong = checked & (np.abs(np.nan_to_num(err)) > 1e-9)
        return where(wrong, checked, axes, err, a)

    a = n.copy()
    a[1] *= 3
    assert said(a) == ("wrong only in input feature 1 (4 of 12 entries); right everywhere "
                       "else; by a scale there: analytic = 3 × numeric")
    assert said(a, batch).startswith("wrong only in sample 1 ")
    a = n.copy()
    a[:, 2] += 0.5
    assert said(a) == ("wrong only in column 2 (3 of 12 entries); right everywhere else; by "
                       "the same offset everywhere: analytic − numeric = 0.5")
    assert said(n + 0.25) == ("wrong at every entry checked (12); by the same offset "
                              "everywhere: analytic − numeric = 0.25")
    assert said(n) is None
    assert said(n * 1.5) is None  # wrong everywhere, by a factor: the table's hint says it
    err = np.full(n.shape, np.nan)  # not checked: neither right nor wrong
    err[0, 0] = 1.0
    assert said(n + 1, err=err) is None


# ---- the picture ---------------------------------------------------------------------------


def test_plot_derivatives_draws_yours_against_the_true_one(tmp_path):
    result = mn.check_layer(TanhWrongDerivative(), x_of())
    fig = plot.derivatives(result, path=tmp_path / "d" / "tanh.png")
    assert isinstance(fig, Figure) and (tmp_path / "d" / "tanh.png").stat().st_size > 0
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    d = result.input.derivatives
    true = lines["true dy/dx (numeric / G)"]
    yours = lines["your dy/dx (analytic / G)"]
    x = np.sort([p[0] for p in d.points])
    assert np.allclose(true.get_xdata(), x)
    assert np.allclose(yours.get_ydata(), 1 - np.tanh(x))
    assert np.allclose(true.get_ydata(), 1 - np.tanh(x) ** 2, atol=1e-6)
    assert "missing square" in ax.get_title()
    assert plot.derivatives(d).axes[0].get_title() == ax.get_title()


def test_plot_derivatives_refuses_a_check_without_a_table():
    with pytest.raises(ValueError, match="elementwise"):
        plot.derivatives(mn.check_layer(mn.Sigmoid(), x_of()))


class TwoMaps(mn.Layer):
    """h = x W1, y = h W2 + b: two linear maps.  x (N, D) -> (N, D)."""

    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(0)
        self.params = {"W1": rng.standard_normal((4, 4)), "W2": rng.standard_normal((4, 4)),
                       "b": np.zeros(4)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self.x, self.h = x, x @ self.params["W1"]
        return self.h @ self.params["W2"] + self.params["b"]

    def backward(self, dout):
        self.grads["W2"], self.grads["b"] = self.h.T @ dout, dout.sum(axis=0)
        self.grads["W1"] = self.x.T @ (dout @ self.params["W2"].T)
        return dout @ self.params["W1"].T @ self.params["W2"].T  # W2ᵀ comes first


def test_two_weight_matrices_in_the_wrong_order_are_named():
    r = mn.check_layer(TwoMaps(), np.random.default_rng(1).standard_normal((5, 4)))
    assert [c.param for c in r.checks if not c.passed] == ["input"]
    assert r.checks[0].findings[0] == (
        "analytic equals G·W1ᵀ·W2ᵀ at every entry (true: G·W2ᵀ·W1ᵀ): the weights in the wrong "
        "order: backward meets forward's last product first")


class ImageLayerNorm(mn.Layer):
    """Layer norm of each image: the mean and variance over (C, H, W), one γ per channel.
    x (N, C, H, W) -> same;  gamma (C,).  A staged backward, stage by stage."""

    def __init__(self, c, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.params = {"gamma": np.linspace(0.5, 1.5, c)}
        self.grads = {"gamma": np.zeros(c)}

    def forward(self, x):
        mu = x.mean(axis=(1, 2, 3), keepdims=True)
        self.xmu = x - mu
        var = (self.xmu ** 2).mean(axis=(1, 2, 3), keepdims=True)
        self.std = np.sqrt(var + self.eps)
        self.xhat = self.xmu / self.std
        return self.xhat * self.params["gamma"][None, :, None, None]

    def dvar(self, dstd):
        return dstd / (2 * self.std)

    def backward(self, dout):
        M = self.xhat[0].size
        self.grads["gamma"] = (dout * self.xhat).sum(axis=(0, 2, 3))
        dxhat = dout * self.params["gamma"][None, :, None, None]
        dstd = -(dxhat * self.xmu).sum(axis=(1, 2, 3), keepdims=True) / self.std**2
        dvar = self.dvar(dstd)
        dxmu = dxhat / self.std + dvar * 2 * self.xmu / M
        return dxmu - dxmu.mean(axis=(1, 2, 3), keepdims=True)


class ImageLayerNormRootForgotten(ImageLayerNorm):
    def dvar(self, dstd):
        return dstd


def test_a_norm_over_a_whole_image_names_the_term_and_its_factor_per_sample():
    x = np.random.default_rng(4).standard_normal((3, 2, 3, 3)) * 2 + 1
    assert mn.check_layer(ImageLayerNorm(2), x).passed
    r = mn.check_layer(ImageLayerNormRootForgotten(2), x)
    said = r.checks[0].findings
    assert ("the error is proportional to x̂ over the channels and rows and columns of each "
            "sample (axes 1, 2, 3), x̂ = x standardized over it: the term − x̂·mean(dx̂·x̂) "
            "enters 2σ times instead of once (σ: the standard deviation of each slice): the "
            "root's derivative d√v/dv = 1/(2σ) left out of the chain? (dx̂ = dout·γ, the "
            "gradient at x̂)") in said, said
