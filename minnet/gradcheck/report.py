"""What a check found: one verdict per tensor, per layer, per model, and the text to read.

A report reads top down: the headline names the culprit and its mistake, the table gives every
tensor's verdict, "checked alone" shows the culprit's own numbers, and "What to do" fits the
failure. report.explain() says what each column means; in a notebook the same report is an
HTML table.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field

import numpy as np

COLUMNS = {
    "layer": "the layer's index in model.layers and its class; the loss comes after the last",
    "param": "the tensor: a parameter (W, b, gamma, ...), or 'input' for dL/dx, the value "
             "backward returns",
    "shape": "the tensor's shape",
    "checked": "entries (or random directions) compared; kinks are compared one-sided",
    "wrong": "checked entries whose own error is above the tolerance (where both sides are "
             "0, as for a pixel that is blank in every image, they agree)",
    "kinks": "entries whose ±eps step meets a corner of forward (ReLU at 0, a max, a hinge)",
    "rel_error": "‖analytic − numeric‖ / (‖analytic‖ + ‖numeric‖) over the checked entries; "
                 "0 means equal, 1 means one of them is zero or they have opposite signs",
    "worst at": "the entry (or direction) where analytic and numeric differ most",
    "analytic": "at that entry, the gradient your backward computed (backprop)",
    "numeric": "at that entry, the centered difference (J(θ+ε) − J(θ−ε)) / 2ε",
    "verdict": "ok; FAIL; accumulating (grads added with +=); no effect (the tensor does not "
               "change the loss: both gradients are exactly 0); inconclusive (nothing could be "
               "compared); eps (the numeric side is off at this eps); not reached (backward "
               "broke off before computing it)",
    "hint": "the pattern of a wrong gradient, in plain words",
}


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
    status: str = "ok"  # ok, FAIL, accumulating, no effect, inconclusive, eps
    derivatives: object | None = field(default=None, repr=False)  # diagnose.Derivatives
    is_loss: bool = False
    also: tuple = ()  # other holders of a shared array: ("2.W",)
    findings: list = field(default_factory=list, repr=False)  # what the error shows (diagnose)
    shown: list = field(default_factory=list, repr=False)  # the tensor, yours beside the true
    state: bool = False  # an initial state passed to forward (h0, c0), its gradient in self.dh0

    @property
    def where(self) -> str:
        if self.mode == "directional":
            return f"direction {self.worst_index[0]}" if self.worst_index else "-"
        return str(self.worst_index) if self.worst_index else "-"

    @property
    def short(self) -> str:
        """'its dx', 'its dscores', 'its dW': the gradient's name in a formula."""
        return f"its d{'scores' if self.is_loss else 'x'}" if self.param == "input" \
            else f"its d{self.param}"

    @property
    def what(self) -> str:
        """The tensor in words: "its input gradient (what backward returns)", "grads['W']"."""
        if self.param == "input":
            return "its gradient dL/dscores (what backward returns)" if self.is_loss else \
                "its input gradient dL/dx (what backward returns)"
        if self.state:
            return f"its gradient dL/d{self.param} (self.d{self.param})"
        return f"its gradient for {self.param} (grads[{self.param!r}])"


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
    notes: list[str] = field(default_factory=list)  # worth knowing, not a failure
    fixes: list[str] = field(default_factory=list)  # "What to do" for its problems
    tol: float | None = None  # the rule its rows were judged by (rule())
    atol: float | None = None
    path: tuple = ()  # inside a block: ((1, "MultiHeadAttention"), ...) below layer_index
    settings: dict = field(default_factory=dict)  # its numbers and words: alpha, eps, p, ...
    keeps: list = field(default_factory=list)  # the arrays it keeps: "self.x (4, 5)", ...
    values: list = field(default_factory=list)  # lines: big params, x and dout, when it fails

    @classmethod
    def of(cls, index: int, name: str, inp: ParamCheck | None, params: list[ParamCheck],
           is_loss: bool = False, problems: list[str] | None = None) -> LayerCheck:
        """A layer's verdict from its tensors' verdicts: it passes when all of them pass.

        inp is None when the input has no gradient (integer ids).
        """
        problems = problems or []
        checks = [c for c in [inp, *params] if c is not None]
        for c in checks:
            c.is_loss = is_loss
        failed = [c for c in checks if not c.passed and c.status != "not compared"]
        hint = problems[0] if problems and not failed else None
        if failed:
            worst = max(failed, key=telling)
            hint = f"{worst.param}: {worst.hint}" if worst.hint else \
                f"{worst.param} gradient wrong (rel_error {worst.rel_error:.1e})"
        return cls(index, name, all(c.passed for c in checks) and not problems,
                   inp and inp.rel_error, params,
                   hint, inp, is_loss=is_loss, problems=problems)

    @property
    def who(self) -> str:
        """How text names it: "layer 2 (Dense)", "the loss (SoftmaxCE)", or the class alone."""
        if self.is_loss:
            return f"the loss ({self.layer_name})" if self.in_model else self.layer_name
        inside = "".join(f" › {j} ({name})" for j, name in self.path)
        return f"layer {self.layer_index} ({self.layer_name}){inside}" if self.in_model \
            else self.layer_name + inside

    @property
    def place(self) -> tuple[int, ...]:
        """Where it runs in the model, in order: (3, 1) for layer 1 inside layer 3."""
        return (self.layer_index, *(j for j, _ in self.path))

    @property
    def checks(self) -> list[ParamCheck]:
        return [c for c in [self.input, *self.params] if c is not None]

    @property
    def failed(self) -> list[ParamCheck]:
        return [c for c in self.checks if not c.passed and c.status != "not compared"]

    def setting_line(self) -> str | None:
        """'its settings: alpha = 1.3, eps = 1e-05', what a formula may need from the layer."""
        said = []
        if self.settings:
            said.append("its settings: " + ", ".join(f"{k} = {v!r}"
                                                     for k, v in self.settings.items()))
        if self.keeps:
            said.append("it keeps from forward: " + ", ".join(self.keeps))
        return "; ".join(said) or None

    def tally(self) -> str | None:
        """'wrong: dx, dWq; right: dWv, dbv' when some of its tensors are right."""
        right = [c.short.removeprefix("its ") for c in self.checks if c.passed]
        wrong = [c.short.removeprefix("its ") for c in self.failed]
        if not (right and wrong):
            return None
        return f"wrong: {', '.join(wrong)}; right: {', '.join(right)}"

    def summary(self) -> str:
        """'its input gradient dL/dx (what backward returns) is wrong: <hint>', worst first."""
        if not self.failed:
            return self.problems[0] if self.problems else "right"
        worst = max(self.failed, key=telling)
        return f"{worst.what} is wrong: {worst.hint or f'rel_error {worst.rel_error:.1e}'}"

    def __str__(self) -> str:
        if self.passed:
            head = f"Layer check of {self.who} PASSED"
        else:
            head = f"Layer check of {self.who} FAILED: {self.summary()}"
        lines = [head] + [f"({line})" for line in (self.tally(), self.setting_line()) if line]
        lines += [_ALONE_LOSS if self.is_loss else _ALONE]
        lines += [_sentence(rule(self.tol, self.atol))] if self.tol else []
        lines += _kink_line(self.checks)
        lines += ["", table(self.checks)]
        lines += [f"problem: {p}" for p in self.problems]
        lines += [f"note: {n}" for n in self.notes]
        lines += _derivative_tables(self.checks) + self.values
        if not self.passed:
            lines += ["", layer_advice(self)]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = str(self).split("\n")[0]
        notes = [f"problem: {p}" for p in self.problems] + [f"note: {n}" for n in self.notes]
        after = _derivative_tables(self.checks) + ([] if self.passed else [layer_advice(self)])
        return _html(head, self.checks, [], notes + after)

    def explain(self) -> str:
        return explain()

    def to_dict(self) -> dict:
        return _plain(asdict(self))


