"""A corpus of planted backprop bugs, the kinds students make, each a small subclass."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import minnet as mn
from minnet import layers


class DenseTimes2(mn.Dense):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = 2 * self.grads["W"]
        return dx


class DenseOverN(mn.Dense):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = self.grads["W"] / len(dout)
        return dx


class DenseSignW(mn.Dense):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = -self.grads["W"]
        return dx


class DenseTransposedW(mn.Dense):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = dout.T @ self.x
        return dx


class DenseForgetsBias(mn.Dense):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = np.zeros_like(self.params["b"])
        return dx


class DenseBiasNotSummed(mn.Dense):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = dout.mean(axis=0)
        return dx


class DenseInputNotTransposed(mn.Dense):
    def backward(self, dout):
        super().backward(dout)
        return dout @ self.params["W"]  # needs Wᵀ; only square W lets this run


class DenseAccumulates(mn.Dense):
    def backward(self, dout):
        self.grads["W"] = self.grads["W"] + self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"].T


class SigmoidForgetsOneMinus(mn.Sigmoid):
    def df(self, x, y):
        return y


class TanhWrongDerivative(mn.Tanh):
    def df(self, x, y):
        return 1 - y


class ReLUInvertedMask(mn.ReLU):
    def df(self, x, y):
        return (x <= 0).astype(x.dtype)


class LeakyReLUForgetsAlpha(mn.LeakyReLU):
    def df(self, x, y):
        return (x > 0).astype(x.dtype)


class SigmoidSignFlipped(mn.Sigmoid):
    def backward(self, dout):
        return -super().backward(dout)


class DropoutIgnoresMask(mn.Dropout):
    def backward(self, dout):
        return dout


class BatchNormNoMeanTerms(mn.BatchNorm):
    def backward(self, dout):
        super().backward(dout)
        return dout * self.params["gamma"] / self.std


class BatchNormWrongGamma(mn.BatchNorm):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["gamma"] = dout.sum(axis=0)
        return dx


class SigmoidFromX(mn.Sigmoid):
    def df(self, x, y):
        return x * (1 - x)  # y (1 - y) written with x


class TanhFromX(mn.Tanh):
    def df(self, x, y):
        return 1 - x**2


class LeakyReLUSlopesSwapped(mn.LeakyReLU):
    def df(self, x, y):
        return np.where(x > 0, self.alpha, 1.0)


class ReLUDerivativeIsY(mn.ReLU):
    def df(self, x, y):
        return y  # the output itself, not the step 1[x > 0]


class BatchNormNoMeanOfDxhat(mn.BatchNorm):
    def backward(self, dout):
        super().backward(dout)
        dxhat, xhat = dout * self.params["gamma"], self.xhat
        return (dxhat - xhat * (dxhat * xhat).mean(axis=0)) / self.std


class BatchNormNoXhatTerm(mn.BatchNorm):
    def backward(self, dout):
        super().backward(dout)
        dxhat = dout * self.params["gamma"]
        return (dxhat - dxhat.mean(axis=0)) / self.std


class LayerNormLike(mn.Layer):
    """Each sample normalized over its features: y = gamma x̂ + beta, x̂ = (x - mean) / std.

    Not in BUGS: the torch bridge cannot translate a layer of our own (test_diagnose uses it).
    """

    def __init__(self, num_features, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.params = {"gamma": np.ones(num_features), "beta": np.zeros(num_features)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        mean, var = x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
        self.std = np.sqrt(var + self.eps)
        self.xhat = (x - mean) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        dxhat, xhat = dout * self.params["gamma"], self.xhat
        return (dxhat - dxhat.mean(axis=-1, keepdims=True)
                - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True)) / self.std


class LayerNormNoMeanOfDxhat(LayerNormLike):
    def backward(self, dout):
        super().backward(dout)
        dxhat, xhat = dout * self.params["gamma"], self.xhat
        return (dxhat - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True)) / self.std


class DenseBiasFromOneSample(mn.Dense):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = dout[0].copy()
        return dx


class DenseBiasWrongAxis(mn.Dense):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = dout.sum(axis=1)  # runs only when N equals out_features
        return dx


class SoftmaxCEForgetsOneHot(mn.SoftmaxCE):
    def backward(self):
        return self.probs / len(self.y)


class SoftmaxCEForgetsN(mn.SoftmaxCE):
    def backward(self):
        return super().backward() * len(self.y)


class MSEForgetsTwo(mn.MSE):
    def backward(self):
        return self.diff / self.diff.size


class ConvFlippedKernelGrad(mn.Conv2D):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = self.grads["W"][..., ::-1, ::-1]  # true convolution, not correlation
        return dx


class ConvForgetsPaddingInBackward(mn.Conv2D):
    def backward(self, dout):
        p, self.padding = self.padding, 0  # the padded dx comes back whole, (H + 2p, W + 2p)
        try:
            dxp = super().backward(dout)
        finally:
            self.padding = p
        return dxp[..., :dxp.shape[-2] - 2 * p, :dxp.shape[-1] - 2 * p]  # cut at the corner


class ConvIgnoresStrideInBackward(mn.Conv2D):
    def backward(self, dout):
        stride, self.stride = self.stride, 1  # col2im puts the windows 1 apart
        try:
            return super().backward(dout)
        finally:
            self.stride = stride


class MaxPoolGradToWholeWindow(mn.MaxPool2D):
    def backward(self, dout):
        k = self.kernel_size
        dwin = np.broadcast_to(dout[..., None, None], (*dout.shape, k, k))
        return layers.col2im(dwin, self.x_shape, self.stride)


class LayerNormWrongAxis(mn.LayerNorm):
    def backward(self, dout):
        super().backward(dout)
        dxhat, xhat = dout * self.params["gamma"], self.xhat
        return (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0)) / self.std


class SVMCountsTrueClass(mn.SVMLoss):
    def backward(self):
        n, rows = len(self.y), np.arange(len(self.y))
        active = self.active.copy()
        active[rows, self.y] = self.margin > 0  # s_y - s_y + 1 > 0: counted once too often
        d = active / n
        d[rows, self.y] = -active.sum(axis=1) / n
        return d


class ModelForgetsL2(mn.Model):
    def backward(self):
        d = self.loss.backward()
        for layer in reversed(self.layers):
            d = layer.backward(d)


@dataclass
class Bug:
    """A planted bug: the model that carries it, the suspect it must produce, the hint words."""

    name: str
    build: object  # seed -> (model, X, y)
    suspect: int | None  # layer index that must be the single suspect; None: not layer-local
    hint: str | None  # a word the failing tensor's hint must contain
    teach: str | None = None  # what the numeric checker's diagnosis must say (diagnose.py)


def data(seed: int, n: int = 12, d: int = 5, classes: int = 3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, classes, n)


def mlp(first=mn.Dense, act=mn.Tanh, last=mn.Dense, loss=mn.SoftmaxCE, hidden=5, extra=(),
        l2=0.0, model=mn.Model, init="xavier"):
    """A builder for Dense(5, hidden) - act - extra... - Dense(hidden, 3) with the given classes."""
    def build(seed):
        X, y = data(seed)
        layers = [first(5, hidden, init=init, seed=seed), act(), *[make() for make in extra],
                  last(hidden, 3, init=init, seed=seed + 1)]
        if issubclass(loss, mn.MSE):
            y = np.random.default_rng(seed).standard_normal((len(X), 3))
        return model(layers, loss=loss(), l2=l2), X, y
    return build


def images(seed: int, n: int = 6, c: int = 2, size: int = 6, classes: int = 3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, c, size, size)), rng.integers(0, classes, n)


def convnet(conv=mn.Conv2D, pool=mn.MaxPool2D, norm=None, loss=mn.SoftmaxCE, stride=1,
            padding=1, kernel=3, before=False):
    """A builder for [Conv2D(2, 2, 1)] - Conv2D(2, 3) - Tanh - [LayerNorm] - MaxPool2D(2) -
    Flatten - Dense(., 3). `before`: a 1x1 convolution first, so that the second one's dx counts
    (the first layer's dx is never used, and a model skips it)."""
    def build(seed):
        X, y = images(seed)
        first = conv(2, 3, kernel, stride=stride, padding=padding, init="xavier", seed=seed)
        shape = first.output_shape((2, 6, 6))
        layers_ = [*([mn.Conv2D(2, 2, 1, seed=seed + 2)] if before else []), first, mn.Tanh(),
                   *([norm(shape[-1])] if norm else []), pool(2), mn.Flatten()]
        flat = int(np.prod(pool(2).output_shape(shape)))
        layers_.append(mn.Dense(flat, 3, init="xavier", seed=seed + 1))
        return mn.Model(layers_, loss=loss()), X, y
    return build


BUGS = [
    Bug("dW times 2", mlp(first=DenseTimes2), 0, "factor"),
    Bug("dW divided by N", mlp(last=DenseOverN), 2, "division by the batch size"),
    Bug("dW sign flipped", mlp(first=DenseSignW), 0, "sign"),
    Bug("dW transposed (square)",
        mlp(extra=(lambda: DenseTransposedW(5, 5, init="xavier", seed=7),)), 2, "transposed"),
    Bug("dW transposed (not square)", mlp(first=DenseTransposedW, hidden=4), 0, "transposed"),
    Bug("bias gradient forgotten", mlp(first=DenseForgetsBias), 0, "zero"),
    Bug("bias gradient averaged, not summed", mlp(last=DenseBiasNotSummed), 2, "factor"),
    Bug("dx without Wᵀ", mlp(last=DenseInputNotTransposed, hidden=3), 2, None,
        "analytic equals G·W at every entry (true: G·Wᵀ): a transpose is missing"),
    Bug("gradients accumulate", mlp(first=DenseAccumulates), 0, "accumulating"),
    Bug("sigmoid derivative y instead of y(1-y)", mlp(act=SigmoidForgetsOneMinus), 1, None,
        "your dy/dx equals y at every entry checked (true: y·(1 − y)): a missing (1 − y)?"),
    Bug("tanh derivative 1-y instead of 1-y²", mlp(act=TanhWrongDerivative), 1, None,
        "your dy/dx equals 1 − y at every entry checked (true: 1 − y²): a missing square?"),
    Bug("sigmoid derivative from x", mlp(act=SigmoidFromX), 1, None,
        "your dy/dx equals x·(1 − x) at every entry checked (true: y·(1 − y)): the derivative "
        "is computed from x where it should use y"),
    Bug("tanh derivative from x", mlp(act=TanhFromX), 1, None,
        "your dy/dx equals 1 − x² at every entry checked (true: 1 − y²): the derivative is "
        "computed from x where it should use y"),
    Bug("LeakyReLU slopes swapped", mlp(act=lambda: LeakyReLUSlopesSwapped(0.1), init="he"), 1,
        None, "your dy/dx is 0.1 where x > 0 and 1 where x < 0 (true: 1 and 0.1): the slopes "
              "of the two pieces are swapped"),
    Bug("ReLU derivative y instead of 1[x > 0]", mlp(act=ReLUDerivativeIsY, init="he"), 1, None,
        "your dy/dx equals y at every entry checked (true: 1 where x > 0, 0 where x < 0)"),
    Bug("ReLU mask inverted", mlp(act=ReLUInvertedMask, init="he"), 1, "inverted mask",
        "your dy/dx is 0 where x > 0 and 1 where x < 0 (true: 1 and 0): the slopes of the two "
        "pieces are swapped"),
    Bug("LeakyReLU forgets alpha", mlp(act=lambda: LeakyReLUForgetsAlpha(0.1), init="he"), 1,
        "partly zero", "your dy/dx is 1 where x > 0 and 0 where x < 0 (true: 1 and 0.1)"),
    Bug("sigmoid backward sign flipped", mlp(act=SigmoidSignFlipped), 1, "sign"),
    Bug("dropout backward ignores its mask",
        mlp(extra=(lambda: DropoutIgnoresMask(0.5, seed=3),)), 2, "mask ignored"),
    Bug("batchnorm backward without its mean terms",
        mlp(extra=(lambda: BatchNormNoMeanTerms(5),)), 2, None,
        "the error is a + b·x̂ along the batch axis (in each feature), x̂ = x standardized over "
        "it: the terms − mean(dx̂) and − x̂·mean(dx̂·x̂) are both missing"),
    Bug("batchnorm backward without - mean(dx̂)",
        mlp(extra=(lambda: BatchNormNoMeanOfDxhat(5),)), 2, None,
        "the error is the same all along the batch axis (in each feature): the term − mean(dx̂) "
        "is missing"),
    Bug("batchnorm backward without - x̂ mean(dx̂ x̂)",
        mlp(extra=(lambda: BatchNormNoXhatTerm(5),)), 2, None,
        "the error is proportional to x̂ along the batch axis (in each feature), x̂ = x "
        "standardized over it: the term − x̂·mean(dx̂·x̂) is missing"),
    Bug("bias gradient from one sample", mlp(first=DenseBiasFromOneSample), 0, None,
        "analytic equals the contribution of sample 0 alone: one sample used instead of the sum "
        "over samples"),
    Bug("bias gradient summed over the wrong axis", mlp(first=DenseBiasWrongAxis, hidden=12), 0,
        None, "your db equals Σ dout over axis 1; the true one equals Σ dout over the batch "
              "(axis 0)"),
    Bug("batchnorm dgamma without x̂", mlp(extra=(lambda: BatchNormWrongGamma(5),)), 2, None,
        "your dgamma equals Σ dout over the batch (axis 0); the true one equals Σ "
        "dout·self.xhat over the batch (axis 0)"),
    Bug("softmax CE forgets the one-hot", mlp(loss=SoftmaxCEForgetsOneHot), 3, None,
        "wrong only at each sample's target class y, where analytic − numeric = 0.08333 = 1/N "
        "(N = 12); right at every other class"),
    Bug("softmax CE forgets 1/N", mlp(loss=SoftmaxCEForgetsN), 3, "division by the batch size"),
    Bug("MSE forgets the 2", mlp(loss=MSEForgetsTwo), 3, "factor: analytic ≈ 0.5"),
    Bug("l2 term missing from backward", mlp(model=ModelForgetsL2, l2=0.1), None, "l2"),
    Bug("conv dW with the kernel flipped", convnet(conv=ConvFlippedKernelGrad), 0, None),
    Bug("conv padding forgotten in backward",
        convnet(conv=ConvForgetsPaddingInBackward, padding=2, kernel=5, before=True), 1, None),
    Bug("conv stride ignored in backward",
        convnet(conv=ConvIgnoresStrideInBackward, stride=2, padding=1, before=True), 1, None),
    Bug("max-pool gradient sent to every entry of the window",
        convnet(pool=MaxPoolGradToWholeWindow), 2, "mask ignored"),
    Bug("layernorm backward over the wrong axis", convnet(norm=LayerNormWrongAxis), 2, None),
    Bug("SVM margin counted for j = y", convnet(loss=SVMCountsTrueClass), 5, None),
]
