"""The Layer base class: the contract every layer, built-in or a student's, follows."""

from __future__ import annotations

import numpy as np

INITS = ("he", "xavier")


class Layer:
    """Base class: `params` and `grads` share keys and shapes; backward overwrites `grads`.

    The class attributes below are optional hints for the gradient checker; a layer of your
    own works without them (the checker then finds corners and recomputes copy by copy).
    Dense, Conv2D, Embedding and the recurrent layers also offer `nudged` and `nudged_along`:
    the outputs for many moved weights at once, cheaper than a forward per weight.
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
                d[k] = v.astype(dtype) if isinstance(v, np.ndarray) else v
        for k, v in self.state().items():
            setattr(self, k, v.astype(dtype))
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "seed")
        return f"{type(self).__name__}({args})"


def positive_int(layer: str, name: str, n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {n!r}")
    return int(n)
