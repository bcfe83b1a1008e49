"""Gradient checking: compare backprop with centered differences and say where it is wrong.

    numeric   dJ/dθᵢ ≈ (J(θ + ε eᵢ) - J(θ - ε eᵢ)) / 2ε
    error     ‖g - g_num‖ / (‖g‖ + ‖g_num‖), per parameter tensor and over all of them

A model is checked as it trains (training mode, Dropout masks held fixed, BatchNorm on batch
statistics), always in float64, and is left exactly as it was found. When the model check
fails, every layer and the loss is checked on its own to name the layers whose backward is wrong.
"""

from __future__ import annotations

import copy
import os
import sys
from dataclasses import asdict, dataclass, field

import numpy as np

from . import params as P
from ._progress import tqdm
from .layers import Dense

MODES = ("auto", "full", "sample", "directional")
# eps sits at the bottom of the float64 error-versus-eps V (eps_sweep): over 300 random
# correct networks the worst tensor's rel_error was 1.4e-7 at eps 1e-5, 2.2e-6 at 1e-6 and
# 4.1e-6 at 1e-7. The tolerance leaves a margin of 7 above that worst case; every planted
# bug (tests/planted.py) has a tensor above 1e-2.
DEFAULT_EPS = 1e-5
DEFAULT_TOL = 1e-6  # a tensor passes when its rel_error is at most this
ATOL = 1e-8  # ...or when no entry is off by more than this times max(1, |J|): round-off
FULL_LIMIT = 20_000  # "auto" checks every weight of a model with at most this many
SAMPLES = 24  # "auto" above FULL_LIMIT: entries per tensor ...
DIRECTIONS = 4  # ... and random directions per tensor
LAYER_SAMPLES = 96  # entries per tensor when a layer too big for a full check is checked alone
DEBUG_BATCH = 16  # samples checked by fit(debug=True)
STACK_BUDGET = 2**17  # floats per stacked pass: K perturbed copies of the batch at once
PROGRESS_FROM = 20_000  # perturbed passes from which a check shows a progress bar
BEND = 0.1  # second difference / first difference above this: an output has a corner
SECOND_LOOK = 100  # an entry that disagrees is tried again with eps / SECOND_LOOK


@dataclass
class ParamCheck:
    """The verdict on one tensor: a layer's parameter, or its input gradient ("input")."""

    layer_index: int
    layer_name: str
    param: str
    shape: tuple
    rel_error: float
    worst_index: tuple
    analytic: float
    numeric: float
    checked: int
    kinks: int
    passed: bool
    hint: str | None
    mode: str = "full"
    wrong: int = 0  # checked entries (or directions) whose own error is above tolerance
    errors: np.ndarray | None = field(default=None, repr=False)  # analytic - numeric per entry

    @property
    def where(self) -> str:
        if self.mode == "directional":
            return f"direction {self.worst_index[0]}" if self.worst_index else "-"
        return str(self.worst_index) if self.worst_index else "-"


@dataclass
class LayerCheck:
    """One layer (or the loss) checked on its own, with a random upstream gradient."""

    layer_index: int
    layer_name: str
    passed: bool
    input_rel_error: float | None
    params: list[ParamCheck]
    hint: str | None
    input: ParamCheck | None = None
    in_model: bool = True  # False for check_layer on a lone layer

    def __str__(self) -> str:
        verdict = "PASSED" if self.passed else f"FAILED: {self.hint}"
        who = f"layer {self.layer_index} ({self.layer_name})" if self.in_model else self.layer_name
        head = f"Layer check of {who} {verdict}"
        return head + "\n\n" + _table([c for c in [self.input, *self.params] if c is not None])

    def to_dict(self) -> dict:
        return _plain(asdict(self))


