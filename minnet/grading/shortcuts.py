"""A backward that is not one: how the reference process tells it from a chain rule.

The gradient check compares backward with the numeric gradient of what forward answers. Three
ways to pass it without writing a backward, and what finds each (a message, or None):

    many_forward_calls   backward computes differences of forward: it calls forward (or
                         minnet's numeric_gradient) while it runs, as the submission's process
                         counts
    stateful_forward     forward answers right once, then whatever agrees with a backward of
                         its own making: right at a check's first call, wrong after it
    inexact              backward differentiates by differences of something else: it agrees
                         with the solution's backward only as well as a numeric difference does
"""

from __future__ import annotations

import numpy as np

from ..gradcheck import rel_error
from .wire import write_into

FORWARD_CALLS = 2  # a backward that calls forward this often is differentiating numerically
EXACT = 1e-12  # a backward by the chain rule agrees with the solution's to round-off (~1e-16)
RTOL, ATOL = 1e-7, 1e-12  # forward's values agree with the solution's (as Forward checks them)


class Shortcut(AssertionError):
    """A backward that did not apply the chain rule: no points, and the teacher is told."""


def many_forward_calls(backwards: list[dict]) -> tuple[str, str] | None:
    """(layer name, message) for the first backward that called forward too often, or None."""
    for b in backwards:
        if b["numeric_calls"] or b["forward_calls"] >= FORWARD_CALLS:
            return b["layer"], (
                f"{b['call']} called forward {b['forward_calls']} times and minnet's "
                f"numeric_gradient {b['numeric_calls']} times while it ran: that is numeric "
                f"differentiation, not a backward pass, which computes the gradient from what "
                f"forward kept, by the chain rule.")
    return None


def stateful_forward(mine, ref, log: list) -> str | None:
    """A message if forward gave the solution's values at its first call in `log` and other
    values later. A forward wrong from the first call is a forward of its own: not this."""
    def right(params, xs, named, out) -> bool:
        adopt(ref, params)
        copies = {k: None if v is None else v.copy() for k, v in named.items()}
        return same_values(ref.forward(*(x.copy() for x in xs), **copies), out)

    if not log or not right(*log[0]):
        return None
    wrong = sum(not right(*call) for call in log[1:])
    if not wrong:
        return None
    return (f"{mine!r}.forward gave the right values at the first call of the gradient check, "
            f"and other values at {wrong} of the {len(log) - 1} calls that followed: a forward "
            f"that keeps state between calls, where it must be a function of its input and "
            f"parameters.")


def inexact(mine, ref, x: np.ndarray, rng: np.random.Generator) -> str | None:
    """A message if mine's backward, where its forward gives the solution's values, differs
    from the solution's backward by more than round-off."""
    out = mine.forward(x.copy())
    adopt(ref, mine.params)
    if not isinstance(out, np.ndarray) or not same_values(ref.forward(x.copy()), out):
        return None  # a forward of its own: the gradient check is all that can be asked
    G = rng.standard_normal(out.shape)
    pairs = [(mine.backward(G.copy()), ref.backward(G.copy()), "dx")]
    pairs += [(mine.grads.get(k), g, k) for k, g in ref.grads.items()]
    error, name = max(((rel_error(a, b), k) for a, b, k in pairs if np.shape(a) == np.shape(b)),
                      default=(0.0, ""))
    if error <= EXACT:
        return None
    return (f"{mine!r}.backward passes the gradient check, but its {name} differs from the exact "
            f"gradient by {error:.1e} (relative): as much as a numeric difference does, where a "
            f"backward by the chain rule agrees to round-off (below {EXACT:.0e}).")


def adopt(ref, params: dict) -> None:
    """Give the solution's layer these parameters (copies)."""
    write_into(ref.params, list(params), [np.array(p) for p in params.values()])


def same_values(a, b) -> bool:
    return np.shape(a) == np.shape(b) and bool(np.allclose(a, b, rtol=RTOL, atol=ATOL))
