"""The submission's process seen from the reference process, and its layers as minnet layers.

A RemoteLayer's params, grads and flags live in the reference process, where the gradient
checker, Model and the optimizers read and change them as they do any layer's. Only forward and
backward run in the submission's process: each call sends the current params (or grads) along
and gets plain arrays back, so check_layer, GradientChecker and fit work on it unchanged.
"""

from __future__ import annotations

import inspect
import time

import numpy as np

from ..layers import Layer
from . import wire
from .process import Child, ChildGone

CALL_SECONDS = 60.0  # one forward or backward, at most


class StudentError(Exception):
    """The submission's own code raised: its exception's name, message and traceback."""

    def __init__(self, error: dict, call: str) -> None:
        self.ename = _text(error.get("ename"), 80) or "Exception"
        self.evalue = _text(error.get("evalue"), 2000)
        self.traceback = _text(error.get("traceback"), 6000)
        self.call = call
        super().__init__(f"{call} raised {self.ename}: {self.evalue}")


class Late(BaseException):  # not an Exception: see wire.WireError
    """The part's time ran out while the submission's code was running."""


class Submission:
    """The process that runs one submission's answer cells; a fresh one if it has ended."""

    def __init__(self, cells: list, seconds: float = CALL_SECONDS) -> None:
        self.cells, self.seconds = cells, seconds
        self.child: Child | None = None
        self.cell_errors: list[dict] = []
        self.deadline = float("inf")
        self.backwards: list[dict] = []  # what each backward reported: forward calls, ...

    def __deepcopy__(self, memo):
        return self  # one process, however many copies of a layer point at it

    def part(self, seconds: float) -> None:
        """Start timing a part; the process is (re)started if the last part ended it."""
        self.deadline = time.monotonic() + seconds
        self.backwards = []
        if self.child is None or not self.child.alive:
            self.close()
            self.child = Child("submission")
            head, _ = self.ask(self.child, {"cells": self.cells}, "the answer cells")
            self.cell_errors = [{k: _text(e.get(k), 6000) for k in ("cell", "ename", "evalue",
                                                                     "traceback")}
                                for e in head.get("errors", []) if isinstance(e, dict)]

    def ask(self, child: Child, header: dict, call: str, arrays=()) -> tuple[dict, list]:
        if child is not self.child:
            raise ChildGone(f"the process that built the layer of {call} has ended", late=False)
        left = min(self.seconds, self.deadline - time.monotonic())
        try:
            if left <= 0:
                raise ChildGone("the part's time ran out", late=True)
            head, out = child.ask(header, arrays, left)
        except ChildGone as e:
            if e.late:
                raise Late(f"the time ran out while running {call} (at most {self.seconds:g} s a "
                           f"call, and the part's own limit)") from None
            raise ChildGone(f"the process running your code {e} while running {call}",
                            late=False) from None
        if "error" in head:
            raise StudentError(head["error"] if isinstance(head["error"], dict) else {}, call)
        return head, out

    def make(self, name: str, args: tuple, kwargs: dict, call: str,
             solution: type) -> RemoteLayer:
        """Build the submission's `name`(*args, **kwargs) in its process: a RemoteLayer here,
        standing for the solution's class of that name (see remote_class)."""
        sent: list = []
        header = {"op": "make", "name": name, "args": wire.encode(list(args), sent),
                  "kwargs": wire.encode(kwargs, sent)}
        head, arrays = self.ask(self.child, header, call, sent)
        names = _names(head.get("params"), len(arrays), call)
        if len(names) != len(arrays) or not isinstance(head.get("id"), int):
            raise wire.WireError(f"{call} sent an answer of the wrong form")
        layer = remote_class(solution)(self, self.child, head["id"], call,
                                       dict(zip(names, arrays)))
        layer.settle(head.get("settings"))
        return layer

    def close(self) -> None:
        if self.child is not None:
            self.child.close()


def remote_class(solution: type) -> type:
    """A RemoteLayer class named and shaped after the solution's class: the same plain-data
    hints (kink, smooth, gates, ...) of the teacher's own classes, and a forward with the same
    signature, so that the checker passes initial states (h0=...) as it would to the solution;
    the gradient of each such input comes back from backward as self.d<name>, as minnet's
    recurrent layers keep dh0."""
    hints = {k: v for c in reversed(solution.__mro__) if c.__module__.split(".")[0] != "minnet"
             for k, v in vars(c).items()
             if not k.startswith("_") and k not in vars(RemoteLayer) and _plain(v)}
    try:
        signature = inspect.signature(solution.forward)
    except (TypeError, ValueError):
        return type(solution.__name__, (RemoteLayer,), {**hints, "__module__": __name__})

    def forward(self, *xs, **named):
        return RemoteLayer.forward(self, *xs, **named)
    forward.__signature__ = signature
    inputs = [p.name for p in signature.parameters.values()
              if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is None]
    return type(solution.__name__, (RemoteLayer,), {
        **hints, "forward": forward, "keep": tuple(f"d{k}" for k in inputs),
        "__module__": __name__})


