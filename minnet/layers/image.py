"""Image layers on x of shape (N, C, H, W), as in PyTorch: Conv2D, MaxPool2D, Flatten."""

from __future__ import annotations

import numpy as np

from .base import INITS, Layer, positive_int


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
        c = positive_int("Conv2D", "in_channels", in_channels)
        o = positive_int("Conv2D", "out_channels", out_channels)
        k = positive_int("Conv2D", "kernel_size", kernel_size)
        self.stride = positive_int("Conv2D", "stride", stride)
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
        self.kernel_size = positive_int("MaxPool2D", "kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else \
            positive_int("MaxPool2D", "stride", stride)

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
