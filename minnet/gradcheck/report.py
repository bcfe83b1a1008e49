"""What a check found: one verdict per tensor, per layer, per model, and the tables to read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


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
    status: str = "ok"  # "ok", "FAIL", "inconclusive" (nothing compared), "accumulating"
    derivatives: object | None = None  # an elementwise layer's diagnose.Derivatives table

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
    is_loss: bool = False
    problems: list[str] = field(default_factory=list)  # each one fails the check

    @property
    def who(self) -> str:
        """How text names it: "layer 2 (Dense)", "the loss (SoftmaxCE)", or the class alone."""
        if self.is_loss:
            return f"the loss ({self.layer_name})"
        return f"layer {self.layer_index} ({self.layer_name})" if self.in_model \
            else self.layer_name

    def __str__(self) -> str:
        verdict = "PASSED" if self.passed else f"FAILED: {self.hint}"
        lines = [f"Layer check of {self.who} {verdict}", "",
                 table([c for c in [self.input, *self.params] if c is not None])]
        lines += [f"problem: {p}" for p in self.problems]
        return "\n".join(lines)

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
    tol: float = 1e-6
    loss: float = float("nan")
    dtype_note: str | None = None
    problems: list[str] = field(default_factory=list)  # each one fails the check
    advice: str | None = None
    warnings: list[str] = field(default_factory=list)  # worth knowing, not a failure
    noise: str | None = None  # the round-off and truncation expected at this eps

    def to_dict(self) -> dict:
        return _plain(asdict(self))

    def __str__(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [f"Gradient check {verdict}: mode={self.mode}, eps={self.eps:g}, "
                 f"loss={self.loss:.6g}; a tensor passes when its rel_error <= {self.tol:g}",
                 f"difference over all parameters = {self.difference:.2e}   "
                 f"(‖g - g_num‖ / (‖g‖ + ‖g_num‖); each tensor gets its own verdict below)"]
        for note in (self.dtype_note, self.noise):
            if note:
                lines.append(note)
        lines += ["", table(self.params)]
        lines += [f"problem: {p}" for p in self.problems]
        lines += [f"warning: {w}" for w in self.warnings]
        if self.suspects:
            lines += ["", "Suspects: layers whose own backward is wrong, each checked alone:"]
            for s in self.suspects:
                lines.append(f"  {s.who}: {s.hint or 'wrong'}")
            lines += ["", table([c for s in self.suspects for c in [s.input, *s.params]
                                 if c is not None and not c.passed])]
        if self.advice:
            lines += ["", self.advice]
        return "\n".join(lines)


@dataclass
class FunctionCheck:
    """check_function's result: .passed, .rel_error, .hint, and the tensor's ParamCheck."""

    passed: bool
    rel_error: float
    hint: str | None
    check: ParamCheck

    def __str__(self) -> str:
        verdict = "PASSED" if self.passed else f"FAILED: {self.hint}"
        return f"Gradient check of f {verdict}\n\n" + table([self.check])


class GradientCheckError(AssertionError):
    """Raised by fit(debug=True) and testing.assert_gradients_ok; carries the report."""

    def __init__(self, report: CheckReport | LayerCheck) -> None:
        super().__init__(str(report))
        self.report = report


def table(checks: list[ParamCheck]) -> str:
    head = ("layer", "param", "shape", "checked", "wrong", "kinks", "rel_error", "worst at",
            "analytic", "numeric", "verdict", "hint")
    rows = [(f"{c.layer_index} {c.layer_name}", c.param, str(c.shape), str(c.checked),
             str(c.wrong), str(c.kinks), f"{c.rel_error:.1e}", c.where, f"{c.analytic:+.4e}",
             f"{c.numeric:+.4e}", c.status, c.hint or "")
            for c in checks]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head) - 1)]
    fmt = lambda r: "  ".join(s.ljust(w) for s, w in zip(r, widths)) + "  " + r[-1]  # noqa: E731
    return "\n".join(fmt(r).rstrip() for r in [head, *rows])


def _plain(x):
    """Make dataclass dicts JSON-able: tuples to lists, numpy scalars to Python ones."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items() if k != "errors"}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x