@dataclass
class CheckReport:
    """What GradientChecker.check found; str(report) is the table to read."""

    passed: bool
    difference: float
    mode: str
    eps: float
    params: list[ParamCheck]
    layers: list[LayerCheck]
    suspects: list[LayerCheck]
    tol: float = DEFAULT_TOL
    loss: float = float("nan")
    dtype_note: str | None = None
    problems: list[str] = field(default_factory=list)  # each one fails the check
    advice: str | None = None
    warnings: list[str] = field(default_factory=list)  # worth knowing, not a failure

    def to_dict(self) -> dict:
        return _plain(asdict(self))

    def __str__(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [f"Gradient check {verdict}: mode={self.mode}, eps={self.eps:g}, "
                 f"loss={self.loss:.6g}; a tensor passes when its rel_error <= {self.tol:g}",
                 f"difference over all parameters = {self.difference:.2e}   "
                 f"(‖g - g_num‖ / (‖g‖ + ‖g_num‖); each tensor gets its own verdict below)"]
        if self.dtype_note:
            lines.append(self.dtype_note)
        lines += ["", _table(self.params)]
        lines += [f"problem: {p}" for p in self.problems]
        lines += [f"warning: {w}" for w in self.warnings]
        if self.suspects:
            lines += ["", "Suspects: layers whose own backward is wrong, each checked alone:"]
            for s in self.suspects:
                lines.append(f"  layer {s.layer_index} {s.layer_name}: {s.hint or 'wrong'}")
            lines += ["", _table([c for s in self.suspects for c in [s.input, *s.params]
                                  if c is not None and not c.passed])]
        if self.advice:
            lines += ["", self.advice]
        return "\n".join(lines)


class GradientCheckError(AssertionError):
    """Raised by fit(debug=True) and testing.assert_gradients_ok; carries the report."""

    def __init__(self, report: CheckReport | LayerCheck) -> None:
        super().__init__(str(report))
        self.report = report


# ---- the checker ---------------------------------------------------------------------------


class GradientChecker:
    """Compare a model's backprop gradient with centered differences.

    mode "full" perturbs every weight, "sample" `samples` random entries per tensor,
    "directional" `directions` random directions per tensor; "auto" is full up to
    FULL_LIMIT weights, sample + directional above. `fast=False` turns off the shortcuts
    (stacked passes, Dense.nudged and nudged_along) and recomputes each perturbation layer
    by layer.
    """

    def __init__(self, eps: float = DEFAULT_EPS, mode: str = "auto", seed: int = 0,
                 progress: bool = True, tol: float = DEFAULT_TOL, samples: int = SAMPLES,
                 directions: int = DIRECTIONS, fast: bool = True) -> None:
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not np.isfinite(eps) \
                or eps <= 0:
            raise ValueError(f"GradientChecker: eps must be a finite number > 0, got {eps!r}")
        if mode not in MODES:
            raise ValueError(f"GradientChecker: unknown mode {mode!r}; expected one of {MODES}")
        if not tol > 0 or samples < 1 or directions < 1:
            raise ValueError("GradientChecker: tol must be > 0, samples and directions >= 1")
        self.eps, self.mode, self.seed, self.progress = float(eps), mode, seed, progress
        self.tol, self.samples, self.directions, self.fast = tol, samples, directions, fast

    def check(self, model, X: np.ndarray, y: np.ndarray) -> CheckReport:
        """Check `model` on the batch (X, y); the model is left bit for bit as it was."""
        if not model.parameters():
            raise ValueError("GradientChecker: the model has no parameters to check")
        with Preserved(model.layers + [model.loss]):
            work, note = _float64(model)
            X, y = work._check_data(X, y)
            probe = _Probe(work, X, y, self.eps, self.fast)
            return self._check(work, probe, note)

    def _check(self, model, probe: _Probe, note: str | None) -> CheckReport:
        rng = np.random.default_rng(self.seed)
        problems = probe.problems()
        mode = self._mode(model)
        checks, a_all, n_all = [], [], []
        total = probe.work(mode, self.samples, self.directions)
        bar = tqdm(total=total, unit="pass", desc="gradient check", leave=False,
                   disable=not self.progress or total < PROGRESS_FROM)
        with bar:
            for li, layer in enumerate(model.layers):
                for name, p in layer.params.items():
                    c, a, n = self._tensor(probe, li, name, p, mode, rng, bar)
                    checks.append(c)
                    a_all.append(a)
                    n_all.append(n)
        difference = _rel_error(np.concatenate(a_all), np.concatenate(n_all))
        passed = all(c.passed for c in checks) and not problems
        layers = [] if passed else self._localize(model, probe, rng)
        suspects = [lc for lc in layers if not lc.passed]
        _blame_downstream(checks, suspects)
        report = CheckReport(passed, difference, mode, self.eps, checks, layers, suspects,
                             self.tol, probe.J0, note, problems)
        report.advice = _advice(report, model)
        report.warnings = [f"layer {c.layer_index} {c.param}: every entry checked straddles a "
                           f"kink, so nothing was compared; try another batch" for c in checks
                           if c.checked == 0 and c.kinks]
        return report

    def _mode(self, model) -> str:
        if self.mode != "auto":
            return self.mode
        return "full" if model.get_flat_params().size <= FULL_LIMIT else "sample+directional"

    def _tensor(self, probe, li, name, p, mode, rng, bar):
        """Check one tensor; returns its ParamCheck and the (analytic, numeric) compared."""
        g = probe.grads[li].get(name)
        if g is None or g.shape != p.shape:
            c = _shape_mismatch(li, type(probe.layers[li]).__name__, name, p.shape,
                                None if g is None else g.shape)
            return c, np.zeros(0), np.zeros(0)
        found = []
        if mode == "full" or "sample" in mode:
            idx = np.arange(p.size) if mode == "full" else \
                rng.choice(p.size, min(self.samples, p.size), replace=False)
            num, kinks = probe.entries(li, name, idx, bar=bar)
            kinks = self._second_look(g.ravel()[idx], num, kinks, probe, lambda w, eps:
                                      probe.entries(li, name, idx[w], eps=eps)[0])
            found.append(self._verdict(probe, li, name, g, g.ravel()[idx], num, kinks, idx,
                                       "full" if mode == "full" else "sample"))
        if "directional" in mode:
            dirs = _directions(rng, self.directions, p.shape)
            num, kinks = probe.directions(li, name, dirs, bar=bar)
            a = dirs.reshape(len(dirs), -1) @ g.ravel()
            kinks = self._second_look(a, num, kinks, probe, lambda w, eps:
                                      probe.directions(li, name, dirs[w], eps=eps)[0])
            found.append(self._verdict(probe, li, name, g, a, num, kinks,
                                       np.arange(len(dirs)), "directional"))
        c = max((f[0] for f in found), key=lambda c: (not c.passed, c.rel_error))
        c.checked, c.kinks = sum(f[0].checked for f in found), sum(f[0].kinks for f in found)
        c.mode = mode if len(found) > 1 else c.mode
        return c, np.concatenate([f[1] for f in found]), np.concatenate([f[2] for f in found])

    def _second_look(self, a, n, kinks, probe, slopes_at):
        return second_look(a, n, kinks, self.tol, probe.atol, self.eps, slopes_at)

    def _verdict(self, probe, li, name, g, a, n, kinks, idx, mode):
        """ParamCheck of one tensor, with the (analytic, numeric) pairs it compared."""
        layer = probe.layers[li]
        c = judge(a, n, kinks, idx, g, self.tol, probe.atol,
                  (li, type(layer).__name__, name), mode, probe.n,
                  probe.accumulated.get((li, name)))
        keep = ~kinks
        if not c.passed and c.hint is None and mode != "directional":
            c.hint = _l2_hint(probe.model, layer, name, a[keep], n[keep], idx[keep])
        return c, a[keep], n[keep]

    def _localize(self, model, probe, rng) -> list[LayerCheck]:
        """Check each layer, then the loss, on the input it saw in the model's forward pass."""
        seed = int(rng.integers(2**31))
        found = [_check_one(layer, probe.inputs[i], None, self.eps, "auto", seed, self.tol,
                            i, self.fast) for i, layer in enumerate(model.layers)]
        found.append(_check_one(model.loss, probe.inputs[-1], probe.y, self.eps, "auto", seed,
                                self.tol, len(model.layers), self.fast))
        return found


def check_layer(layer, x: np.ndarray, y: np.ndarray | None = None, eps: float = DEFAULT_EPS,
                mode: str = "auto", seed: int = 0, tol: float = DEFAULT_TOL) -> LayerCheck:
    """Check one layer on input x (or a loss on scores x with targets y), left as it was.

    A layer is scored by J = Σ forward(x) * G for a fixed random G, so backward(G) must give
    dJ/dx and dJ/dθ. A loss is scored by its own value, and backward() must give dJ/dscores.
    """
    GradientChecker(eps=eps, mode=mode, tol=tol)  # validates the arguments
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        raise ValueError(f"check_layer: {layer!r} needs a non-empty input, got shape {x.shape}")
    if _is_loss(layer) and y is None:
        raise ValueError(f"check_layer: {layer!r} is a loss and needs its targets: y=...")
    result = _check_one(layer, x, y, eps, mode, seed, tol, 0, True)
    result.in_model = False
    return result


def _check_one(layer, x, y, eps, mode, seed, tol, index, fast) -> LayerCheck:
    with Preserved([layer]):
        layer.input_grad = True  # alone, its input gradient is what we check
        params = getattr(layer, "params", {})
        if any(p.dtype != np.float64 for p in params.values()):
            layer = copy.deepcopy(layer)  # checked in float64, on a copy
            layer.params = {k: p.astype(np.float64) for k, p in params.items()}
        return _LayerProbe(layer, x, y, eps, seed, fast).check(mode, tol, index)


# ---- evaluating J under perturbations ------------------------------------------------------


class _Probe:
    """The loss J of a model on one batch, recomputed from the layer whose tensor moved."""

    def __init__(self, model, X, y, eps, fast) -> None:
        self.model, self.layers, self.loss = model, model.layers, model.loss
        self.X, self.y, self.n, self.eps, self.fast = X, y, len(X), eps, fast
        model.train()
        for layer in model.layers:
            if hasattr(layer, "freeze"):
                layer.freeze()
        self.P0 = model.penalty()
        self.inputs, self.J0 = self._pass()
        self.atol = _round_off(self.J0)
        self.grads = self._backward()
        inputs2, self.J1 = self._pass()
        self.accumulated = _compare_grads(self.grads, self._backward())
        self.unstable = _first_difference(self.inputs, inputs2)

    def _pass(self):
        """Forward from X, keeping the input of every layer and of the loss."""
        inputs, h = [], self.X
        for layer in self.layers:
            inputs.append(h)
            h = layer.forward(h)
        inputs.append(h)
        return inputs, self.loss.forward(h, self.y) + self.model.penalty()

    def _backward(self):
        self.model.backward()
        return [{k: np.array(g, dtype=np.float64) for k, g in layer.grads.items()}
                for layer in self.layers]

    def problems(self) -> list[str]:
        found = []
        if self.J0 != self.J1:
            culprit = self.unstable
            where = (f"layer {culprit} ({self.layers[culprit]!r}) gave a different output for "
                     f"the same input" if culprit is not None else "the loss changed")
            found.append(f"nondeterminism: J = {self.J0!r} then {self.J1!r} at the same θ: "
                         f"{where}. It likely draws new random numbers or updates state on "
                         f"each call; give it a freeze() that keeps them fixed.")
        for (li, name), hint in self.accumulated.items():
            found.append(f"layer {li} {name}: {hint}")
        return found

    def work(self, mode, samples, directions) -> int:
        sizes = [p.size for p in self.model.parameters()]
        per = {"full": sum(sizes), "sample": sum(min(samples, s) for s in sizes),
               "directional": directions * len(sizes)}
        return 2 * sum(per[m] for m in per if m in mode)

    def entries(self, li, name, idx, eps=None, bar=None):
        """Numeric dJ/dθ at entries idx of layers[li].params[name], and their kink flags."""
        eps = eps or self.eps
        layer, x = self.layers[li], self.inputs[li]
        p = layer.params[name]
        nums, kinks = [], []
        k = self._chunk(li)
        for start in range(0, len(idx), k):
            part = idx[start:start + k]
            out, both, delta = _nudged(layer, x, name, part, eps, self.fast, self.inputs[li + 1])
            J, bent = self._downstream(out, li + 1)
            J += self._penalty_change(layer, name, p.flat[both], delta)
            nums.append(_slopes(J, eps))
            kinks.append(bent[:len(part)] | bent[len(part):])
            if bar is not None:
                bar.update(len(both))
        return np.concatenate(nums), np.concatenate(kinks)

    def directions(self, li, name, dirs, eps=None, bar=None):
        """Numeric directional derivatives dJ/dθ · u for each unit direction u in dirs (K, ...)."""
        eps = eps or self.eps
        layer, x = self.layers[li], self.inputs[li]
        p = layer.params[name]
        if self.fast and hasattr(layer, "nudged_along"):
            outs = layer.nudged_along(x, name, dirs, eps, base=self.inputs[li + 1])
        else:
            outs = np.stack([_moved_along(layer, p, sign * eps * u, x)
                             for sign in (1.0, -1.0) for u in dirs])
        J, bent = self._downstream(outs, li + 1)
        if self.model.l2:
            J += [np.sum(self._penalty_change(layer, name, p, sign * eps * u))
                  for sign in (1.0, -1.0) for u in dirs]
        if bar is not None:
            bar.update(len(outs))
        k = len(dirs)
        return _slopes(J, eps), bent[:k] | bent[k:]

    def _downstream(self, h, start):
        """Run layers[start:] and the loss on a stack h (K, N, F): J (K,) and kink flags (K,)."""
        half = len(h) // 2
        bent = np.zeros(len(h), dtype=bool)
        for layer, base_in, base_out in zip(self.layers[start:], self.inputs[start:],
                                            self.inputs[start + 1:]):
            out = _forward_stack(layer, h, self.fast)
            flags = _crosses(layer, h[:half], h[half:], base_in)
            if not _declared(layer):
                flags |= _bends(out[:half], out[half:], base_out)
            bent |= np.concatenate([flags, flags])
            h = out
        return _loss_stack(self.loss, h, self.y, self.fast) + self.P0, bent

    def _penalty_change(self, layer, name, w, d):
        """Exact change of 0.5 * l2 * Σ W² when entries w of a Dense W move by d."""
        if not (self.model.l2 and isinstance(layer, Dense) and name == "W"):
            return 0.0
        return 0.5 * self.model.l2 * (2 * w * d + d * d)

    def _chunk(self, li) -> int:
        widest = max(a.size for a in self.inputs[li + 1:])
        return max(1, STACK_BUDGET // (2 * widest)) if self.fast else 1


class _LayerProbe:
    """J = Σ layer(x) * G (or a loss's value) under perturbations of x and of each parameter."""

    def __init__(self, layer, x, y, eps, seed, fast) -> None:
        self.layer, self.x, self.y, self.eps, self.fast = layer, x, y, eps, fast
        self.is_loss = _is_loss(layer)
        self.rng = np.random.default_rng(seed)
        if hasattr(layer, "freeze"):
            layer.freeze()
        out = self._forward(x)
        if self.is_loss:
            self.G, self.J0, self.base_out = None, float(out), None
        else:
            self.G = self.rng.standard_normal(out.shape)
            self.J0, self.base_out = float(np.sum(out * self.G)), out
        self.dx, self.grads = self._backward()
        self.accumulated = _compare_grads([self.grads], [self._backward()[1]])

    def _forward(self, x):
        return self.layer.forward(x, self.y) if self.is_loss else self.layer.forward(x)

    def _backward(self):
        if self.is_loss:
            self._forward(self.x)
            dx = self.layer.backward()
        else:
            self._forward(self.x)
            dx = self.layer.backward(self.G)
        grads = {k: np.array(g, dtype=np.float64)
                 for k, g in getattr(self.layer, "grads", {}).items()}
        return np.asarray(dx, dtype=np.float64), grads

    def _score(self, outs):
        if self.is_loss:
            return np.asarray(outs, dtype=np.float64).reshape(-1)
        return (outs * self.G).reshape(len(outs), -1).sum(axis=1)

    def _stack(self, xs):
        """Layer outputs (or loss values) for a stack of inputs (K, N, F)."""
        if self.is_loss:
            return _loss_stack(self.layer, xs, self.y, self.fast)
        return _forward_stack(self.layer, xs, self.fast)

    def check(self, mode, tol, index) -> LayerCheck:
        name = type(self.layer).__name__
        atol = _round_off(self.J0)
        if self.dx.shape != self.x.shape:
            inp = _shape_mismatch(index, name, "input", self.x.shape, self.dx.shape)
        else:
            full, idx = self._entries(self.x.size, mode)
            num, kinks = self._input_entries(idx, self.eps)
            kinks = second_look(self.dx.ravel()[idx], num, kinks, tol, atol, self.eps,
                                lambda w, eps: self._input_entries(idx[w], eps)[0])
            inp = judge(self.dx.ravel()[idx], num, kinks, idx, self.dx, tol, atol,
                        (index, name, "input"), "full" if full else "sample", len(self.x))
        params = [self._param(index, name, k, p, tol, atol, mode)
                  for k, p in getattr(self.layer, "params", {}).items()]
        checks = [inp, *params]
        failed = [c for c in checks if not c.passed]
        hint = None
        if failed:
            worst = max(failed, key=lambda c: c.rel_error)
            hint = f"{worst.param}: {worst.hint}" if worst.hint else \
                f"{worst.param} gradient wrong (rel_error {worst.rel_error:.1e})"
        return LayerCheck(index, name, not failed, inp.rel_error, params, hint, inp)

    def _input_entries(self, idx, eps):
        """Numeric dJ/dx at flat entries idx of x, and their kink flags."""
        nums, kinks = [], []
        k = max(1, STACK_BUDGET // (2 * max(self.x.size, np.size(self.base_out)))) \
            if self.fast else 1
        for start in range(0, len(idx), k):
            part = idx[start:start + k]
            xs = np.repeat(self.x[None], 2 * len(part), axis=0)
            flat = xs.reshape(len(xs), -1)
            flat[np.arange(len(part)), part] += eps
            flat[len(part) + np.arange(len(part)), part] -= eps
            outs = self._stack(xs)
            J = outs if self.is_loss else self._score(outs)
            nums.append(_slopes(J, eps))
            flags = _crosses(self.layer, xs[:len(part)], xs[len(part):], self.x)
            if not self.is_loss and not _declared(self.layer):
                flags |= _bends(outs[:len(part)], outs[len(part):], self.base_out)
            kinks.append(flags)
        return np.concatenate(nums), np.concatenate(kinks)

    def _param(self, index, name, key, p, tol, atol, mode) -> ParamCheck:
        g = self.grads.get(key)
        if g is None or g.shape != p.shape:
            return _shape_mismatch(index, name, key, p.shape, None if g is None else g.shape)
        full, idx = self._entries(p.size, mode)
        num, kinks = self._param_entries(key, idx, self.eps)
        kinks = second_look(g.ravel()[idx], num, kinks, tol, atol, self.eps,
                            lambda w, eps: self._param_entries(key, idx[w], eps)[0])
        return judge(g.ravel()[idx], num, kinks, idx, g, tol, atol, (index, name, key),
                     "full" if full else "sample", len(self.x), self.accumulated.get((0, key)))

    def _param_entries(self, key, idx, eps):
        """Numeric dJ/dθ at flat entries idx of params[key], and their kink flags."""
        outs, _, _ = _nudged(self.layer, self.x, key, idx, eps, self.fast, self.base_out)
        kinks = np.zeros(len(idx), dtype=bool) if _declared(self.layer) else \
            _bends(outs[:len(idx)], outs[len(idx):], self.base_out)
        return _slopes(self._score(outs), eps), kinks

    def _entries(self, size, mode) -> tuple[bool, np.ndarray]:
        """All entries ("full", or "auto" when small), else LAYER_SAMPLES random ones."""
        if mode == "full" or (mode == "auto" and size <= FULL_LIMIT):
            return True, np.arange(size)
        return False, self.rng.choice(size, min(size, LAYER_SAMPLES), replace=False)


def _nudged(layer, x, name, idx, eps, fast, base):
    """Layer outputs with entry idx[k] of params[name] at +eps (first K copies), then -eps.

    `base` is the layer's output before any change. Returns the stack (2K, N, out), and the
    entries and steps it used.
    """
    both = np.concatenate([idx, idx])
    delta = np.repeat([eps, -eps], len(idx))
    if fast and hasattr(layer, "nudged"):
        return layer.nudged(x, name, both, delta, base=base), both, delta
    p = layer.params[name]
    return np.stack([_moved(layer, p, i, d, x) for i, d in zip(both, delta)]), both, delta


def _slopes(J, eps):
    """Centered differences from the values J(+eps) (first half) and J(-eps) (second half)."""
    k = len(J) // 2
    return (J[:k] - J[k:]) / (2 * eps)


def _moved(layer, p, i, d, x):
    """layer.forward(x) with entry p.flat[i] moved by d, then put back exactly."""
    old = p.flat[i]
    try:
        p.flat[i] = old + d
        return layer.forward(x)
    finally:
        p.flat[i] = old


def _moved_along(layer, p, step, x):
    """layer.forward(x) with the whole tensor p moved by step, then put back exactly."""
    saved = p.copy()
    try:
        np.add(saved, step, out=p)
        return layer.forward(x)
    finally:
        p[...] = saved


def _forward_stack(layer, h, fast):
    """Forward a stack (K, N, F) in one call when the layer allows it, else copy by copy."""
    if fast and getattr(layer, "stackable", False):
        return layer.forward(h)
    return np.stack([layer.forward(hk) for hk in h])


def _loss_stack(loss, scores, y, fast):
    """Loss values (K,) for a stack of scores (K, N, C): one call to `values` when it exists."""
    if fast and hasattr(loss, "values"):
        return loss.values(scores, y)
    return np.array([loss.forward(s, y) for s in scores])


def _crosses(layer, plus, minus, base):
    """Per perturbation: does some input of a layer with a kink cross it (ReLU: x = 0)?"""
    k = getattr(layer, "kink", None)
    if k is None:
        return np.zeros(len(plus), dtype=bool)
    side = base > k
    flip = ((plus > k) != side) | ((minus > k) != side)
    return flip.reshape(len(plus), -1).any(axis=1)


def _declared(layer) -> bool:
    """Does the layer say where its corners are (kink), or that it has none (smooth)?"""
    return getattr(layer, "smooth", False) or getattr(layer, "kink", None) is not None


def _bends(plus, minus, base):
    """Per perturbation: does some output bend between θ-ε and θ+ε (a corner, as in max)?

    A smooth output moves in a straight line at this scale: its second difference is tiny
    next to its first. A corner makes them comparable.
    """
    plus, minus = np.asarray(plus), np.asarray(minus)
    d1 = np.abs(plus - minus)
    d2 = np.abs(plus - 2 * base + minus)
    noise = 64 * np.finfo(np.float64).eps * (np.abs(plus) + np.abs(base) + np.abs(minus))
    return ((d2 > BEND * d1) & (d2 > noise)).reshape(len(plus), -1).any(axis=1)


def _directions(rng, count, shape):
    """`count` random unit directions (count, *shape), entries ±1/√n: none is tiny."""
    signs = rng.integers(0, 2, (count, *shape), dtype=np.int8) * 2 - 1
    return signs / np.sqrt(signs[0].size)


# ---- verdicts and hints -----------------------------------------------------------------


def _rel_error(a, n) -> float:
    """‖a - n‖ / (‖a‖ + ‖n‖), and 0 when both are zero."""
    denom = np.linalg.norm(a) + np.linalg.norm(n)
    return float(np.linalg.norm(a - n) / denom) if denom > 0 else 0.0


def second_look(a, n, kinks, tol, atol, eps, slopes_at):
    """Kink flags, plus the entries that disagree at eps but agree at eps / SECOND_LOOK.

    Such an entry's ±eps straddled a corner that a smaller step misses: a kink, not a bug.
    A wrong backward disagrees at every eps. `slopes_at(positions, eps)` recomputes them.
    """
    off = np.flatnonzero(~kinks & ~_agree(a, n, tol, atol))
    if len(off) == 0:
        return kinks
    kinks = kinks.copy()
    kinks[off[_agree(a[off], slopes_at(off, eps / SECOND_LOOK), tol, atol)]] = True
    return kinks


def _round_off(J) -> float:
    """The absolute error below which two slopes of J count as equal: ATOL * max(1, |J|)."""
    return ATOL * max(1, abs(J))


def _agree(a, n, tol, atol):
    """Entry by entry: |a - n| <= atol + tol (|a| + |n|)."""
    return np.abs(a - n) <= atol + tol * (np.abs(a) + np.abs(n))


def judge(a, n, kinks, idx, g, tol, atol, where, mode, batch, accumulated=None) -> ParamCheck:
    """Verdict on the entries that are not kinks; `where` = (layer_index, layer_name, param)."""
    keep = ~kinks
    c = compare(a[keep], n[keep], idx[keep], g, tol, atol, *where, mode, batch=batch)
    c.kinks = int(kinks.sum())
    if accumulated:
        c.passed, c.hint = False, accumulated
    return c


def compare(a, n, idx, g, tol, atol, layer_index, layer_name, param, mode,
            batch=None) -> ParamCheck:
    """Verdict on analytic values a against numeric n at flat entries idx of gradient g."""
    shape = tuple(np.shape(g))
    err = np.abs(a - n)
    # both sides at round-off level (a bias feeding BatchNorm): nothing relative to measure
    rel = _rel_error(a, n) if np.abs(np.concatenate([a, n])).max(initial=0) > atol else 0.0
    passed = bool((rel <= tol or err.max(initial=0) <= atol) and np.isfinite(a).all())
    w = int(np.argmax(err)) if len(err) else None
    where = () if w is None else (
        (int(idx[w]),) if mode == "directional" else tuple(int(i) for i in
                                                            np.unravel_index(idx[w], shape)))
    wrong = int(np.count_nonzero(~_agree(a, n, tol, atol)))
    hint = None if passed else pattern(a, n, g, idx, mode, batch)
    errors = None
    if not passed and mode != "directional":
        errors = np.full(shape, np.nan)
        errors.flat[idx] = a - n
    return ParamCheck(layer_index, layer_name, param, shape, rel, where,
                      float(a[w]) if w is not None else 0.0,
                      float(n[w]) if w is not None else 0.0,
                      len(a), 0, passed, hint, mode, wrong, errors)


def pattern(a, n, g=None, idx=None, mode="full", batch=None) -> str | None:
    """Name the shape of a wrong gradient: zero, sign, factor c, transposed; None otherwise."""
    na, nn = np.linalg.norm(a), np.linalg.norm(n)
    if not np.isfinite(a).all():
        return "not finite: the analytic gradient holds NaN or inf"
    if nn == 0:
        return None
    if na <= 1e-12 * nn:
        return "zero: the analytic gradient is all zeros (never computed, or never stored)"
    mask = _mask_pattern(a, n)
    if mask:
        return mask
    if g is not None and mode != "directional" and g.ndim == 2 and g.shape[0] == g.shape[1]:
        if _rel_error(g.T.ravel()[idx], n) < 1e-4:
            return "transposed: analytic ≈ numericᵀ (check the order in the matrix product)"
    c = float(np.dot(a, n) / np.dot(n, n))
    if _rel_error(a, c * n) > 1e-3:
        return None
    if abs(c + 1) < 1e-3:
        return "sign: analytic ≈ -numeric (a minus sign is flipped)"
    text = f"factor: analytic ≈ {c:.4g} × numeric"
    if batch and batch > 1 and abs(c - batch) < 1e-3 * batch:
        text += f" (a missing division by the batch size N = {batch}?)"
    elif batch and batch > 1 and abs(c * batch - 1) < 1e-3:
        text += f" (an extra division by the batch size N = {batch}?)"
    elif abs(c - 2) < 2e-3 or abs(c - 0.5) < 1e-3:
        text += " (a stray or missing factor 2, as in d(x²)/dx = 2x?)"
    return text


def _mask_pattern(a, n) -> str | None:
    """Entries where exactly one of analytic and numeric is zero: a mask gone wrong."""
    za, zn = a == 0, n == 0
    if np.mean(za != zn) >= 0.95 and zn.any() and not zn.all():
        return "inverted mask: analytic is zero exactly where numeric is not, and vice versa"
    leaked, lost = ~za & zn, za & ~zn
    if leaked.any() and not lost.any():
        return (f"mask ignored: analytic is nonzero at {int(leaked.sum())} of {len(a)} entries "
                f"where numeric is exactly zero (is a mask missing in backward?)")
    if lost.any() and not leaked.any() and _rel_error(a[~za], n[~za]) < 1e-4:
        return (f"partly zero: analytic is zero at {int(lost.sum())} of {len(a)} entries where "
                f"numeric is not, and right elsewhere (a branch of the derivative left out?)")
    return None


def _l2_hint(model, layer, name, a, n, idx) -> str | None:
    """Model-level pattern: the l2 term l2·W left out of (or added twice to) dW."""
    if not (model.l2 and isinstance(layer, Dense) and name == "W"):
        return None
    l2w = model.l2 * layer.params["W"].ravel()[idx]
    if _rel_error(a + l2w, n) < 1e-4:
        return f"l2: the gradient lacks the l2 term (analytic + l2·W ≈ numeric, l2 = {model.l2})"
    if _rel_error(a - l2w, n) < 1e-4:
        return f"l2: the l2 term l2·W is added twice (l2 = {model.l2})"
    return None


def _shape_mismatch(index, name, param, want, got) -> ParamCheck:
    hint = (f"transposed: the gradient has shape {got}, the tensor {want}"
            if got is not None and tuple(got) == tuple(want)[::-1]
            else f"shape: the gradient has shape {got}, the tensor {want}")
    return ParamCheck(index, name, param, tuple(want), 1.0, (), float("nan"), float("nan"),
                      0, 0, False, hint)


def _compare_grads(first, second) -> dict:
    """Gradients that changed between two backward calls at the same θ: accumulation."""
    found = {}
    for li, (g1, g2) in enumerate(zip(first, second)):
        for k in g1:
            if k in g2 and not np.array_equal(g1[k], g2[k]):
                ratio = float(np.vdot(g2[k], g1[k]) / max(np.vdot(g1[k], g1[k]), 1e-300))
                found[(li, k)] = (f"accumulating: a second backward gave {ratio:.3g} × the "
                                  f"first (overwrite grads with =, do not add with +=)")
    return found


def _first_difference(inputs1, inputs2):
    """Index of the first layer whose output differs between two identical passes."""
    for i in range(len(inputs1) - 1):
        if not np.array_equal(inputs1[i + 1], inputs2[i + 1]):
            return i
    return None


def _blame_downstream(checks: list[ParamCheck], suspects: list[LayerCheck]) -> None:
    """A tensor of a sound layer below a suspect fails because of the suspect: say so."""
    sound = {s.layer_index for s in suspects}
    for c in checks:
        later = [s for s in suspects if s.layer_index > c.layer_index]
        if not c.passed and c.layer_index not in sound and later:
            s = later[0]
            c.hint = (f"follows from layer {s.layer_index} ({s.layer_name}): this layer is "
                      f"right on its own")


def _advice(report: CheckReport, model) -> str | None:
    if report.passed:
        return None
    if report.suspects:
        names = ", ".join(f"layer {s.layer_index} ({s.layer_name})" for s in report.suspects)
        return (f"What to do: fix the backward of {names}. Each was checked alone and is wrong "
                f"by itself; failures of the tensors before it can follow from its gradient. "
                f"Check a fix with mn.check_layer(layer, x).")
    if report.problems:
        return "What to do: fix the problems above; the numbers cannot be trusted until then."
    return ("What to do: every layer passes on its own, so look at how the model combines "
            "them: Model.backward, the l2 term, or a layer whose gradient is not returned.")


# ---- tables and plumbing ------------------------------------------------------------------


def _table(checks: list[ParamCheck]) -> str:
    head = ("layer", "param", "shape", "checked", "wrong", "kinks", "rel_error", "worst at",
            "analytic", "numeric", "verdict", "hint")
    rows = [(f"{c.layer_index} {c.layer_name}", c.param, str(c.shape), str(c.checked),
             str(c.wrong), str(c.kinks), f"{c.rel_error:.1e}", c.where, f"{c.analytic:+.4e}",
             f"{c.numeric:+.4e}", _verdict_word(c), c.hint or "")
            for c in checks]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head) - 1)]
    fmt = lambda r: "  ".join(s.ljust(w) for s, w in zip(r, widths)) + "  " + r[-1]  # noqa: E731
    return "\n".join(fmt(r).rstrip() for r in [head, *rows])


