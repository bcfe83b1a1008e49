"""GradientChecker and check_layer: the verdict on every tensor, then the layers to blame.

When the model check fails, every layer and the loss is checked on its own, on the input it
saw in the model's forward pass, to name the layers whose backward is wrong (the suspects).
"""

from __future__ import annotations

import copy

import numpy as np

from .._progress import tqdm
from ..layers import Layer
from . import training, wiring
from .axes import of_input, of_param
from .calls import Calls
from .diagnose import diagnose
from .forward import facts as forward_facts
from .kinks import one_sided
from .numeric import DEFAULT_EPS, DEFAULT_TOL, rel_error
from .pairing import BOOKKEEPING, arrays_kept, held_numbers
from .probe import LayerProbe, ModelProbe, is_loss
from .report import CheckReport, LayerCheck, ParamCheck, layer_advice, severity
from .restore import Preserved
from .verdicts import (
    SECOND_LOOK,
    at_round_off,
    blame_downstream,
    judge,
    l2_hint,
    not_compared,
    round_off,
    second_look,
    unusable,
)

MODES = ("auto", "full", "sample", "directional")
FULL_LIMIT = 20_000  # "auto" checks every weight of a model with at most this many
SAMPLES = 24  # "auto" above FULL_LIMIT: entries per tensor ...
DIRECTIONS = 4  # ... and random directions per tensor
LAYER_SAMPLES = 96  # entries per tensor when a layer too big for a full check is checked alone
PROGRESS_FROM = 20_000  # perturbed passes from which a check shows a progress bar
U = np.finfo(np.float64).eps  # unit round-off of float64
FAR = 30  # eps is far from the bottom of the V when its noise is this many times the default's


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
            probe = ModelProbe(work, X, y, self.eps, self.fast)
            return self._check(work, probe, note)

    def _check(self, model, probe: ModelProbe, note: str | None) -> CheckReport:
        mode = self._mode(model)
        problems = probe.problems()
        checks, difference = self._tensors(probe, mode) if probe.steady else \
            ([_shared_by(not_compared(*_place(slot)), slot) for slot in probe.slots], float("nan"))
        passed = all(c.passed for c in checks) and not problems
        if passed:  # no numeric noise to explain: spare the passes that measure it
            return self._report(model, probe, mode, checks, difference, problems, note)
        noise = Noise(probe)
        if not problems and noise.far(self.eps):
            return self._eps_report(model, probe, mode, checks, difference, noise, note)
        report = self._report(model, probe, mode, checks, difference, problems, note)
        report.noise = noise.line(self.eps)
        return report

    def _report(self, model, probe, mode, checks, difference, problems, note) -> CheckReport:
        passed = all(c.passed for c in checks) and not problems
        wrong = any(c.status in ("FAIL", "accumulating", "not reached") for c in checks)
        layers = self._localize(model, probe) \
            if wrong and probe.unstable is None and np.isfinite(probe.J0) else []
        suspects = wiring.suspects(probe, checks, layers, not passed)
        blame_downstream(checks, suspects)
        report = CheckReport(passed, difference, mode, probe.eps, checks, layers, suspects,
                             self.tol, probe.J0, note, problems)
        report.atol = probe.atol
        if passed and probe.changes:
            report.warnings += [f"{c}; the gradients still agree here" for c in probe.changes]
        alone = {lc.layer_index: lc for lc in layers}
        for i in wiring.unverified(model.layers, probe.slots, checks):
            if i not in alone and probe.unstable is None:
                alone[i] = self._alone(model, probe, i, blame=False)
                if not alone[i].passed:
                    report.warnings.append(
                        f"layer {i} ({type(model.layers[i]).__name__}): its backward is wrong "
                        f"when checked alone ({alone[i].summary()}), though training here "
                        f"never uses it")
        report.accounts = wiring.accounts(model.layers, model.loss, probe.slots, checks, alone)
        report.advice = model_advice(report)
        return report

    def _alone(self, model, probe, i: int, blame: bool = True) -> LayerCheck:
        """Layer i alone; to name suspects, the first layer's dx is left out: training never
        uses it."""
        seed = int(np.random.default_rng(self.seed).integers(2**31))
        return _check_one(model.layers[i], probe.inputs[i], None, probe.eps, "auto", seed,
                          self.tol, i, self.fast, dx_unused=blame and i == 0)

    def _eps_report(self, model, probe, mode, checks, difference, noise, note) -> CheckReport:
        """eps is far from the bottom of the V: look again at the default before blaming."""
        probe.eps = DEFAULT_EPS
        again, difference_again = self._tensors(probe, mode)
        if not all(c.passed for c in again):
            report = self._report(model, probe, mode, again, difference_again, [], note)
            report.warnings.insert(0, f"eps={self.eps:g} is too far from the bottom of the "
                                      f"V ({noise.describe(self.eps)}); the results above "
                                      f"are at eps={DEFAULT_EPS:g}, the default.")
            return report
        for c in checks:
            if not c.passed:
                c.status, c.hint = "eps", "follows from eps: numeric error at this eps"
        problem = (f"eps: at eps={self.eps:g} the numeric slopes themselves are off "
                   f"({noise.describe(self.eps)}), the size of the differences above. At "
                   f"eps={DEFAULT_EPS:g} (the default) every tensor agrees with backprop: "
                   f"{noise.cause(self.eps)}, not your backward.")
        report = CheckReport(False, difference, mode, self.eps, checks, [], [], self.tol,
                             probe.J0, note, [problem], atol=probe.atol)
        report.noise = noise.line(self.eps)
        report.advice = (f"What to do: check again with eps={DEFAULT_EPS:g}; no layer is to "
                         f"blame. Between 1e-7 and 1e-4 round-off and truncation both stay "
                         f"small in float64.")
        return report

    def _mode(self, model) -> str:
        if self.mode != "auto":
            return self.mode
        return "full" if model.get_flat_params().size <= FULL_LIMIT else "sample+directional"

    def _tensors(self, probe, mode) -> tuple[list[ParamCheck], float]:
        """A ParamCheck for every tensor, and the difference over all of them."""
        rng = np.random.default_rng(self.seed)
        checks, a_all, n_all = [], [], []
        total = probe.work(mode, self.samples, self.directions)
        bar = tqdm(total=total, unit="pass", desc="gradient check", leave=False,
                   disable=not self.progress or total < PROGRESS_FROM)
        with bar:
            for slot in probe.slots:
                c, a, n = self._tensor(probe, slot, mode, rng, bar)
                checks.append(c)
                a_all.append(a)
                n_all.append(n)
        a, n = np.concatenate(a_all), np.concatenate(n_all)
        return checks, 0.0 if at_round_off(a, n, probe.atol) else rel_error(a, n)

    def _tensor(self, probe, slot, mode, rng, bar):
        """Check one tensor; returns its ParamCheck and the (analytic, numeric) compared."""
        g = probe.grads.get(slot.name)
        if g is None:
            c = unusable(slot.layer_index, slot.layer_name, slot.param, slot.shape,
                         probe.unusable[slot.name])
            return _shared_by(c, slot), np.zeros(0), np.zeros(0)
        size, found = slot.size, []
        if mode == "full" or "sample" in mode:
            idx = np.arange(size) if mode == "full" else \
                rng.choice(size, min(self.samples, size), replace=False)
            found.append(self._entries(probe, slot, g, idx, bar,
                                       "full" if mode == "full" else "sample"))
            if found[-1][0].status == "inconclusive" and mode != "full" and size > len(idx):
                others = np.setdiff1d(np.arange(size), idx)
                others = rng.choice(others, min(len(others), 4 * self.samples), replace=False)
                found[-1] = self._entries(probe, slot, g, others, bar, "sample")
        if "directional" in mode:
            dirs = _directions(rng, self.directions, slot.shape)
            a = dirs.reshape(len(dirs), -1) @ g.ravel()
            num, kinks, corners = numeric(a, lambda w, eps, bar=None: probe.directions(
                slot, dirs[w], eps, bar), probe.J0, probe.eps, self.tol, probe.atol, bar)
            found.append(self._verdict(probe, slot, g, a, num, kinks, np.arange(len(dirs)),
                                       "directional", corners))
            if found[-1][0].status == "inconclusive":  # every direction met a kink: entries
                idx = rng.choice(size, min(self.samples, size), replace=False)
                found[-1] = self._entries(probe, slot, g, idx, bar, "sample")
        found = [f for f in found if f[0].status != "inconclusive"] or found
        c = max((f[0] for f in found), key=severity)
        c.checked, c.kinks = sum(f[0].checked for f in found), sum(f[0].kinks for f in found)
        c.mode = mode if len(found) > 1 else c.mode
        return (_shared_by(c, slot), np.concatenate([f[1] for f in found]),
                np.concatenate([f[2] for f in found]))

    def _entries(self, probe, slot, g, idx, bar, mode):
        """Verdict on the flat entries idx of one tensor."""
        a = g.ravel()[idx]
        num, kinks, corners = numeric(a, lambda w, eps, bar=None: probe.entries(
            slot, idx[w], eps, bar), probe.J0, probe.eps, self.tol, probe.atol, bar)
        return self._verdict(probe, slot, g, a, num, kinks, idx, mode, corners)

    def _verdict(self, probe, slot, g, a, n, kinks, idx, mode, corners):
        """ParamCheck of one tensor, with the (analytic, numeric) pairs it compared."""
        layer = probe.layers[slot.layer_index]
        c = judge(a, n, kinks, idx, g, self.tol, probe.atol,
                  (slot.layer_index, slot.layer_name, slot.param), mode, probe.n,
                  probe.repeated.get(slot.name), corners)
        keep = ~kinks
        if not c.passed and c.status == "FAIL" and mode != "directional":
            c.hint = l2_hint(probe.model, layer, slot.param, a[keep], n[keep], idx[keep]) \
                or c.hint
        return c, a[keep], n[keep]

    def _localize(self, model, probe) -> list[LayerCheck]:
        """Check each layer, then the loss, on the input it saw in the model's forward pass;
        inside a block that fails, each of its layers on the input it saw there."""
        seed = int(np.random.default_rng(self.seed).integers(2**31))
        found = []
        for i, layer in enumerate(model.layers):
            lc = self._alone(model, probe, i)
            found += self._inside(layer, probe.inputs[i], lc, probe.eps, seed) \
                if hasattr(layer, "layers") and not lc.passed else [lc]
        found.append(_check_one(model.loss, probe.inputs[-1], probe.y, probe.eps, "auto", seed,
                                self.tol, len(model.layers), self.fast))
        return found

    def _inside(self, block, x, lc: LayerCheck, eps, seed) -> list[LayerCheck]:
        """The layers of a block that fails, checked alone on what they saw inside it; the
        block itself when they are all right (then how it combines them is wrong)."""
        found, h = [], x
        for j, layer in enumerate(block.layers):
            inner = _check_one(layer, h, None, eps, "auto", seed, self.tol, lc.layer_index,
                               self.fast)
            inner.path, inner.layer_name = (*lc.path, (j, inner.layer_name)), lc.layer_name
            if hasattr(layer, "layers") and not inner.passed:
                found += self._inside(layer, h, inner, eps, seed)
            else:
                found.append(inner)
            h = Calls(layer, fast=False).forward(h)
        return found if any(not f.passed for f in found) else [lc]


