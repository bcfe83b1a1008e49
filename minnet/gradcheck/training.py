"""What training computes: the gradient a model check judges, and what can corrupt it.

The analytic side of a model check is training's own gradient: the model's own forward and
backward on the user's objects, with no copies in between, as `fit` runs them. The numeric side
works on copies (calls.py). Where the two paths disagree, a layer changed an array that another
layer still holds; `trace` replays one step call by call to name both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import params as P
from . import shapes
from .calls import is_own, raised
from .restore import Preserved, deep_copy, same


@dataclass
class Step:
    """One training step's loss, and the gradient of each parameter slot (by name)."""

    loss: float
    grads: dict[str, np.ndarray]  # slot name -> gradient as float64, for those that can be read
    unusable: dict[str, str]  # slot name -> why its gradient cannot be compared
    stop: Stop | None = None  # where backward broke off, when it raised
    moved: list[str] = field(default_factory=list)  # parameters backward itself changed


@dataclass
class Stop:
    """backward raised: the call that went wrong, in words, and the layers it left unreached."""

    index: int | None  # the layer whose backward went wrong (len(layers): the loss); None: Model
    text: str
    who: str = "Model.backward"

    @property
    def short(self) -> str:
        return f"backward broke off at {self.who}, before it reached this layer"


def step(model, X: np.ndarray, y: np.ndarray) -> Step:
    """model.forward, the loss, and model.backward, as one step of fit computes them.

    X is copied first, as fit's batches are: a layer may change its input in place (minnet's
    own first layer does not).
    """
    loss = model._loss(X if is_own(model.layers[0]) else X.copy(), y)
    stop, params = None, {name: p.copy() for name, p in model.named_parameters()}
    try:
        model.backward()
    except Exception as e:  # a student's backward: a FAIL row, never a crash
        stop = where_backward_stops(model, X, y, e)
    moved = [name for name, p in model.named_parameters()
             if not same(p, params[name])]
    grads, unusable = read_all(model, len(X))
    if stop is not None:  # the layers below where it stopped kept stale grads
        for slot in model.slots():
            if stop.index is None or max(i for i, _ in slot.holders) < stop.index:
                grads.pop(slot.name, None)
                unusable[slot.name] = f"not reached: {stop.short}"
    return Step(loss, grads, unusable, stop, moved)


def read_all(model, batch: int) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every slot's gradient as training sums it, and why the others cannot be read."""
    grads, unusable = {}, {}
    for slot in model.slots():
        g, why = read(model.layers, slot, batch)
        if why:
            unusable[slot.name] = why
        else:
            grads[slot.name] = g
    return grads, unusable


def read(layers, slot: P.Slot, batch: int) -> tuple[np.ndarray | None, str | None]:
    """A slot's gradient as training sums it, in float64, or why it cannot be read."""
    parts = []
    for i, key in slot.holders:
        grads = getattr(layers[i], "grads", None)
        if not isinstance(grads, dict) or key not in grads:
            return None, f"missing: backward did not store grads[{key!r}]"
        why = shapes.problem(grads[key], slot.shape, batch)
        if why:
            return None, why
        parts.append(np.array(grads[key], dtype=np.float64))  # a copy: grads change later
    return sum(parts[1:], start=parts[0]), None


def where_backward_stops(model, X, y, error: Exception) -> Stop:
    """Replay a step call by call and name the first call whose result is unusable.

    A backward that returns dx of the wrong shape is usually not the one that raises: the layer
    below it trips over that dx. So each returned gradient is checked against the shape of the
    input it is the gradient of.
    """
    inputs, h = [], X.copy()
    for layer in model.layers:
        inputs.append(h)
        h = layer.forward(h)
    model.loss.forward(h, y)
    calls = [(len(model.layers), lambda d: model.loss.backward(), h.shape)]
    calls += [(i, model.layers[i].backward, inputs[i].shape)
              for i in range(len(model.layers) - 1, -1, -1)]
    d = None
    for i, backward, shape in calls:
        who = _who(model, i)
        try:
            d = backward(d)
        except Exception as e:
            return Stop(i, f"the backward of {who} raised {raised(e)}", who)
        if i == 0:
            break
        why = "None" if d is None else shapes.problem(d, shape, len(X))
        if why:
            what = "dscores" if i == len(model.layers) else "dx"
            return Stop(i, f"the backward of {who} returned a {what} it cannot pass on: {why}",
                        who)
    return Stop(None, f"Model.backward raised {raised(error)}")


