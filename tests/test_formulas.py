"""What a gradient equals, entry by entry, in the arrays the layer holds (gradcheck/formulas.py).

The layers are written as students write them, with a mistake none of the other mechanisms was
built on; each statement must come from fitting yours and the true gradient, never from the
layer's class."""

import re

import numpy as np
from test_structure import findings, normal

import minnet as mn
from minnet.gradcheck.fit import Formula, as_number


class LogCosh(mn.Loss):
    """L = mean log cosh(s - y); backward takes tanh of the score, not of the residual."""

    def forward(self, scores, y):
        self.cache = (scores, y)
        return float(np.mean(np.log(np.cosh(scores - y))))

    def backward(self):
        s, y = self.cache
        return np.tanh(s) / s.size


class Softsign(mn.Layer):
    """y = x / (1 + |x|); dy/dx = 1 / (1 + |x|)², written without the square."""

    def forward(self, x):
        d = 1 + np.abs(x)
        self.cache = (x, d)
        return x / d

    def backward(self, dout):
        x, d = self.cache
        return dout / d


class LogGain(mn.Layer):
    """y = x · exp(s) per feature; ds forgets the exp(s) that y carries."""

    def __init__(self, features, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.params = {"s": rng.uniform(-1, 1, features)}
        self.grads = {"s": np.zeros(features)}

    def forward(self, x):
        self.x = x
        return x * np.exp(self.params["s"])

    def backward(self, dout):
        self.grads["s"] = (dout * self.x).sum(axis=0)
        return dout * np.exp(self.params["s"])


class LassoDense(mn.Layer):
    """y = x W; dW adds an L1 penalty's λ·sign(W) that no loss here has."""

    def __init__(self, n_in, n_out, seed=0):
        super().__init__()
        self.params = {"W": np.random.default_rng(seed).standard_normal((n_in, n_out))}
        self.grads = {"W": np.zeros((n_in, n_out))}

    def forward(self, x):
        self.x = x
        return x @ self.params["W"]

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout + 0.01 * np.sign(self.params["W"])
        return dout @ self.params["W"].T


def test_a_loss_taking_the_wrong_array_is_told_by_the_two_formulas():
    s, y = normal((6, 2), seed=3), normal((6, 2), seed=4)
    text = findings(mn.check_layer(LogCosh(), s, y=y))
    assert "your dscores = 1/12·tanh(scores); the true one = 1/12·tanh(scores − y)" in text
    assert "where the true one has tanh(scores − y), yours has tanh(scores)" in text


def test_a_power_dropped_is_told_by_the_exponents():
    text = findings(mn.check_layer(Softsign(), normal((4, 5), seed=3)))
    assert "your dx = dout/self.cache[1]; the true one = dout/self.cache[1]²" in text


def test_a_parameter_gradient_missing_a_factor_is_told_against_its_contraction():
    text = findings(mn.check_layer(LogGain(5), normal((4, 5), seed=3)), "s")
    assert ("your ds = Σ dout·self.x over the batch (axis 0); the true one = (Σ dout·self.x over "
            "the batch (axis 0))·exp(params['s']): the true one has a factor exp(params['s']) "
            "that yours lacks") in text


def test_a_term_too_many_is_told_by_the_difference():
    text = findings(mn.check_layer(LassoDense(5, 3), normal((4, 5), seed=3)), "W")
    assert "yours − true = 0.01·sign(params['W']) at every entry: your dW has a term too many" \
        in text


def test_a_correct_layer_gets_no_formula():
    class Right(Softsign):
        def backward(self, dout):
            x, d = self.cache
            return dout / d**2

    assert mn.check_layer(Right(), normal((4, 5), seed=3)).passed


def test_formulas_read_as_a_student_writes_them():
    assert str(Formula("dout", [(-2.0, "")], (("|x|", 1), ("out", 1)))) == "−2·dout·|x|·out"
    assert str(Formula("", [(1 / 6, "")], (("y", -1),))) == "1/(6·y)"
    assert str(Formula("", [(1 / 6, "")], (("(scores − y)", 1), ("self.r", -2)))) == \
        "1/6·(scores − y)/self.r²"
    assert str(Formula("dout", [(-0.5, "1"), (1.0, "σ(x)")])) == "dout·(−0.5 + σ(x))"
    assert str(Formula("dout", [(1.0, "")], (("1 − out²", 0.5),))) == "dout·√(1 − out²)"
    assert (as_number(0.125), as_number(-1 / 3), as_number(0.6931)) == ("0.125", "−1/3", "0.6931")


# ---- branches.py: one side of a threshold; another tensor's gradient ------------------------


class SoftLimit(mn.Layer):
    """y = x·limit/s where s = Σ|x| of the row exceeds limit, else x; backward scales every
    row, the rows that forward left alone too."""

    def __init__(self, limit=3.0):
        super().__init__()
        self.limit = limit

    def forward(self, x):
        self.x = x
        self.s = np.abs(x).sum(axis=1, keepdims=True)
        self.k = np.where(self.s > self.limit, self.limit / self.s, 1.0)
        return x * self.k

    def backward(self, dout):
        x, s = self.x, self.s
        return self.limit / s * (dout - np.sign(x) * (dout * x).sum(axis=1, keepdims=True) / s)


class TwoPaths(mn.Layer):
    """y = x W1 + tanh(x) W2; each weight's gradient is paired with the other path's input."""

    def __init__(self, n_in, n_out, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.params = {k: rng.standard_normal((n_in, n_out)) for k in ("W1", "W2")}
        self.grads = {k: np.zeros((n_in, n_out)) for k in ("W1", "W2")}

    def forward(self, x):
        self.cache = (x, np.tanh(x))
        return x @ self.params["W1"] + self.cache[1] @ self.params["W2"]

    def backward(self, dout):
        x, t = self.cache
        self.grads["W1"], self.grads["W2"] = t.T @ dout, x.T @ dout
        return dout @ self.params["W1"].T + (dout @ self.params["W2"].T) * (1 - t**2)


def test_a_branch_forward_took_and_backward_did_not_is_told_by_its_threshold():
    x = normal((8, 4), seed=5) * np.linspace(0.3, 2.0, 8)[:, None]
    text = findings(mn.check_layer(SoftLimit(), x))
    assert re.search(r"wrong exactly where self\.s < 3 \(\d+ of 32 entries\); right wherever "
                     r"self\.s > 3", text), text


def test_a_gradient_meant_for_another_tensor_is_named():
    text = findings(mn.check_layer(TwoPaths(4, 3), normal((5, 4), seed=3)), "W1")
    assert "your dW1 equals the true dW2" in text


class TanhDense(mn.Layer):
    """y = tanh(x W); backward takes tanh's slope at the pre-activation z, not at y."""

    def __init__(self, n_in, n_out, seed=0):
        super().__init__()
        self.params = {"W": np.random.default_rng(seed).standard_normal((n_in, n_out)) / 2}
        self.grads = {"W": np.zeros((n_in, n_out))}

    def forward(self, x):
        self.x, self.z = x, x @ self.params["W"]
        return np.tanh(self.z)

    def backward(self, dout):
        dz = dout * (1 - self.z**2)
        self.grads["W"] = self.x.T @ dz
        return dz @ self.params["W"].T


def test_a_step_before_the_last_product_is_told_by_undoing_it():
    text = findings(mn.check_layer(TanhDense(5, 3), normal((6, 5), seed=3)))
    assert "your dx = D·params['W']ᵀ, as the true one; of D: your D = dout·(1 − self.z²); the " \
           "true one = dout·(1 − out²): where the true one has (1 − out²), yours has " \
           "(1 − self.z²)" in text


class ShiftToZero(mn.Layer):
    """y = x − min(x) in each row; backward forgets that the min moves with its entry."""

    def forward(self, x):
        self.x = x
        return x - x.min(axis=1, keepdims=True)

    def backward(self, dout):
        return dout.copy()


def test_an_error_only_where_a_min_picks_is_told():
    text = findings(mn.check_layer(ShiftToZero(), normal((5, 6), seed=3)))
    assert "wrong only at the smallest x along the features (axis 1), one in each sample" in text


class Cubic(mn.Layer):
    """y = x³ / 3; backward writes the slope as 1 + x², a sign slip from 1 − (−x²)."""

    def forward(self, x):
        self.x = x
        return x**3 / 3

    def backward(self, dout):
        return dout * (1 + self.x**2)


def test_a_slope_of_the_wrong_formula_is_told_in_both_formulas():
    text = findings(mn.check_layer(Cubic(), normal((4, 5), seed=3)))
    assert "your dx = dout·(1 + x²); the true one = dout·x²" in text


def test_a_gradient_that_cancels_to_round_off_is_not_called_never_computed():
    class GateSoftmax(mn.Layer):
        """y = softmax(x)·v per row; dx multiplies the softmax backward by v's row sum, the
        same for every entry of the row, so it cancels."""

        def forward(self, x):
            e = np.exp(x - x.max(axis=1, keepdims=True))
            self.p, self.v = e / e.sum(axis=1, keepdims=True), np.arange(1.0, x.shape[1] + 1)
            return self.p * self.v

        def backward(self, dout):
            g = np.broadcast_to((dout * self.v).sum(axis=1, keepdims=True), dout.shape)
            return self.p * (g - (g * self.p).sum(axis=1, keepdims=True))

    r = mn.check_layer(GateSoftmax(), normal((4, 5), seed=3))
    (c,) = r.checks
    assert c.hint.startswith("zero up to round-off") and "never computed" not in c.hint


class SecondLargestPool(mn.Layer):
    """2×2 pooling that keeps each window's second largest entry; backward routes the gradient
    to the largest, as a max pool's would."""

    def forward(self, x):
        N, C, H, W = x.shape
        self.x = x
        win = x.reshape(N, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5)
        return np.sort(win.reshape(N, C, H // 2, W // 2, 4), axis=-1)[..., 2]

    def backward(self, dout):
        N, C, H, W = self.x.shape
        dx = np.zeros_like(self.x)
        for i in range(H // 2):
            for j in range(W // 2):
                win = self.x[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2].reshape(N, C, 4)
                k = win.argmax(axis=-1)
                for n in range(N):
                    for c in range(C):
                        dx[n, c, 2 * i + k[n, c] // 2, 2 * j + k[n, c] % 2] = dout[n, c, i, j]
        return dx


def test_a_pooling_routed_to_another_rank_is_told_by_the_ranks():
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4))
    text = findings(mn.check_layer(SecondLargestPool(), x))
    assert "yours puts it at the entry of rank 4 of 4 in x (1 = the smallest), its maximum; the " \
           "true one puts it at the entry of rank 3 of 4" in text


class SharedAcrossHeads(mn.Layer):
    """y = [x W, x W], one weight shared by two heads; dW averages the heads' gradients."""

    def __init__(self, seed=0):
        super().__init__()
        self.heads = 2
        self.params = {"W": np.random.default_rng(seed).standard_normal((4, 2))}
        self.grads = {"W": np.zeros((4, 2))}

    def forward(self, x):
        self.x = x
        return np.concatenate([x @ self.params["W"]] * self.heads, axis=1)

    def backward(self, dout):
        parts = np.split(dout, self.heads, axis=1)
        self.grads["W"] = sum(self.x.T @ d for d in parts) / self.heads
        return sum(d @ self.params["W"].T for d in parts)


def test_a_factor_that_is_also_a_count_the_layer_holds_names_both():
    text = findings(mn.check_layer(SharedAcrossHeads(), normal((5, 4), seed=3)), "W")
    assert "a scale 1/√4 one too many (as attention's 1/√d)? Or heads = 2: this tensor serves 2 " \
           "of them, and their gradients add up (a mean where a sum belongs?)" in text


class RMSNormNoCorrection(mn.Layer):
    """y = x / rms(x) per row; backward divides dout by rms and forgets that rms moves too."""

    def forward(self, x):
        self.rms = np.sqrt((x**2).mean(axis=1, keepdims=True) + 1e-8)
        self.xhat = x / self.rms
        return self.xhat

    def backward(self, dout):
        return dout / self.rms


def test_a_correction_term_left_out_is_told_with_its_arrays():
    text = findings(mn.check_layer(RMSNormNoCorrection(), normal((4, 6), seed=3)))
    assert "yours − true = self.xhat/self.rms·mean(dout·self.xhat) over the features (axis 1), " \
           "at every entry: your dx has such a term too many" in text


def test_a_backward_with_a_correction_term_is_told_as_both_formulas():
    text = findings(mn.check_layer(RMSNormNoCorrection(), normal((4, 6), seed=3)))
    assert "your dx = dout/self.rms; the true one = dout/self.rms − self.xhat/self.rms·mean(" \
           "dout·self.xhat) over the features (axis 1)" in text


class SigmoidTimesTanh(mn.Layer):
    """y = σ(x)·tanh(x); backward multiplies the two derivatives, where the product rule
    adds σ'·tanh + σ·tanh'."""

    def forward(self, x):
        self.s, self.t = 1 / (1 + np.exp(-x)), np.tanh(x)
        return self.s * self.t

    def backward(self, dout):
        return dout * self.s * (1 - self.s) * (1 - self.t**2)


def test_a_derivative_of_three_factors_is_told():
    text = findings(mn.check_layer(SigmoidTimesTanh(), normal((4, 5), seed=3)))
    assert "your dx = dout·self.s·(1 − self.s)·(1 − self.t²)" in text


def test_a_single_number_gets_no_factor_unless_it_is_round():
    from minnet.gradcheck.verdicts import pattern

    assert pattern(np.array([1.29]), np.array([1.0])) is None
    assert pattern(np.array([2.0]), np.array([1.0])).startswith("factor: analytic ≈ 2 ×")
    assert pattern(np.array([1.29, 2.58]), np.array([1.0, 2.0])).startswith("factor")


class Tempered(mn.Layer):
    """y = x W / T with a class constant T; dW forgets the 1/T (dx keeps it)."""

    T = 2.5

    def __init__(self, seed=0):
        super().__init__()
        self.params = {"W": np.random.default_rng(seed).standard_normal((4, 3))}
        self.grads = {"W": np.zeros((4, 3))}

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] / self.T

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout
        return dout @ self.params["W"].T / self.T


class ScaledLeaky(mn.Layer):
    """y = k·x where x > 0, 0.1·k·x elsewhere, k a class constant; the slope above 0 drops k."""

    k = 1.75

    def forward(self, x):
        self.pos = x > 0
        return self.k * np.where(self.pos, x, 0.1 * x)

    def backward(self, dout):
        return dout * np.where(self.pos, 1.0, 0.1 * self.k)


def test_a_number_the_class_body_sets_is_a_setting_and_names_a_factor():
    result = mn.check_layer(Tempered(), normal((5, 4), seed=3))
    assert "T = 2.5" in result.setting_line()
    text = findings(result, "W")
    assert "your dW is 2.5 × the true one, which is self.T: a stray factor T" in text
    assert result.input.passed


def test_a_slope_missing_a_class_constant_names_it():
    result = mn.check_layer(ScaledLeaky(), normal((6, 5), seed=3))
    text = str(result)
    assert "k = 1.75" in result.setting_line()
    assert "your/true = 0.5714 at every wrong entry (a constant factor, which is 1/self.k: the " \
           "factor k is missing)" in text


class RationalBelow(mn.Layer):
    """y = x where x >= 0, x / (1 − x) below; the slope below, 1/(1 − x)², loses its square."""

    def forward(self, x):
        self.x = x
        return np.where(x >= 0, x, x / (1 - np.minimum(x, 0)))

    def backward(self, dout):
        below = self.x < 0
        dx = dout.copy()
        dx[below] = dout[below] / (1 - self.x[below])
        return dx


def test_the_formula_of_the_one_branch_that_is_wrong_is_told():
    result = mn.check_layer(RationalBelow(), normal((6, 5), seed=3))
    wrong = int((normal((6, 5), seed=3) < 0).sum())
    said = findings(result)
    assert f"at the {wrong} entries where yours is wrong: your dx = dout·(1 + out); the true " \
           "one = dout·(1 + out)²: where the true one has (1 + out)², yours has (1 + out)" \
           in said, said  # below 0, 1 + y = 1/(1 − x): the square lost


class PositiveGain(mn.Layer):
    """y = s·x where x > 0, x elsewhere, s per feature; ds forgets the mask it keeps."""

    def __init__(self, features, seed=0):
        super().__init__()
        self.params = {"s": np.random.default_rng(seed).uniform(0.5, 2, features)}
        self.grads = {"s": np.zeros(features)}

    def forward(self, x):
        self.x, self.pos = x, x > 0
        return np.where(self.pos, self.params["s"] * x, x)

    def backward(self, dout):
        self.grads["s"] = np.sum(dout * self.x, axis=0)
        return dout * np.where(self.pos, self.params["s"], 1.0)


def test_a_boolean_mask_the_layer_keeps_is_a_factor_of_a_contraction():
    said = findings(mn.check_layer(PositiveGain(5), normal((6, 5), seed=3)), "s")
    assert "your ds equals Σ dout·self.x over the batch (axis 0); the true one equals Σ " \
           "dout·self.x·self.pos over the batch (axis 0)" in said, said


class ReluThenMix(mn.Layer):
    """y = relu(x) mixed across channels by W (C, O) at every pixel; dW pairs dout with x, not
    with relu(x), the array W multiplied."""

    def __init__(self, c, o, seed=0):
        super().__init__()
        self.params = {"W": np.random.default_rng(seed).standard_normal((c, o))}
        self.grads = {"W": np.zeros((c, o))}

    def forward(self, x):
        self.x = x
        self.h = np.maximum(x, 0)
        return np.einsum("nchw,co->nohw", self.h, self.params["W"])

    def backward(self, dout):
        self.grads["W"] = np.einsum("nchw,nohw->co", self.x, dout)
        dh = np.einsum("nohw,co->nchw", dout, self.params["W"])
        return dh * (self.x > 0)


def test_a_pointwise_weight_paired_with_the_wrong_image_is_told():
    said = findings(mn.check_layer(ReluThenMix(3, 2), normal((2, 3, 4, 4), seed=3)), "W")
    assert "your dW equals Σ self.x[c]·dout[o] over the batch and every pixel, per (channel c, " \
           "output channel o); the true one equals Σ self.h[c]·dout[o]" in said, said


class TemperedTanh(mn.Layer):
    """y = tanh(k·x)/k, k per feature; dk = Σ dout·(x·(1 − t²)/k − t/k²) loses its second term."""

    def __init__(self, features, seed=0):
        super().__init__()
        self.params = {"k": np.random.default_rng(seed).uniform(0.5, 2, features)}
        self.grads = {"k": np.zeros(features)}

    def forward(self, x):
        self.x, self.t = x, np.tanh(self.params["k"] * x)
        return self.t / self.params["k"]

    def backward(self, dout):
        k = self.params["k"]
        self.grads["k"] = np.sum(dout * self.x * (1 - self.t**2) / k, axis=0)
        return dout * (1 - self.t**2)


def test_a_per_feature_gradient_is_fitted_term_by_term_before_its_sum():
    said = findings(mn.check_layer(TemperedTanh(5), normal((6, 5), seed=3)), "k")
    assert "before the sum over the batch (each row's term, of dout's shape (6, 5); dk adds " \
           "them up along every axis but axis 1): " in said, said
    assert "yours − true = dout·out²/self.t at every entry: your dk (each row's term) has a " \
           "term too many" in said, said  # out²/t = t/k²: the term −t/k² is missing


class SelfScaledLinear(mn.Layer):
    """y = x ⊙ (x W), W (D, D); dW = xᵀ·(dout ⊙ x) forgets the factor x dout met."""

    def __init__(self, d, seed=0):
        super().__init__()
        self.params = {"W": np.random.default_rng(seed).standard_normal((d, d))}
        self.grads = {"W": np.zeros((d, d))}

    def forward(self, x):
        self.x, self.z = x, x @ self.params["W"]
        return x * self.z

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout
        return dout * self.z + (dout * self.x) @ self.params["W"].T


def test_a_weight_gradient_missing_a_factor_dout_met_is_paired():
    said = findings(mn.check_layer(SelfScaledLinear(4), normal((6, 4), seed=3)), "W")
    assert "your dW equals self.xᵀ·dout; the true one equals self.xᵀ·(dout·self.x)" in said, said


class NoisyWeight(mn.Layer):
    """y = x (mu + sigma ⊙ eps), eps drawn once; dsigma = xᵀ·dout forgets the factor eps."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.params = {"mu": rng.standard_normal((d, f)), "sigma": rng.uniform(0.1, 1, (d, f))}
        self.grads = {k: np.zeros((d, f)) for k in self.params}
        self.eps = rng.standard_normal((d, f))

    def forward(self, x):
        self.x = x
        return x @ (self.params["mu"] + self.params["sigma"] * self.eps)

    def backward(self, dout):
        self.grads["mu"] = self.x.T @ dout
        self.grads["sigma"] = self.x.T @ dout
        return dout @ (self.params["mu"] + self.params["sigma"] * self.eps).T


def test_no_statement_denies_the_formula_another_gives():
    said = findings(mn.check_layer(NoisyWeight(4, 3), normal((6, 4), seed=3)), "sigma")
    assert "your dsigma = self.xᵀ·dout; the true one = (self.xᵀ·dout)·self.eps" in said, said
    assert "nor such a sum" not in said


class BetaSoftplus(mn.Layer):
    """y = log(1 + exp(βx))/β; dy/dx = σ(βx), written σ(x): β left out of the sigmoid."""

    def __init__(self, beta=2.0):
        super().__init__()
        self.beta = beta

    def forward(self, x):
        self.x = x
        out = np.empty_like(x)
        np.logaddexp(0, self.beta * x, out=out)
        out /= self.beta
        return out

    def backward(self, dout):
        s = 1 / (1 + np.exp(-self.x))
        return dout * s


class BetaSwish(mn.Layer):
    """y = x·σ(βx); dy/dx = σ + βx·σ(1 − σ), written with x·σ(1 − σ): β left out there."""

    def __init__(self, beta=1.7):
        super().__init__()
        self.beta = beta

    def forward(self, x):
        self.x = x
        self.s = 1 / (1 + np.exp(-self.beta * x))
        return x * self.s

    def backward(self, dout):
        s = self.s
        return dout * (s + self.x * s * (1 - s))


def test_a_function_of_a_setting_times_x_is_a_building_block():
    text = findings(mn.check_layer(BetaSoftplus(), normal((4, 5), seed=3)))
    assert "your dx = dout·σ(x); the true one = dout·σ(self.beta·x)" in text


def test_a_coefficient_a_setting_makes_is_named_by_it():
    text = findings(mn.check_layer(BetaSwish(), normal((4, 5), seed=3)))
    assert "lacks a term 0.7·dout·out·(1 − self.s)" in text  # σ(βx) is self.s: the student's
    assert "(0.7 = self.beta − 1)" in text
    right = findings(mn.check_layer(BetaSwish(beta=3.0), normal((4, 5), seed=3)))
    assert "self.beta" not in right.split("lacks a term")[1]  # 2: a plain number, not named


class TemperedSoftplus(mn.Layer):
    """y = τ·log(1 + exp(x/τ)), dy/dx = σ(x/τ); backward takes σ(x)·τ."""

    def __init__(self, tau=0.4):
        super().__init__()
        self.tau = tau

    def forward(self, x):
        self.x = x
        return self.tau * np.logaddexp(0, x / self.tau)

    def backward(self, dout):
        return dout * self.tau / (1 + np.exp(-self.x))


def test_x_over_a_setting_is_a_building_block():
    text = findings(mn.check_layer(TemperedSoftplus(), normal((4, 5), seed=3)))
    assert "the true one = dout·σ(x/self.tau)" in text


class MeanAbsError(mn.Loss):
    """L = mean |s − y|; backward forgets the sign: 1/N for every score."""

    def forward(self, scores, y):
        self.s, self.y = scores, y
        return float(np.mean(np.abs(scores - y)))

    def backward(self):
        return np.ones_like(self.s) / self.s.shape[0]


def test_one_number_that_is_one_over_the_samples_says_so():
    s, y = normal((6, 1), seed=3), normal((6, 1), seed=4)
    text = findings(mn.check_layer(MeanAbsError(), s, y=y))
    assert "your dscores is one number, 0.1667, at every entry, where the true one varies: " \
           "1/6, one over the 6 samples" in text


class PiecewiseSlopes(mn.Layer):
    """y = a piecewise-linear function with slopes params['s'] on the pieces cut at −1, 0, 1;
    backward looks each piece's slope up one index too low (np.searchsorted(...) − 1)."""

    def __init__(self):
        super().__init__()
        self.params = {"s": np.array([0.1, 0.5, 1.0, 2.0])}
        self.grads = {"s": np.zeros(4)}
        self.cuts = np.array([-1.0, 0.0, 1.0])

    def forward(self, x):
        self.x = x
        y = np.zeros_like(x)
        for k, s in enumerate(self.params["s"]):
            lo = -np.inf if k == 0 else self.cuts[k - 1]
            hi = np.inf if k == 3 else self.cuts[k]
            y += s * np.clip(x, lo, hi) - (0 if k == 0 else s * lo)
        return y

    def backward(self, dout):
        piece = np.searchsorted(self.cuts, self.x) - 1  # already 0-based: the −1 is one too many
        return dout * self.params["s"][piece]


def test_slopes_looked_up_one_index_too_low_are_named_by_the_index():
    text = findings(mn.check_layer(PiecewiseSlopes(), 2 * normal((5, 6), seed=3)))
    assert "your dy/dx takes the true one's values, each where another belongs" in text
    assert "yours is params['s'][k − 1] where params['s'][k] belongs: an index one too low" in text