def _place(slot) -> tuple:
    return slot.layer_index, slot.layer_name, slot.param, slot.shape


def _shared_by(c: ParamCheck, slot) -> ParamCheck:
    """Name the other holders of a shared array on its row ("W = 2.W")."""
    c.also = tuple(f"{i}.{key}" for i, key in slot.holders[1:])
    return c


def numeric(a, pairs_at, J0, eps, tol, atol, bar=None):
    """Numeric values to compare with the analytic a, kinks left out, and how many kinks met.

    Centered differences first; entries that disagree get a second look at eps / 100 (a
    corner barely crossed); entries at a corner are compared one-sided. A tensor left with
    nothing to compare is tried once more at eps / 100. `pairs_at(positions, eps)` -> Pairs.
    """
    everything = slice(None)  # a view, not a copy, of a large stack of directions
    first = pairs_at(everything, eps, bar)
    num, kinks = first.slopes, first.kinks
    kinks = second_look(a, num, kinks, tol, atol, eps,
                        lambda w, e: pairs_at(w, e).slopes)
    corners = int(kinks.sum())
    num, kinks = one_sided(a, num, kinks, J0, pairs_at, eps, tol, atol)
    if len(a) and kinks.all():
        small = pairs_at(everything, eps / SECOND_LOOK)
        num, kinks = one_sided(a, small.slopes, small.kinks, J0, pairs_at, eps / SECOND_LOOK,
                               tol, atol)
    return num, kinks, corners


