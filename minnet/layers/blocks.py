"""Blocks, layers that hold layers: Sequential runs them in order, Residual adds its input back.

A block's `params` and `grads` are its layers' own arrays, named by position: "1.Wq", and
"0.1.W" for a block in a block. So whatever works on a layer works on a block unchanged: a
Model, the optimizers, flat parameters, save / load and the gradient checker. A model's
parameter "3.1.Wq" is Wq of layer 1 inside layer 3.
"""

from __future__ import annotations

import textwrap

import numpy as np

from .base import Layer


class Sequential(Layer):
    """Layers applied in order: y = f_k(... f_1(f_0(x))).

    forward:  x -> the last layer's output;  backward: dy through the layers in reverse -> dx
    params, grads: every inner layer's, keyed "i.name", read on access (a layer's backward
    may bind grads[name] to a new array). A block has no params of its own.
    """

    def __init__(self, *layers: Layer) -> None:
        # Layer.__init__ is not called: it would bind params, grads and training, which a
        # block reads from its layers
        if not layers:
            raise ValueError(f"{type(self).__name__} needs at least one layer")
        for i, layer in enumerate(layers):
            if not all(hasattr(layer, a) for a in ("forward", "backward", "params", "grads")):
                raise TypeError(f"{type(self).__name__}: layer {i} ({layer!r}) is not a Layer: "
                                f"it needs forward, backward, params and grads")
        self.layers = list(layers)
        self.frozen = False
        self.input_grad = True

    # ---- the arrays of the layers inside ------------------------------------------------

    @property
    def params(self) -> Paths:
        return Paths(self.layers, "params")

    @property
    def grads(self) -> Paths:
        return Paths(self.layers, "grads")

    def state(self) -> dict[str, np.ndarray]:
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                for k, v in (layer.state() if hasattr(layer, "state") else {}).items()}

    # ---- flags and settings, passed on to the layers inside ------------------------------

    @property
    def training(self) -> bool:
        return all(getattr(layer, "training", True) for layer in self.layers)

    @training.setter
    def training(self, mode: bool) -> None:
        for layer in self.layers:
            layer.training = mode

    @property
    def input_grad(self) -> bool:
        return self._input_grad

    @input_grad.setter
    def input_grad(self, needed: bool) -> None:
        """Only the first layer may skip dL/dx, and only if its backward is minnet's own (a
        user's backward may need super()'s dx)."""
        from ..gradcheck.calls import by_minnet  # here: the gradcheck package imports layers

        self._input_grad = needed
        first = self.layers[0]
        first.input_grad = needed or not by_minnet(first, "backward")
        for layer in self.layers[1:]:
            layer.input_grad = True

    @property
    def stackable(self) -> bool:
        return all(_hint(layer, "stackable") for layer in self.layers)

    @property
    def smooth(self) -> bool:
        return all(_hint(layer, "smooth") for layer in self.layers)

    def freeze(self, frozen: bool = True) -> None:
        self.frozen = frozen
        for layer in self.layers:
            if callable(getattr(layer, "freeze", None)):
                layer.freeze(frozen)

    def zero_grad(self) -> None:
        for layer in self.layers:
            layer.zero_grad()

    def astype(self, dtype: np.dtype) -> Sequential:
        for layer in self.layers:
            layer.astype(dtype)
        return self

    # ---- the computation ----------------------------------------------------------------

    def forward(self, x: np.ndarray) -> np.ndarray:
        return forward_all(self.layers, x, f" of {type(self).__name__}")

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def nudged(self, x: np.ndarray, name: str, index: np.ndarray, delta: np.ndarray,
               base: np.ndarray | None = None) -> np.ndarray:
        """Outputs (K, ...) when entry index[k] of params[name] moves by delta[k].

        The layers before the moved one run once; the moved one gives its K outputs through
        its own `nudged` (or one forward per move); the layers after it take those K outputs
        as one stack. The gradient checker uses this to skip the whole block per entry.
        """
        at, inner = name.split(".", 1)
        at = int(at)
        h = x
        for layer in self.layers[:at]:
            h = layer.forward(h)
        holder = self.layers[at]
        if _hint(holder, "nudged"):
            out = holder.nudged(h, inner, index, delta)
        else:  # one forward per move, as the checker makes them
            from ..gradcheck.calls import Calls

            calls, p = Calls(holder, fast=False), holder.params[inner]
            out = np.stack([calls.moved(p, i, d, h) for i, d in zip(index, delta)])
        for layer in self.layers[at + 1:]:
            if not _hint(layer, "stackable"):
                raise ValueError(f"{layer!r} cannot take a stack of inputs")
            out = layer.forward(out)
        return out

    # ---- saving and printing -------------------------------------------------------------

    def config(self) -> dict:
        """The layers' classes and constructor arguments, so that Model.load can rebuild them."""
        return {"layers": [{"class": type(layer).__name__, "config": layer.config()}
                           for layer in self.layers]}

    def __repr__(self) -> str:
        inner = "\n".join(textwrap.indent(f"({i}) {layer!r}", "  ")
                          for i, layer in enumerate(self.layers))
        return f"{type(self).__name__}(\n{inner}\n)"


class Paths(dict):
    """The params (or grads) of some layers keyed "i.name", read when asked for; setting one
    sets it in its layer, so that `block.params["1.W"] = W` ties W as it would for the layer.
    A dict, as every layer's params are: code that checks for one accepts a block too."""

    def __init__(self, layers, what: str) -> None:
        super().__init__({f"{i}.{k}": v for i, layer in enumerate(layers)
                          for k, v in getattr(layer, what).items()})
        self.layers, self.what = layers, what

    def __setitem__(self, path: str, value) -> None:
        at, name = path.split(".", 1)
        getattr(self.layers[int(at)], self.what)[name] = value
        super().__setitem__(path, value)


class Residual(Sequential):
    """A skip connection around layers f: y = x + f(x), f the layers in order.

    forward:  x (N, ..., D) -> y of the same shape (f must keep it)
    backward: dx = dy + (dy through f): the skip path passes dy unchanged, and the two add up
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x + super().forward(x)

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        dinner = super().backward(dout)
        return dout + dinner if self.input_grad else None

    def nudged(self, x: np.ndarray, name: str, index: np.ndarray, delta: np.ndarray,
               base: np.ndarray | None = None) -> np.ndarray:
        return x + super().nudged(x, name, index, delta)


def _hint(layer, name: str) -> bool:
    """Does the layer offer this hint for the gradient checker, declared with its own forward?"""
    from ..gradcheck.calls import trusted  # here: the gradcheck package imports layers

    return trusted(layer, name) and bool(getattr(layer, name))


def forward_all(layers, x: np.ndarray, where: str = "") -> np.ndarray:
    """x through the layers in order; a shape or type error says which layer raised it."""
    for i, layer in enumerate(layers):
        try:
            x = layer.forward(x)
        except (ValueError, TypeError) as e:
            raise type(e)(f"layer {i}{where}: {e}") from None
    return x
