"""Layers that change an array in place, written as students write them, in small models.

Whether such a change is harmless depends on who else holds the array: a layer that keeps its
output by reference (a hand-written Tanh, minnet's Sigmoid) reads the changed values in its
backward, so training's gradient is wrong; a layer that keeps its input (Dense) does not care.
Each case's truth comes from the textbook: training's gradient (compute_loss, then backward, on
the model as it is, no copies) against mn.numeric_gradient of the loss in the parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import minnet as mn


class MyTanh(mn.Layer):
    """Keeps its output for backward, by reference."""

    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout):
        return dout * (1 - self.out**2)


class MySigmoid(mn.Layer):
    """Keeps (x, out) in a tuple."""

    def forward(self, x):
        out = 1 / (1 + np.exp(-x))
        self.cache = (x, out)
        return out

    def backward(self, dout):
        _, out = self.cache
        return dout * out * (1 - out)


class DoubleInPlace(mn.Layer):
    def forward(self, x):
        x *= 2
        return x

    def backward(self, dout):
        return 2 * dout


class CenterInPlace(mn.Layer):
    """y = x - mean over the features of each sample, computed in place."""

    def forward(self, x):
        x -= x.mean(axis=1, keepdims=True)
        return x

    def backward(self, dout):
        return dout - dout.mean(axis=1, keepdims=True)


class ReLUInPlace(mn.Layer):
    def forward(self, x):
        self.mask = x > 0
        np.maximum(x, 0, out=x)
        return x

    def backward(self, dout):
        return dout * self.mask


class LeakyInPlace(mn.Layer):
    def forward(self, x):
        self.neg = x < 0
        x[self.neg] *= 0.1
        return x

    def backward(self, dout):
        dx = dout.copy()
        dx[self.neg] *= 0.1
        return dx


class MaskDoutInPlace(mn.Layer):
    """ReLU whose backward zeroes dout in place and returns it."""

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dout):
        dout[self.x <= 0] = 0
        return dout


class ScaleDoutInPlace(mn.Layer):
    def forward(self, x):
        return 3 * x

    def backward(self, dout):
        dout *= 3
        return dout


class InputOffset(mn.Layer):
    """y = x + delta, one learned offset per entry of a batch of fixed size (as an adversarial
    perturbation is learned); its gradient is dout itself, kept by reference."""

    def __init__(self, n, d, seed=0):
        super().__init__()
        self.params = {"delta": 0.1 * np.random.default_rng(seed).standard_normal((n, d))}
        self.grads = {"delta": np.zeros((n, d))}

    def forward(self, x):
        return x + self.params["delta"]

    def backward(self, dout):
        self.grads["delta"] = dout
        return dout


class BufferTanh(mn.Layer):
    """Writes its output into a buffer it reuses from call to call."""

    def __init__(self):
        super().__init__()
        self.out = None

    def forward(self, x):
        if self.out is None or self.out.shape != x.shape:
            self.out = np.empty_like(x)
        np.tanh(x, out=self.out)
        self.x = x.copy()
        return self.out

    def backward(self, dout):
        return dout * (1 - np.tanh(self.x) ** 2)


class ShiftInPlaceCE(mn.SoftmaxCE):
    """Softmax cross-entropy that shifts the scores by their max in place first."""

    def forward(self, scores, y):
        scores -= scores.max(axis=1, keepdims=True)
        return super().forward(scores, y)


@dataclass
class Case:
    name: str
    build: object  # () -> (model, X, y)
    harmful: bool  # what the textbook says: does training's gradient differ from the true one?
    changer: int | None = None  # the layer index the report must blame (the loss: len(layers))
    holder: int | None = None  # the layer it must name as keeping the array


def data(n=6, d=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, classes, n)


def net(*middle, last=None, loss=None, n=6):
    """Dense(4, 5) - middle... - Dense(5, 3) - SoftmaxCE, on 6 samples."""
    def build():
        X, y = data(n)
        layers = [mn.Dense(4, 5, seed=1), *[make() for make in middle]]
        layers.append(last() if last else mn.Dense(5, 3, seed=2))
        return mn.Model(layers, loss=(loss or mn.SoftmaxCE)()), X, y
    return build


def twice(make):
    """The same object at two places of a model."""
    def build():
        X, y = data()
        shared = make()
        layers = [mn.Dense(4, 5, seed=1), shared, mn.Dense(5, 5, seed=2), shared,
                  mn.Dense(5, 3, seed=3)]
        return mn.Model(layers, loss=mn.SoftmaxCE()), X, y
    return build


CASES = [
    # in place on the input, after a layer that keeps its output: harmful
    Case("double after MyTanh (self.out)", net(MyTanh, DoubleInPlace), True, 2, 1),
    Case("center after Sigmoid (built-in, keeps y)", net(mn.Sigmoid, CenterInPlace), True, 2, 1),
    Case("leaky in place after Tanh (built-in)", net(mn.Tanh, LeakyInPlace), True, 2, 1),
    Case("center after MySigmoid (tuple cache)", net(MySigmoid, CenterInPlace), True, 2, 1),
    Case("the loss shifts scores kept by MyTanh",
         net(lambda: mn.Dense(5, 3, seed=2), last=MyTanh, loss=ShiftInPlaceCE), True, 3, 2),
    # in place on the input, after a layer that keeps its input only: harmless
    Case("double after Dense (keeps x)", net(DoubleInPlace), False),
    Case("center after Dense", net(CenterInPlace), False),
    Case("relu in place after ReLU (uses x, not y)", net(mn.ReLU, ReLUInPlace), False),
    # Tanh keeps y, but the entries the ReLU zeroes get no gradient: harmless after all
    Case("relu in place after Tanh", net(mn.Tanh, ReLUInPlace), False),
    Case("the loss shifts scores after Dense", net(loss=ShiftInPlaceCE), False),
    # in place on dout
    Case("dout zeroed in place, below Dense", net(MaskDoutInPlace), False),
    Case("dout scaled in place, below Dense", net(ScaleDoutInPlace), False),
    Case("dout zeroed in place below a layer whose gradient is dout",
         net(MaskDoutInPlace, lambda: InputOffset(6, 5)), True, 1, 2),
    # an output buffer reused across calls
    Case("buffer reused, the layer used once", net(BufferTanh), False),
    Case("buffer reused by the same object twice in the model", twice(BufferTanh), True, 3, 2),
]


def truth(case: Case) -> float:
    """rel_error of training's gradient against the textbook numeric gradient of the loss."""
    model, X, y = case.build()
    model.compute_loss(X.copy(), y)
    model.backward()
    analytic = model.get_flat_grads()
    theta = model.get_flat_params()

    def J(v):
        model.set_flat_params(v)
        return model.compute_loss(X.copy(), y)

    numeric = mn.numeric_gradient(J, theta.copy())
    model.set_flat_params(theta)
    return mn.gradcheck.rel_error(analytic, numeric)