def _verdict_word(c: ParamCheck) -> str:
    if not c.passed:
        return "FAIL"
    return "ok" if c.checked else "none checked (all kinks)"


def _plain(x):
    """Make dataclass dicts JSON-able: tuples to lists, numpy scalars to Python ones."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items() if k != "errors"}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def _is_loss(obj) -> bool:
    return not hasattr(obj, "params") and hasattr(obj, "forward") and hasattr(obj, "backward")


def _float64(model):
    if model.dtype == np.float64:
        return model, None
    note = f"checked on a float64 copy of this {model.dtype} model"
    return copy.deepcopy(model).astype(np.float64), note


class Preserved:
    """Context manager: put every array, flag and random state of some objects back as it was.

    It snapshots each object's attributes (arrays, dicts of arrays, numpy Generators, plain
    values) and restores them in place on exit, whether the block returned or raised.
    """

    def __init__(self, objects) -> None:
        self.objects = list(objects)

    def __enter__(self):
        self.saved = [{k: _snap(v) for k, v in vars(o).items()} for o in self.objects]
        return self

    def __exit__(self, *exc):
        for obj, saved in zip(self.objects, self.saved):
            for k in list(vars(obj)):
                if k not in saved:
                    delattr(obj, k)
            for k, v in saved.items():
                if v is not _KEEP:
                    setattr(obj, k, _put_back(getattr(obj, k, None), v))
        return False


_KEEP = object()  # an attribute the snapshot does not touch (functions, other objects)


def _snap(v):
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, np.random.Generator):
        return ("rng", copy.deepcopy(v.bit_generator.state))
    if isinstance(v, dict):
        return {k: _snap(x) for k, x in v.items()}
    if v is None or isinstance(v, (bool, int, float, str, tuple)):
        return v
    return _KEEP


def _put_back(current, saved):
    if isinstance(saved, np.ndarray):
        if isinstance(current, np.ndarray) and current.shape == saved.shape \
                and current.dtype == saved.dtype:
            current[...] = saved
            return current
        return saved
    if isinstance(saved, tuple) and len(saved) == 2 and saved[0] == "rng" \
            and isinstance(current, np.random.Generator):
        current.bit_generator.state = saved[1]
        return current
    if isinstance(saved, dict):
        current = current if isinstance(current, dict) else {}
        for k in list(current):
            if k not in saved:
                del current[k]
        for k, v in saved.items():
            if v is not _KEEP:
                current[k] = _put_back(current.get(k), v)
        return current
    return saved


# ---- debug mode ----------------------------------------------------------------------------


def debug_check(model, X: np.ndarray, y: np.ndarray, seed: int = 0) -> CheckReport:
    """fit(debug=True): check DEBUG_BATCH random samples in "auto" mode; raise if it fails."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(X), min(DEBUG_BATCH, len(X)), replace=False)
    report = GradientChecker(mode="auto", seed=seed, progress=False).check(model, X[idx], y[idx])
    if not report.passed:
        raise GradientCheckError(report)
    print(f"minnet debug: gradient check passed on {len(idx)} samples ({report.mode}, "
          f"difference {report.difference:.1e}, worst tensor "
          f"{max(c.rel_error for c in report.params):.1e})", file=sys.stderr)
    return report


