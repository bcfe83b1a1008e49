"""The process a submission's code runs in: its answer cells, then the layers the grader asks for.

    python -m minnet.grading.submission      (started by the reference process, never by hand)

The first message holds the cells to run; every later one asks to build a layer, or to call a
layer's forward or backward, and is answered with plain arrays. Nothing in this process is
trusted: the submission can change anything here, this file's code included. What it answers
is checked in the reference process. The counts sent with each backward (how often it called
forward, or minnet's numeric_gradient) tell an honest mistake from a shortcut; a submission that
works against the grader can fake them, which is why the reference process also looks at how
exact the gradient is (reference.py).
"""

from __future__ import annotations

import functools
import inspect
import linecache
import re
import traceback

import numpy as np

from . import wire
from .process import take_over_stdio

FLAGS = ("training", "input_grad", "frozen")  # layer attributes the grader sets before a call
MAGIC = re.compile(r"^\s*[%!]", re.MULTILINE)


class Count:
    """What a backward did while it ran: calls of forward and of minnet's numeric_gradient."""

    backward = False
    forward = 0
    numeric = 0
    depth = 0  # forward calls in progress, so that super().forward counts once

    @classmethod
    def start(cls) -> None:
        cls.backward, cls.forward, cls.numeric = True, 0, 0

    @classmethod
    def stop(cls) -> dict:
        cls.backward = False
        return {"forward_calls": cls.forward, "numeric_calls": cls.numeric}


def counted_forward(forward):
    @functools.wraps(forward)
    def wrapper(self, *args, **kwargs):
        Count.forward += Count.backward and Count.depth == 0
        Count.depth += 1
        try:
            return forward(self, *args, **kwargs)
        finally:
            Count.depth -= 1
    wrapper.counted = True
    return wrapper


def count_forward_calls(cls: type) -> None:
    for c in cls.__mro__[:-1]:  # every class that may hold forward, object aside
        f = vars(c).get("forward")
        if inspect.isfunction(f) and not getattr(f, "counted", False):
            c.forward = counted_forward(f)


def count_numeric_gradient() -> None:
    """Count calls of minnet's numeric_gradient, by any of the names it is imported under."""
    import minnet
    import minnet.gradcheck
    import minnet.gradcheck.numeric as numeric

    original = numeric.numeric_gradient

    @functools.wraps(original)
    def numeric_gradient(*args, **kwargs):
        Count.numeric += Count.backward
        return original(*args, **kwargs)
    for module in (minnet, minnet.gradcheck, numeric):
        module.numeric_gradient = numeric_gradient


# ---- the answer cells -------------------------------------------------------------------------


def run_cells(cells: list, namespace: dict) -> list[dict]:
    """Run each cell in one namespace, as a notebook does; a failing cell does not stop the rest."""
    errors = []
    for cell_id, source in cells:
        filename = f"<cell {cell_id}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            exec(compile(python(source), filename, "exec"), namespace)
        except BaseException as e:  # SystemExit and KeyboardInterrupt are a cell's error too
            errors.append({"cell": cell_id, **described(e)})
    return errors


def python(source: str) -> str:
    """IPython's magics (%timeit, !ls) made plain Python, as a kernel does; they do nothing here."""
    if not MAGIC.search(source):
        return source
    from IPython.core.inputtransformer2 import TransformerManager
    return TransformerManager().transform_cell(source)


class Shell:
    """What get_ipython() returns here: magics and shell commands run nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def described(e: BaseException) -> dict:
    """An exception as the feedback shows it: its name, message, and the cells' lines only."""
    frames = traceback.extract_tb(e.__traceback__)
    own = [f for f in frames if f.filename.startswith("<cell ")]
    lines = traceback.format_list(own) + traceback.format_exception_only(type(e), e)
    return {"ename": type(e).__name__, "evalue": str(e)[:2000],
            "traceback": "".join(lines)[-6000:]}


