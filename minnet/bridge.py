"""The PyTorch bridge: a minnet model to torch.nn.Sequential and back, and torch autograd as an
exact reference gradient for minnet's backprop.

    net = to_torch(model)                       # Dense -> Linear (W transposed), eval mode
    model = from_torch(net, loss=SoftmaxCE())   # back, for the layers minnet has
    report = autograd_check(model, X, y)        # a CheckReport, torch autograd as the reference

What carries over, each way:

    Dense      Linear (W transposed)       Conv2D     Conv2d (W as is: (out, in, k, k))
    ReLU       ReLU                        MaxPool2D  MaxPool2d
    LeakyReLU  LeakyReLU                   Flatten    Flatten
    Sigmoid    Sigmoid                     LayerNorm  LayerNorm (last axis; gamma, beta ->
    Tanh       Tanh                                   weight, bias)
    Dropout    Dropout                     BatchNorm  BatchNorm1d (momentum 1 - minnet's)
    GELU       GELU(approximate="tanh")    Sequential Sequential
    Embedding  Embedding (W -> weight)
    RNN, LSTM, GRU   RNN, LSTM, GRU, batch_first, returning their outputs alone (the classes of
               minnet/_torchnet.py). Wx, Wh -> weight_ih_l0, weight_hh_l0 (transposed); the
               LSTM's gate blocks i, f, o, g become torch's i, f, g, o; the one bias b of RNN
               and LSTM is bias_ih_l0 + bias_hh_l0 (to torch: b and 0); GRU's bx, bh are
               bias_ih_l0, bias_hh_l0.
    PositionalEncoding  PositionalEncoding (the table a buffer)
    Residual            Residual (a Sequential that adds its input)
    MultiHeadAttention  SelfAttention, holding MultiheadAttention(batch_first=True): Wq, Wk,
                        Wv the row blocks of its packed in_proj (each transposed), Wo out_proj

(PositionalEncoding, Residual and SelfAttention are small modules of minnet/_torchnet.py), and
for autograd_check the losses SoftmaxCE (cross_entropy), MSE (mse_loss), SigmoidBCE
(binary_cross_entropy_with_logits) and SVMLoss (C × multi_margin_loss, see LOSSES).

PyTorch is optional (pip install "minnet-edu[torch]", or ".[torch]" in a checkout). It is
imported inside these functions, so minnet itself never needs it. Each layer class maps onto a
torch module through one entry of PAIRS; a new layer joins the bridge by adding its entry.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

import numpy as np

from . import layers as L
from . import losses as losses_
from .gradcheck import CheckReport, LayerCheck, ParamCheck
from .gradcheck.calls import BEHAVIOUR
from .gradcheck.checker import model_advice
from .gradcheck.verdicts import blame_downstream, judge, l2_hint, repeat_backward, shape_mismatch
from .model import Model

INSTALL = 'pip install "minnet-edu[torch]" (in a minnet checkout: pip install ".[torch]")'
# The reference is exact, so analytic and torch differ by float64 round-off only: over 300
# random correct networks (tests/randnets.py) the worst tensor's rel_error was 3.3e-14, and
# every planted bug (tests/planted.py) has a tensor above 3e-2.
TOL = 1e-10  # a tensor passes when its rel_error is at most this
ATOL = 1e-13  # ...or when no entry is off by more than this times max(1, |J|)


def _torch():
    try:
        import torch
    except ImportError as e:
        raise ImportError(f"minnet.bridge needs PyTorch, which is not installed: {INSTALL}") \
            from e
    return torch


# ---- the table: one entry per layer class ---------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """A minnet layer class and its torch.nn module: how to build each from the other."""

    layer: type  # the minnet class
    module: str  # the name of the torch.nn class
    to_torch: Callable  # (layer, torch) -> module; the weights are copied afterwards
    from_torch: Callable  # (module, seed) -> layer; the weights are copied afterwards
    params: dict = field(default_factory=dict)  # minnet param name -> torch parameter name
    state: dict = field(default_factory=dict)  # minnet state name -> torch buffer name
    transposed: tuple = ()  # params torch stores transposed: Dense W (in, out) is weight (out, in)
    fixed: Callable | None = None  # (layer, torch) -> the module with minnet's frozen randomness
    blocks: tuple = ()  # torch's order of minnet's gate blocks along the last axis (LSTM: i f g o)
    folded: dict = field(default_factory=dict)  # minnet param -> a second torch bias added to it
    wrapper: str | None = None  # the class of minnet/_torchnet.py that to_torch builds
    places: Callable | None = None  # layer -> {param: Place}, for params torch packs together
    # A block's to_torch gives an empty container and its from_torch is the block's class:
    # the layers inside are bridged one by one (_built, _bare_layer).


class Place(NamedTuple):
    """Where a minnet array lives in a torch module: rows `rows` of the tensor at `path`
    ("weight", "2.1.attention.in_proj_weight"), its gate blocks in torch's order `blocks`,
    transposed when torch stores it so, and `folded`: the path of a second torch bias that adds
    to it (the recurrent layers' b = b_ih + b_hh)."""

    path: str
    rows: slice = slice(None)
    transposed: bool = False
    blocks: tuple = ()
    folded: str | None = None

    def tensor(self, module):
        """The torch tensor (a view) that holds the array, laid out as torch lays it out."""
        return _at(module, self.path)[self.rows]

    def to_torch(self, a: np.ndarray) -> np.ndarray:
        a = _blocks(a, self.blocks)
        return a.T if self.transposed else a

    def to_minnet(self, v: np.ndarray) -> np.ndarray:
        v = v.T if self.transposed else v
        return _blocks(v, tuple(np.argsort(self.blocks))).copy()

    def grad(self, module) -> np.ndarray:
        """torch's gradient of the array, laid out as minnet lays it out (0 where none). A
        folded bias b = b_ih + b_hh has dL/db = the gradient of either one; b_ih's is taken."""
        p = _at(module, self.path)
        g = _array(p.grad[self.rows]) if p.grad is not None else \
            np.zeros(tuple(p[self.rows].shape))
        return self.to_minnet(g)

    def under(self, prefix: str) -> Place:
        return self._replace(path=f"{prefix}.{self.path}",
                             folded=self.folded and f"{prefix}.{self.folded}")


def _at(module, path: str):
    """The tensor at a dotted path of a module: "weight", "2.1.attention.in_proj_weight"."""
    owner, _, name = path.rpartition(".")
    return getattr(module.get_submodule(owner), name)


def _dense(m, seed) -> L.Dense:
    if m.bias is None:
        raise ValueError(f"{m!r} has no bias, and minnet's Dense always has one")
    return L.Dense(m.in_features, m.out_features, seed=seed)


def _batchnorm(m, seed) -> L.BatchNorm:
    if not (m.affine and m.track_running_stats) or m.momentum is None:
        raise ValueError(f"{m!r}: minnet's BatchNorm has gamma and beta (affine=True) and "
                         f"running statistics with a momentum (track_running_stats=True, "
                         f"momentum not None)")
    return L.BatchNorm(m.num_features, momentum=1 - m.momentum, eps=m.eps)


def _one(m, name: str) -> int:
    """A setting torch allows per axis, (h, w), that minnet has once for both."""
    v = getattr(m, name)
    h, w = (v, v) if isinstance(v, int) else v
    if h != w:
        raise ValueError(f"{m!r}: minnet has one {name} for both axes, got {v}")
    return h


def _conv(m, seed) -> L.Conv2D:
    if m.bias is None or m.groups != 1 or _one(m, "dilation") != 1 or \
            m.padding_mode != "zeros":
        raise ValueError(f"{m!r}: minnet's Conv2D has a bias, groups=1, dilation=1 and "
                         f"padding_mode='zeros'")
    k = _one(m, "kernel_size")
    if m.padding == "same" and k % 2 == 0:
        raise ValueError(f"{m!r}: padding='same' with an even kernel pads unevenly, "
                         f"and minnet pads each side alike")
    padding = {"valid": 0, "same": (k - 1) // 2}.get(m.padding) if isinstance(m.padding, str) \
        else _one(m, "padding")
    return L.Conv2D(m.in_channels, m.out_channels, k, stride=_one(m, "stride"),
                    padding=padding, seed=seed)


def _maxpool(m, seed) -> L.MaxPool2D:
    if _one(m, "padding") != 0 or _one(m, "dilation") != 1 or m.ceil_mode or m.return_indices:
        raise ValueError(f"{m!r}: minnet's MaxPool2D has padding=0, dilation=1, "
                         f"ceil_mode=False and return_indices=False")
    return L.MaxPool2D(_one(m, "kernel_size"), _one(m, "stride"))


def _flatten(m, seed) -> L.Flatten:
    if (m.start_dim, m.end_dim) != (1, -1):
        raise ValueError(f"{m!r}: minnet's Flatten keeps axis 0 and flattens all the others "
                         f"(start_dim=1, end_dim=-1)")
    return L.Flatten()


def _layernorm(m, seed) -> L.LayerNorm:
    if len(m.normalized_shape) != 1 or not m.elementwise_affine or m.bias is None:
        raise ValueError(f"{m!r}: minnet's LayerNorm normalizes over the last axis only "
                         f"(normalized_shape of one int) and has gamma and beta "
                         f"(elementwise_affine=True, bias=True)")
    return L.LayerNorm(m.normalized_shape[0], eps=m.eps)


def _embedding(m, seed) -> L.Embedding:
    if m.padding_idx is not None or m.max_norm is not None or m.scale_grad_by_freq or m.sparse:
        raise ValueError(f"{m!r}: minnet's Embedding has no padding_idx, max_norm, "
                         f"scale_grad_by_freq or sparse gradient")
    return L.Embedding(m.num_embeddings, m.embedding_dim, seed=seed)


def _recurrent(cls):
    """(module, seed) -> minnet's RNN, LSTM or GRU, for a one-layer, batch_first module."""
    def build(m, seed):
        if (m.num_layers != 1 or m.bidirectional or not m.bias or not m.batch_first
                or getattr(m, "proj_size", 0) or getattr(m, "nonlinearity", "tanh") != "tanh"):
            raise ValueError(f"{m!r}: minnet's {cls.__name__} is one layer, one direction, "
                             f"batch_first=True, with biases (and tanh, no proj_size)")
        return cls(m.input_size, m.hidden_size, seed=seed,
                   return_sequences=getattr(m, "return_sequences", True))
    return build


def _wrapped(name: str):
    """(layer, torch) -> the class `name` of minnet/_torchnet.py for a recurrent layer."""
    def build(a, t):
        from . import _torchnet

        return getattr(_torchnet, name)(a.input_size, a.hidden_size,
                                        return_sequences=a.return_sequences, dtype=t.float64)
    return build


RECURRENT = {"params": {"Wx": "weight_ih_l0", "Wh": "weight_hh_l0", "b": "bias_ih_l0"},
             "transposed": ("Wx", "Wh"), "folded": {"b": "bias_hh_l0"}}


def _masked(layer, torch):
    """Dropout as a fixed function: multiply by minnet's frozen mask (identity in eval mode)."""
    return _torchnet().Masked(None if layer.mask is None else torch.from_numpy(layer.mask))


def _gelu(m, seed) -> L.GELU:
    if m.approximate != "tanh":
        raise ValueError(f"{m!r}: minnet's GELU is the tanh form (approximate='tanh')")
    return L.GELU()


def _attention(m, seed) -> L.MultiHeadAttention:
    a = m.attention
    lacks = [setting for wrong, setting in (
        (not a._qkv_same_embed_dim, "kdim = vdim = embed_dim"),
        (a.in_proj_bias is None, "bias=True"),
        (a.bias_k is not None, "add_bias_kv=False"),
        (a.add_zero_attn, "add_zero_attn=False"),
        (a.dropout != 0, "dropout=0"),
        (not a.batch_first, "batch_first=True"),
    ) if wrong]
    if lacks:
        raise ValueError(f"MultiheadAttention(embed_dim={a.embed_dim}, num_heads="
                         f"{a.num_heads}): minnet's MultiHeadAttention is self-attention with "
                         f"{', '.join(lacks)}")
    return L.MultiHeadAttention(a.embed_dim, a.num_heads, causal=m.causal, seed=seed)


def _attention_places(layer) -> dict[str, Place]:
    """torch packs Wq, Wk, Wv (each transposed) as the row blocks of in_proj_weight (3D, D)."""
    D, places = layer.embed_dim, {}
    for k, n in enumerate("qkv"):
        rows = slice(k * D, (k + 1) * D)
        places[f"W{n}"] = Place("attention.in_proj_weight", rows, transposed=True)
        places[f"b{n}"] = Place("attention.in_proj_bias", rows)
    places["Wo"] = Place("attention.out_proj.weight", transposed=True)
    places["bo"] = Place("attention.out_proj.bias")
    return places


def _positional(m, seed) -> L.PositionalEncoding:
    layer = L.PositionalEncoding(*m.table.shape)
    if not np.allclose(_array(m.table), layer.table, rtol=1e-6, atol=1e-6):
        raise ValueError(f"{m!r}: its table is not minnet's sinusoid")
    return layer


def _torchnet():
    from . import _torchnet  # imports torch: only once the bridge is used

    return _torchnet


PAIRS = [
    Pair(L.Dense, "Linear",
         lambda a, t: t.nn.Linear(a.in_features, a.out_features, dtype=t.float64), _dense,
         params={"W": "weight", "b": "bias"}, transposed=("W",)),
    Pair(L.ReLU, "ReLU", lambda a, t: t.nn.ReLU(), lambda m, s: L.ReLU()),
    Pair(L.LeakyReLU, "LeakyReLU", lambda a, t: t.nn.LeakyReLU(a.alpha),
         lambda m, s: L.LeakyReLU(m.negative_slope)),
    Pair(L.Sigmoid, "Sigmoid", lambda a, t: t.nn.Sigmoid(), lambda m, s: L.Sigmoid()),
    Pair(L.Tanh, "Tanh", lambda a, t: t.nn.Tanh(), lambda m, s: L.Tanh()),
    Pair(L.Dropout, "Dropout", lambda a, t: t.nn.Dropout(a.p), lambda m, s: L.Dropout(m.p, s),
         fixed=_masked),
    # torch: running = (1 - momentum) running + momentum batch; minnet weighs the old by momentum
    Pair(L.BatchNorm, "BatchNorm1d",
         lambda a, t: t.nn.BatchNorm1d(a.num_features, eps=a.eps, momentum=1 - a.momentum,
                                       dtype=t.float64), _batchnorm,
         params={"gamma": "weight", "beta": "bias"},
         state={"running_mean": "running_mean", "running_var": "running_var"}),
    # the same layout as torch: x (N, C, H, W), W (out, in, k, k), cross-correlation
    Pair(L.Conv2D, "Conv2d",
         lambda a, t: t.nn.Conv2d(a.in_channels, a.out_channels, a.kernel_size, stride=a.stride,
                                  padding=a.padding, dtype=t.float64), _conv,
         params={"W": "weight", "b": "bias"}),
    Pair(L.MaxPool2D, "MaxPool2d", lambda a, t: t.nn.MaxPool2d(a.kernel_size, a.stride),
         _maxpool),
    Pair(L.Flatten, "Flatten", lambda a, t: t.nn.Flatten(), _flatten),
    Pair(L.LayerNorm, "LayerNorm",
         lambda a, t: t.nn.LayerNorm(a.num_features, eps=a.eps, dtype=t.float64), _layernorm,
         params={"gamma": "weight", "beta": "bias"}),
    Pair(L.Embedding, "Embedding",
         lambda a, t: t.nn.Embedding(a.num_embeddings, a.embedding_dim, dtype=t.float64),
         _embedding, params={"W": "weight"}),
    Pair(L.RNN, "RNN", _wrapped("RNN"), _recurrent(L.RNN), wrapper="RNN", **RECURRENT),
    Pair(L.LSTM, "LSTM", _wrapped("LSTM"), _recurrent(L.LSTM), wrapper="LSTM",
         blocks=(0, 1, 3, 2), **RECURRENT),
    Pair(L.GRU, "GRU", _wrapped("GRU"), _recurrent(L.GRU), wrapper="GRU",
         params={"Wx": "weight_ih_l0", "Wh": "weight_hh_l0", "bx": "bias_ih_l0",
                 "bh": "bias_hh_l0"}, transposed=("Wx", "Wh")),
    Pair(L.GELU, "GELU", lambda a, t: t.nn.GELU(approximate="tanh"), _gelu),
    Pair(L.MultiHeadAttention, "SelfAttention",
         lambda a, t: _torchnet().SelfAttention(a.embed_dim, a.num_heads, a.causal,
                                                dtype=t.float64), _attention,
         places=_attention_places),
    Pair(L.PositionalEncoding, "PositionalEncoding",
         lambda a, t: _torchnet().PositionalEncoding(a.table), _positional),
    Pair(L.Residual, "Residual", lambda a, t: _torchnet().Residual(), L.Residual),
    Pair(L.Sequential, "Sequential", lambda a, t: t.nn.Sequential(), L.Sequential),
]

# each loss as a torch function of (the minnet loss, scores, y, torch)
LOSSES = {
    # classes on axis 1 for torch, (N, C, T); ignore_index -100 is torch's "none"
    losses_.SoftmaxCE: lambda loss, s, y, t: t.nn.functional.cross_entropy(
        s.movedim(-1, 1), _labels(y, t),
        ignore_index=-100 if loss.ignore_index is None else loss.ignore_index),
    losses_.MSE: lambda loss, s, y, t: t.nn.functional.mse_loss(
        s, _tensor(y, t).reshape(s.shape)),
    losses_.SigmoidBCE: lambda loss, s, y, t: t.nn.functional.binary_cross_entropy_with_logits(
        s, _tensor(y, t).reshape(s.shape)),
    # torch's hinge divides each sample's Σ_{j≠y} by the number of classes C; CS231n's does not
    losses_.SVMLoss: lambda loss, s, y, t: s.shape[1] * t.nn.functional.multi_margin_loss(
        s, _labels(y, t), margin=loss.margin),
}

def _known(obj, table: dict, what: str, then: str = ""):
    """The table entry of obj's nearest built-in ancestor, if obj computes the same function."""
    for cls in type(obj).__mro__:
        if cls in table:
            if all(getattr(type(obj), f, None) is getattr(cls, f, None) for f in BEHAVIOUR):
                return table[cls]
            break
    names = ", ".join(c.__name__ for c in table)
    raise TypeError(f"{what} ({type(obj).__name__}) has no torch counterpart: the bridge knows "
                    f"{names}, and subclasses of them that keep their forward. A class of your "
                    f"own is numpy code the bridge cannot translate into torch{then}")


BY_LAYER = {p.layer: p for p in PAIRS}


def _pair(layer, what: str, then: str = "") -> Pair:
    return _known(layer, BY_LAYER, what, then)


def _tensor(a, torch):
    return torch.from_numpy(np.array(a, dtype=np.float64))


def _labels(y, torch):
    return torch.from_numpy(np.asarray(y, dtype=np.int64))


def _input(layer, x, torch):
    """x as torch's first module takes it: token ids as int64, anything else as float64."""
    return _labels(x, torch) if getattr(layer, "takes_ids", False) else _tensor(x, torch)


def _blocks(a: np.ndarray, order: tuple) -> np.ndarray:
    """The gate blocks along a's last axis, in `order` (H = a.shape[-1] / number of blocks)."""
    if not order:
        return a
    H = a.shape[-1] // len(order)
    return np.concatenate([a[..., k * H:(k + 1) * H] for k in order], axis=-1)


def to_torch(model: Model, mode: str = "eval", dtype=None):
    """A torch.nn.Sequential with the same layers, weights and running statistics.

    mode: "eval" (the default) or "train", whatever mode the model is in. In eval mode the
    net computes what model.predict does (Dropout off, BatchNorm on its running statistics);
    after fit a model is left in training mode, so its own mode would give other outputs. Use
    "train" to train the net further in torch. print(net) shows the mode and the dtype.
    dtype: the model's (float64 unless it was cast with astype) by default, so that outputs
    equal the model's to round-off; torch.float32 for the float32 tensors torch uses by
    default. The loss and the l2 term are not part of the network; note that torch's
    weight_decay also decays biases, where minnet's l2 = 0.5 l2 Σ W² counts only Dense weights.
    """
    torch = _torch()
    if mode not in ("eval", "train"):
        raise ValueError(f"to_torch: mode must be 'eval' or 'train', got {mode!r}")
    dtype = _torch_dtype(model.dtype if dtype is None else dtype, torch)
    pairs = [_pair(layer, f"to_torch: layer {i}") for i, layer in enumerate(model.layers)]
    modules = [_module(layer, pair, torch) for layer, pair in zip(model.layers, pairs)]
    from ._torchnet import Sequential

    net = Sequential(*modules)
    _tie(net, model, pairs)
    return net.to(dtype).train(mode == "train")


def _tie(net, model: Model, pairs: list[Pair]) -> None:
    """A minnet array held by several layers becomes one torch Parameter held by their
    modules, where torch lays it out the same way in each (else each module keeps a copy)."""
    for slot in model.slots():
        if not slot.shared:
            continue
        places = [(str(i), _places(model.layers[i], pairs[i]).get(key)) for i, key in slot.holders]
        (first, place), *others = places
        for where, other in others:
            if place is not None and other is not None and place._replace(path="") == \
                    other._replace(path="") and place.rows == slice(None):
                owner, _, name = f"{where}.{other.path}".rpartition(".")
                setattr(net.get_submodule(owner), name, _at(net, f"{first}.{place.path}"))


def _torch_dtype(dtype, torch):
    """A torch floating dtype from a torch or numpy one."""
    if not isinstance(dtype, torch.dtype):
        dtype = getattr(torch, np.dtype(dtype).name, None)
    if dtype is None or not dtype.is_floating_point:
        raise ValueError(f"to_torch: dtype must be a floating type such as torch.float32 or "
                         f"torch.float64, got {dtype!r}")
    return dtype


def _module(layer, pair: Pair, torch):
    """The layer as a torch module with its weights and statistics, in the layer's mode."""
    module = _built(layer, pair, torch, lambda a, p, t: p.to_torch(a, t))
    with torch.no_grad():
        for name, place in _places(layer, pair).items():
            place.tensor(module).copy_(_tensor(place.to_torch(layer.params[name]), torch))
            if place.folded:  # minnet's one bias went to the first of torch's two
                _at(module, place.folded).zero_()
        for name, place in _buffers(layer, pair).items():
            place.tensor(module).copy_(_tensor(layer.state()[name], torch))
    return module.train(layer.training)


def _built(layer, pair: Pair, torch, leaf: Callable):
    """leaf(layer, pair, torch); for a block, its container holding its layers', built alike."""
    if not isinstance(layer, L.Sequential):
        return leaf(layer, pair, torch)
    container = pair.to_torch(layer, torch)
    for i, inner in enumerate(layer.layers):
        what = f"layer {i} of {type(layer).__name__}"
        container.append(_built(inner, _pair(inner, what), torch, leaf))
    return container


def _places(layer, pair: Pair) -> dict[str, Place]:
    """Where each of the layer's params lives in its module (a block's: in its modules)."""
    if isinstance(layer, L.Sequential):
        return _nested(layer, _places)
    if pair.places is not None:
        return pair.places(layer)
    return {name: Place(tname, transposed=name in pair.transposed, blocks=pair.blocks,
                        folded=pair.folded.get(name))
            for name, tname in pair.params.items()}


def _buffers(layer, pair: Pair) -> dict[str, Place]:
    """Where each of the layer's state arrays lives: a buffer of its module."""
    if isinstance(layer, L.Sequential):
        return _nested(layer, _buffers)
    return {name: Place(tname) for name, tname in pair.state.items()}


def _nested(block, where: Callable) -> dict[str, Place]:
    """where(layer, pair) of each layer of a block, names and paths under the layer's index."""
    return {f"{i}.{name}": place.under(str(i)) for i, inner in enumerate(block.layers)
            for name, place in where(inner, _pair(inner, f"layer {i} of "
                                                         f"{type(block).__name__}")).items()}


def from_torch(net, loss: losses_.Loss, l2: float = 0.0, seed: int | None = None) -> Model:
    """A minnet Model from a torch.nn.Sequential of modules minnet has, with the given loss.

    Weights and running statistics are copied exactly, in the network's dtype, and each layer
    keeps its module's mode. `seed` seeds the Dropout masks (seed + index of the module).
    """
    torch = _torch()
    if not isinstance(net, torch.nn.Sequential):
        raise TypeError(f"from_torch: expected a torch.nn.Sequential, got {type(net).__name__}")
    layers, dtypes = [], set()
    for i, module in enumerate(net):
        layer, pair = _bare_layer(module, None if seed is None else seed + i, str(i), torch)
        for name, place in _places(layer, pair).items():  # copied in place, then cast below
            v = _array(place.tensor(module))
            if place.folded:
                v = v + _array(_at(module, place.folded))
            layer.params[name][...] = place.to_minnet(v)
            dtypes.add(v.dtype)
        for name, place in _buffers(layer, pair).items():
            layer.state()[name][...] = _array(place.tensor(module))
        layer.training = module.training
        layers.append(layer)
    if len(dtypes) > 1:
        raise ValueError(f"from_torch: the network mixes dtypes {sorted(map(str, dtypes))}")
    _share(net, layers, torch)
    model = Model(layers, loss=loss, l2=l2)
    return model.astype(dtypes.pop()) if dtypes else model


def _share(net, layers, torch) -> None:
    """A torch Parameter held by several modules becomes one minnet array, where the layers
    hold it as arrays of one shape."""
    first: dict[int, tuple] = {}
    for i, (module, layer) in enumerate(zip(net, layers)):
        for name, place in _places(layer, _bare_layer(module, None, str(i), torch)[1]).items():
            p = _at(module, place.path)
            if place.rows != slice(None) or not isinstance(p, torch.nn.Parameter):
                continue
            if id(p) in first:
                j, other = first[id(p)]
                if layers[j].params[other].shape == layer.params[name].shape:
                    layer.params[name] = layers[j].params[other]
            else:
                first[id(p)] = (i, name)


def _bare_layer(module, seed, where: str, torch):
    """The minnet layer of a torch module, weights not yet copied, and its Pair."""
    by_module = {getattr(torch.nn, p.module, None) or getattr(_torchnet(), p.module): p
                 for p in PAIRS}
    by_module.update({getattr(_torchnet(), p.wrapper): p for p in PAIRS if p.wrapper})
    pair = by_module.get(type(module))
    if pair is None:
        names = ", ".join(p.module for p in PAIRS)
        raise TypeError(f"from_torch: module {where} ({module!r}) has no minnet counterpart; "
                        f"minnet has {names}")
    if issubclass(pair.layer, L.Sequential):
        return pair.from_torch(*[_bare_layer(m, seed, f"{where}.{j}", torch)[0]
                                 for j, m in enumerate(module)]), pair
    try:
        return pair.from_torch(module, seed), pair
    except ValueError as e:
        raise ValueError(f"from_torch: module {where}: {e}") from None


def _array(t) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


# ---- torch autograd as the reference gradient -----------------------------------------------


def autograd_check(model: Model, X: np.ndarray, y: np.ndarray, tol: float = TOL,
                   seed: int = 0) -> CheckReport:
    """Compare the model's backprop with torch autograd of the same function, tensor by tensor.

    The function is the one GradientChecker checks: training mode, each Dropout mask drawn once
    and used on both sides, BatchNorm on batch statistics, the l2 penalty included, float64.
    The reference has no eps, so the tolerance is round-off. When a tensor fails, each layer
    is checked alone (backward of a random upstream gradient G against torch's vector-Jacobian
    product, seeded by `seed`) and the loss on its own value, to name the suspects. The model
    itself is never touched: everything runs on a float64 copy.
    """
    torch = _torch()
    if not model.parameters():
        raise ValueError("autograd_check: the model has no parameters to check")
    instead = ", so there is no torch autograd to check against; mn.GradientChecker checks " \
        "any layer with centered differences"
    pairs = [_pair(layer, f"autograd_check: layer {i}", instead)
             for i, layer in enumerate(model.layers)]
    loss_fn = partial(_known(model.loss, LOSSES, "autograd_check: the loss", instead), model.loss)
    work = copy.deepcopy(model).astype(np.float64)
    X, y = work._check_data(X, y)
    work.train()
    for layer in work.layers:
        layer.freeze()  # Dropout keeps the mask its next forward draws; BatchNorm its statistics

    J, grads, accumulated = _backprop(work, X, y)
    inputs = [X]
    for layer in work.layers:  # frozen, so the same values as in the backprop above
        inputs.append(layer.forward(inputs[-1]))
    fns = [_oracle(layer, pair, torch) for layer, pair in zip(work.layers, pairs)]
    ref = _torch_grads(work, pairs, fns, loss_fn, X, y, torch)

    atol = ATOL * max(1.0, abs(J))
    checks, a_all, n_all = [], [], []
    for i, layer in enumerate(work.layers):
        for name in layer.params:
            c = _verdict(grads[i].get(name), ref[i][name], (i, type(layer).__name__, name),
                         tol, atol, len(X), accumulated.get((i, name)))
            if c.status == "FAIL" and c.checked:
                a, n = grads[i][name].ravel(), ref[i][name].ravel()
                c.hint = l2_hint(work, layer, name, a, n, np.arange(a.size)) or c.hint
            checks.append(c)
            if c.checked:
                a_all.append(grads[i][name].ravel())
                n_all.append(ref[i][name].ravel())
    a, n = np.concatenate(a_all or [[]]), np.concatenate(n_all or [[]])
    difference = float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), 1e-300))
    passed = all(c.passed for c in checks)
    found = [] if passed else _localize(work, pairs, fns, loss_fn, inputs, y, tol, seed, torch)
    suspects = [s for s in found if not s.passed]
    blame_downstream(checks, suspects)
    note = "reference gradient: torch autograd (exact, no eps; the 'numeric' column is " \
        "torch's)" + ("" if model.dtype == np.float64 else
                      f"; checked on a float64 copy of this {model.dtype} model")
    report = CheckReport(passed, difference, "autograd", 0.0, checks, found, suspects, tol, J,
                         note)
    report.advice = model_advice(report)
    return report


