"""How a model wires its layers, when every layer is right alone and the model is not.

    changed in place   a layer changes an array that another layer keeps (training.trace)
    read, not listed   a layer's forward reads a parameter it does not list in its params, so
                       training's gradient leaves its use out (a tied weight taken by
                       reference; probe.unlisted finds them)
    used twice         the same layer object sits at two places: its second forward overwrites
                       what the first one kept for backward

Each finding becomes a suspect: a LayerCheck with the problem in words and what to do.
"""

from __future__ import annotations

from .report import LayerCheck
from .training import Change, aliasing_consequence, aliasing_fix


def suspects(probe, checks, localized: list[LayerCheck], failed: bool) -> list[LayerCheck]:
    """The suspects from checking each layer alone, plus what the model's wiring explains."""
    found = {s.layer_index: s for s in localized if not s.passed}
    if not failed:
        return list(found.values())
    if probe.unstable is not None:
        i, name = probe.unstable, type(probe.layers[probe.unstable]).__name__
        _blame(found, localized, i, name, probe.unstable_why(),
               f"What to do: take the update out of the backward of layer {i} ({name}): "
               f"backward only fills grads, and the optimizer steps once, after it."
               if probe.step.moved else
               f"What to do: make the forward of layer {i} ({name}) a fixed function of its "
               f"input during the check; no gradient can be trusted until then.")
    for change in probe.changes:
        _blame(found, localized, change.index, change.changer.split(" (")[-1].rstrip(")"),
               f"{change}, {aliasing_consequence(change)}", aliasing_fix(change),
               change.changer.startswith("the loss"))
    if not found:
        wrong = {c.layer_index for c in checks if not c.passed}
        for slot in probe.slots:
            if slot.layer_index in wrong:
                for j in probe.unlisted.get(slot.name, []):
                    name = type([*probe.layers, probe.loss][j]).__name__
                    _blame(found, localized, j, name,
                           f"layer {j} ({name}) reads {slot.name} in its forward but does not "
                           f"list it in its params, so the gradient training applies to "
                           f"{slot.name} leaves out its use",
                           f"What to do: put the array in the params of layer {j} ({name}) "
                           f"(the same object: self.params['W'] = other.params['W']) and set "
                           f"its grads in backward; a shared array's gradient is the sum of "
                           f"every holder's.")
        for first, again in used_twice(probe.layers):
            name = type(probe.layers[first]).__name__
            _blame(found, localized, again, name,
                   f"layer {first} and layer {again} are the same {name} object: the forward "
                   f"at {again} overwrites what the one at {first} kept for its backward",
                   f"What to do: make a new {name}() for each place in the model.")
    return sorted(found.values(), key=lambda s: s.layer_index)


def _blame(found, localized, index, name, text, fix, is_loss=False) -> None:
    """Add a problem and its fix to the suspect at `index`, making one if there is none."""
    s = found.get(index)
    if s is None:
        alone = next((lc for lc in localized if lc.layer_index == index), None)
        s = found[index] = LayerCheck(index, name, False, None, alone.params if alone else [],
                                      text, alone.input if alone else None, is_loss=is_loss)
    s.passed = False
    s.problems.append(text)
    s.fixes.append(fix)


def used_twice(layers) -> list[tuple[int, int]]:
    """(first place, later place) of every layer object that appears more than once."""
    first: dict[int, int] = {}
    pairs = []
    for i, layer in enumerate(layers):
        if id(layer) in first:
            pairs.append((first[id(layer)], i))
        else:
            first[id(layer)] = i
    return pairs


def unverified(layers, slots, checks) -> list[int]:
    """Layers whose backward this check cannot see: no parameter of theirs, and none below
    them that was compared, so training's gradient never depends on their dx."""
    compared = {c.layer_index for c in checks if c.checked}
    below = [any(s.layer_index < i and s.layer_index in compared for s in slots)
             for i in range(len(layers))]
    return [i for i, layer in enumerate(layers)
            if not getattr(layer, "params", {}) and not below[i]]


def accounts(layers, loss, slots, checks, alone: dict[int, LayerCheck]) -> list[str]:
    """One line per layer, then the loss: how its backward was verified by this check."""
    compared = {c.layer_index: c for c in checks if c.checked}
    names = {i: _and([s.param for s in slots if s.layer_index == i]) for i in compared}
    lines = []
    for i, layer in enumerate(layers):
        who = f"layer {i} ({type(layer).__name__})"
        own = f"{names[i]} compared above" if i in compared else \
            "parameters not compared" if getattr(layer, "params", {}) else "no parameters"
        below = [j for j in sorted(compared) if j < i]
        reached = [s.layer_index for s in slots if s.layer_index < i]
        if i == 0:
            dx = "its dx is never used in training (first layer)"
        elif below:
            j = below[-1]
            dx = f"its dx verified through the gradients of layer {j}'s {names[j]}"
        elif reached:
            dx = f"its dx reaches layer {reached[-1]}'s parameters, which were not compared"
        else:
            dx = "its dx reaches no parameter, so training never uses it"
        line = f"{who}: {own}; {dx}"
        if i in alone:
            line += f"; checked alone: {'right' if alone[i].passed else 'WRONG'}"
        elif own == "no parameters" and not below:
            line += "; nothing of it could be verified"
        lines.append(line)
    through = "every gradient above" if compared else "nothing: no tensor was compared"
    lines.append(f"the loss ({type(loss).__name__}): its dscores verified through {through}")
    return lines


def _and(words: list[str]) -> str:
    return " and ".join(words) if len(words) < 3 else ", ".join(words[:-1]) + f" and {words[-1]}"


__all__ = ["Change", "accounts", "suspects", "unverified", "used_twice"]