class Noise:
    """How far off a centered difference itself is, at any eps, for the J of this probe.

    round-off   about u·|J| / eps: J(θ+ε) − J(θ−ε) loses the digits the two have in common
    truncation  about c·eps²: the slope changes within ±eps; c is measured at eps = 1e-3
    """

    def __init__(self, probe, entries: int = 8) -> None:
        self.J = abs(probe.J0)
        wide = [s for s in probe.slots if s.name in probe.grads]
        picks = np.random.default_rng(0).permutation(len(wide))[:entries]
        c = []
        for slot in (wide[i] for i in picks):
            idx = np.array([np.argmax(np.abs(probe.grads[slot.name]))])
            one, two = probe.entries(slot, idx, 1e-3), probe.entries(slot, idx, 2e-3)
            if not (one.kinks | two.kinks).any():  # s(2ε) − s(ε) ≈ 3 c ε²
                c.append(abs(two.slopes[0] - one.slopes[0]) / 3 / 1e-6)
        self.c = float(np.median(c)) if c else 0.0

    def round_off(self, eps: float) -> float:
        return U * max(1.0, self.J) / eps

    def truncation(self, eps: float) -> float:
        return self.c * eps**2

    def total(self, eps: float) -> float:
        return self.round_off(eps) + self.truncation(eps)

    def far(self, eps: float) -> bool:
        return self.total(eps) > FAR * self.total(DEFAULT_EPS)

    def cause(self, eps: float) -> str:
        if self.round_off(eps) >= self.truncation(eps):
            return "round-off from too small an eps is the cause"
        return "truncation from too large an eps is the cause"

    def describe(self, eps: float) -> str:
        return (f"round-off ≈ {self.round_off(eps):.1e} (u·|J|/eps), truncation ≈ "
                f"{self.truncation(eps):.1e} (c·eps²) per slope")

    def line(self, eps: float) -> str:
        return f"numeric error expected at eps={eps:g}: {self.describe(eps)}"