_ALONE = ("Checked alone: J = Σ layer(x)·G for a fixed random upstream gradient G, so "
          "backward(G) must return dJ/dx and fill grads with dJ/dθ.")
_ALONE_LOSS = "Checked alone: J = the loss itself, so backward() must return dJ/dscores."
_MODEL_ALONE = ("Checked alone, on the input it saw in the model: J = Σ layer(x)·G for a fixed "
                "random upstream gradient G (the loss: J = its own value). These numbers differ "
                "from the table above, whose J is the model's loss.")


@dataclass
class CheckReport:
    """What GradientChecker.check found; str(report) is the text to read."""

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
    atol: float | None = None  # the absolute floor of rule()
    accounts: list[str] = field(default_factory=list)  # each layer: how it was verified

    def to_dict(self) -> dict:
        return _plain(asdict(self))

    def headline(self) -> str:
        """The verdict and, when it failed, the culprit and its mistake first."""
        if self.passed:
            return "Gradient check PASSED"
        if self.suspects:
            return "Gradient check FAILED: " + "; ".join(
                f"the backward of {s.who} is wrong: {s.summary().replace(' is wrong: ', ': ', 1)}"
                if s.failed else s.summary() for s in self.suspects)
        if self.problems:
            return f"Gradient check FAILED: {self.problems[0]}"
        failed = [c for c in self.params if not c.passed]
        if all(c.status == "inconclusive" for c in failed):
            return ("Gradient check INCONCLUSIVE: nothing could be compared for "
                    + ", ".join(f"layer {c.layer_index} {c.param}" for c in failed))
        worst = max(failed, key=lambda c: c.rel_error)
        return (f"Gradient check FAILED: every layer is right alone, but the model's gradient "
                f"for layer {worst.layer_index} {worst.param} is not: "
                f"{worst.hint or f'rel_error {worst.rel_error:.1e}'}")

    def __str__(self) -> str:
        lines = [self.headline(),
                 f"mode={self.mode}, eps={self.eps:g}, loss={self.loss:.6g}; "
                 f"{rule(self.tol, self.atol)}; " + (
                     f"the rel_error over all parameters is {self.difference:.2e}"
                     if np.isfinite(self.difference) else "no parameter was compared")
                 + "; report.explain() describes every column"]
        lines += [note for note in (self.dtype_note, self.noise) if note]
        lines += _kink_line(self.params)
        lines += ["", table(self.params)]
        lines += [f"problem: {p}" for p in self.problems]
        lines += [f"warning: {w}" for w in self.warnings]
        if self.accounts:
            lines += ["", "Every layer, and how this check verified its backward:"]
            lines += [f"  {line}" for line in self.accounts]
        alone = [s for s in self.suspects if s.failed]  # not those with a problem only
        if alone:
            lines += ["", _MODEL_ALONE]
            for s in alone:
                lines.append(f"  {s.who}: {s.summary()}")
                lines += [f"    ({line})" for line in (s.tally(), s.setting_line()) if line]
            lines += ["", table([c for s in alone for c in s.checks])]
            lines += [line for s in alone for line in _derivative_tables(s.checks) + s.values]
        if self.advice:
            lines += ["", self.advice]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        notes = [f"problem: {p}" for p in self.problems] + [f"warning: {w}" for w in
                                                            self.warnings]
        alone = [s for s in self.suspects if s.failed]
        after = [_MODEL_ALONE] if alone else []
        after += [line for s in alone for line in _derivative_tables(s.checks)]
        after += [self.advice] if self.advice else []
        return _html(self.headline(), self.params, [c for s in alone for c in s.checks],
                     notes + after)

    def explain(self) -> str:
        return explain()


