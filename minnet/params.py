"""Flat parameters: named arrays <-> one flat vector, and a flat index back to its entry.

A parameter is an array object. An array held by several layers (tied weights, as a tied
autoencoder's W or a language model's shared embedding) is one parameter: listed once, at its
first holder, with a gradient that sums every holder's grads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Slot:
    """Where one parameter tensor lives in the flat vector: v[start:start + size].

    `holders` lists every (layer index, key) whose params hold this array, the first one included.
    """

    layer_index: int
    layer_name: str
    param: str
    shape: tuple[int, ...]
    start: int
    holders: tuple[tuple[int, str], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.layer_index}.{self.param}"

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=int))

    @property
    def stop(self) -> int:
        return self.start + self.size

    @property
    def shared(self) -> bool:
        return len(self.holders) > 1


def layout(layers: Sequence) -> list[Slot]:
    """One Slot per parameter array, in layer order then `params` order, each array once."""
    holders: dict[int, list] = {}
    first: list[tuple[int, object, str, np.ndarray]] = []
    for i, layer in enumerate(layers):
        for name, p in layer.params.items():
            if id(p) not in holders:
                holders[id(p)] = []
                first.append((i, layer, name, p))
            holders[id(p)].append((i, name))
    slots, start = [], 0
    for i, layer, name, p in first:
        slots.append(Slot(i, type(layer).__name__, name, p.shape, start, tuple(holders[id(p)])))
        start += p.size
    return slots


def arrays(layers: Sequence, slots: Sequence[Slot]) -> list[np.ndarray]:
    """The parameter array of each slot."""
    return [layers[s.layer_index].params[s.param] for s in slots]


def gradient(layers: Sequence, slot: Slot) -> np.ndarray:
    """The gradient training applies to a slot: its holder's grads, summed over every holder."""
    if not slot.shared:
        return layers[slot.layer_index].grads[slot.param]
    first, *others = [layers[i].grads[name] for i, name in slot.holders]
    return sum(others, start=first)


def flatten(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Concatenate arrays into one 1-D vector (a copy)."""
    if not arrays:
        return np.zeros(0)
    return np.concatenate([np.ravel(a) for a in arrays])


def unflatten(vector: np.ndarray, arrays: Sequence[np.ndarray]) -> None:
    """Write consecutive pieces of `vector` into `arrays`, in place."""
    vector = np.asarray(vector)
    total = sum(a.size for a in arrays)
    if vector.ndim != 1 or vector.size != total:
        raise ValueError(f"expected a 1-D vector of {total} values, got shape {vector.shape}")
    start = 0
    for a in arrays:
        a[...] = vector[start:start + a.size].reshape(a.shape)
        start += a.size


def locate(slots: Sequence[Slot], index: int) -> tuple[Slot, tuple[int, ...]]:
    """Flat index -> (its Slot, the entry's index inside that tensor)."""
    for slot in slots:
        if slot.start <= index < slot.stop:
            return slot, tuple(int(i) for i in np.unravel_index(index - slot.start, slot.shape))
    total = slots[-1].stop if slots else 0
    raise IndexError(f"flat index {index} is outside 0..{total - 1}")
