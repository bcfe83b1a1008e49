"""Layers. Each forward caches what its backward needs; backward fills `grads` and returns dL/dx.

Shapes use N for the batch size; image layers take (N, C, H, W), as in PyTorch. A layer whose
class says `stackable = True` also accepts extra leading axes, (K, N, F) or (K, N, C, H, W),
which lets the gradient checker push K perturbed copies of a batch through in one pass.
"""

from __future__ import annotations

import numpy as np

INITS = ("he", "xavier")


class Layer:
    """Base class: `params` and `grads` share keys and shapes; backward overwrites `grads`.

    The class attributes below are optional hints for the gradient checker; a layer of your
    own works without them (the checker then finds corners and recomputes copy by copy).
    Dense and Conv2D also offer `nudged` and `nudged_along`: cheap outputs when W or b moves.
    """

    kink: float | None = None  # input value where forward has a corner (ReLU: 0.0)
    smooth: bool = False  # forward is differentiable everywhere (no corner anywhere)
    frozen: bool = False  # a frozen layer draws no new randomness and updates no state
    stackable: bool = False  # forward accepts a stack (K, N, F) of K batches at once
    input_grad: bool = True  # False: backward may skip dL/dx (no layer below needs it)

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def zero_grad(self) -> None:
        for g in self.grads.values():
            g[...] = 0

    def freeze(self, frozen: bool = True) -> None:
        """Make forward a fixed function of (x, params), as the gradient checker needs."""
        self.frozen = frozen

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that are not parameters but are saved with the model (running statistics)."""
        return {}

    def config(self) -> dict:
        """Constructor arguments, so that Model.load can rebuild the layer."""
        return {}

    def astype(self, dtype: np.dtype) -> Layer:
        for d in (self.params, self.grads):
            for k, v in d.items():
                d[k] = v.astype(dtype)
        for k, v in self.state().items():
            setattr(self, k, v.astype(dtype))
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "seed")
        return f"{type(self).__name__}({args})"


class Dense(Layer):
    """Fully connected layer: y = x W + b.

    forward:  x (N, in) -> y (N, out);  W (in, out), b (out,)
    backward: dW = xᵀ dy,  db = Σₙ dy,  dx = dy Wᵀ  (None when input_grad is False)
    init: "he" draws W ~ N(0, 2/in) (for ReLU), "xavier" W ~ N(0, 2/(in+out)) (for tanh, sigmoid).
    """

    stackable = True
    smooth = True

    def __init__(self, in_features: int, out_features: int, init: str = "he",
                 seed: int | None = None) -> None:
        super().__init__()
        for name, n in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"Dense: {name} must be a positive integer, got {n!r}")
        if init not in INITS:
            raise ValueError(f"Dense: unknown init {init!r}; expected one of {INITS}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.init, self.seed = init, seed
        var = 2 / in_features if init == "he" else 2 / (in_features + out_features)
        rng = np.random.default_rng(seed)
        self.params = {"W": rng.standard_normal((in_features, out_features)) * np.sqrt(var),
                       "b": np.zeros(out_features)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim < 2 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self!r} expects input of shape (N, {self.in_features}), "
                             f"got {x.shape}")
        self.x = x
        flat = x.reshape(-1, self.in_features)  # a stack (K, N, in) as one product: faster
        y = flat @ self.params["W"] + self.params["b"]
        return y.reshape(*x.shape[:-1], self.out_features)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"].T if self.input_grad else None

    def nudged(self, x: np.ndarray, name: str, index: np.ndarray, delta: np.ndarray,
               base: np.ndarray | None = None) -> np.ndarray:
        """Outputs (K, N, out) when entry index[k] of params[name] moves by delta[k].

        y is linear in W and b: moving W[i, j] by d moves only column j of y, by d * x[:, i].
        The gradient checker uses this to avoid recomputing x W for every entry; `base` is
        forward(x), when the caller has it already.
        """
        base = self.forward(x) if base is None else base
        y = np.repeat(base[None], len(index), axis=0)
        k = np.arange(len(index))
        if name == "W":
            i, j = np.unravel_index(index, self.params["W"].shape)
            y[k, :, j] += delta[:, None] * x[:, i].T
        else:
            y[k, :, index] += delta[:, None]
        return y

    def nudged_along(self, x: np.ndarray, name: str, directions: np.ndarray, eps: float,
                     base: np.ndarray | None = None) -> np.ndarray:
        """Outputs (2K, N, out) with params[name] moved by +eps u_k (first K), then by -eps u_k.

        Linear again: moving W by eps U moves y by eps x U, so one product serves both signs.
        """
        y = self.forward(x) if base is None else base
        d = eps * (x @ directions if name == "W" else directions[:, None, :])
        return np.concatenate([y + d, y - d])

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


class BatchNorm(Layer):
    """Batch normalization over features: y = gamma x̂ + beta, x̂ = (x - mean) / sqrt(var + eps).

    forward:  x (N, F) -> y (N, F); batch mean and var while training, running ones in eval mode.
    backward: dgamma = Σₙ dy x̂,  dbeta = Σₙ dy,
              dx = (dx̂ - mean(dx̂) - x̂ mean(dx̂ x̂)) / sqrt(var + eps),  dx̂ = dy gamma.
    running = momentum * running + (1 - momentum) * batch  (running var unbiased, as in PyTorch).
    """

    stackable = True
    smooth = True

    def __init__(self, num_features: int, momentum: float = 0.9, eps: float = 1e-5) -> None:
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) \
                or num_features < 1:
            raise ValueError(f"BatchNorm: num_features must be a positive integer, "
                             f"got {num_features!r}")
        if not 0 <= momentum < 1 or not eps > 0:
            raise ValueError(f"BatchNorm: need 0 <= momentum < 1 and eps > 0, "
                             f"got momentum={momentum!r}, eps={eps!r}")
        self.num_features, self.momentum, self.eps = int(num_features), float(momentum), eps
        self.params = {"gamma": np.ones(num_features), "beta": np.zeros(num_features)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.running_mean = np.zeros(num_features)
        self.running_var = np.ones(num_features)

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim < 2 or x.shape[-1] != self.num_features:
            raise ValueError(f"{self!r} expects input of shape (N, {self.num_features}), "
                             f"got {x.shape}")
        if self.training:
            n = x.shape[-2]
            if n < 2:
                raise ValueError(f"{self!r} needs at least 2 samples per batch while training, "
                                 f"got {n}")
            mean, var = x.mean(axis=-2, keepdims=True), x.var(axis=-2, keepdims=True)
            if not self.frozen:
                m = self.momentum
                self.running_mean[...] = m * self.running_mean + (1 - m) * mean[0]
                self.running_var[...] = m * self.running_var + (1 - m) * var[0] * n / (n - 1)
        else:
            mean, var = self.running_mean, self.running_var
        self.std = np.sqrt(var + self.eps)
        self.xhat = (x - mean) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout: np.ndarray) -> np.ndarray:
        xhat = self.xhat
        self.grads["gamma"] = (dout * xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        dxhat = dout * self.params["gamma"]
        if not self.training:
            return dxhat / self.std
        return (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0)) / self.std

    def state(self) -> dict[str, np.ndarray]:
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def config(self) -> dict:
        return {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps}


# ---- image layers: x of shape (N, C, H, W), as in PyTorch -----------------------------------


def windows(x: np.ndarray, k: int, stride: int) -> np.ndarray:
    """Every k×k window of x (..., C, H, W) as a view (..., C, H', W', k, k), no copy.

    H' = (H - k) // stride + 1; window (h, w) starts at row h·stride, column w·stride.
    """
    view = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(-2, -1))
    return view[..., ::stride, ::stride, :, :]


def col2im(dwin: np.ndarray, shape: tuple, stride: int) -> np.ndarray:
    """The transpose of `windows`: add each window's entries back where they came from.

    dwin (..., C, H', W', k, k) -> (..., C, H, W) of `shape`. Overlapping windows add up.
    One loop step per kernel offset (k² of them), never one per pixel.
    """
    *_, h, w, k, _ = dwin.shape
    dx = np.zeros(shape, dtype=dwin.dtype)
    for i in range(k):
        for j in range(k):
            dx[..., i:i + stride * h:stride, j:j + stride * w:stride] += dwin[..., i, j]
    return dx


def _positive_int(layer: str, name: str, n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {n!r}")
    return int(n)


def _sizes(sizes: tuple, k: int, stride: int) -> list:
    """Sizes (H', W') after windows of k with `stride`: (n - k) // stride + 1 (None: unknown)."""
    if any(n is not None and n < k for n in sizes):
        raise ValueError(f"an input of {sizes[0]}x{sizes[1]} is too small for its kernel")
    return [None if n is None else (n - k) // stride + 1 for n in sizes]


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as torch's conv2d): y[n,o] = Σ_c W[o,c] ⋆ x[n,c] + b[o].

    forward:  x (N, C, H, W) -> y (N, O, H', W'),  H' = (H + 2·padding - k) // stride + 1
              W (O, C, k, k), b (O,).  im2col: each window of each sample a column of
              cols (C k k, N H' W'), then y = W cols + b, one product.
    backward: dW = Σ dy ⋅ window,  db = Σ_{n,h,w} dy,  dx = col2im(Wᵀ dy), padding cut off.
    init: "he" W ~ N(0, 2 / (C k²)), "xavier" W ~ N(0, 2 / (C k² + O k²)); b ~ U(±1 / √(C k²))
    as in PyTorch.
    """

    stackable = True
    smooth = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, init: str = "he", seed: int | None = None) -> None:
        super().__init__()
        c = _positive_int("Conv2D", "in_channels", in_channels)
        o = _positive_int("Conv2D", "out_channels", out_channels)
        k = _positive_int("Conv2D", "kernel_size", kernel_size)
        self.stride = _positive_int("Conv2D", "stride", stride)
        if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
            raise ValueError(f"Conv2D: padding must be an integer >= 0, got {padding!r}")
        if init not in INITS:
            raise ValueError(f"Conv2D: unknown init {init!r}; expected one of {INITS}")
        self.in_channels, self.out_channels, self.kernel_size = c, o, k
        self.padding, self.init, self.seed = int(padding), init, seed
        var = 2 / (c * k * k) if init == "he" else 2 / ((c + o) * k * k)
        rng = np.random.default_rng(seed)
        W = rng.standard_normal((o, c, k, k)) * np.sqrt(var)
        self.params = {"W": W, "b": rng.uniform(-1, 1, o) / np.sqrt(c * k * k)}
        self.grads = {n: np.zeros_like(v) for n, v in self.params.items()}

    def forward(self, x: np.ndarray) -> np.ndarray:
        k, p = self.kernel_size, self.padding
        if x.ndim < 4 or x.shape[-3] != self.in_channels or min(x.shape[-2:]) + 2 * p < k:
            raise ValueError(f"{self!r} expects input of shape (N, {self.in_channels}, H, W) "
                             f"with H, W >= {max(k - 2 * p, 1)}, got {x.shape}")
        xp = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(p, p), (p, p)]) if p else x
        win = windows(xp, k, self.stride)  # (..., C, H', W', k, k)
        *lead, c, h, w = win.shape[:-2]
        # im2col: cols is (C k k, N, H' W'), one column per window of every sample, so that
        # forward and both halves of backward are one matrix product each
        self.xp_shape, self.out_shape = xp.shape, (*lead, self.out_channels, h, w)
        n = len(lead)
        order = (n, n + 3, n + 4, *range(n), n + 1, n + 2)  # C, k, k, lead..., H', W'
        self.cols = np.transpose(win, order).reshape(c * k * k, -1, h * w)
        if not self.cols.flags.writeable:  # 1x1 kernels: a read-only view of x, not a copy
            self.cols = self.cols.copy()
        y = self.params["W"].reshape(self.out_channels, -1) @ self.cols.reshape(c * k * k, -1)
        y += self.params["b"][:, None]
        return self._image(y)

    def _image(self, y: np.ndarray) -> np.ndarray:
        """(O, N H' W') -> (N, O, H', W'): the layout of the output."""
        *_, h, w = self.out_shape
        y = np.moveaxis(y.reshape(self.out_channels, -1, h, w), 0, 1)
        return np.ascontiguousarray(y).reshape(self.out_shape)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        k, p, o = self.kernel_size, self.padding, self.out_channels
        W = self.params["W"].reshape(o, -1)
        cols = self.cols.reshape(W.shape[1], -1)  # (C k k, N H' W')
        d = np.moveaxis(dout.reshape(-1, o, self.cols.shape[2]), 1, 0).reshape(o, -1)
        self.grads["b"] = d.sum(axis=1)
        self.grads["W"] = (d @ cols.T).reshape(self.params["W"].shape)
        if not self.input_grad:
            return None
        *lead, _, h, w = self.out_shape
        dcols = (W.T @ d).reshape(self.in_channels, k, k, *lead, h, w)
        n = len(lead)
        dwin = np.transpose(dcols, (*range(3, 3 + n), 0, n + 3, n + 4, 1, 2))
        dxp = col2im(dwin, self.xp_shape, self.stride)
        return dxp[..., p:dxp.shape[-2] - p, p:dxp.shape[-1] - p] if p else dxp

    def nudged(self, x: np.ndarray, name: str, index: np.ndarray, delta: np.ndarray,
               base: np.ndarray | None = None) -> np.ndarray:
        """Outputs (K, N, O, H', W') when entry index[k] of params[name] moves by delta[k].

        y is linear in W and b: moving W[o, c, u, v] by d moves only channel o of y, by d
        times row (c, u, v) of the windows. The gradient checker uses this to skip a whole
        convolution per entry; `base` is forward(x), when the caller has it already.
        """
        y = self.forward(x)  # also fills self.cols with the windows of this x
        y = np.repeat((y if base is None else base)[None], len(index), axis=0)
        k = np.arange(len(index))
        if name == "W":
            o, row = np.divmod(index, len(self.cols))
            y[k, :, o] += delta[:, None, None, None] * self.cols[row].reshape(y[:, :, 0].shape)
        else:
            y[k, :, index] += delta[:, None, None, None]
        return y

    def nudged_along(self, x: np.ndarray, name: str, directions: np.ndarray, eps: float,
                     base: np.ndarray | None = None) -> np.ndarray:
        """Outputs (2K, N, O, H', W') with params[name] moved by +eps u_k (first K), then -eps u_k.

        Linear again: moving W by eps U moves y by eps (U cols), one product for all K.
        """
        y = self.forward(x)  # also fills self.cols with the windows of this x
        y = y if base is None else base
        if name == "W":
            cols = self.cols.reshape(len(self.cols), -1)
            d = directions.reshape(-1, len(cols)) @ cols  # (K O, N H' W')
            d = d.reshape(len(directions), self.out_channels, len(y), -1)  # (K, O, N, H' W')
            d = np.moveaxis(d, 1, 2).reshape(len(directions), *y.shape)
        else:
            d = directions[:, None, :, None, None]
        return np.concatenate([y + eps * d, y - eps * d])

    def output_shape(self, shape: tuple) -> tuple:
        """(C, H, W) of one sample -> (O, H', W'); None stands for a size not known yet."""
        return (self.out_channels, *_sizes(shape[1:], self.kernel_size - 2 * self.padding,
                                           self.stride))

    def config(self) -> dict:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "stride": self.stride,
                "padding": self.padding, "init": self.init, "seed": self.seed}


class MaxPool2D(Layer):
    """Max pooling: y[n,c,h,w] = max of x[n,c] over the k×k window at (h·stride, w·stride).

    forward:  x (N, C, H, W) -> y (N, C, H', W'),  H' = (H - k) // stride + 1
    backward: each dy goes to the one input that was the max of its window (at a tie, the
              first in the window, as in PyTorch); overlapping windows add up.
    """

    stackable = True

    def __init__(self, kernel_size: int, stride: int | None = None) -> None:
        super().__init__()
        self.kernel_size = _positive_int("MaxPool2D", "kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else \
            _positive_int("MaxPool2D", "stride", stride)

    def forward(self, x: np.ndarray) -> np.ndarray:
        k = self.kernel_size
        if x.ndim < 4 or min(x.shape[-2:]) < k:
            raise ValueError(f"{self!r} expects input of shape (N, C, H, W) with H, W >= {k}, "
                             f"got {x.shape}")
        self.x_shape = x.shape
        win = windows(x, k, self.stride)
        flat = win.reshape(*win.shape[:-2], k * k)
        self.argmax = flat.argmax(axis=-1)[..., None]  # argmax takes the first of equal maxima
        return np.take_along_axis(flat, self.argmax, axis=-1)[..., 0]

    def backward(self, dout: np.ndarray) -> np.ndarray:
        k = self.kernel_size
        dwin = np.zeros((*dout.shape, k * k), dtype=dout.dtype)
        np.put_along_axis(dwin, self.argmax, dout[..., None], axis=-1)
        return col2im(dwin.reshape(*dout.shape, k, k), self.x_shape, self.stride)

    def output_shape(self, shape: tuple) -> tuple:
        """(C, H, W) of one sample -> (C, H', W'); None stands for a size not known yet."""
        return (shape[0], *_sizes(shape[1:], self.kernel_size, self.stride))

    def config(self) -> dict:
        return {"kernel_size": self.kernel_size, "stride": self.stride}


class Flatten(Layer):
    """y = x.reshape(N, -1): each sample's (C, H, W) as one row of C·H·W features.

    forward:  x (N, ...) -> y (N, prod(...));  backward: dy (N, D) -> dx reshaped to x's shape.
    Not stackable: for an input of 5 axes it could not tell a stack (K, N, ...) from a batch.
    """

    smooth = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim < 2:
            raise ValueError(f"{self!r} expects input of shape (N, ...), got {x.shape}")
        self.x_shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout.reshape(self.x_shape)

    def output_shape(self, shape: tuple | None) -> tuple:
        """(C, H, W) of one sample -> (C·H·W,); None when a size, or the whole shape (after a
        layer of the user's own), is not known yet."""
        return (None if shape is None or None in shape else int(np.prod(shape)),)


class LayerNorm(Layer):
    """Layer normalization over each sample's last axis: y = gamma x̂ + beta,
    x̂ = (x - mean) / sqrt(var + eps), mean and var over the F features of that sample.

    forward:  x (..., F) -> y (..., F);  the same in training and eval mode, no running stats.
    backward: dgamma = Σ dy x̂,  dbeta = Σ dy  (sums over every axis but the last),
              dx = (dx̂ - mean(dx̂) - x̂ mean(dx̂ x̂)) / sqrt(var + eps),  dx̂ = dy gamma,
              the means taken over the last axis (BatchNorm's formula, on the other axis).
    """

    stackable = True
    smooth = True

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features = _positive_int("LayerNorm", "num_features", num_features)
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be > 0, got {eps!r}")
        self.eps = eps
        self.params = {"gamma": np.ones(num_features), "beta": np.zeros(num_features)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim < 2 or x.shape[-1] != self.num_features:
            raise ValueError(f"{self!r} expects input of shape (N, {self.num_features}), "
                             f"got {x.shape}")
        mean, var = x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
        self.std = np.sqrt(var + self.eps)
        self.xhat = (x - mean) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout: np.ndarray) -> np.ndarray:
        xhat, f = self.xhat, self.num_features
        self.grads["gamma"] = (dout * xhat).reshape(-1, f).sum(axis=0)
        self.grads["beta"] = dout.reshape(-1, f).sum(axis=0)
        dxhat = dout * self.params["gamma"]
        return (dxhat - dxhat.mean(axis=-1, keepdims=True)
                - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True)) / self.std

    def config(self) -> dict:
        return {"num_features": self.num_features, "eps": self.eps}
