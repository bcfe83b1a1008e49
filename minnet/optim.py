"""Optimizers: step(model) updates every parameter in place from its gradient."""

from __future__ import annotations

import numpy as np


class Optimizer:
    """Base class; per-parameter state is kept by name ("0.W"), never inside the layers."""

    def __init__(self, lr: float) -> None:
        if not np.isfinite(lr) or lr <= 0:
            raise ValueError(f"{type(self).__name__}: lr must be a positive number, got {lr!r}")
        self.lr = lr
        self.state: dict[str, dict[str, np.ndarray]] = {}

    def step(self, model) -> None:
        """One update of every parameter; a shared array is one parameter with one state."""
        for (name, p), g in zip(model.named_parameters(), model.gradients()):
            self.update(name, p, g)

    def update(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr})"


class SGD(Optimizer):
    """θ ← θ - lr g."""

    def update(self, name, p, g):
        p -= self.lr * g


class Momentum(Optimizer):
    """v ← μ v - lr g;  θ ← θ + v."""

    def __init__(self, lr: float, momentum: float = 0.9) -> None:
        super().__init__(lr)
        if not 0 <= momentum < 1:
            raise ValueError(f"Momentum: momentum must be in [0, 1), got {momentum!r}")
        self.momentum = momentum

    def update(self, name, p, g):
        if name not in self.state:
            self.state[name] = {"v": np.zeros_like(p)}
        v = self.state[name]["v"]
        v *= self.momentum
        v -= self.lr * g
        p += v


class RMSProp(Optimizer):
    """cache ← decay cache + (1 - decay) g²;  θ ← θ - lr g / (√cache + ε)."""

    def __init__(self, lr: float = 1e-2, decay: float = 0.99, eps: float = 1e-8) -> None:
        super().__init__(lr)
        if not (0 <= decay < 1 and eps > 0):
            raise ValueError(f"RMSProp: need 0 <= decay < 1 and eps > 0, "
                             f"got decay={decay!r}, eps={eps!r}")
        self.decay, self.eps = decay, eps

    def update(self, name, p, g):
        if name not in self.state:
            self.state[name] = {"cache": np.zeros_like(p)}
        cache = self.state[name]["cache"]
        cache *= self.decay
        cache += (1 - self.decay) * g * g
        p -= self.lr * g / (np.sqrt(cache) + self.eps)


class Adam(Optimizer):
    """m ← β₁ m + (1-β₁) g;  v ← β₂ v + (1-β₂) g²;  θ ← θ - lr m̂ / (√v̂ + ε), hats bias-corrected."""

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        super().__init__(lr)
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1 and eps > 0):
            raise ValueError(f"Adam: need 0 <= beta1, beta2 < 1 and eps > 0, "
                             f"got beta1={beta1!r}, beta2={beta2!r}, eps={eps!r}")
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def update(self, name, p, g):
        if name not in self.state:
            self.state[name] = {"m": np.zeros_like(p), "v": np.zeros_like(p), "t": 0}
        s = self.state[name]
        s["t"] += 1
        s["m"] *= self.beta1
        s["m"] += (1 - self.beta1) * g
        s["v"] *= self.beta2
        s["v"] += (1 - self.beta2) * g * g
        m_hat = s["m"] / (1 - self.beta1 ** s["t"])
        v_hat = s["v"] / (1 - self.beta2 ** s["t"])
        p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