def _who(model, i: int) -> str:
    if i == len(model.layers):
        return f"the loss ({type(model.loss).__name__})"
    return f"layer {i} ({type(model.layers[i]).__name__})"


# ---- arrays changed in place ---------------------------------------------------------------


@dataclass
class Change:
    """One call changed an array that was produced before it, and others kept."""

    changer: str  # "layer 2 (DoubleInPlace)"
    how: str  # "changes its input in place"
    holders: list[str]  # "layer 1 (MyTanh), as self.out" ...
    index: int  # the changer's index (len(layers): the loss)

    def __str__(self) -> str:
        return f"{self.changer} {self.how}; {' and '.join(self.holders)}"


def trace(model, X: np.ndarray, y: np.ndarray) -> list[Change]:
    """Replay one training step call by call; report each array changed after it was made.

    Only changes to an array that another layer (or the loss) still holds are reported: those
    are what make training's gradient differ from the gradient of the function computed.
    """
    made: list[tuple[np.ndarray, np.ndarray, str, object]] = []  # array, its copy, what, maker
    found: list[Change] = []
    objects = [*model.layers, model.loss]

    def call(i: int, phase: str, fn, arg):
        before = [(a, a.copy()) for a, *_ in made]
        out = fn(arg)
        for (a, copy), (_, _, what, maker) in zip(before, made):
            if not same(a, copy):
                how = _how(objects, i, phase, what, maker, a is arg)
                holders = [_kept(model, j, where) for j, o in enumerate(objects)
                           if o is not objects[i] and (where := _holds(o, a))]
                if holders:
                    found.append(Change(_who(model, i), how, holders, i))
        if isinstance(out, np.ndarray) and not any(out is a for a, *_ in made):
            made.append((out, out.copy(), f"{phase} {i}", objects[i]))
        return out

    h = X.copy()
    made.append((h, h.copy(), "X", None))
    for i, layer in enumerate(model.layers):
        h = call(i, "output", layer.forward, h)
    n = len(model.layers)
    call(n, "loss", lambda s: model.loss.forward(s, y), h)
    d = call(n, "dx", lambda _: model.loss.backward(), None)
    for i in range(n - 1, -1, -1):
        d = call(i, "dx", model.layers[i].backward, d)
    return _distinct(found)


def _kept(model, j: int, where: str) -> str:
    """'layer 1 (MyTanh) kept that array as self.out for its backward', or as its gradient."""
    use = "as its gradient" if ".grads" in where else "for its backward"
    return f"{_who(model, j)} kept that array ({where}) {use}"


def _how(objects, i: int, phase: str, what: str, maker, received: bool) -> str:
    """How call i changed an array described by `what` ("output 1", "dx 3", "X"); `received`:
    the array is the one the call was given."""
    kind, _, at = what.partition(" ")
    if received:
        return {"output": "changes its input in place",
                "loss": "changes its input (the scores) in place",
                "dx": "changes dout (the gradient it receives) in place in its backward"}[phase]
    if maker is objects[i] and kind == "output":
        return (f"overwrites the output it returned earlier (as layer {at})" if int(at) != i
                else "changes its own output after returning it")
    source = "the input X" if kind == "X" else \
        f"the {'output' if kind == 'output' else 'gradient'} of {_who_of(objects, int(at))}"
    return f"changes {source} in place"


def _who_of(objects, i: int) -> str:
    name = type(objects[i]).__name__
    return f"the loss ({name})" if i == len(objects) - 1 else f"layer {i} ({name})"


def _holds(obj, a: np.ndarray, depth: int = 2, path: str = "self") -> str | None:
    """Where obj keeps an array that shares memory with a ("self.out", "self.grads['b']",
    "self.cache[1]"), looking into lists, tuples and dicts and (depth) objects it holds."""
    for name, v in (vars(obj).items() if hasattr(obj, "__dict__") else ()):
        items = v.items() if isinstance(v, dict) else enumerate(v) \
            if isinstance(v, (list, tuple)) else [(None, v)]
        for key, u in items:
            if isinstance(u, np.ndarray) and np.may_share_memory(u, a) \
                    and np.shares_memory(u, a):
                return f"{path}.{name}" + ("" if key is None else f"[{key!r}]")
        if depth > 1 and hasattr(v, "__dict__") and not callable(v) \
                and not isinstance(v, np.random.Generator):
            found = _holds(v, a, depth - 1, f"{path}.{name}")
            if found:
                return found
    return None


