"""Dense, the elementwise activations (GELU too), and Dropout: layers on (N, ..., F) arrays."""

from __future__ import annotations

import math

import numpy as np

from .base import INITS, Layer, positive_int


class Dense(Layer):
    """Fully connected layer on the last axis, as torch.nn.Linear: y = x W + b.

    forward:  x (N, ..., in) -> y (N, ..., out);  W (in, out), b (out,)
    backward: dW = xᵀ dy,  db = Σₙ dy,  dx = dy Wᵀ  (None when input_grad is False), with the
              leading axes (N, ...) of x and dy taken as rows: a sequence (N, T, in) is N·T rows
    init: "he" draws W ~ N(0, 2/in) (for ReLU), "xavier" W ~ N(0, 2/(in+out)) (for tanh, sigmoid).
    """

    stackable = True
    smooth = True

    def __init__(self, in_features: int, out_features: int, init: str = "he",
                 seed: int | None = None) -> None:
        super().__init__()
        in_features = positive_int("Dense", "in_features", in_features)
        out_features = positive_int("Dense", "out_features", out_features)
        if init not in INITS:
            raise ValueError(f"Dense: unknown init {init!r}; expected one of {INITS}")
        self.in_features, self.out_features = in_features, out_features
        self.init, self.seed = init, seed
        var = 2 / in_features if init == "he" else 2 / (in_features + out_features)
        rng = np.random.default_rng(seed)
        self.params = {"W": rng.standard_normal((in_features, out_features)) * np.sqrt(var),
                       "b": np.zeros(out_features)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim < 2 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self!r} expects input of shape (N, ..., {self.in_features}), "
                             f"got {x.shape}")
        self.x = x
        y = self._rows(x) @ self.params["W"] + self.params["b"]
        return y.reshape(*x.shape[:-1], self.out_features)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        rows = self._rows(dout)
        self.grads["W"] = self._rows(self.x).T @ rows
        self.grads["b"] = rows.sum(axis=0)
        return dout @ self.params["W"].T if self.input_grad else None

    @staticmethod
    def _rows(a: np.ndarray) -> np.ndarray:
        """(N, ..., F) -> (N·..., F): every position along the leading axes is one row."""
        return a.reshape(-1, a.shape[-1])

    def nudged(self, x: np.ndarray, name: str, index: np.ndarray, delta: np.ndarray,
               base: np.ndarray | None = None) -> np.ndarray:
        """Outputs (K, N, ..., out) when entry index[k] of params[name] moves by delta[k].

        y is linear in W and b: moving W[i, j] by d moves only column j of y, by d * x[..., i].
        The gradient checker uses this to avoid recomputing x W for every entry; `base` is
        forward(x), when the caller has it already.
        """
        base = self.forward(x) if base is None else base
        rows = self._rows(x)
        y = np.repeat(self._rows(base)[None], len(index), axis=0)  # (K, rows, out)
        k = np.arange(len(index))
        if name == "W":
            i, j = np.unravel_index(index, self.params["W"].shape)
            y[k, :, j] += delta[:, None] * rows[:, i].T
        else:
            y[k, :, index] += delta[:, None]
        return y.reshape(len(index), *base.shape)

    def nudged_along(self, x: np.ndarray, name: str, directions: np.ndarray, eps: float,
                     base: np.ndarray | None = None) -> np.ndarray:
        """Outputs (2K, N, ..., out) with params[name] moved by +eps u_k (first K), then -eps u_k.

        Linear again: moving W by eps U moves y by eps x U, so one product serves both signs.
        """
        y = self.forward(x) if base is None else base
        if name == "W":
            d = (self._rows(x) @ directions).reshape(len(directions), *y.shape)
        else:
            d = directions.reshape(len(directions), *[1] * (y.ndim - 1), -1)
        return np.concatenate([y + eps * d, y - eps * d])

    def config(self) -> dict:
        return {"in_features": self.in_features, "out_features": self.out_features,
                "init": self.init, "seed": self.seed}


class Activation(Layer):
    """An elementwise y = f(x) with dx = dout * f'(x). Subclasses give f and its derivative."""

    stackable = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        self.y = self.f(x)
        return self.y

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * self.df(self.x, self.y)

    def f(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def df(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class ReLU(Activation):
    """y = max(0, x);  dy/dx = 1 where x > 0, else 0.  Any shape -> same shape."""

    kink = 0.0

    def f(self, x):
        return np.maximum(x, 0)

    def df(self, x, y):
        return x > 0


class LeakyReLU(Activation):
    """y = x if x > 0 else alpha x;  dy/dx = 1 or alpha.  Any shape -> same shape."""

    kink = 0.0

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        if not np.isfinite(alpha) or alpha < 0:
            raise ValueError(f"LeakyReLU: alpha must be a finite number >= 0, got {alpha!r}")
        self.alpha = float(alpha)

    def f(self, x):
        return np.where(x > 0, x, self.alpha * x)

    def df(self, x, y):
        return np.where(x > 0, 1, self.alpha).astype(x.dtype)

    def config(self) -> dict:
        return {"alpha": self.alpha}


class Sigmoid(Activation):
    """y = 1 / (1 + e⁻ˣ) = exp(-log(1 + e⁻ˣ));  dy/dx = y (1 - y).  Any shape -> same shape."""

    smooth = True

    def f(self, x):
        return np.exp(-np.logaddexp(0, -x))  # never overflows, even at x = -1000

    def df(self, x, y):
        return y * (1 - y)


class Tanh(Activation):
    """y = tanh(x);  dy/dx = 1 - y².  Any shape -> same shape."""

    smooth = True

    def f(self, x):
        return np.tanh(x)

    def df(self, x, y):
        return 1 - y**2


GELU_C = math.sqrt(2 / math.pi)  # the tanh form's constants, as in torch's approximate="tanh"
GELU_A = 0.044715


class GELU(Activation):
    """y = x Φ(x) in its tanh form, as torch's GELU(approximate="tanh"):
    y = ½ x (1 + tanh(u)),  u = √(2/π) (x + 0.044715 x³)
    dy/dx = ½ (1 + tanh(u)) + ½ x (1 − tanh²(u)) √(2/π) (1 + 3 · 0.044715 x²).
    Any shape -> same shape.
    """

    smooth = True

    def f(self, x):
        return 0.5 * x * (1 + np.tanh(GELU_C * (x + GELU_A * x * x * x)))

    def df(self, x, y):
        t = np.tanh(GELU_C * (x + GELU_A * x * x * x))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * x * x)


class Dropout(Layer):
    """Inverted dropout: y = x * m / (1 - p), m ~ Bernoulli(1 - p) per entry; y = x in eval mode.

    forward/backward: any shape -> same shape;  dx = dout * m / (1 - p).
    p is the probability of *dropping*. A frozen Dropout keeps its mask from call to call.
    """

    stackable = True
    smooth = True

    def __init__(self, p: float = 0.5, seed: int | None = None) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p is the drop probability and must be in [0, 1), got {p!r}")
        self.p, self.seed = float(p), seed
        self.rng = np.random.default_rng(seed)
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.training:
            self.mask = None
            return x
        if not self.frozen or self.mask is None or self.mask.shape != x.shape[-self.mask.ndim:]:
            keep = self.rng.random(x.shape) >= self.p
            self.mask = keep.astype(x.dtype) / x.dtype.type(1 - self.p)
        return x * self.mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout if self.mask is None else dout * self.mask

    def freeze(self, frozen: bool = True) -> None:
        super().freeze(frozen)
        self.mask = None  # the next forward draws the mask that stays

    def config(self) -> dict:
        return {"p": self.p, "seed": self.seed}
