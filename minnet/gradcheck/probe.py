"""Evaluating J under perturbations: of a model's weights, or of one layer's input and weights.

A model's J is recomputed from the layer whose tensor moved, many perturbed copies at a time
where a layer proves it can take a stack (calls.Calls). A layer alone is scored by
J = Σ layer(x) · G for a fixed random G, a loss by its own value.
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

import numpy as np

from ..layers import Dense, Layer
from ..losses import Loss
from .calls import Calls
from .kinks import bends, declared, met
from .verdicts import repeat_backward, round_off

STACK_BUDGET = 2**17  # floats per stacked pass: K perturbed copies of the batch at once


def is_loss(obj) -> bool:
    """A Loss subclass, or (for a class of the user's own) a forward that takes targets."""
    if isinstance(obj, Loss):
        return True
    if isinstance(obj, Layer) or not callable(getattr(obj, "forward", None)):
        return False
    try:
        params = inspect.signature(obj.forward).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                  and p.default is p.empty]
    return len(positional) >= 2


class Pairs(NamedTuple):
    """J at θ + eps u and at θ - eps u for K perturbations u, and which of them meet a kink."""

    plus: np.ndarray
    minus: np.ndarray
    kinks: np.ndarray
    eps: float

    @property
    def slopes(self) -> np.ndarray:
        """Centered differences (J(θ + eps u) - J(θ - eps u)) / 2 eps."""
        return (self.plus - self.minus) / (2 * self.eps)


def _pairs(J, bent, eps) -> Pairs:
    """Pairs from K values at +eps followed by K at -eps, and 2K kink flags."""
    k = len(J) // 2
    return Pairs(J[:k], J[k:], bent[:k] | bent[k:], eps)


def freeze(obj) -> None:
    if callable(getattr(obj, "freeze", None)):
        obj.freeze()


def zero_grads(obj) -> dict:
    """Set obj's grads to zero in place (so that += shows as exactly 2x), and return them."""
    for g in getattr(obj, "grads", {}).values():
        if isinstance(g, np.ndarray) and g.flags.writeable:
            g[...] = 0
    return grads_of(obj)


def grads_of(obj) -> dict:
    return {k: np.array(g, dtype=np.float64) for k, g in getattr(obj, "grads", {}).items()}