def _distinct(changes: list[Change]) -> list[Change]:
    seen, out = set(), []
    for c in changes:
        if str(c) not in seen:
            seen.add(str(c))
            out.append(c)
    return out


def aliasing_consequence(change: Change) -> str:
    """Why a change in place makes training's gradient wrong, in words."""
    return ("so training's gradient is computed from the changed values and is not the "
            "gradient of the loss (a check on copies would not show it; PyTorch raises an error "
            "on this)")


IN_PLACE = "x *= 2, x -= m, x[mask] = 0 and np.f(x, out=x) change x; y = x * 2 makes a new array"


def aliasing_fix(change: Change) -> str:
    """What to do about one change in place."""
    if "its input" in change.how:
        return (f"What to do: in the forward of {change.changer}, compute a new array instead "
                f"of changing its input in place ({IN_PLACE}).")
    if "dout" in change.how:
        return (f"What to do: in the backward of {change.changer}, compute a new array "
                f"(dx = dout * mask) instead of changing dout in place.")
    if "earlier" in change.how or "own output" in change.how:
        return (f"What to do: make {change.changer} return a new array on every call, not a "
                f"buffer it reuses.")
    return f"What to do: make {change.changer} compute new arrays instead of changing one."


def carried_state(layer, x) -> list[str]:
    """The attributes a layer's forward both reads and sets (a stateful RNN's last h): state
    carried from one call to the next. [] when the output does not follow from x and the
    layer's attributes (fresh noise from a Generator it does not own)."""
    with Preserved([layer]):
        first = np.array(layer.forward(x), dtype=float, copy=True)
        after = deep_copy(dict(vars(layer)))
    with Preserved([layer]):
        if not same(np.asarray(layer.forward(x), dtype=float), first):
            return []
    found = []
    for k, v in after.items():
        with Preserved([layer]):
            if k in vars(layer) and not _equal(getattr(layer, k), v):
                setattr(layer, k, deep_copy(v))
                if not same(np.asarray(layer.forward(x), dtype=float), first):
                    found.append(k)
    return found


def growing(probe) -> str | None:
    """'self.cache grows by 2 entries with every forward call ...': a list (or dict) the layer
    keeps that each forward makes longer, a cache appended to and never emptied."""
    layer = probe.layer
    before = {k: len(v) for k, v in vars(layer).items() if isinstance(v, (list, dict))}
    try:
        probe.calls.forward(probe.x)
        grown = [(k, len(v) - before[k], len(v)) for k, v in vars(layer).items()
                 if k in before and isinstance(v, (list, dict)) and len(v) > before[k]]
        # a log that only grows is no mistake: one that backward reads makes each call differ
        once, again = (probe._again(probe.x, probe.G) for _ in range(2)) if grown else ({}, {})
    finally:
        probe.restore()
    if not grown or all(_equal(v, again.get(k)) for k, v in once.items()):
        return None
    k, step, size = grown[0]
    entries = "1 entry" if step == 1 else f"{step} entries"
    return (f"self.{k} grows by {entries} with every forward call ({size} after this "
            f"check's calls): forward adds to it without emptying it, so a backward that goes "
            f"through it takes back every call so far (empty it at the start of forward)")


def _equal(a, b) -> bool:
    try:
        return a is b or bool(np.array_equal(a, b))
    except Exception:  # objects numpy cannot compare: taken as changed
        return False


def nondeterminism(who: str, layer, x) -> str:
    """Why `layer` gave another output for the same input, and what to do about it."""
    try:
        state = carried_state(layer, x)
    except Exception:  # a forward that needs more than x (a loss's y): say what is known
        state = []
    if state:
        kept = " and ".join(f"self.{k}" for k in state)
        return (f"{who} gave a different output for the same input: its forward reads {kept}, "
                f"which it also sets, so each call starts where the last one ended (a state "
                f"carried from call to call, as a stateful RNN's last h). During a check it "
                f"must be a fixed function of its input: start every call from the same state "
                f"(reset it in forward).")
    return (f"{who} gave a different output for the same input, even with np.random and its "
            f"own Generators rewound. During a check it must be a fixed function of its "
            f"input: give it a freeze() that keeps its random draws (or state) fixed.")