def check_layer(layer, x: np.ndarray, y: np.ndarray | None = None, eps: float = DEFAULT_EPS,
                mode: str = "auto", seed: int = 0, tol: float = DEFAULT_TOL,
                fast: bool = True) -> LayerCheck:
    """Check one layer on input x (or a loss on scores x with targets y), left as it was.

    A layer is scored by J = Σ forward(x) * G for a fixed random G, so backward(G) must give
    dJ/dx and dJ/dθ. A loss is scored by its own value, and backward() must give dJ/dscores.
    """
    GradientChecker(eps=eps, mode=mode, tol=tol)  # validates the arguments
    _check_is_ready(layer)
    x = np.array(x)  # a copy: the caller's x is never touched
    if x.dtype.kind not in "iu":  # token ids stay integers; the rest is checked in float64
        x = x.astype(np.float64)
    if x.size == 0:
        raise ValueError(f"check_layer: {layer!r} needs a non-empty input, got shape {x.shape}")
    if is_loss(layer) and y is None:
        raise ValueError(f"check_layer: {layer!r} is a loss and needs its targets: y=...")
    result = _check_one(layer, x, y, eps, mode, seed, tol, 0, fast)
    result.in_model = False
    return result


def _check_is_ready(layer) -> None:
    """Mistakes that are not gradients: say what they are before anything runs."""
    if isinstance(layer, Layer) and not all(hasattr(layer, a) for a in ("params", "grads")):
        raise TypeError(f"check_layer: {type(layer).__name__} has no params or grads: does its "
                        f"__init__ call super().__init__()?")
    if not callable(getattr(layer, "forward", None)) or \
            not callable(getattr(layer, "backward", None)):
        raise TypeError(f"check_layer: {layer!r} needs a forward and a backward method")


