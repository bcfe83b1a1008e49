"""Sampling from a trained sequence model: draw the next token, feed it back, repeat.

    ids = mn.sample(model, prefix_ids, steps=200, temperature=0.8, seed=0)
    text = mn.sample_text(model, vocab, "ROMEO:", steps=200)
"""

from __future__ import annotations

import numpy as np

from .datasets import Vocabulary
from .gradcheck.calls import is_own
from .layers import Activation, Dense, Dropout, Embedding, LayerNorm, PositionalEncoding, Recurrent
from .losses import log_softmax

# layers whose output at step t depends on their input at step t alone, so that they can read
# one new id at a time; attention reads the steps before t too, a positional encoding t itself
STEPWISE = (Embedding, Dense, Activation, Dropout, LayerNorm)


def sample(model, prefix, steps: int, temperature: float = 1.0, seed: int = 0) -> np.ndarray:
    """The prefix's token ids followed by `steps` sampled ones: (len(prefix) + steps,) int64.

    The model reads the prefix, draws the next id from softmax(scores / temperature) at its
    last step, reads that id, and so on. temperature < 1 sharpens the distribution (likelier,
    more repetitive text), > 1 flattens it, 0 always takes the likeliest id. Recurrent layers
    go on from the state they reached (their last_state), so each new id costs one step;
    any other model (a Transformer, a layer of your own) reads the whole sequence again at
    every step, or its last max_len ids when a PositionalEncoding can place no more.
    The first layer takes ids (an Embedding) or one-hot vectors (say an RNN whose input_size
    is the vocabulary's size). Layers run in eval mode; their modes are put back afterwards.
    """
    ids = np.asarray(prefix)
    if ids.ndim != 1 or ids.size == 0 or ids.dtype.kind not in "iu":
        raise ValueError(f"sample: prefix must be a non-empty 1-D sequence of integer token "
                         f"ids, got {ids!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"sample: steps must be an integer >= 0, got {steps!r}")
    if isinstance(temperature, bool) or not np.isfinite(temperature) or temperature < 0:
        raise ValueError(f"sample: temperature must be a finite number >= 0, got "
                         f"{temperature!r}")
    rng = np.random.default_rng(seed)
    # a layer of the user's own may keep a state that forward(x, h0) cannot hand on
    carry = all(isinstance(layer, Recurrent) or (is_own(layer) and isinstance(layer, STEPWISE))
                for layer in model.layers)
    window = _window(model.layers)
    modes = [layer.training for layer in model.layers]
    model.eval()
    try:
        out, states = list(ids.tolist()), {}
        for step in range(steps):
            if carry:  # the prefix, then only the id drawn last
                seen = ids if step == 0 else np.array(out[-1:])
            else:
                seen = np.array(out if window is None else out[-window:])
            scores = _next_scores(model, seen, states if carry else {})
            out.append(_draw(scores, temperature, rng))
    finally:
        for layer, mode in zip(model.layers, modes):
            layer.training = mode
    return np.array(out, dtype=np.int64)


def sample_text(model, vocab: Vocabulary, prefix: str, steps: int, temperature: float = 1.0,
                seed: int = 0) -> str:
    """sample() with the prefix and the result as text: prefix followed by `steps` characters."""
    return vocab.decode(sample(model, vocab.encode(prefix), steps, temperature, seed))


def _next_scores(model, ids: np.ndarray, states: dict) -> np.ndarray:
    """Scores (V,) for the token after ids, recurrent layers starting from `states`, which
    then holds the state each of them reached."""
    h = _inputs(model, ids[None])  # a batch of one sequence, (1, T)
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Recurrent):
            h = layer.forward(h, *states.get(i, ()))
            states[i] = layer.last_state
        else:
            h = layer.forward(h)
    return h[0, -1] if h.ndim == 3 else h[0]  # the last step, or a model of the last step only


def _window(layers) -> int | None:
    """The most steps the layers read at once: the smallest max_len of their
    PositionalEncodings, those inside blocks too; None when nothing limits it."""
    limits = []
    for layer in layers:
        if isinstance(layer, PositionalEncoding):
            limits.append(layer.max_len)
        elif hasattr(layer, "layers"):
            limits.append(_window(layer.layers))
    return min((n for n in limits if n is not None), default=None)


def _inputs(model, ids: np.ndarray) -> np.ndarray:
    """ids for a first layer that takes them; else one-hot rows of the first layer's width."""
    first = model.layers[0]
    if getattr(first, "takes_ids", False):
        return ids
    width = getattr(first, "input_size", getattr(first, "in_features", None))
    if width is None or ids.max() >= width:
        raise ValueError(f"sample: the first layer {first!r} takes neither token ids nor "
                         f"one-hot vectors wide enough for id {ids.max()}")
    return np.eye(width, dtype=model.dtype)[ids]


def _draw(scores: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    if temperature == 0:
        return int(np.argmax(scores))
    p = np.exp(log_softmax(np.asarray(scores, dtype=np.float64) / temperature))
    return int(rng.choice(len(p), p=p / p.sum()))