@dataclass
class FunctionCheck:
    """check_function's result: .passed, .rel_error, .hint, and the tensor's ParamCheck."""

    passed: bool
    rel_error: float
    hint: str | None
    check: ParamCheck
    tol: float | None = None  # the rule the row was judged by
    atol: float | None = None

    def __str__(self) -> str:
        c = self.check
        said = self.hint or (f"rel_error {c.rel_error:.1e}, wrong at {c.wrong} of {c.checked} "
                             f"entries; the worst at {c.where}: analytic {c.analytic:+.4e}, "
                             f"numeric {c.numeric:+.4e}")
        verdict = "PASSED" if self.passed else f"FAILED: {said}"
        head = [f"Gradient check of f {verdict}"]
        head += [_sentence(rule(self.tol, self.atol))] if self.tol else []
        return "\n".join(head) + "\n\n" + table([c])

    def _repr_html_(self) -> str:
        return _html(str(self).split("\n")[0], [self.check], [], [])


class GradientCheckError(AssertionError):
    """Raised by fit(debug=True) and testing.assert_gradients_ok; carries the report."""

    def __init__(self, report: CheckReport | LayerCheck) -> None:
        super().__init__(str(report))
        self.report = report


def rule(tol: float, atol: float | None) -> str:
    """The rule every row is judged by, as the header states it."""
    text = (f"a tensor passes when its rel_error = ‖analytic − numeric‖ / (‖analytic‖ + "
            f"‖numeric‖) <= {tol:g}")
    if atol is not None:
        text += (f", or when no entry is off by more than {atol:.1g} (round-off; a row that "
                 f"passes only so says it)")
    return text


KINKS = ("kinks: entries whose ±eps step crosses a corner of forward (ReLU at 0, a max, a "
         "hinge); each is compared one-sided, with the slope of the side backprop takes, and "
         "left out of 'checked' only when neither side agrees")


def _kink_line(checks) -> list[str]:
    return [KINKS] if any(c.kinks for c in checks) else []


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def telling(c: ParamCheck) -> tuple:
    """Sort key whose max is the failing tensor to name first: one whose error the diagnosis
    could describe (findings, then any hint), dx before a parameter, then the worst."""
    strong = any(not f.startswith(("wrong only", "wrong at every")) for f in c.findings)
    return (*severity(c)[:2], strong, bool(c.findings), c.hint is not None,
            c.param == "input", c.rel_error)