def settings(obj, most: int = 12) -> dict:
    """The layer's numbers and short words (d = 4, eps = 1e-05), for the grader's reports."""
    plain = {k: v for k, v in vars(obj).items() if not k.startswith("_") and
             isinstance(v, (int, float, str)) and not isinstance(v, bool) and len(str(v)) <= 40}
    return dict(list(plain.items())[:most])


# ---- the layers the grader asks for ----------------------------------------------------------


class Layers:
    """The objects built here for the grader, by number, and the calls it makes on them."""

    def __init__(self, namespace: dict) -> None:
        self.namespace = namespace
        self.objects: list = []

    def answer(self, header: dict, arrays: list) -> tuple[dict, list]:
        op = getattr(self, f"op_{header.get('op')}", None)
        if op is None:
            raise ValueError(f"unknown request {header.get('op')!r}")
        return op(header, arrays)

    def op_make(self, h, arrays):
        cls = self.namespace.get(h["name"])
        if not isinstance(cls, type):
            raise NameError(f"name {h['name']!r} is not a class defined by the answer cells")
        count_forward_calls(cls)
        obj = cls(*wire.decode(h["args"], arrays), **wire.decode(h["kwargs"], arrays))
        self.objects.append(obj)
        params = dict(getattr(obj, "params", {}))
        return {"id": len(self.objects) - 1, "params": list(params),
                "settings": settings(obj)}, list(params.values())

    def op_forward(self, h, arrays):
        obj = self.prepared(h, "params", arrays)
        inputs = arrays[len(h["params"]):]
        named = {**dict(zip(h["named"], inputs[h["inputs"]:])), **dict.fromkeys(h["none"])}
        return outputs(obj.forward(*inputs[:h["inputs"]], **named))

    def op_backward(self, h, arrays):
        obj = self.prepared(h, "grads", arrays)
        Count.start()
        try:
            result = obj.backward(*arrays[len(h["grads"]):])
        finally:
            counts = Count.stop()
        head, out = outputs(result)
        grads = {k: a for k, v in getattr(obj, "grads", {}).items()
                 if (a := numbers(v)) is not None}
        kept = {k: a for k in h["keep"] if (a := numbers(getattr(obj, k, None))) is not None}
        return ({**head, **counts, "grads": list(grads), "kept": list(kept)},
                out + list(grads.values()) + list(kept.values()))

    def prepared(self, h, kind, arrays):
        """The object, with the grader's params (or grads) and flags written into it."""
        obj = self.objects[h["id"]]
        wire.write_into(getattr(obj, kind), h[kind], arrays)
        for name in FLAGS:
            if name in h["flags"]:
                setattr(obj, name, h["flags"][name])
        return obj


def outputs(result) -> tuple[dict, list]:
    """What forward or backward returned: one array, a tuple of arrays, or None."""
    if result is None:
        return {"shape": "none"}, []
    many = isinstance(result, tuple)
    arrays = [numbers(r) for r in (result if many else [result])]
    if any(a is None for a in arrays):
        raise TypeError(f"it returned {type(result).__name__}, not an array of numbers")
    return {"shape": "tuple" if many else "array"}, arrays


def numbers(value) -> np.ndarray | None:
    try:
        a = np.asarray(value)
    except Exception:
        return None
    return a if a.dtype.kind in wire.NUMBERS else None


def main() -> None:
    inp, out = take_over_stdio()
    count_numeric_gradient()
    header, _ = wire.receive(inp)
    namespace = {"__name__": "__main__", "get_ipython": Shell}
    wire.send(out, {"errors": run_cells(header["cells"], namespace)})
    layers = Layers(namespace)
    while True:
        try:
            request, arrays = wire.receive(inp)
        except EOFError:
            return
        try:
            body = wire.pack(*layers.answer(request, arrays))
        except BaseException as e:  # the layer's own error, sent as the answer
            body = wire.pack({"error": described(e)})
        wire.write(out, body)


if __name__ == "__main__":
    main()
