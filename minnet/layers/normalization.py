"""Normalization: BatchNorm over the batch axis, LayerNorm over each sample's last axis."""

from __future__ import annotations

import numpy as np

from .base import Layer, positive_int


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
        num_features = positive_int("BatchNorm", "num_features", num_features)
        if not 0 <= momentum < 1 or not eps > 0:
            raise ValueError(f"BatchNorm: need 0 <= momentum < 1 and eps > 0, "
                             f"got momentum={momentum!r}, eps={eps!r}")
        self.num_features, self.momentum, self.eps = num_features, float(momentum), eps
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
        self.num_features = positive_int("LayerNorm", "num_features", num_features)
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