def _oracle(layer, pair: Pair, torch):
    """The layer as a torch module, with its frozen randomness where it has some."""
    return _built(layer, pair, torch, lambda a, p, t: p.fixed(a, t) if p.fixed
                  else _module(a, p, t))


def _backprop(work, X, y):
    """J and every layer's grads from the model's own compute_loss and backward.

    Forward and backward run twice at the same θ: a gradient that changes in between was
    added to (+=), not overwritten, and the second one is the one compared.
    """
    before = [{k: np.array(g) for k, g in layer.grads.items()} for layer in work.layers]
    work.compute_loss(X, y)
    work.backward()
    first = [{k: np.array(g) for k, g in layer.grads.items()} for layer in work.layers]
    J = work.compute_loss(X, y)
    work.backward()
    second = [{k: np.array(g, dtype=np.float64) for k, g in layer.grads.items()}
              for layer in work.layers]
    keyed = [{(i, k): g for i, grads in enumerate(d) for k, g in grads.items()}
             for d in (before, first, second)]
    return J, second, repeat_backward(*keyed)


def _torch_grads(work, pairs, fns, loss_fn, X, y, torch) -> list[dict[str, np.ndarray]]:
    """Torch autograd's dJ/dθ for each layer's params, in minnet's layout."""
    h = _input(work.layers[0], X, torch)
    for fn in fns:
        h = fn(h)
    J = loss_fn(h, y, torch)
    penalized = _penalized(work)
    if penalized:
        J = J + 0.5 * work.l2 * sum((getattr(fn, pair.params[name]) ** 2).sum()
                                    for i, (fn, pair) in enumerate(zip(fns, pairs))
                                    for name in pair.params if (i, name) in penalized)
    J.backward()
    return [_param_grads(layer, fn, pair) for layer, fn, pair in zip(work.layers, fns, pairs)]