def _check_one(layer, x, y, eps, mode, seed, tol, index, fast, dx_unused=False) -> LayerCheck:
    name, loss = type(layer).__name__, is_loss(layer)
    with Preserved([layer]):
        layer.input_grad = True  # alone, its input gradient is what we check
        probe = LayerProbe(_float64_layer(layer), x, y, eps, seed, fast, dx_unused)
        result = _layer_verdict(probe, mode, tol, index, name, loss)
        result.settings, result.keeps = settings(layer), keeps(probe.layer)
        if result.failed:  # numbers to work with, where some were compared
            said = " ".join(f for c in [result.input, *result.params] if c for f in c.findings)
            result.values = values(probe, said=said)
    if dx_unused and probe.x.dtype.kind not in "iu":
        result.notes.append("its dx is not checked: training never uses it (first layer)")
    return result


def settings(layer, most: int = 16) -> dict:
    """The numbers and words a layer keeps (alpha, eps, p, stride, ...): its settings; and the
    values of its small parameters (a gain, a gamma of a few features), which a formula needs."""
    found = {k.removeprefix("self."): v for k, v in held_numbers(layer, BOOKKEEPING).items()}
    found |= {k: v for k, v in vars(layer).items() if not k.startswith("_")
              and k not in BOOKKEEPING and isinstance(v, str)}
    for k, p in getattr(layer, "params", {}).items():
        if isinstance(p, np.ndarray) and 0 < p.size <= most and p.dtype.kind == "f":
            short = np.array([float(f"{v:.4g}") for v in p.ravel()])
            found[f"params[{k!r}]"] = short.reshape(p.shape).tolist()  # a matrix as its rows
    return found