def severity(c: ParamCheck) -> tuple:
    """Sort key whose max is the worst tensor: a failure, a wrong number over none compared."""
    return (not c.passed, c.status != "inconclusive", c.rel_error)


def explain() -> str:
    """What each column of a report's table means, in plain words."""
    width = max(map(len, COLUMNS))
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in COLUMNS.items())


def layer_advice(check: LayerCheck) -> str:
    """A "What to do" line that fits the failure: an input gradient, a parameter, a loss."""
    if check.fixes:
        return "\n".join(check.fixes)
    failed = [c for c in check.failed if c.status != "inconclusive"]
    if any(c.status == "accumulating" for c in failed):
        return (f"What to do: in the backward of {check.who}, overwrite grads with "
                f"self.grads[name] = ..., do not add to them with +=.")
    if not failed:
        return "What to do: " + (check.problems[0] if check.problems else
                                 "check again on another input; nothing could be compared.")
    names = [c.param for c in failed]
    where = []
    if "input" in names:
        where.append("the gradient it returns (dL/dscores)" if check.is_loss
                     else "the gradient it returns (dL/dx)")
    where += [f"self.d{c.param}" if c.state else f"grads[{c.param!r}]" for c in failed
              if c.param != "input"]
    return (f"What to do: in the backward of {check.who}, fix {' and '.join(where)}; check the "
            f"fix with mn.check_layer(layer, x{', y=y' if check.is_loss else ''}).")


def table(checks: list[ParamCheck]) -> str:
    head = ("layer", "param", "shape", "checked", "wrong", "kinks", "rel_error", "worst at",
            "analytic", "numeric", "verdict", "hint")
    rows = [_row(c) for c in checks]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head) - 1)]
    fmt = lambda r: "  ".join(s.ljust(w) for s, w in zip(r, widths)) + "  " + r[-1]  # noqa: E731
    return "\n".join(fmt(r).rstrip() for r in [head, *rows])


def _row(c: ParamCheck) -> tuple[str, ...]:
    who = f"loss {c.layer_name}" if c.is_loss else c.layer_name if c.layer_index < 0 else \
        f"{c.layer_index} {c.layer_name}"  # index -1: a function, not a layer
    param = " = ".join([c.param, *c.also])  # a shared array: every name it goes by
    numbers = (f"{c.rel_error:.1e}", c.where, f"{c.analytic:+.4e}", f"{c.numeric:+.4e}") \
        if c.checked else ("-", "-", "-", "-")  # nothing compared: no number to show
    return (who, param, str(c.shape), str(c.checked), str(c.wrong), str(c.kinks), *numbers,
            c.status, c.hint or "")


def _derivative_tables(checks: list[ParamCheck]) -> list[str]:
    """What each failing tensor's error shows: an elementwise layer's derivative table, the
    findings measured in E = analytic − numeric, and the tensor, yours beside the true one."""
    lines = []
    for c in checks:
        if c.derivatives is not None:
            lines += ["", str(c.derivatives)]
        said = str(c.derivatives) if c.derivatives is not None else ""
        more = [f for f in c.findings if f not in said]
        if more:
            lines += ["", f"What the error E = analytic − numeric shows, in {c.short}:"]
            lines += [f"  - {f}" for f in more]
        if c.shown:
            lines += ["", *c.shown]
    return lines


def _html(head: str, checks, suspects, rest: list[str]) -> str:
    """The report as HTML: the same words as str(), failing rows marked."""
    def rows(cs):
        out = []
        for c in cs:
            style = "" if c.passed else ' style="background:#fde2e2"'
            cells = "".join(f"<td>{html.escape(v)}</td>" for v in _row(c))
            out.append(f"<tr{style}>{cells}</tr>")
        return "".join(out)
    head_row = "".join(f"<th>{html.escape(k)}</th>" for k in COLUMNS)
    parts = [f"<p><b>{html.escape(head)}</b></p>",
             f"<table><tr>{head_row}</tr>{rows(checks)}</table>"]
    if suspects:
        parts.append(f"<p>Checked alone:</p><table><tr>{head_row}</tr>{rows(suspects)}</table>")
    parts += [f"<pre>{html.escape(block)}</pre>" for block in rest if block]
    return "\n".join(parts)


def _plain(x):
    """Make dataclass dicts JSON-able: tuples to lists, numpy scalars to Python ones."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items() if k != "errors"}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x