class ModelProbe:
    """The loss J of a model on one batch, recomputed from the layer whose tensor moved."""

    def __init__(self, model, X, y, eps, fast) -> None:
        self.model, self.layers, self.loss = model, model.layers, model.loss
        self.X, self.y, self.n, self.eps, self.fast = X, y, len(X), eps, fast
        self.calls = [Calls(layer, fast) for layer in self.layers]
        self.loss_calls = Calls(self.loss, fast, is_loss=True, y=y)
        model.train()
        for layer in self.layers:
            freeze(layer)
        self.P0 = model.penalty()
        self.inputs, self.J0 = self._pass()
        self.atol = round_off(self.J0)
        before = [zero_grads(layer) for layer in self.layers]
        first = self._backward()
        inputs2, self.J1 = self._pass()  # the same forward and backward again: same numbers?
        self.unstable = _first_difference(self.inputs, inputs2)
        self.grads = self._backward()  # what every training step after the first would get
        self.repeated = {} if self.J1 != self.J0 else repeat_backward(before, first, self.grads)

    def _pass(self):
        """Forward from X, keeping the input of every layer and of the loss."""
        inputs, h = [], self.X
        for c in self.calls:
            inputs.append(h)
            h = c.forward(h)
        inputs.append(h)
        return inputs, self.loss_calls.forward(h) + self.model.penalty()

    def _backward(self):
        try:
            self.model.backward()
        except Exception:
            self._name_a_missing_gradient()
            raise
        return [grads_of(layer) for layer in self.layers]

    def _name_a_missing_gradient(self) -> None:
        """backward crashed: if a layer returned None for dL/dx, say that instead."""
        d = self.loss_calls.backward(None)
        for i in range(len(self.layers) - 1, 0, -1):
            d = self.calls[i].backward(d)
            if d is None:
                raise ValueError(f"layer {i} ({type(self.layers[i]).__name__}): backward "
                                 f"returned None: it must return dL/dx, the gradient for its "
                                 f"input") from None

    def problems(self) -> list[str]:
        found = []
        if self.J0 != self.J1:
            culprit = self.unstable
            where = (f"layer {culprit} ({type(self.layers[culprit]).__name__}) gave a different "
                     f"output for the same input" if culprit is not None
                     else f"the loss ({type(self.loss).__name__}) changed")
            found.append(f"nondeterminism: J = {self.J0!r} then {self.J1!r} at the same θ: "
                         f"{where}, even with np.random and its own Generators rewound. "
                         f"During a check it must be a fixed function of its input: give it "
                         f"a freeze() that keeps its random draws (or state) fixed.")
        return found

    def work(self, mode, samples, directions) -> int:
        sizes = [p.size for p in self.model.parameters()]
        per = {"full": sum(sizes), "sample": sum(min(samples, s) for s in sizes),
               "directional": directions * len(sizes)}
        return 2 * sum(per[m] for m in per if m in mode)

    def entries(self, li, name, idx, eps=None, bar=None) -> Pairs:
        """J with entry idx[k] of layers[li].params[name] moved by ±eps, and kink flags."""
        eps = eps or self.eps
        c, x, base = self.calls[li], self.inputs[li], self.inputs[li + 1]
        p = self.layers[li].params[name]
        Js, bent = [], []
        k = self._chunk(li)
        for start in range(0, len(idx), k):
            part = idx[start:start + k]
            both = np.concatenate([part, part])
            delta = np.repeat([eps, -eps], len(part))
            out = c.nudged(x, name, both, delta, base)
            J, flags = self._downstream(out, li + 1, self._own_bends(c, out, base))
            J += self._penalty_change(self.layers[li], name, p.flat[both], delta)
            Js.append(J.reshape(2, -1))
            bent.append(flags.reshape(2, -1))
            if bar is not None:
                bar.update(len(both))
        J, flags = np.concatenate(Js, axis=1), np.concatenate(bent, axis=1)
        return Pairs(J[0], J[1], flags[0] | flags[1], eps)

    def directions(self, li, name, dirs, eps=None, bar=None) -> Pairs:
        """J with layers[li].params[name] moved by ±eps u for each unit direction u in dirs."""
        eps = eps or self.eps
        c, x, base = self.calls[li], self.inputs[li], self.inputs[li + 1]
        layer = self.layers[li]
        outs = c.along(x, name, dirs, eps, base)
        J, bent = self._downstream(outs, li + 1, self._own_bends(c, outs, base))
        if self.model.l2:
            J += [np.sum(self._penalty_change(layer, name, layer.params[name], sign * eps * u))
                  for sign in (1.0, -1.0) for u in dirs]
        if bar is not None:
            bar.update(len(outs))
        return _pairs(J, bent, eps)

    def _own_bends(self, c, out, base):
        """Kink flags of the moved layer's own output (its weights may meet a corner too)."""
        half = len(out) // 2
        flags = np.zeros(half, dtype=bool) if declared(c.obj) else \
            bends(out[:half], out[half:], base)
        return np.concatenate([flags, flags])

    def _downstream(self, h, start, bent):
        """Run layers[start:] and the loss on a stack h (K, N, F): J (K,) and kink flags (K,)."""
        half = len(h) // 2
        for c, base_in, base_out in zip(self.calls[start:], self.inputs[start:],
                                        self.inputs[start + 1:]):
            out = c.stack(h)
            flags = met(c.obj, h[:half], h[half:], base_in, out, base_out)
            bent = bent | np.concatenate([flags, flags])
            h = out
        flags = met(self.loss, h[:half], h[half:], self.inputs[-1], y=self.y)
        return self.loss_calls.stack(h) + self.P0, bent | np.concatenate([flags, flags])

    def _penalty_change(self, layer, name, w, d):
        """Exact change of 0.5 * l2 * Σ W² when entries w of a Dense W move by d."""
        if not (self.model.l2 and isinstance(layer, Dense) and name == "W"):
            return 0.0
        return 0.5 * self.model.l2 * (2 * w * d + d * d)

    def _chunk(self, li) -> int:
        widest = max(np.size(a) for a in self.inputs[li + 1:])
        return max(1, STACK_BUDGET // (2 * widest)) if self.fast else 1


def _first_difference(inputs1, inputs2):
    """Index of the first layer whose output differs between two identical passes."""
    for i in range(len(inputs1) - 1):
        if not np.array_equal(inputs1[i + 1], inputs2[i + 1]):
            return i
    return None


class LayerProbe:
    """J = Σ layer(x) * G (or a loss's value) under perturbations of x and of each parameter."""

    def __init__(self, layer, x, y, eps, seed, fast) -> None:
        self.layer, self.x, self.y, self.eps, self.fast = layer, x, y, eps, fast
        self.is_loss = is_loss(layer)
        self.calls = Calls(layer, fast, self.is_loss, y)
        self.rng = np.random.default_rng(seed)
        freeze(layer)
        self.changes_input = self._changes_input()
        out = self.calls.forward(x)
        if self.is_loss:
            self.G, self.J0, self.base_out = None, out, None
        else:
            self.G = self.rng.standard_normal(np.shape(out))
            self.J0, self.base_out = float(np.sum(out * self.G)), out
        before = zero_grads(layer)
        _, first = self._backward()
        self.unstable = not np.array_equal(np.asarray(self.calls.forward(x)), np.asarray(out))
        self.dx, self.grads = self._backward()
        self.repeated = {} if self.unstable else repeat_backward([before], [first], [self.grads])

    def _changes_input(self) -> bool:
        x = self.x.copy()
        self.calls._call(x)  # not through Calls.forward, which would hand it a copy
        return not np.array_equal(x, self.x, equal_nan=True)

    def _backward(self):
        self.calls.forward(self.x)
        dx = self.calls.backward(self.G)
        if dx is None:
            raise NoInputGradient
        return np.array(dx, dtype=np.float64), grads_of(self.layer)

    def score(self, outs):
        if self.is_loss:
            return np.asarray(outs, dtype=np.float64).reshape(-1)
        return (outs * self.G).reshape(len(outs), -1).sum(axis=1)

    def input_entries(self, idx, eps) -> Pairs:
        """J with flat entry idx[k] of x moved by ±eps, and kink flags."""
        plus, minus, kinks = [], [], []
        k = max(1, STACK_BUDGET // (2 * max(self.x.size, np.size(self.base_out)))) \
            if self.fast else 1
        for start in range(0, len(idx), k):
            part = idx[start:start + k]
            xs = np.repeat(self.x[None], 2 * len(part), axis=0)
            flat = xs.reshape(len(xs), -1)
            flat[np.arange(len(part)), part] += eps
            flat[len(part) + np.arange(len(part)), part] -= eps
            outs = self.calls.stack(xs)
            J = self.score(outs)
            plus.append(J[:len(part)])
            minus.append(J[len(part):])
            kinks.append(met(self.layer, xs[:len(part)], xs[len(part):], self.x,
                             None if self.is_loss else outs, self.base_out, self.y))
        return Pairs(*map(np.concatenate, (plus, minus, kinks)), eps)

    def param_entries(self, key, idx, eps) -> Pairs:
        """J with flat entry idx[k] of params[key] moved by ±eps, and kink flags."""
        both = np.concatenate([idx, idx])
        delta = np.repeat([eps, -eps], len(idx))
        outs = self.calls.nudged(self.x, key, both, delta, self.base_out)
        kinks = np.zeros(len(idx), dtype=bool)
        if not self.is_loss and not declared(self.layer):
            kinks = bends(outs[:len(idx)], outs[len(idx):], self.base_out)
        J = self.score(outs)
        return Pairs(J[:len(idx)], J[len(idx):], kinks, eps)


class NoInputGradient(Exception):
    """backward returned None where dL/dx was needed."""