def debug_requested(debug: bool) -> bool:
    """fit(debug=True), or MINNET_DEBUG set to anything but "" or "0"."""
    return debug or os.environ.get("MINNET_DEBUG", "") not in ("", "0")


# ---- the eps sweep --------------------------------------------------------------------------


def eps_sweep(model, X: np.ndarray, y: np.ndarray, eps_values=None,
              dtypes=(np.float64, np.float32), entries: int = 64, seed: int = 0) -> dict:
    """Relative error of centered differences against backprop, for each eps and dtype.

    Too large an eps: truncation error, about eps². Too small: round-off, about u / eps
    (u = 1.1e-16 in float64, 6e-8 in float32). The best eps sits at the bottom of the V.
    Returns {"eps": array, "float64": errors, "float32": errors, "default": DEFAULT_EPS}.
    """
    eps_values = np.logspace(-12, -1, 23) if eps_values is None else np.asarray(eps_values)
    with Preserved(model.layers + [model.loss]):
        ref = copy.deepcopy(model).astype(np.float64)
        probe = _Probe(ref, *ref._check_data(X, y), DEFAULT_EPS, fast=True)
        g = P.flatten([g for grads in probe.grads for g in grads.values()])
        picks = np.random.default_rng(seed).choice(g.size, min(entries, g.size), replace=False)
        out = {"eps": eps_values, "default": DEFAULT_EPS}
        for dtype in dtypes:
            m = copy.deepcopy(ref).astype(dtype)
            Xd = np.asarray(X, dtype=dtype)
            entries_of = [P.locate(m.slots(), i) for i in picks]
            errors = []
            for eps in eps_values:
                num = np.array([_slope(m, Xd, y, slot, entry, eps) for slot, entry in entries_of])
                errors.append(_rel_error(g[picks], num))
            out[np.dtype(dtype).name] = np.array(errors)
    return out


def _slope(model, X, y, slot, entry, eps) -> float:
    """Centered difference in the model's own dtype, over the step actually taken."""
    p = model.layers[slot.layer_index].params[slot.param]
    old = p[entry]
    try:
        p[entry] = old + p.dtype.type(eps)
        up, J_up = p[entry], model._loss(X, y)
        p[entry] = old - p.dtype.type(eps)
        down, J_down = p[entry], model._loss(X, y)
    finally:
        p[entry] = old
    return (J_up - J_down) / (float(up) - float(down)) if up != down else 0.0
