"""Evaluating J under perturbations: of a model's weights, or of one layer's input and weights.

A model's J is recomputed from the layer whose tensor moved, many perturbed copies at a time
where a layer proves it can take a stack (calls.Calls). A layer alone is scored by
J = Σ layer(x) · G for a fixed random G, a loss by its own value.
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

import numpy as np

from ..layers import Layer
from ..losses import Loss
from . import shapes, training
from .calls import STEP, Calls, Randomness, is_own, raised
from .kinks import bends, declared, met
from .lost import Watch
from .restore import same
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


def zero_grads(obj) -> None:
    """Set obj's grads to zero in place, so that += shows as exactly 2x."""
    for g in getattr(obj, "grads", {}).values():
        if isinstance(g, np.ndarray) and g.flags.writeable:
            g[...] = 0


class Backward(NamedTuple):
    """What one backward gave: dL/dx and the grads, as float64 copies, or why not usable."""

    dx: np.ndarray | None
    dx_problem: str | None
    grads: dict[str, np.ndarray]
    unusable: dict[str, str]
    misshapen: dict[str, np.ndarray] = {}  # unusable grads that are arrays of another shape
    moved: list[str] = []  # parameters that backward itself changed


STATES = ("h0", "c0")  # initial states a recurrent layer takes, with gradients d{name}


def backward_of(obj, params: dict, run, x: np.ndarray, ids: bool,
                states: dict | None = None) -> Backward:
    """run() is obj's backward; read what it returned and stored, never raising for it."""
    before = {k: np.array(p, copy=True) for k, p in params.items()}
    try:
        dx = run()
    except Exception as e:  # a student's backward: a FAIL row, never a crash
        why = f"backward raised {raised(e)}"
        return Backward(None, why, {}, {k: f"not computed: {why}" for k in params})
    if ids:
        dx, why = None, None
    elif dx is None:
        why = "backward returned None: it must return dL/dx, the gradient for its input"
    else:
        why = shapes.problem(dx, x.shape, len(x))
    grads, unusable, misshapen = {}, {}, {}
    stored = {**{k: getattr(obj, "grads", {}).get(k, _MISSING) for k in params},
              **{k: getattr(obj, f"d{k}", None) for k in states or {}}}
    for k, p in {**params, **(states or {})}.items():
        g = stored[k]
        problem = f"missing: backward did not store grads[{k!r}]" if g is _MISSING else \
            f"missing: backward did not set self.d{k}" if g is None and k in STATES else \
            shapes.problem(g, p.shape, len(x))
        if problem:
            unusable[k] = problem
            if isinstance(g, np.ndarray) and g.dtype.kind == "f":
                misshapen[k] = g.copy()
        else:
            grads[k] = np.array(g, dtype=np.float64)  # a copy: grads change later
    now = getattr(obj, "params", {})  # a backward may also bind new arrays
    moved = [k for k in params if not same(now.get(k, params[k]), before[k])]
    return Backward(None if why else np.array(dx, dtype=np.float64), why, grads, unusable,
                    misshapen, moved)


_MISSING = object()


