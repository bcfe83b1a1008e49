"""What the axes of a tensor are, in words: so that a statement can say "in channel 1",
"at time step 0", "at kernel offsets (0, 1), (1, 0)" rather than "along axis 2".

The names come from shapes alone, in the conventions minnet follows: a batch first, (N, F) for
features, (N, T, D) for sequences, (N, C, H, W) for images, a weight (in, out) or a kernel
(O, C, kh, kw). An axis whose length is a whole number of hidden sizes (an LSTM's 4H) is
split into blocks; a layer may name them with a `gate_names` attribute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Axes:
    """Names for each axis of a tensor, and the blocks an axis splits into."""

    names: tuple[str, ...]  # "sample", "feature", "time step", "channel", "kernel row", ...
    blocks: dict[int, tuple[int, tuple[str, ...] | None]]  # axis -> (block size, block names)
    spatial: tuple[int, int] | None = None  # two axes read together: rows and columns

    def name(self, axis: int) -> str:
        return self.names[axis]

    def plural(self, axis: int) -> str:
        name = self.names[axis]
        return name[:-1] + "ies" if name.endswith("y") else name + "es" \
            if name.endswith(("x", "s")) else name + "s"

    def of(self, axis: int, indices) -> str:
        """'sample 3', 'samples 0, 2 and 5', 'time steps 0..4'."""
        indices = [int(i) for i in indices]
        if len(indices) == 1:
            return f"{self.name(axis)} {indices[0]}"
        return f"{self.plural(axis)} {_listed(indices)}"

    def block(self, axis: int, b: int) -> str:
        """'columns 3:6 (block 2 of 4, the forget f gate)', 'columns 0:2 (head 0)'."""
        size, labels = self.blocks[axis]
        text = f"{self.plural(axis)} {b * size}:{(b + 1) * size}"
        if labels and labels[b].startswith("head"):
            return f"{text} ({labels[b]})"
        if labels:
            return f"{text} (block {b + 1} of {len(labels)}, {labels[b]})"
        return f"{text} (block {b + 1})"


def _listed(indices: list[int]) -> str:
    if len(indices) > 2 and indices == list(range(indices[0], indices[-1] + 1)):
        return f"{indices[0]}..{indices[-1]}"
    if len(indices) > 8:
        return ", ".join(map(str, indices[:8])) + f" and {len(indices) - 8} more"
    return ", ".join(map(str, indices[:-1])) + f" and {indices[-1]}"


HEADS = ("num_heads", "heads", "n_heads")  # how a layer says it has attention heads


def of_input(x_shape: tuple, loss: bool = False) -> Axes:
    """A layer's input x, or the gradient dx of the same shape."""
    last = "class" if loss else "feature"
    names = {1: ("entry",), 2: ("sample", last), 3: ("sample", "time step", last),
             4: ("sample", "channel", "row", "column")}.get(len(x_shape))
    names = names or ("sample", *[f"axis {a}" for a in range(1, len(x_shape))])
    return Axes(names, {}, (2, 3) if len(x_shape) == 4 else None)


def of_param(shape: tuple, x_shape: tuple, out_shape: tuple | None, layer=None) -> Axes:
    """A parameter, from how its shape relates to the input and output of its layer."""
    gates = getattr(layer, "gate_names", None)
    out_last = out_shape[-1] if out_shape else None
    heads = next((getattr(layer, k) for k in HEADS if isinstance(getattr(layer, k, None), int)),
                 None)
    if heads and heads > 1 and len(shape) in (1, 2) and shape[-1] % heads == 0 \
            and shape[-1] == out_last:  # attention: each head a block of the last axis
        names = ("input feature", "column")[-len(shape):]
        return Axes(names, {len(shape) - 1: (shape[-1] // heads,
                                             tuple(f"head {h}" for h in range(heads)))})
    if len(shape) == 4:
        return Axes(("output channel", "input channel", "kernel row", "kernel column"), {},
                    (2, 3))
    if len(shape) == 2:
        names = ("row", "column")
        if x_shape and shape[0] == x_shape[-1]:
            names = ("input feature", "column")
        elif out_last and shape[0] == out_last:
            names = ("hidden unit", "column")
        return Axes(names, _blocks(shape, 1, out_last, gates))
    if len(shape) == 1:
        name = "channel" if out_shape and len(out_shape) == 4 and shape[0] == out_shape[1] \
            else "feature"
        return Axes((name,), _blocks(shape, 0, out_last, gates))
    return Axes(tuple(f"axis {a}" for a in range(len(shape))), {})


def _blocks(shape: tuple, axis: int, hidden: int | None, gates) -> dict:
    """An axis of length m·H (m = 2..4, H the output's width): m blocks of H."""
    if not hidden or hidden < 2 or shape[axis] == hidden or shape[axis] % hidden:
        return {}
    m = shape[axis] // hidden
    if not 2 <= m <= 4:
        return {}
    labels = tuple(f"the {g} gate" for g in gates) if gates and len(gates) == m else None
    return {axis: (hidden, labels)}


def index(axes: Axes, at: tuple) -> str:
    """An entry in words: 'sample 3, feature 1'."""
    return ", ".join(f"{axes.name(a)} {int(i)}" for a, i in enumerate(at))


def spread(mask: np.ndarray, axis: int) -> np.ndarray:
    """Which indices along `axis` hold a True somewhere (any over the other axes)."""
    return np.moveaxis(mask, axis, 0).reshape(mask.shape[axis], -1).any(axis=1)