def _param_grads(layer, module, pair: Pair) -> dict[str, np.ndarray]:
    return {name: place.grad(module) for name, place in _places(layer, pair).items()}


def _localize(work, pairs, fns, loss_fn, inputs, y, tol, seed, torch) -> list[LayerCheck]:
    """Each layer alone on the input it saw, then the loss on the scores: who is wrong."""
    rng = np.random.default_rng(seed)
    found = []
    for i, (layer, pair, fn) in enumerate(zip(work.layers, pairs, fns)):
        x = inputs[i]
        G = rng.standard_normal(np.shape(inputs[i + 1]))
        layer.input_grad = True  # alone, its input gradient is checked too
        dx, grads, accumulated = _alone(layer, x, G)
        fn.zero_grad(set_to_none=True)
        ids = getattr(layer, "takes_ids", False)  # token ids: no input gradient to compare
        xt = _input(layer, x, torch) if ids else _tensor(x, torch).requires_grad_()
        fn(xt).backward(_tensor(G, torch))
        ref = _param_grads(layer, fn, pair)
        atol = ATOL * max(1.0, float(np.abs(np.vdot(inputs[i + 1], G))))
        name = type(layer).__name__
        params = [_verdict(grads.get(k), ref[k], (i, name, k), tol, atol, len(x),
                           accumulated.get((0, k))) for k in layer.params]
        if ids:
            found.append(_without_input(i, name, params))
            continue
        inp = _verdict(dx, _array(xt.grad), (i, name, "input"), tol, atol, len(x))
        found.append(LayerCheck.of(i, name, inp, params))
    st = _tensor(inputs[-1], torch).requires_grad_()
    J = loss_fn(st, y, torch)
    J.backward()
    work.loss.forward(inputs[-1], y)
    ds = work.loss.backward()
    name = type(work.loss).__name__
    inp = _verdict(ds, _array(st.grad), (len(work.layers), name, "input"), tol,
                   ATOL * max(1.0, abs(J.item())), len(y))
    found.append(LayerCheck.of(len(work.layers), name, inp, [], is_loss=True))
    return found