class ModelProbe:
    """A model on one batch: training's gradient, and the loss J under perturbations.

    The analytic side is what training computes (training.step): the model's own forward and
    backward on the user's objects, twice, as two steps of fit (the second shows a gradient
    that accumulates). The numeric side recomputes J on copies (calls.Calls), from the layer
    whose tensor moved. np.random and the layers' Generators are rewound before each of them,
    so that a mask drawn in forward is the same in all.
    """

    def __init__(self, model, X, y, eps, fast) -> None:
        self.model, self.layers, self.loss = model, model.layers, model.loss
        self.X, self.y, self.n, self.eps, self.fast = X, y, len(X), eps, fast
        self.slots = model.slots()
        self.calls = [Calls(layer, fast) for layer in self.layers]
        self.loss_calls = Calls(self.loss, fast, is_loss=True, y=y)
        self.random = Randomness(*self.layers, self.loss)
        model.train()
        for layer in self.layers:
            freeze(layer)
        self.P0 = model.penalty()
        before = self._zeroed()
        self.random.rewind()
        self.first = training.step(model, X, y)
        own = is_own(model) and self.loss_calls.own  # minnet's own code: no copies, no repeat
        if not own:
            self.random.rewind()
        self.step = self.first if own else training.step(model, X, y)  # what later steps get
        self.grads, self.unusable = self.step.grads, self.step.unusable
        if not own:
            self._zeroed()
        self.random.rewind()
        self.inputs, self.J0 = self._pass()
        self.atol = round_off(self.J0)
        self.copied = None if own else self._copied_backward()
        self.changes = self._changes()
        steady = self.first.loss == self.step.loss == self.J0  # False when J is NaN
        self.steady = steady or not np.isfinite(self.J0)  # False: J is not a function of θ
        self.unstable = None if steady else self._unstable()
        self._why: str | None = None  # unstable_why's answer, once asked
        self.unlisted = {s.name: self._unlisted_readers(s) for s in self.slots} if steady else {}
        self.repeated = repeat_backward(before, self.first.grads, self.step.grads,
                                        1e-3 * self.atol) if steady else {}

    def _zeroed(self) -> dict:
        """Set every grads array to 0 in place (so that += shows as exactly 2x); return what
        could not be zeroed (an array that is not writeable), the rest being 0."""
        for layer in self.layers:
            zero_grads(layer)
        if not self._frozen():
            return {}
        return {k: g for k, g in training.read_all(self.model, self.n)[0].items() if np.any(g)}

    def _frozen(self) -> bool:
        """Does some layer keep a gradient array that cannot be written to (and so zeroed)?"""
        return any(isinstance(g, np.ndarray) and not g.flags.writeable
                   for layer in self.layers for g in getattr(layer, "grads", {}).values())

    def _pass(self):
        """Forward from X on copies, keeping the input of every layer and of the loss."""
        inputs, h = [], self.X
        for c in self.calls:
            inputs.append(h)
            h = c.forward(h)
        inputs.append(h)
        return inputs, self.loss_calls.forward(h) + self.model.penalty()

    def _copied_backward(self) -> dict | None:
        """After _pass: backward on copies of every upstream gradient; None if it breaks off."""
        try:
            d = self.loss_calls.backward(None)
            for c in reversed(self.calls[1:]):
                d = c.backward(d)
            self.calls[0].backward(d)
            for W, dW in self.model._penalized():
                dW += self.model.l2 * W
        except Exception:
            return None
        return training.read_all(self.model, self.n)[0]

    def _unlisted_readers(self, slot) -> list[int]:
        """Layers (len(layers): the loss) whose output moves with a parameter they do not
        hold in their params: they read it by reference, and J must be recomputed from them."""
        holders = {i for i, _ in slot.holders}
        others = [(j, c) for j, c in enumerate([*self.calls, self.loss_calls])
                  if j not in holders and not c.own]  # minnet's classes read their own only
        if not others:
            return []
        p = self.layers[slot.layer_index].params[slot.param]
        step = STEP * (1 + np.abs(p)) * np.random.default_rng(0).choice([-1.0, 1.0], p.shape)
        saved = p.copy()
        try:
            np.add(saved, step, out=p)
            return [j for j, c in others if self._moves(j, c)]
        finally:
            p[...] = saved

    def _moves(self, j, c) -> bool:
        """Does the output of layer j (the loss: its value) differ from the one stored?"""
        try:
            out = np.asarray(c.forward(self.inputs[j]), dtype=np.float64)
        except Exception:  # a forward that cannot run with the parameter moved: it reads it
            return True
        base = np.float64(self.J0 - self.P0) if c is self.loss_calls else self.inputs[j + 1]
        return out.shape != np.shape(base) or not np.allclose(out, base, rtol=1e-13, atol=0)

    def _changes(self) -> list[training.Change]:
        """Where training's first gradient differs from the same step on copies: who aliased."""
        if self.copied is None or self.first.stop is not None:
            return []
        same = all(np.allclose(g, self.copied[k], rtol=1e-9, equal_nan=True,
                               atol=1e-12 * np.nan_to_num(np.abs(g)).max(initial=1))
                   for k, g in self.first.grads.items() if k in self.copied)
        if same and self.first.loss == self.J0:
            return []
        self.random.rewind()
        return training.trace(self.model, self.X, self.y)

    def _unstable(self) -> int | None:
        """The first layer whose output differs between two identical forward passes."""
        self.random.rewind()
        inputs2, self.J1 = self._pass()
        return _first_difference(self.inputs, inputs2)

    def _not_finite(self) -> str:
        """Which layer's output first holds NaN or inf, when the loss does."""
        bad = next((i for i, out in enumerate(self.inputs[1:])
                    if not np.isfinite(np.asarray(out, dtype=np.float64)).all()), None)
        where = f"the output of layer {bad} ({type(self.layers[bad]).__name__})" \
            if bad is not None else f"the loss ({type(self.loss).__name__})"
        return (f"the loss is {self.J0!r} at these parameters: {where} is the first to hold NaN "
                f"or inf (a log or square root of a negative number, a division by 0, an "
                f"overflow?), so no gradient can be compared")

    def problems(self) -> list[str]:
        found = []
        if not np.isfinite(self.J0):
            found.append(self._not_finite())
        elif (self.unstable is not None or not self.first.loss == self.step.loss == self.J0) \
                and not self.step.moved:  # an update inside backward: said below, the cause
            why = self.unstable_why() if self.unstable is not None else (
                f"the loss ({type(self.loss).__name__}) changed, even with np.random and its "
                f"own Generators rewound. During a check it must be a fixed function of its "
                f"input.")
            found.append(f"nondeterminism: J = {self.first.loss!r} then {self.step.loss!r} at "
                         f"the same θ: {why}")
        if self.step.moved:
            found.append(self._updated())
        if self.step.stop is not None and self.step.stop.index is None:  # no layer to blame
            found.append(f"backward broke off: {self.step.stop.text}")
        return found

    def work(self, mode, samples, directions) -> int:
        sizes = [s.size for s in self.slots]
        per = {"full": sum(sizes), "sample": sum(min(samples, s) for s in sizes),
               "directional": directions * len(sizes)}
        return 2 * sum(per[m] for m in per if m in mode)

    def entries(self, slot, idx, eps=None, bar=None) -> Pairs:
        """J with entry idx[k] of a parameter moved by ±eps, and kink flags."""
        eps = eps or self.eps
        if slot.shared or self.unlisted.get(slot.name):
            moves = np.zeros((len(idx), slot.size))
            moves[np.arange(len(idx)), idx] = eps
            return self._shared(slot, moves.reshape(len(idx), *slot.shape), eps, bar)
        li, name = slot.layer_index, slot.param
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

    def directions(self, slot, dirs, eps=None, bar=None) -> Pairs:
        """J with a parameter moved by ±eps u for each unit direction u in dirs."""
        eps = eps or self.eps
        if slot.shared or self.unlisted.get(slot.name):
            return self._shared(slot, eps * dirs, eps, bar)
        li, name = slot.layer_index, slot.param
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

    def _shared(self, slot, moves, eps, bar) -> Pairs:
        """J with a shared array moved by ±m for each move m: the array itself moves, so every
        layer that reads it sees the change; plain passes from the first one on."""
        p = self.layers[slot.layer_index].params[slot.param]
        start = min([i for i, _ in slot.holders] + self.unlisted.get(slot.name, []))
        plus, minus, kinks = [], [], []
        for m in moves:
            (Jp, hp), (Jm, hm) = self._moved(p, m, start), self._moved(p, -m, start)
            bent = False
            for j, c in enumerate(self.calls[start:], start):
                outs = np.stack([hp[j + 1 - start], hm[j + 1 - start]])
                bent |= bool(met(c.obj, hp[j - start][None], hm[j - start][None],
                                 self.inputs[j], outs, self.inputs[j + 1])[0])
            bent |= bool(met(self.loss, hp[-1][None], hm[-1][None], self.inputs[-1],
                             y=self.y)[0])
            plus.append(Jp)
            minus.append(Jm)
            kinks.append(bent)
            if bar is not None:
                bar.update(2)
        return Pairs(np.array(plus), np.array(minus), np.array(kinks, dtype=bool), eps)

    def _moved(self, p, step, start) -> tuple[float, list]:
        """J and the inputs of layers[start:] and the loss, with p moved by step in place."""
        saved = p.copy()
        try:
            np.add(saved, step, out=p)
            trail, h = [], self.inputs[start]
            for c in self.calls[start:]:
                trail.append(h)
                h = c.forward(h)
            trail.append(h)
            return self.loss_calls.forward(h) + self.model.penalty(), trail
        finally:
            p[...] = saved

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
        """Exact change of 0.5 * l2 * Σ W² when entries w of a penalized W (a Dense's) move by d."""
        p = layer.params[name]
        if not any(W is p for W, _ in self.model._penalized()):
            return 0.0
        return 0.5 * self.model.l2 * (2 * w * d + d * d)

    def unstable_why(self) -> str:
        """Why the unstable layer gave another output for the same input (an update inside
        backward, a state carried between calls, or noise)."""
        if self._why is None:
            i = self.unstable
            who = f"layer {i} ({type(self.layers[i]).__name__})"
            self._why = f"{who}: {self._updated()}" if self.step.moved else \
                training.nondeterminism(who, self.layers[i], self.inputs[i])
        return self._why

    def _updated(self) -> str:
        """What an update inside backward does to the check."""
        return (f"backward changes {', '.join(self.step.moved)} itself (as an update W -= lr·dW "
                f"inside backward does): each forward then sees other parameters, so nothing "
                f"can be compared; leave the update to the optimizer")

    def _chunk(self, li) -> int:
        widest = max(np.size(a) for a in self.inputs[li + 1:])
        return max(1, STACK_BUDGET // (2 * widest)) if self.fast else 1


def _first_difference(inputs1, inputs2):
    """Index of the first layer whose output differs between two identical passes."""
    for i in range(len(inputs1) - 1):
        if not same(np.asarray(inputs1[i + 1]), np.asarray(inputs2[i + 1])):
            return i
    return None


def _same_nonzero(v, w) -> bool:
    return v is not None and w is not None and np.shape(v) == np.shape(w) \
        and np.abs(v).max(initial=0) > 0 and np.array_equal(v, w)


class LayerProbe:
    """J = Σ layer(x) * G (or a loss's value) under perturbations of x and of each parameter."""

    def __init__(self, layer, x, y, eps, seed, fast, dx_unused: bool = False) -> None:
        self.layer, self.x, self.y, self.eps, self.fast = layer, x, y, eps, fast
        self.params = dict(getattr(layer, "params", {}))
        # token ids (or the first layer of a model, whose dx no one uses): x is not perturbed,
        # and backward need not return dx
        self.ids = x.dtype.kind in "iu" or dx_unused
        self.is_loss = is_loss(layer)
        self.calls = Calls(layer, fast, self.is_loss, y)
        self.rng = np.random.default_rng(seed)
        freeze(layer)
        self.changes_input = self._changes_input()
        self.calls.states = self.states = self._states(self.calls.forward(x))
        out = self.calls.forward(x)
        if self.is_loss:
            self.G, self.J0, self.base_out = None, out, None
        else:
            self.G = self.rng.standard_normal(np.shape(out))
            self.J0, self.base_out = float(np.sum(out * self.G)), out
        zero_grads(layer)
        before = self._read()
        first = self._backward()
        self.unstable = not np.array_equal(np.asarray(self.calls.forward(x)), np.asarray(out))
        self.watch = Watch(layer)
        found = self._backward(self.watch)
        self.dx, self.dx_problem, self.grads, self.unusable, self.misshapen, self.moved = found
        self.repeated = {} if self.unstable else \
            {(0, k): why for k, why in repeat_backward(before, first.grads, self.grads,
                                                        1e-3 * round_off(self.J0)).items()}
        self._ignores: dict | None = None

    def dependence(self) -> dict[str, str]:
        """Which of your gradients stay the same when dout changes ("dout"), or when x changes
        while the true one does not ("x"). Measured once, when a diagnosis asks."""
        if self._ignores is None:
            self._ignores = self._dependence()
            self._again(self.x, self.G)  # leave the layer as the check found it: at (x, G)
        return self._ignores

    def restore(self) -> None:
        """Forward at x and backward of G once more: what the layer keeps is (x, G)'s again,
        whatever the probes since have run it on."""
        self._again(self.x, self.G)

    def _again(self, x, G) -> dict:
        """Your gradients (dx and grads) after a forward at x and a backward of G."""
        zero_grads(self.layer)
        self.calls.forward(x)
        b = backward_of(self.layer, self.params, lambda: self.calls.backward(G), x, self.ids,
                        self.states)
        return {"input": b.dx, **b.grads}

    def _dependence(self) -> dict[str, str]:
        found = {}
        here = self._again(self.x, self.G)
        if not self.is_loss:
            other = self._again(self.x, np.random.default_rng(1).standard_normal(self.G.shape))
            found = {k: "dout" for k, v in here.items() if _same_nonzero(v, other.get(k))}
        if not self.ids:
            noise = np.random.default_rng(2).standard_normal(self.x.shape)
            x2 = self.x + 0.1 * (1 + np.abs(self.x)) * noise
            moved = self._again(x2, self.G)
            found |= {k: "x" for k, v in here.items() if k not in found
                      and _same_nonzero(v, moved.get(k)) and self._truly_moves(k, x2)}
        return found

    def _truly_moves(self, key: str, x2: np.ndarray) -> bool:
        """Does the true gradient (along a random direction) change from x to x2?"""
        shape = self.x.shape if key == "input" else self.params[key].shape
        u = np.random.default_rng(3).standard_normal(shape)
        slopes = [self._directional(x0, key, u) for x0 in (self.x, x2)]
        return abs(slopes[0] - slopes[1]) > 1e-5 * (abs(slopes[0]) + abs(slopes[1])) + 1e-9

    def _directional(self, x0: np.ndarray, key: str, u: np.ndarray) -> float:
        """(J(θ + εu) − J(θ − εu)) / 2ε at input x0, θ the input or params[key]."""
        J = []
        for sign in (1.0, -1.0):
            if key == "input":
                out = self.calls.forward(x0 + sign * self.eps * u)
            else:
                out = self.calls.moved_along(self.params[key], sign * self.eps * u, x0)
            J.append(float(self.score(np.asarray(out)[None])[0]))
        return (J[0] - J[1]) / (2 * self.eps)

    def _states(self, out) -> dict[str, np.ndarray]:
        """Initial states a recurrent layer takes by keyword (h0=None, c0=None): random ones,
        so that its gradients dL/dh0 (self.dh0) and dL/dc0 count in J and are checked."""
        if self.is_loss:
            return {}
        try:
            params = inspect.signature(self.layer.forward).parameters
        except (TypeError, ValueError):
            return {}
        names = [k for k in STATES if k in params and params[k].default is None]
        if not names:
            return {}
        width, rng = np.shape(out)[-1], np.random.default_rng(self.rng.integers(2**31))
        return {k: 0.5 * rng.standard_normal((len(self.x), width)) for k in names}

    def state_entries(self, key, idx, eps) -> Pairs:
        """J with flat entry idx[k] of the initial state `key` moved by ±eps."""
        s = self.states[key]
        outs = [self.calls.moved(s, i, d, self.x) for d in (eps, -eps) for i in idx]
        J = self.score(np.stack(outs))
        return Pairs(J[:len(idx)], J[len(idx):], np.zeros(len(idx), dtype=bool), eps)

    def _changes_input(self) -> bool:
        x = self.x.copy()
        self.calls._call(x)  # not through Calls.forward, which would hand it a copy
        return not same(x, self.x)

    def _backward(self, watch=None) -> Backward:
        """Forward at x, backward of G; a Watch given keeps what backward's variables hold."""
        self.calls.forward(self.x)
        run = lambda: self.calls.backward(self.G)  # noqa: E731
        return backward_of(self.layer, self.params, (lambda: watch(run)) if watch else run,
                           self.x, self.ids, self.states)

    def _read(self) -> dict:
        return backward_of(self.layer, self.params, lambda: self.x, self.x, True).grads

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