def values(probe, most: int = 64, said: str = "") -> list[str]:
    """The numbers a guess is worked with by hand, where the settings leave them out: the
    parameters of more than 16 values (up to 3·`most`/2: a 3×3 kernel of 3 by 3 channels),
    x, y and dout (up to 3·`most` values each, else their first sample of up to 2·`most`),
    arrays of up to `most` values the layer keeps, and backward's own variables that a
    statement (`said`) names, as rows; before them, what forward made (forward.py)."""
    out = None if probe.base_out is None else np.shape(probe.base_out)
    arrays = [(f"params[{k!r}]", p, of_param(p.shape, probe.x.shape, out, probe.layer))
              for k, p in probe.params.items() if 16 < p.size <= 3 * most // 2]
    for name, v in (("x (its input)", probe.x), ("y (its output)", probe.base_out),
                    ("dout (G)", probe.G)):
        if v is None or np.asarray(v).dtype.kind != "f" or np.size(v) == 0:
            continue
        v = np.asarray(v)
        axes = of_input(v.shape, probe.is_loss)
        if v.size <= 3 * most:  # whole: x of a 4 × 3 × 4 × 4 image batch
            arrays.append((name, v, axes))
        elif v.ndim >= 3 and v[0].size <= 2 * most:  # an image's or a sequence's first sample
            arrays.append((f"{name} at sample 0", v[0], _AfterSamples(axes)))
    arrays += _small_kept(probe, most)
    arrays += [(f"`{k}` (a variable of backward)", v, None) for k, v in probe.watch.seen.items()
               if f"`{k}`" in said and 1 < v.size <= most]
    arrays += _inner_gradients(probe, most)
    lines = []
    for name, v, axes in arrays:
        lines += [f"{name} {v.shape}:", *_rows(v, axes)]
    made = [f"  - {fact}" for fact in forward_facts(probe)]
    made = ["", "What forward made (a backward differentiates what forward computes, so a "
            "mistake in forward shows here):", *made] if made else []
    return made + (["", "The numbers, to work a guess by hand:", *lines] if lines else [])


def _inner_gradients(probe, most: int, count: int = 2) -> list[tuple]:
    """Your backward's own gradients on the way (dA, dp: its variables named d...), small
    ones: where a guess about which step went wrong can be tested."""
    found = [(f"`{k}` (your backward's, on the way)", v, None)
             for k, v in probe.watch.own(probe.G).items()
             if k.startswith("d") and k != "dout" and 1 < v.size <= most]
    return found[:count]


class _AfterSamples:
    """The axis names of one sample of a tensor: those of the whole but its first."""

    def __init__(self, axes) -> None:
        self.axes = axes

    def name(self, axis: int) -> str:
        return self.axes.name(axis + 1)


def _small_kept(probe, most: int, count: int = 4) -> list[tuple]:
    """What the layer keeps from forward, when small (a ratio per pixel, a mask, an index):
    the arrays a formula of yours may have read."""
    found = []
    for name, v in arrays_kept(probe.layer):
        if 1 < v.size <= most and v.dtype.kind in "fiub" and not (
                v.shape == np.shape(probe.x) and np.array_equal(v, probe.x)):
            found.append((name, v.astype(np.float64), None))
    return found[:count]


def _rows(v: np.ndarray, axes) -> list[str]:
    """One line per row of the last two axes, under a heading per leading index."""
    v = v[None] if v.ndim == 1 else v
    width = max(len(f"{u:+.4g}") for u in v.ravel())
    lines = []
    for lead in np.ndindex(v.shape[:-2]):
        if lead:
            lines.append("  at " + ", ".join(f"{axes.name(i) if axes else 'index'} {k}"
                                             for i, k in enumerate(lead)))
        lines += ["    " + " ".join(f"{u:+.4g}".rjust(width) for u in row) for row in v[lead]]
    return lines


def keeps(layer, most: int = 8) -> list[str]:
    """'self.x (4, 5, 3)', 'self.cache[1] (4, 3)': the arrays a layer keeps, after a check."""
    return [f"{name} {u.shape}" + ("" if u.dtype.kind == "f" else f" {u.dtype}")
            for name, u in arrays_kept(layer)][:most]


def _compared(probe, mode, tol, atol, index, name) -> tuple:
    """The verdict on the layer's dx (None for integer ids) and on each parameter and state."""
    inp = None
    if probe.dx_problem:
        inp = unusable(index, name, "input", probe.x.shape, probe.dx_problem)
    elif not probe.ids:
        full, idx = _entries(probe, probe.x.size, mode)
        inp = _judged(probe, probe.dx, idx, full, tol, atol, (index, name, "input"),
                      lambda w, eps: probe.input_entries(idx[w], eps), None)
    params = []
    for key, p in probe.params.items():
        if key in probe.unusable:
            params.append(unusable(index, name, key, p.shape, probe.unusable[key]))
            continue
        full, idx = _entries(probe, p.size, mode)
        params.append(_judged(probe, probe.grads[key], idx, full, tol, atol, (index, name, key),
                              lambda w, eps, key=key, idx=idx:
                              probe.param_entries(key, idx[w], eps),
                              probe.repeated.get((0, key))))
    for key, s in probe.states.items():  # a recurrent layer's h0 (and c0): dL/dh0 in self.dh0
        if key in probe.unusable:
            params.append(unusable(index, name, key, s.shape, probe.unusable[key]))
        else:
            idx = np.arange(s.size)
            params.append(_judged(probe, probe.grads[key], idx, True, tol, atol,
                                  (index, name, key), lambda w, eps, key=key, idx=idx:
                                  probe.state_entries(key, idx[w], eps), None))
        params[-1].state = True
    return inp, params


def _layer_verdict(probe, mode, tol, index, name, loss) -> LayerCheck:
    atol = round_off(probe.J0)
    if probe.unstable:  # the numbers are noise: work none of them out
        inp = None if probe.ids else not_compared(index, name, "input", probe.x.shape)
        params = [not_compared(index, name, k, v.shape) for k, v in probe.params.items()]
        for key, v in probe.states.items():
            params.append(not_compared(index, name, key, v.shape))
            params[-1].state = True
    else:
        inp, params = _compared(probe, mode, tol, atol, index, name)
    diagnose(probe, inp, params, tol, atol)
    problems = []
    if probe.moved:
        problems.append(f"backward changes {', '.join(probe.moved)} itself (as an update "
                        f"W -= lr·dW inside backward does): each forward then sees other "
                        f"parameters; leave the update to the optimizer")
    if probe.unstable:
        problems.append("nondeterminism: " + training.nondeterminism(name, probe.layer, probe.x))
    out = np.asarray(probe.base_out if probe.base_out is not None else probe.J0)
    if out.dtype.kind == "f" and out.dtype.itemsize < 8 and any(not c.passed for c in params):
        problems.append(f"its forward returns {out.dtype} even on float64 input: centered "
                        f"differences keep about {np.finfo(out.dtype).precision} digits, so "
                        f"the numbers above may be round-off, not your backward (compute in "
                        f"x's dtype)")
    result = LayerCheck.of(index, name, inp, params, loss, problems)
    result.tol, result.atol = tol, atol
    if probe.x.dtype.kind in "iu":
        result.notes.append("its input holds integer ids, which have no gradient: only its "
                            "parameters are checked")
    if probe.changes_input:
        result.notes.append("forward changes its input in place (as x[x < 0] = 0 does): the "
                            "layer below may still need it; the checker worked on copies")
    return result


def _judged(probe, g, idx, full, tol, atol, where, pairs_at, accumulated) -> ParamCheck:
    """The verdict on entries idx of one tensor of a layer checked alone."""
    a = g.ravel()[idx]
    num, kinks, corners = numeric(a, lambda w, eps, bar=None: pairs_at(w, eps), probe.J0,
                                  probe.eps, tol, atol)
    return judge(a, num, kinks, idx, g, tol, atol, where, "full" if full else "sample",
                 len(probe.x), accumulated, corners)


def _entries(probe, size, mode) -> tuple[bool, np.ndarray]:
    """All entries ("full", or "auto" when small), else LAYER_SAMPLES random ones."""
    if mode == "full" or (mode == "auto" and size <= FULL_LIMIT):
        return True, np.arange(size)
    return False, probe.rng.choice(size, min(size, LAYER_SAMPLES), replace=False)


def _directions(rng, count, shape):
    """`count` random unit directions (count, *shape), entries ±1/√n: none is tiny."""
    signs = rng.integers(0, 2, (count, *shape), dtype=np.int8) * 2 - 1
    return signs / np.sqrt(signs[0].size)


def model_advice(report: CheckReport) -> str | None:
    """What to do next, fitted to the failure: a layer's backward, or the model around them."""
    if report.passed:
        return None
    if report.suspects:
        lines = [layer_advice(s) for s in report.suspects]
        if any(s.failed for s in report.suspects):
            lines.append("Failures of the tensors before a suspect can follow from its wrong "
                         "gradient: fix the suspect first.")
        return "\n".join(lines)
    if report.problems:
        return "What to do: fix the problems above; the numbers cannot be trusted until then."
    if all(c.passed or c.status == "inconclusive" for c in report.params):
        return ("What to do: nothing is known to be wrong, but some tensors could not be "
                "compared (every entry tried sits on a kink); check again on another batch.")
    if any((c.hint or "").startswith("l2:") for c in report.params):
        return ("What to do: Model.backward must add the l2 term's gradient, l2·W, to the "
                "grads of every Dense W exactly once.")
    return ("What to do: every layer passes on its own, so look at how the model combines "
            "them: Model.backward, the l2 term, or a layer whose gradient is not returned.")


def _float64(model):
    """The model itself when every array is float64; else a float64 copy, and a note."""
    kinds = {np.asarray(a).dtype for layer in model.layers for a in _arrays(layer)}
    if kinds <= {np.dtype(np.float64)}:
        return model, None
    work = copy.deepcopy(model)
    slots = work.slots()
    work.layers = [_float64_layer(layer, copied=True) for layer in work.layers]
    work._tie(slots)  # each layer cast its own arrays: shared ones are shared again
    names = ", ".join(sorted(str(k) for k in kinds))
    return work, f"checked on a float64 copy of this model ({names})"


def _float64_layer(layer, copied: bool = False):
    """The layer itself when its arrays are float64, else a copy with float64 arrays."""
    if all(np.asarray(a).dtype == np.float64 for a in _arrays(layer)):
        return layer
    layer = layer if copied else copy.deepcopy(layer)
    if isinstance(layer, Layer):
        return layer.astype(np.float64)
    for d in (layer.params, getattr(layer, "grads", {})):
        for k, v in d.items():
            d[k] = v.astype(np.float64) if isinstance(v, np.ndarray) else v
    return layer


def _arrays(layer) -> list:
    """A layer's params and state arrays (its grads are whatever its backward makes them)."""
    state = layer.state() if callable(getattr(layer, "state", None)) else {}
    return [a for d in (getattr(layer, "params", {}), state) for a in d.values()]
