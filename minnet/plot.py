"""Figures: training history, gradients per time step, gradient-check report, eps sweep, error
heatmap, decision boundary, misclassified images, attention weights.

Each function builds a Figure, saves it when given a path (creating missing folders), and
returns it. In a notebook the returned Figure draws itself below the cell; in a script,
`fig.show()` opens it in a window (and waits until you close it), or save it.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.figure
import numpy as np
from matplotlib import colormaps
from matplotlib.colors import BoundaryNorm, ListedColormap, LogNorm
from matplotlib.patches import Rectangle

from .gradcheck import DEFAULT_TOL
from .layers import Recurrent

if TYPE_CHECKING:
    from .gradcheck import CheckReport, ParamCheck
    from .layers import MultiHeadAttention
    from .model import History, Model

# The bands drawn behind check reports and sweeps. Below the checker's tolerance a tensor
# passes; above it, it fails, and the rules of thumb of CS231n say how badly.
WRONG = 1e-2  # above: the gradient is wrong
SUSPICIOUS = 1e-4  # 1e-4 .. 1e-2: suspicious, unless the function has kinks
FLOOR = 1e-17  # a relative error of exactly 0 is drawn here, as a log axis cannot show 0

OK_COLOR, FAIL_COLOR, SUSPECT_COLOR = "#2a9d8f", "#d62828", "#7b2cbf"
BANDS = (  # (low, high, color, name); the tolerance cuts them where it falls
    (WRONG, 10.0, "#f4a3a3", "wrong"),
    (SUSPICIOUS, WRONG, "#fbd38d", "suspicious"),
    (0.0, SUSPICIOUS, "#fdf1c7", "fails: above the tolerance"),
)
PASS_BAND = ("#c9ecd6", "passes")


class Figure(matplotlib.figure.Figure):
    """A matplotlib Figure that pyplot does not keep, so it is freed like any object.

    Why not plt.figure()? pyplot keeps every figure it makes until plt.close: a loop that
    draws 100 histories would hold 100 figures (and warn after 20), and Jupyter would draw a
    returned pyplot figure twice (once as the cell's value, once as an open figure). So the
    figure stays out of pyplot until you ask to see it: Jupyter draws it through _repr_png_,
    and show() hands it to pyplot only then.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()

    def show(self, warn: bool = True) -> None:
        """Show the figure: a window in a script (until you close it), inline in a notebook."""
        import matplotlib.pyplot as plt  # only here: a script that saves never loads a GUI

        if self.canvas.manager is None:
            try:
                plt.figure(self)  # matplotlib >= 3.11 adopts a figure that pyplot did not make
            except ValueError:  # older: adopt it as 3.11 does
                from matplotlib._pylab_helpers import Gcf

                number = max(plt.get_fignums(), default=0) + 1
                Gcf._set_new_active_manager(
                    plt._get_backend_mod().new_figure_manager_given_figure(number, self))
        plt.show()


CLASS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf")


def _save(fig: Figure, path: str | os.PathLike | None) -> Figure:
    """Save `fig` to `path` (if any), creating the folder; return it."""
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


def _loggable(values) -> np.ndarray:
    """Errors ready for a log axis: 0 goes to FLOOR, NaN or inf to 1 (the largest rel_error)."""
    v = np.asarray(values, dtype=float)
    return np.where(np.isfinite(v), np.maximum(v, FLOOR), 1.0)


def _bands(ax, tol: float, vertical: bool = False) -> None:
    """Shade the bands of a relative error: passes (<= tol), then fails, suspicious, wrong."""
    span = ax.axvspan if vertical else ax.axhspan
    for low, high, color, name in BANDS:
        low = max(low, tol)
        if low < high:
            span(low, high, color=color, alpha=0.6, lw=0, zorder=0,
                 label=f"{name} (> {low:g})")
    span(FLOOR / 10, tol, color=PASS_BAND[0], alpha=0.6, lw=0, zorder=0,
         label=f"{PASS_BAND[1]} (<= {tol:g})")


# ---- training --------------------------------------------------------------------------


def history(history: History | dict, path: str | os.PathLike | None = None) -> Figure:
    """Loss and accuracy per epoch, train and validation, from Model.fit's History (or a dict)."""
    h = history if isinstance(history, dict) else history.to_dict()
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    for ax, key in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        for prefix, label, style in (("", "train", "-"), ("val_", "validation", "--")):
            values = h.get(prefix + key) or []
            if values and all(v is not None for v in values):
                ax.plot(np.arange(1, len(values) + 1), values, style, marker=".", label=label)
        ax.set(xlabel="epoch", ylabel=key, title=key.capitalize())
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    if not ax_acc.lines:
        ax_acc.text(0.5, 0.5, "no accuracy:\na regression loss (MSE)", ha="center",
                    va="center", transform=ax_acc.transAxes, color="gray")
    fig.suptitle("Training history")
    return _save(fig, path)


def time_gradients(models: Model | dict[str, Model], X: np.ndarray, y: np.ndarray,
                   histories: History | dict[str, History] | None = None,
                   path: str | os.PathLike | None = None) -> Figure:
    """The gradient at each time step, ‖dL/dh_t‖, next to the training curves.

    Left: ‖dL/dh_t‖ for t = 0 .. T-1 (log scale), of each model's first recurrent layer after
    one forward and backward on (X, y): the norm over the batch of what `layer.dh` holds. A
    line that falls steadily toward t = 0 is a vanishing gradient; one that rises, an exploding
    one. With `histories`, the loss per epoch (middle) and the global gradient norm before
    clipping (right), a ring where fit(clip_norm=) clipped steps in that epoch.
    models: a Model, or {label: Model} to compare (trained with and without clip_norm, say);
    histories: its History, or {label: History} with the same labels. The models' parameters
    and gradients are left as they were.
    """
    models = models if isinstance(models, dict) else {"model": models}
    if histories is not None and not isinstance(histories, dict):
        histories = {next(iter(models)): histories}
    fig = Figure(figsize=(15 if histories else 6, 4), layout="constrained")
    axes = fig.subplots(1, 3 if histories else 1, squeeze=False)[0]
    for label, model in models.items():
        norms = _step_norms(model, X, y)
        axes[0].plot(np.arange(len(norms)), norms, marker=".", label=label)
    axes[0].set(yscale="log", xlabel="time step t", ylabel="‖dL/dh_t‖",
                title="Gradient reaching each time step")
    for label, h in (histories or {}).items():
        epochs = np.arange(1, len(h.loss) + 1)
        line, = axes[1].plot(epochs, h.loss, marker=".", label=f"{label}, train")
        if h.val_loss:
            axes[1].plot(epochs, h.val_loss, "--", color=line.get_color(),
                         label=f"{label}, validation")
        axes[2].plot(epochs[:len(h.grad_norm)], h.grad_norm, marker=".", color=line.get_color(),
                     label=label)
        clipped = [e for e, n in zip(epochs, h.clipped) if n]
        if clipped:
            axes[2].plot(clipped, [h.grad_norm[e - 1] for e in clipped], "o", mfc="none",
                         ms=10, color=line.get_color(), label=f"{label}: steps clipped")
    if histories:
        axes[1].set(xlabel="epoch", ylabel="loss", title="Loss")
        axes[2].set(xlabel="epoch", ylabel="‖g‖ (mean over the epoch's steps)", yscale="log",
                    title="Global gradient norm before clipping")
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    return _save(fig, path)


def _step_norms(model: Model, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """‖dL/dh_t‖ per time step (T,) of the model's first recurrent layer; grads put back."""
    recurrent = [layer for layer in model.layers if isinstance(layer, Recurrent)]
    if not recurrent:
        raise ValueError("time_gradients: the model has no recurrent layer (RNN, LSTM, GRU)")
    saved = [{k: (g, np.array(g, copy=True)) for k, g in layer.grads.items()}
             for layer in model.layers]
    try:
        model.compute_loss(X, y)
        model.backward()
        dh = recurrent[0].dh  # (N, T, H)
        return np.sqrt(np.sum(dh**2, axis=(*range(dh.ndim - 2), -1)))  # over samples and units
    finally:
        for layer, grads in zip(model.layers, saved):
            for k, (array, values) in grads.items():
                array[...] = values  # a backward may have written into it, or replaced it
                layer.grads[k] = array


# ---- gradient checking -------------------------------------------------------------------


def _report_rows(report) -> list[tuple[str, object, str]]:
    """(tick label, ParamCheck, kind) per row: the model's tensors, then each suspect alone."""
    suspects = {s.layer_index for s in report.suspects}
    rows = []
    for c in report.params:
        kind = "ok" if c.passed else ("suspect" if c.layer_index in suspects else "fail")
        rows.append((f"{c.layer_index}.{c.param}  {c.layer_name} {c.shape}", c, kind))
    for s in report.suspects:
        for c in [s.input, *s.params]:
            if c is not None and not c.passed:
                rows.append((f"{s.layer_index}.{c.param}  {s.layer_name} alone", c, "alone"))
    return rows


def check_report(report: CheckReport, path: str | os.PathLike | None = None) -> Figure:
    """Relative error per tensor on a log axis, with the pass threshold and the usual bands.

    Rows are the model's tensors ("0.W", "0.b", ...), then, for each suspect layer, its own
    failed checks when tested alone ("1.input  ReLU alone"). Suspects are drawn in purple.
    """
    rows = _report_rows(report)
    fig = Figure(figsize=(9, 1.6 + 0.42 * len(rows)), layout="constrained")
    ax = fig.subplots()
    _bands(ax, report.tol, vertical=True)
    ys = np.arange(len(rows))
    errors = _loggable([c.rel_error for _, c, _ in rows])
    left = min(1e-12, errors.min() / 10)
    ax.hlines(ys, left, errors, color="gray", lw=1, zorder=2)
    styles = {"ok": (OK_COLOR, "o", "passed"), "fail": (FAIL_COLOR, "o", "failed"),
              "suspect": (SUSPECT_COLOR, "o", "failed, in a suspect layer"),
              "alone": (SUSPECT_COLOR, "D", "suspect layer checked alone")}
    for kind, (color, marker, label) in styles.items():
        pick = [i for i, row in enumerate(rows) if row[2] == kind]
        if pick:
            ax.plot(errors[pick], ys[pick], marker, color=color, ms=9, ls="none", zorder=3,
                    label=label)
    ax.axvline(report.tol, color="black", ls="--", lw=1.5, zorder=2,
               label=f"pass threshold (tol = {report.tol:g})")
    ax.set_xscale("log")
    ax.set_xlim(left, 2.0)
    ax.set_yticks(ys, [label for label, _, _ in rows])
    for tick, (_, _, kind) in zip(ax.get_yticklabels(), rows):
        if kind != "ok":
            tick.set_color(SUSPECT_COLOR if kind in ("suspect", "alone") else FAIL_COLOR)
            tick.set_fontweight("bold")
    ax.set_ylim(len(rows) - 0.5, -0.5)  # first tensor on top, as in str(report)
    ax.set_xlabel("relative error  ‖g − g_num‖ / (‖g‖ + ‖g_num‖)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    verdict = "PASSED" if report.passed else "FAILED"
    ax.set_title(f"Gradient check {verdict}  (mode {report.mode}, eps {report.eps:g}, "
                 f"difference {report.difference:.1e})", color="black" if report.passed
                 else FAIL_COLOR, fontweight="bold")
    if report.problems:
        fig.text(0.01, 0.0, "problem: " + report.problems[0][:110], fontsize="small",
                 color=FAIL_COLOR, va="bottom")
    return _save(fig, path)


def eps_sweep(sweep: dict, path: str | os.PathLike | None = None) -> Figure:
    """Relative error against eps on log-log axes, one curve per dtype, the default eps marked.

    `sweep` is what mn.gradcheck.eps_sweep returns. Right of the bottom of each V, the
    truncation error of the centered difference grows like eps²; left of it, round-off
    grows like u / eps (u: the dtype's unit round-off).
    """
    eps = np.asarray(sweep["eps"], dtype=float)
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.subplots()
    _bands(ax, DEFAULT_TOL)  # the tolerance GradientChecker uses unless told otherwise
    curves = [k for k in sweep if k not in ("eps", "default")]
    for name, color in zip(curves, ("#1d3557", "#e76f51", "#2a9d8f", "#8338ec")):
        err = _loggable(sweep[name])
        best = int(np.argmin(err))
        ax.plot(eps, err, "o-", color=color, ms=4, zorder=3,
                label=f"{name} (best eps ≈ {eps[best]:.0e})")
        ax.plot(eps[best], err[best], "*", color=color, ms=16, mec="black", zorder=4)
    ax.axvline(sweep["default"], color="black", ls="--", lw=1.5,
               label=f"default eps = {sweep['default']:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(eps.min() / 2, eps.max() * 2)
    ax.set_ylim(max(FLOOR, 0.01 * min(_loggable(sweep[k]).min() for k in curves)), 3.0)
    ax.text(0.02, 0.03, "← round-off: error ≈ u / eps\n(J(θ+ε) − J(θ−ε) keeps too few digits)",
            transform=ax.transAxes, fontsize="small")
    ax.text(0.98, 0.03, "truncation: error ≈ eps² →\n(the slope changes within ±ε)",
            transform=ax.transAxes, ha="right", fontsize="small")
    ax.set(xlabel="eps (step of the centered difference)",
           ylabel="relative error against backprop",
           title="Choosing eps: the error-versus-eps V (★ = bottom of each V)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    return _save(fig, path)


def error_heatmap(param_check: ParamCheck, path: str | os.PathLike | None = None) -> Figure:
    """|analytic − numeric| per entry of one failed tensor (a ParamCheck with `errors`).

    Entries that were not checked (sample mode) are gray. The worst entry is boxed.
    """
    if getattr(param_check, "errors", None) is None:
        raise ValueError(
            f"error_heatmap: tensor {param_check.layer_index}.{param_check.param} has no "
            f"per-entry errors: only tensors that failed in 'full' or 'sample' mode carry them "
            f"(pass one with passed=False, from GradientChecker(mode='full'))")
    err = np.abs(np.asarray(param_check.errors, dtype=float))
    grid = err.reshape(1, -1) if err.ndim == 1 else err.reshape(err.shape[0], -1)
    top = np.nanmax(grid) if np.isfinite(grid).any() else 1.0
    low = max(np.nanmin(np.where(grid > 0, grid, np.nan)), top * 1e-8) if top > 0 else 1e-17
    cmap = colormaps["viridis"].with_extremes(bad="#cccccc")
    fig = Figure(figsize=(7, 1.8 if err.ndim == 1 else 5.5), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(np.where(np.isnan(grid), np.nan, np.maximum(grid, low)), cmap=cmap,
                      norm=LogNorm(low, max(top, low * 10)), aspect="auto",
                      interpolation="nearest")
    fig.colorbar(image, ax=ax, label="|analytic − numeric|")
    worst = param_check.worst_index
    if worst and len(worst) == err.ndim:
        row, col = np.unravel_index(np.ravel_multi_index(worst, err.shape), grid.shape)
        ax.add_patch(_box(col, row))
    ax.set(xlabel="column (axis 1)" if err.ndim > 1 else "entry",
           ylabel="row (axis 0)" if err.ndim > 1 else "")
    if err.ndim == 1:
        ax.set_yticks([])
    c = param_check
    ax.set_title(f"{c.layer_index}.{c.param} ({c.layer_name} {c.shape}): rel_error "
                 f"{c.rel_error:.1e}, worst at {c.where}\n{c.hint or ''}", fontsize="medium")
    return _save(fig, path)


def _box(x: float, y: float) -> Rectangle:
    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, ec="red", lw=2, label="worst entry")


# ---- classifiers -------------------------------------------------------------------------


def _labels(model, X: np.ndarray) -> np.ndarray:
    """Predicted class per row; an MSE model's outputs are read as scores (or one probability)."""
    out = np.asarray(model.predict(X))
    if out.ndim == 2:
        out = out.argmax(axis=1) if out.shape[1] > 1 else (out[:, 0] > 0.5)
    return out.astype(int)


def decision_boundary(model: Model, X: np.ndarray, y: np.ndarray,
                      path: str | os.PathLike | None = None, resolution: int = 200) -> Figure:
    """The class a 2-D classifier predicts over the plane, with the data points on top.

    Misclassified points get a black ring.
    """
    X, y = np.asarray(X, dtype=float), np.asarray(y).astype(int)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary: needs 2-D points X of shape (N, 2), got {X.shape}")
    if resolution < 2:
        raise ValueError(f"decision_boundary: resolution must be at least 2, got {resolution}")
    pad = 0.1 * (X.max(axis=0) - X.min(axis=0)) + 1e-9
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    regions = _labels(model, np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    pred = _labels(model, X)
    k = int(max(regions.max(), pred.max(), y.max())) + 1
    cmap = ListedColormap([CLASS_COLORS[i % len(CLASS_COLORS)] for i in range(k)])
    norm = BoundaryNorm(np.arange(k + 1) - 0.5, k)
    fig = Figure(figsize=(6, 5.5), layout="constrained")
    ax = fig.subplots()
    ax.contourf(gx, gy, regions, levels=np.arange(k + 1) - 0.5, cmap=cmap, norm=norm, alpha=0.3)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, norm=norm, s=18, edgecolors="white",
               linewidths=0.5, zorder=3)
    wrong = pred != y
    if wrong.any():
        ax.scatter(X[wrong, 0], X[wrong, 1], s=70, facecolors="none", edgecolors="black",
                   linewidths=1.2, zorder=4, label=f"misclassified ({int(wrong.sum())})")
        ax.legend(loc="lower right", fontsize="small")
    ax.set(xlabel="x₁", ylabel="x₂", xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]),
           title=f"Decision boundary: accuracy {np.mean(~wrong):.1%} on these {len(X)} points")
    return _save(fig, path)


def misclassified(model: Model, X: np.ndarray, y: np.ndarray, shape: tuple[int, int] = (8, 8),
                  max_images: int = 25, path: str | os.PathLike | None = None) -> Figure:
    """A grid of the images the model gets wrong, each titled true → predicted (confidence)."""
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim < 2 or X[0].size != math.prod(shape):  # rows of pixels, or images (N, 1, H, W)
        raise ValueError(f"misclassified: rows of X must hold {math.prod(shape)} pixels "
                         f"to be shown as {shape} images, got X of shape {X.shape}")
    pred = _labels(model, X)
    wrong = np.flatnonzero(pred != y)
    shown = wrong[:max_images]
    confidence = _confidence(model, X[shown], pred[shown])
    cols = max(1, math.ceil(math.sqrt(len(shown))))
    rows = max(1, math.ceil(len(shown) / cols))
    fig = Figure(figsize=(1.5 * cols + 0.5, 1.6 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, i, p in zip(axes, shown, confidence):
        ax.imshow(X[i].reshape(shape), cmap="gray_r", interpolation="nearest")
        note = f" ({p:.0%})" if p is not None else ""
        ax.set_title(f"{y[i]} → {pred[i]}{note}", fontsize="small", color=FAIL_COLOR)
    if not len(shown):
        axes[0].text(0.5, 0.5, "no misclassified images", ha="center", va="center")
    fig.suptitle(f"Misclassified: {len(wrong)} of {len(X)} (showing {len(shown)}); "
                 f"true → predicted (confidence)")
    return _save(fig, path)


def _confidence(model, X: np.ndarray, pred: np.ndarray) -> list:
    """The probability the model gave to its (wrong) prediction, or None without one."""
    if not len(X):
        return []
    try:
        proba = np.asarray(model.predict_proba(X))
    except (TypeError, AttributeError):
        return [None] * len(X)
    if proba.ndim == 1:  # SigmoidBCE: P(y = 1)
        proba = np.column_stack([1 - proba, proba])
    return [float(proba[k, p]) for k, p in enumerate(pred)]


# ---- an elementwise layer's derivative -----------------------------------------------------


def derivatives(check, path: str | os.PathLike | None = None) -> Figure:
    """Your dy/dx and the true one against x, for a failed elementwise layer.

    `check` is a LayerCheck (from mn.check_layer or report.suspects), its input ParamCheck, or
    the Derivatives table itself (check.input.derivatives). The shown rows are circled.
    """
    d = getattr(getattr(check, "input", check), "derivatives", check)
    if not hasattr(d, "points"):
        raise ValueError("derivatives: no derivative table here; only a failed check of an "
                         "elementwise layer's input gradient has one (layer_check.input."
                         "derivatives)")
    x, _, yours, true = np.array(d.points).T
    order = np.argsort(x)
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    ax.plot(x[order], true[order], "-o", color=OK_COLOR, ms=4, label="true dy/dx (numeric / G)")
    ax.plot(x[order], yours[order], "--s", color=FAIL_COLOR, ms=4,
            label="your dy/dx (analytic / G)")
    rows = np.array([r[0] for r in d.rows]), np.array([r[2] for r in d.rows])
    ax.plot(*rows, "o", mfc="none", mec="black", ms=11, label="rows of the table")
    ax.axhline(0, color="gray", lw=0.8)
    ax.axvline(0, color="gray", lw=0.8)
    ax.set(xlabel="x (the layer's input)", ylabel="dy/dx")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(d.hint or (d.pattern[0] if d.pattern else ""), fontsize="small", wrap=True)
    return _save(fig, path)


# ---- attention -----------------------------------------------------------------------------


def attention(layer: MultiHeadAttention, sample: int = 0, tokens=None,
              path: str | os.PathLike | None = None) -> Figure:
    """The attention weights of one input, one heatmap per head: row i is query position i,
    column j the key it reads, the color A[i, j] (each row sums to 1).

    `layer` is a MultiHeadAttention after a forward pass (its `.attention`, (N, H, T, T));
    `sample` picks the input of the batch; `tokens` (a string, or one label per position)
    labels the axes. Under a causal mask the hidden keys (after the query) are gray.
    """
    A = getattr(layer, "attention", None)
    if A is None:
        raise ValueError("attention: the layer has no attention weights yet: run a forward "
                         "pass first (model.forward(X) runs every layer's)")
    if not 0 <= sample < len(A):
        raise ValueError(f"attention: sample {sample} is not in the last batch of {len(A)} "
                         f"inputs")
    heads, T = A.shape[1], A.shape[-1]
    labels = list(tokens) if tokens is not None else [str(t) for t in range(T)]
    if len(labels) != T:
        raise ValueError(f"attention: {len(labels)} tokens for a sequence of {T} positions")
    hidden = np.triu(np.ones((T, T), dtype=bool), 1) if getattr(layer, "causal", False) \
        else np.zeros((T, T), dtype=bool)
    cmap = colormaps["viridis"].with_extremes(bad="#dddddd")
    fig = Figure(figsize=(0.4 * T * heads + 2.5, 0.4 * T + 1.6), layout="constrained")
    axes = fig.subplots(1, heads, squeeze=False)[0]
    for h, ax in enumerate(axes):
        image = ax.imshow(np.ma.masked_array(A[sample, h], hidden), cmap=cmap, vmin=0, vmax=1,
                          interpolation="nearest")
        ax.set_xticks(range(T), labels)
        ax.set_yticks(range(T), labels)
        ax.set(title=f"head {h}", xlabel="key (read)", ylabel="query" if h == 0 else "")
    fig.colorbar(image, ax=axes, label="attention weight", shrink=0.8)
    fig.suptitle(f"Attention of input {sample}: each row is where that position looks")
    return _save(fig, path)