def _without_input(index: int, name: str, params: list[ParamCheck]) -> LayerCheck:
    """The verdict on a layer whose input (token ids) has no gradient: its params alone."""
    found = LayerCheck.of(index, name, params[0], params[1:])  # verdict and hint over params
    found.params, found.input, found.input_rel_error = params, None, None
    return found


def _alone(layer, x, G):
    """dL/dx and grads of one layer for upstream gradient G (twice, as _backprop)."""
    before = {k: np.array(g) for k, g in layer.grads.items()}
    layer.forward(x)
    layer.backward(G)
    first = {k: np.array(g) for k, g in layer.grads.items()}
    layer.forward(x)
    dx = layer.backward(G)
    second = {k: np.array(g, dtype=np.float64) for k, g in layer.grads.items()}
    keyed = [{(0, k): g for k, g in d.items()} for d in (before, first, second)]
    return dx, second, repeat_backward(*keyed)


def _verdict(a, n, where, tol, atol, batch, accumulated=None) -> ParamCheck:
    """The checker's verdict on analytic a against torch's n: every entry, no kinks."""
    index, name, param = where
    if a is None or np.shape(a) != n.shape:
        return shape_mismatch(index, name, param, n.shape, None if a is None else np.shape(a))
    a = np.asarray(a, dtype=np.float64)
    return judge(a.ravel(), n.ravel(), np.zeros(n.size, dtype=bool), np.arange(n.size), a, tol,
                 atol, where, "full", batch, accumulated)


def _penalized(model) -> set[tuple[int, str]]:
    """(layer index, param name) of the tensors the model's l2 term penalizes."""
    weights = [W for W, _ in model._penalized()]
    return {(i, name) for i, layer in enumerate(model.layers)
            for name, p in layer.params.items() if any(p is W for W in weights)}