def _plain(v) -> bool:
    if isinstance(v, tuple):
        return all(_plain(x) for x in v)
    return v is None or isinstance(v, (bool, int, float, str))


class CallLog(list):
    """A layer's forward calls, shared by every copy the checker makes of the layer, and kept
    when the checker puts the layer back as it found it."""

    def __deepcopy__(self, memo):
        return self


class RemoteLayer(Layer):
    """A layer of the submission, built in its process; see the module's docstring."""

    keep: tuple[str, ...] = ()  # attributes backward sets besides grads (an LSTM's dh0)
    log: CallLog | None = None  # if set: (params, inputs, named inputs, output) of each forward

    def __init__(self, submission: Submission, child: Child, handle: int, call: str,
                 params: dict) -> None:
        super().__init__()  # the grader's own attributes start with _: not the layer's settings
        self._submission, self._child, self._handle, self._call = submission, child, handle, call
        self.params = params
        self.grads = {k: np.zeros_like(v) for k, v in params.items()}

    def settle(self, settings) -> None:
        """The submission's layer's settings (its numbers and words: d = 4, eps = 1e-05), so
        that a report on this layer says what one on the submission's own layer would."""
        if not isinstance(settings, dict):
            return
        for k, v in settings.items():
            plain = isinstance(v, (int, float, str)) and not isinstance(v, bool)
            if plain and k.isidentifier() and not k.startswith("_") and not hasattr(self, k):
                setattr(self, k, v)

    def __repr__(self) -> str:
        return self._call

    def forward(self, *xs, **named):
        """forward(x), or forward(x, h0=...) as the solution's forward takes it."""
        given = {k: v for k, v in named.items() if v is not None}
        head, out = self._ask("forward", "params", [*xs, *given.values()], inputs=len(xs),
                              named=list(given), none=[k for k in named if k not in given])
        result = _result(head, out, f"{self._call}.forward")
        if self.log is not None:
            self.log.append(({k: np.array(v) for k, v in self.params.items()},
                             [np.array(x) for x in xs],
                             {k: None if v is None else np.array(v) for k, v in named.items()},
                             result))
        return result

    def backward(self, *douts):
        head, out = self._ask("backward", "grads", douts, keep=list(self.keep))
        call = f"{self._call}.backward"
        grads = _names(head.get("grads"), len(out), call)
        kept = _names(head.get("kept"), len(out) - len(grads), call)
        if not set(kept) <= set(self.keep):
            raise wire.WireError(f"{call} sent attributes it was not asked for")
        n = len(out) - len(grads) - len(kept)
        wire.write_into(self.grads, grads, out[n:n + len(grads)])
        for k in [k for k in self.grads if k not in grads]:
            del self.grads[k]  # as the submission's layer has it: the checker names what is missing
        for k, v in zip(kept, out[n + len(grads):]):
            setattr(self, k, v)
        self._submission.backwards.append({"call": call, "layer": type(self).__name__, **{
            k: head.get(k) if isinstance(head.get(k), int) else 0
            for k in ("forward_calls", "numeric_calls")}})
        return _result(head, out[:n], call)

    def _ask(self, op: str, kind: str, arrays, **extra) -> tuple[dict, list]:
        held = getattr(self, kind)
        flags = {"training": bool(self.training), "input_grad": bool(self.input_grad),
                 "frozen": bool(self.frozen)}
        header = {"op": op, "id": self._handle, kind: list(held), "flags": flags, **extra}
        return self._submission.ask(self._child, header, f"{self._call}.{op}",
                                   [*held.values(), *(np.asarray(a) for a in arrays)])


def _result(head: dict, out: list, call: str):
    shape = head.get("shape")
    if shape == "none" and not out:
        return None
    if shape == "array" and len(out) == 1:
        return out[0]
    if shape == "tuple":
        return tuple(out)
    raise wire.WireError(f"{call} sent an answer of the wrong form")


def _names(names, most: int, call: str) -> list[str]:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) \
            or len(names) > most or len(set(names)) != len(names):
        raise wire.WireError(f"{call} sent an answer of the wrong form")
    return names


def _text(value, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""
