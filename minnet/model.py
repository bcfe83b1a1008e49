"""Model: a stack of layers and a loss, with flat parameters, training, and save / load."""

from __future__ import annotations

import json
import math
import os
import tempfile
import textwrap
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import layers as L
from . import losses as losses_
from . import params as P
from ._progress import tqdm
from .datasets import batches
from .gradcheck import debug_check, debug_requested
from .gradcheck.calls import by_minnet
from .layers.blocks import forward_all
from .optim import Adam, Optimizer

SHAPE_KEEPING = (L.Activation, L.Dropout, L.BatchNorm, L.LayerNorm, L.MultiHeadAttention,
                 L.PositionalEncoding)
BLOCKS = ("Sequential", "Residual")  # spec entries whose config holds their layers' entries
CLASS_SCORES = (losses_.SoftmaxCE, losses_.SVMLoss)  # one score per class: predict the argmax
EVAL_CHUNK = 4096  # rows per forward pass in evaluate / predict, to bound memory
# fit stops when a batch's loss exceeds DIVERGED * max(first loss, 1). A healthy run's batch
# losses stay within a few times its first one; cross-entropy starts near log(classes) < 10,
# and a loss of 1000 means the true class got probability e^-1000. The max(., 1) keeps a run
# that starts near 0 (fine-tuning) from stopping at its first bump.
DIVERGED = 1e3


@dataclass
class History:
    """Per-epoch metrics of a fit; accuracy entries are None for regression losses."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float | None] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float | None] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)  # mean ‖g‖ of the steps, before clipping
    clipped: list[int] = field(default_factory=list)  # steps whose gradient fit(clip_norm=) scaled

    def to_dict(self) -> dict:
        return asdict(self)


class _Guard:
    """Stops a diverging fit and puts back the parameters of its last sound step.

    check(loss) before each step: raises FloatingPointError when the loss is not finite or
    exceeds DIVERGED * max(first loss, 1), else copies the arrays (parameters and running
    statistics). A step's damage shows only in the next loss, so every sound step is copied:
    one memcpy into buffers allocated once.
    """

    def __init__(self, arrays: list[np.ndarray]) -> None:
        self.arrays, self.sound = arrays, [np.empty_like(a) for a in arrays]
        self.first, self.limit = None, math.inf

    def check(self, loss: float, epoch: int, step: int) -> None:
        if not loss < self.limit:  # NaN and inf too
            grown = (f", over {DIVERGED:g} times its first value {self.first:.4g}"
                     if self.first is not None and math.isfinite(loss) else "")
            self.fail(f"the loss is {loss:.4g}{grown}", epoch, step)
        if self.first is None:
            self.first, self.limit = loss, DIVERGED * max(loss, 1.0)
        for keep, a in zip(self.sound, self.arrays):
            np.copyto(keep, a)

    def check_arrays(self, epochs: int, steps: int) -> None:
        """After the last step, which no loss has checked: are the arrays finite?"""
        if not all(np.isfinite(a).all() for a in self.arrays):
            self.fail("the parameters are no longer finite", epochs - 1, steps - 1)

    def fail(self, what: str, epoch: int, step: int) -> None:
        if self.first is not None:  # a sound step was copied: put it back
            for keep, a in zip(self.sound, self.arrays):
                np.copyto(a, keep)
        raise FloatingPointError(
            f"training diverged at epoch {epoch + 1}, step {step + 1}: {what}; the parameters "
            f"are kept from the last sound step (try a smaller learning rate)")


class Model:
    """Layers applied in order, then a loss; J = loss + 0.5 * l2 * Σ W² over Dense weights."""

    def __init__(self, layers: list, loss: losses_.Loss, l2: float = 0.0) -> None:
        layers = list(layers)
        if not layers:
            raise ValueError("Model needs at least one layer, got an empty list")
        for i, layer in enumerate(layers):
            if isinstance(layer, L.Layer) and not hasattr(layer, "params"):
                raise TypeError(f"layer {i} ({type(layer).__name__}) has no params: does its "
                                f"__init__ call super().__init__()?")
            if not all(hasattr(layer, a) for a in ("forward", "backward", "params", "grads")):
                raise TypeError(f"layer {i} ({layer!r}) is not a Layer: it needs forward, "
                                f"backward, params and grads")
        if not (hasattr(loss, "forward") and hasattr(loss, "backward")):
            raise TypeError(f"loss must be a Loss with forward and backward, got {loss!r}")
        if isinstance(l2, bool) or not np.isfinite(l2) or l2 < 0:
            raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
        self.layers, self.loss, self.l2 = layers, loss, float(l2)
        if by_minnet(layers[0], "backward"):  # a user's backward may need super()'s dx
            layers[0].input_grad = False  # dL/dX is never used: skip a third of the backward
        for layer in layers[1:]:
            layer.input_grad = True  # even if it came from the front of another model
        self.input_shape, self.output_shape = _check_widths(layers)
        self.n_outputs = _width(self.output_shape, leading=True)
        self.n_inputs = _width(self.input_shape, leading=True)

    # ---- the computation -------------------------------------------------------------

    def train(self) -> Model:
        for layer in self.layers:
            layer.training = True
        return self

    def eval(self) -> Model:
        for layer in self.layers:
            layer.training = False
        return self

    def forward(self, X: np.ndarray) -> np.ndarray:
        """X (N, in), or images (N, C, H, W) for a conv net -> scores (N, out)."""
        return forward_all(self.layers, X)

    def penalty(self) -> float:
        """0.5 * l2 * Σ W² over the weights of Dense layers."""
        if self.l2 == 0:
            return 0.0
        return 0.5 * self.l2 * sum(float(np.sum(W**2)) for W, _ in self._penalized())

    def compute_loss(self, X: np.ndarray, y: np.ndarray) -> float:
        """Forward pass, data loss and l2 penalty. Checks X and y first."""
        X, y = self._check_data(X, y)
        return self._loss(X, y)

    def _loss(self, X: np.ndarray, y: np.ndarray) -> float:
        return self.loss.forward(self.forward(X), y) + self.penalty()

    def backward(self) -> None:
        """After compute_loss: fill every layer's grads, l2 term included."""
        d = self.loss.backward()
        for layer in reversed(self.layers):
            d = layer.backward(d)
        for W, dW in self._penalized():
            dW += self.l2 * W

    def _penalized(self):
        """(W, the grads array its l2 term goes to) for each Dense weight, those inside blocks
        too, a shared W once."""
        if not self.l2:
            return
        seen = set()
        for layer in _dense_layers(self.layers):
            if id(layer.params["W"]) not in seen:
                seen.add(id(layer.params["W"]))
                yield layer.params["W"], layer.grads["W"]

    # ---- parameters ------------------------------------------------------------------

    def named_parameters(self) -> list[tuple[str, np.ndarray]]:
        """("layer index.key", array) for every parameter; an array shared by several layers
        appears once, named after its first holder."""
        slots = self.slots()
        return list(zip([s.name for s in slots], P.arrays(self.layers, slots)))

    def parameters(self) -> list[np.ndarray]:
        return [p for _, p in self.named_parameters()]

    def gradients(self) -> list[np.ndarray]:
        """The gradient of each parameter, in the same order; a shared one sums its holders'."""
        return [P.gradient(self.layers, s) for s in self.slots()]

    def slots(self) -> list[P.Slot]:
        """Where each parameter tensor sits in the flat vector (see params.locate)."""
        return P.layout(self.layers)

    def zero_grad(self) -> None:
        for layer in self.layers:
            layer.zero_grad()

    def get_flat_params(self) -> np.ndarray:
        return P.flatten(self.parameters())

    def set_flat_params(self, v: np.ndarray) -> None:
        v = np.asarray(v)
        if not np.issubdtype(v.dtype, np.floating) or not np.isfinite(v).all():
            raise ValueError("set_flat_params: the vector must hold finite floating-point values")
        P.unflatten(v, self.parameters())

    def get_flat_grads(self) -> np.ndarray:
        return P.flatten(self.gradients())

    @property
    def dtype(self) -> np.dtype:
        ps = self.parameters()
        return ps[0].dtype if ps else np.dtype(np.float64)

    def astype(self, dtype) -> Model:
        """Cast every parameter, gradient and state array; training then stays in `dtype`."""
        dtype = np.dtype(dtype)
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"astype: a model needs a floating-point dtype, got {dtype}")
        slots = self.slots()
        for layer in self.layers:
            layer.astype(dtype)
        self._tie(slots)  # each layer cast its own copy: make shared arrays shared again
        return self

    def _tie(self, slots: list[P.Slot]) -> None:
        """Let every holder of a slot hold its first holder's array."""
        for s in slots:
            for i, key in s.holders[1:]:
                self.layers[i].params[key] = self.layers[s.layer_index].params[s.param]

    # ---- training ----------------------------------------------------------------------

    def fit(self, X: np.ndarray, y: np.ndarray, epochs: int = 10, batch_size: int = 32,
            optimizer: Optimizer | None = None, validation_data: tuple | None = None,
            seed: int = 0, progress: bool = True, debug: bool = False,
            clip_norm: float | None = None) -> History:
        """Mini-batch training on shuffled batches drawn from `seed`.

        debug=True (or MINNET_DEBUG=1) runs the gradient checker on a small batch first and
        raises GradientCheckError, before any step, if backprop is wrong. A loss that overflows
        or exceeds DIVERGED * max(first loss, 1) raises FloatingPointError, the parameters put
        back to those of the last sound step. clip_norm: before each step, gradients whose
        global norm exceeds it are scaled down to it (see clip_gradients); History records
        the mean norm before clipping (grad_norm) and the steps clipped, per epoch.
        """
        X, y = self._check_data(X, y)
        if validation_data is not None:
            validation_data = self._check_data(*validation_data)
        for name, n in (("epochs", epochs), ("batch_size", batch_size)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"fit: {name} must be a positive integer, got {n!r}")
        _check_clip_norm(clip_norm)
        smallest = len(X) % batch_size or batch_size
        if smallest < 2 and any(isinstance(layer, L.BatchNorm) for layer in self.layers):
            raise ValueError(f"fit: {len(X)} samples in batches of {batch_size} give a batch of "
                             f"1 sample, which BatchNorm cannot normalize; choose another "
                             f"batch_size")
        optimizer = optimizer or Adam()
        rng = np.random.default_rng(seed)
        if debug_requested(debug):
            debug_check(self, X, y, seed=seed)

        history = History()
        steps = -(-len(X) // batch_size)
        guard = _Guard(list(self._arrays().values()))
        bar = tqdm(total=epochs * steps, disable=not progress, unit="step", leave=True)
        errors = np.seterr(all="ignore")  # overflow ends in the guard's one clear message
        try:
            for epoch in range(epochs):
                self.train()
                total = correct = counted = 0.0
                norms = []
                for step, (xb, yb) in enumerate(batches(X, y, batch_size, rng)):
                    loss, (hits, count), norm = self._train_step(xb, yb, optimizer, guard,
                                                                 epoch, step, clip_norm)
                    total, correct, counted = total + loss * len(xb), correct + hits, \
                        counted + count
                    norms.append(norm)
                    bar.update()
                history.grad_norm.append(float(np.mean(norms)))
                history.clipped.append(0 if clip_norm is None else
                                       sum(n > clip_norm for n in norms))
                self._record(history, total / len(X), correct / counted, validation_data)
                bar.set_postfix(_postfix(history), refresh=False)
                bar.set_description(f"epoch {epoch + 1}/{epochs}", refresh=True)
            guard.check_arrays(epochs, steps)
        finally:
            np.seterr(**errors)
            bar.close()
            self.train()
        return history

    def _train_step(self, X, y, optimizer, guard, epoch, step, clip_norm):
        """One step; returns the loss, (hits, targets counted) and the norm before clipping."""
        scores = self.forward(X)
        loss = self.loss.forward(scores, y) + self.penalty()
        guard.check(loss, epoch, step)
        self.backward()
        norm = self.clip_gradients(clip_norm)
        optimizer.step(self)
        return loss, self._hits(scores, y), norm

    def clip_gradients(self, max_norm: float | None) -> float:
        """Scale every gradient by max_norm / ‖g‖ when ‖g‖ > max_norm; return ‖g‖ before.

        ‖g‖ is the global norm: all gradients as one vector, √(Σ g²). Scaling them together
        keeps the direction of the step and bounds its length, so one exploding batch (an RNN
        over a long sequence) cannot throw the weights far. max_norm=None only measures.
        """
        norm = math.sqrt(sum(float(np.vdot(g, g)) for g in self.gradients()))
        if max_norm is not None and norm > max_norm:
            held = {id(g): g for layer in self.layers for g in layer.grads.values()}
            for g in held.values():  # each array once, even when layers share one
                g *= max_norm / norm
        return norm

    def _hits(self, scores: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        """Correct predictions and how many targets count: one per sample, or one per token
        of a sequence (N, T) except the loss's ignore_index. NaN hits for regression."""
        if isinstance(self.loss, CLASS_SCORES):
            y = np.asarray(y)
            ignore = getattr(self.loss, "ignore_index", None)
            counts = y != ignore if ignore is not None else np.ones(y.shape, dtype=bool)
            right = (scores.argmax(axis=-1) == y) & counts
            return float(np.count_nonzero(right)), int(np.count_nonzero(counts))
        if isinstance(self.loss, losses_.SigmoidBCE):
            return float(np.count_nonzero((scores.ravel() > 0) == (np.ravel(y) == 1))), len(y)
        return np.nan, len(y)

    def _record(self, history, loss, accuracy, validation_data) -> None:
        classify = not np.isnan(accuracy)
        history.loss.append(loss)
        history.accuracy.append(accuracy if classify else None)
        if validation_data is not None:
            metrics = self._evaluate(*validation_data)
            history.val_loss.append(metrics["loss"])
            history.val_accuracy.append(metrics["accuracy"])

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> dict:
        """In eval mode: {"loss": data loss + l2 penalty, "accuracy": fraction correct or None}."""
        return self._evaluate(*self._check_data(X, y))

    def _evaluate(self, X, y) -> dict:
        scores = self._scores(X)
        loss = self.loss.forward(scores, y) + self.penalty()
        hits, counted = self._hits(scores, y)
        return {"loss": loss, "accuracy": None if np.isnan(hits) else hits / counted}

    def _scores(self, X: np.ndarray) -> np.ndarray:
        """Eval-mode scores, computed in chunks; the layers' training flags are restored."""
        modes = [layer.training for layer in self.layers]
        self.eval()
        try:
            return np.concatenate([self.forward(X[i:i + EVAL_CHUNK])
                                   for i in range(0, len(X), EVAL_CHUNK)])
        finally:
            for layer, mode in zip(self.layers, modes):
                layer.training = mode

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (N, C), or (N, T, C) per token of a sequence, for SoftmaxCE;
        P(y = 1) (N,) for SigmoidBCE."""
        scores = self._scores(self._check_data(X)[0])
        if isinstance(self.loss, losses_.SoftmaxCE):
            return np.exp(losses_.log_softmax(scores))
        if isinstance(self.loss, losses_.SigmoidBCE):
            return np.exp(-np.logaddexp(0, -scores.ravel()))
        raise TypeError(f"predict_proba needs a classification loss, not {self.loss!r}")

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class labels (N,), or (N, T) per token of a sequence, for classification losses;
        raw outputs for regression (MSE)."""
        scores = self._scores(self._check_data(X)[0])
        if isinstance(self.loss, CLASS_SCORES):
            return scores.argmax(axis=-1)
        if isinstance(self.loss, losses_.SigmoidBCE):
            return (scores.ravel() > 0).astype(int)
        return scores

    def _check_data(self, X, y=None):
        """Validate X (and y) before anything runs; returns X in the model's dtype."""
        X = np.asarray(X)
        if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)):
            raise TypeError(f"X must hold numbers, got dtype {X.dtype}")
        if X.ndim < 2:
            raise ValueError(f"X must be 2-D (samples, features), got shape {X.shape}")
        if len(X) == 0:
            raise ValueError("X is an empty batch (0 samples)")
        if self.input_shape is not None and not _fits(X.shape[1:], self.input_shape):
            raise ValueError(f"layer 0 ({self.layers[0]!r}) expects input of shape "
                             f"{_text(self.input_shape, 'N')}, got {X.shape}")
        out = self.output_shape
        if X.ndim > 2:  # images, sequences: now every size is known, so check every layer
            out = _check_widths(self.layers, X.shape[1:])[1]
        if not np.isfinite(X).all():
            bad = np.argwhere(~np.isfinite(X))
            where = f"column {bad[0][1]}" if X.ndim == 2 else f"index {tuple(bad[0][1:].tolist())}"
            raise ValueError(f"X holds {len(bad)} NaN or infinite values, the first at "
                             f"row {bad[0][0]}, {where}")
        if getattr(self.layers[0], "takes_ids", False):  # token ids stay integers
            if X.dtype.kind not in "iu":
                raise TypeError(f"layer 0 ({self.layers[0]!r}) takes integer token ids, got X "
                                f"of dtype {X.dtype}")
        else:
            X = X.astype(self.dtype, copy=False)  # documented: inputs take the model's dtype
        if y is None:
            return X, None
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != len(X):
            raise ValueError(f"X has {len(X)} samples but y has shape {y.shape}")
        if _width(out) is not None and hasattr(self.loss, "check_target"):
            self.loss.check_target(y, len(X), _width(out))
        elif _is_sequence(out) and isinstance(self.loss, losses_.SoftmaxCE):
            self.loss.check_target(y, len(X), out[1], axes=2)
        return X, y

    # ---- save and load -------------------------------------------------------------

    def spec(self) -> dict:
        """The architecture as plain data: layer classes and constructor arguments, and which
        parameters are shared ("ties": {"3.W": "0.W"}, a holder and the slot it shares)."""
        spec = {"format": "minnet", "version": 1, "l2": self.l2, "dtype": str(self.dtype),
                "loss": type(self.loss).__name__, "loss_config": self.loss.config(),
                "layers": [{"class": type(layer).__name__, "config": layer.config()}
                           for layer in self.layers]}
        ties = {f"{i}.{key}": s.name for s in self.slots() for i, key in s.holders[1:]}
        return spec | ({"ties": ties} if ties else {})

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = dict(self.named_parameters())
        for i, layer in enumerate(self.layers):
            state = layer.state() if hasattr(layer, "state") else {}
            arrays.update({f"{i}.{k}": v for k, v in state.items()})
        return arrays

    def save(self, path: str | os.PathLike) -> None:
        """Write an .npz file atomically (a crash mid-save leaves any old file whole), creating
        missing folders."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
            with os.fdopen(fd, "wb") as f:
                np.savez(f, __spec__=np.array(json.dumps(self.spec())), **self._arrays())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike) -> Model:
        """Rebuild a saved model (built-in layers and losses only)."""
        spec, arrays = _read_checkpoint(path)
        known = {c.__name__: c for c in (L.Dense, L.ReLU, L.LeakyReLU, L.Sigmoid, L.Tanh,
                                         L.Dropout, L.BatchNorm, L.Conv2D, L.MaxPool2D,
                                         L.Flatten, L.LayerNorm, L.Embedding, L.RNN, L.LSTM,
                                         L.GRU, L.GELU, L.MultiHeadAttention,
                                         L.PositionalEncoding, L.Sequential, L.Residual)}
        losses = {c.__name__: c for c in (losses_.SoftmaxCE, losses_.MSE, losses_.SigmoidBCE,
                                          losses_.SVMLoss)}
        names = _classes(spec["layers"]) + [spec["loss"]]
        unknown = [n for n in names if n not in known and n not in losses]
        if unknown:
            raise ValueError(f"{path}: minnet cannot rebuild {unknown}; build the model "
                             f"yourself and call model.load_weights(path)")
        model = cls([_rebuild(d, known) for d in spec["layers"]],
                    loss=losses[spec["loss"]](**spec.get("loss_config", {})), l2=spec["l2"])
        model._share(spec.get("ties", {}), path)
        model.astype(spec["dtype"])
        model._assign(arrays, path)
        return model

    def load_weights(self, path: str | os.PathLike) -> None:
        """Fill this model from a checkpoint of the same architecture."""
        spec, arrays = _read_checkpoint(path)
        ours = [d["class"] for d in self.spec()["layers"]]
        theirs = [d["class"] for d in spec["layers"]]
        if ours != theirs:
            raise ValueError(f"{path} holds a model with layers {theirs}, this model has {ours}")
        self._assign(arrays, path)

    def _share(self, ties: dict[str, str], path) -> None:
        """Make the holders named in a checkpoint's ties hold the array they share."""
        for holder, shared in ties.items():
            (i, key), (j, key0) = (name.split(".", 1) for name in (holder, shared))
            params, source = self.layers[int(i)].params, self.layers[int(j)].params
            if key not in params or key0 not in source or params[key].shape != \
                    source[key0].shape:
                raise ValueError(f"{path} is a damaged minnet model file: it ties {holder} to "
                                 f"{shared}, which this architecture cannot share")
            params[key] = source[key0]

    def _assign(self, arrays: dict[str, np.ndarray], path) -> None:
        """Copy arrays in place, after checking every name and shape (all or nothing)."""
        ours = self._arrays()
        if set(ours) != set(arrays):
            raise ValueError(f"{path} holds arrays {sorted(arrays)}, this model has {sorted(ours)}")
        for k, v in ours.items():
            if arrays[k].shape != v.shape:
                raise ValueError(f"{path}: array {k} has shape {arrays[k].shape}, this model "
                                 f"needs {v.shape}")
        for k, v in ours.items():
            v[...] = arrays[k]

    def __repr__(self) -> str:
        body = ",\n".join(textwrap.indent(f"({i}) {layer!r}", "  ")
                          for i, layer in enumerate(self.layers))
        return f"Model([\n{body}\n], loss={self.loss!r}, l2={self.l2})"


def _dense_layers(layers):
    """Every Dense among the layers, and inside the blocks among them, in order."""
    for layer in layers:
        if isinstance(layer, L.Dense):
            yield layer
        yield from _dense_layers(getattr(layer, "layers", ()))


def _check_widths(layers, shape: tuple | None = None) -> tuple[tuple | None, tuple | None]:
    """Follow the shape of one sample through the layers, from `shape` (None: not known yet).

    Raises ValueError at the first layer that cannot take what the layers before it produce.
    Returns (the sample shape the first layer needs, the sample shape of the output), None
    where unknown; a size in a shape may be None too (the height of an image before any data
    is seen, the length T of a sequence).
    """
    first = _needs(layers[0]) if layers else None
    return first, _follow(layers, shape)


def _follow(layers, shape: tuple | None, path: str = "") -> tuple | None:
    """The shape of one sample after `layers`; `path` names a block's layers ("3." for the
    layers of block 3, so that its layer 1 is "layer 3.1")."""
    ranked = shape is not None  # the number of axes is known (a Dense keeps only the last's)
    opaque = False  # after a layer of the user's own: not even the number of axes is known
    for i, layer in enumerate(layers):
        where = f"{path}{i}"
        if isinstance(layer, L.Sequential):
            shape = _through_block(layer, shape, where)
            continue
        need = _needs(layer)
        if not ranked and isinstance(layer, L.Recurrent) and shape is not None \
                and len(shape) == 1:
            shape = (None, *shape)  # Dense layers first, on inputs (N, T, D): steps stay
        if need is not None and shape is not None and not _fits(shape, need):
            features = _width(need, leading=True)
            if features is not None and len(shape) == 1:
                raise ValueError(f"layer {where} ({layer!r}) expects {features} features, but "
                                 f"the layers before it produce {shape[0]}")
            raise ValueError(f"layer {where} ({layer!r}) expects input of shape "
                             f"{_text(need, 'N')}, but the layers before it produce "
                             f"{_text(shape, 'N')}")
        if hasattr(layer, "output_shape"):
            try:
                shape = layer.output_shape(shape if shape is not None else need)
            except ValueError as e:
                raise ValueError(f"layer {where} ({layer!r}): {e}") from None
            ranked, opaque = True, False
        elif isinstance(layer, L.Dense):  # on the last axis: (..., in) -> (..., out)
            shape = (..., layer.out_features) if opaque and shape is None else \
                (*(shape or (None,))[:-1], layer.out_features)
        elif isinstance(layer, SHAPE_KEEPING):
            if shape is None and need is not None and ... not in need:
                shape = need  # BatchNorm(5) first: 5 features come out
        else:
            shape, opaque = None, True  # a layer of the user's own: its output is unknown
    return shape


def _through_block(block, shape: tuple | None, where: str) -> tuple | None:
    """The shape after a Sequential or Residual; a Residual's layers must keep the shape."""
    out = _follow(block.layers, shape, f"{where}.")
    if not isinstance(block, L.Residual):
        return out
    if shape is not None and out is not None and not _fits(out, shape):
        raise ValueError(f"layer {where} (Residual) adds its input to the output of its layers, "
                         f"so they must keep the input's shape {_text(shape, 'N')}, but they "
                         f"produce {_text(out, 'N')}")
    return shape if shape is not None else out


def _needs(layer) -> tuple | None:
    """The shape of one sample a built-in layer takes: None for any size, ... for any axes."""
    if isinstance(layer, L.Sequential):
        return _needs(layer.layers[0])
    if isinstance(layer, L.MultiHeadAttention):  # (T, D); forward says so if T is missing
        return (..., layer.embed_dim)
    if isinstance(layer, L.PositionalEncoding):
        return (..., layer.dim)
    if isinstance(layer, L.Conv2D):
        return (layer.in_channels, None, None)
    if isinstance(layer, L.MaxPool2D):
        return (None, None, None)
    if isinstance(layer, L.Flatten):
        return None
    if isinstance(layer, L.LayerNorm):
        return (..., layer.num_features)
    if isinstance(layer, L.Dense):
        return (..., layer.in_features)
    if isinstance(layer, L.Embedding):
        return (None,)
    if isinstance(layer, L.Recurrent):
        return (None, layer.input_size)
    n = getattr(layer, "in_features", getattr(layer, "num_features", None))
    return None if n is None else (n,)


def _fits(shape: tuple, need: tuple) -> bool:
    if shape and shape[0] is ...:  # leading axes not known yet: the trailing ones must fit
        tail = need[1:] if need[0] is ... else need
        return len(shape) - 1 <= len(tail) and _fits(tail[len(tail) - len(shape) + 1:],
                                                      shape[1:])
    if need[0] is ...:
        return len(shape) >= len(need) - 1 and _fits(shape[len(shape) - len(need) + 1:],
                                                     need[1:])
    return len(shape) == len(need) and all(a is None or b is None or a == b
                                           for a, b in zip(shape, need))


def _width(shape: tuple | None, leading: bool = False) -> int | None:
    """The number of features of a 1-D sample shape (or, with `leading`, of (..., F)); None
    otherwise."""
    if leading and shape is not None and len(shape) == 2 and shape[0] is ...:
        shape = shape[1:]
    return shape[0] if shape is not None and len(shape) == 1 and shape[0] is not ... else None


def _is_sequence(shape: tuple | None) -> bool:
    """Is this the sample shape (T, C) of one score per class at every step?"""
    return shape is not None and len(shape) == 2 and shape[0] is not ... and \
        isinstance(shape[1], int)


def _check_clip_norm(clip_norm) -> None:
    if clip_norm is not None and (isinstance(clip_norm, bool) or
                                  not isinstance(clip_norm, (int, float, np.number)) or
                                  not np.isfinite(clip_norm) or clip_norm <= 0):
        raise ValueError(f"fit: clip_norm must be a finite number > 0 (or None: no clipping), "
                         f"got {clip_norm!r}")


def _text(shape: tuple, batch: str) -> str:
    """(N, 16, H, W)-style text of a sample shape, with the batch axis in front."""
    names = {3: "CHW", 2: "TD"}.get(len(shape), "DEFGHIJK")
    sizes = ["..." if n is ... else names[i] if n is None else str(n) for i, n in enumerate(shape)]
    return f"({', '.join([batch, *sizes])})"


def _classes(entries: list[dict]) -> list[str]:
    """The class names in a spec's layer entries, those inside blocks too."""
    names = []
    for entry in entries:
        names.append(entry["class"])
        if entry["class"] in BLOCKS:
            names += _classes(entry["config"]["layers"])
    return names


def _rebuild(entry: dict, known: dict):
    """A layer from its spec entry {"class", "config"}: a block from its layers' entries."""
    cls = known[entry["class"]]
    if entry["class"] in BLOCKS:
        return cls(*[_rebuild(e, known) for e in entry["config"]["layers"]])
    return cls(**entry["config"])


def _read_checkpoint(path) -> tuple[dict, dict[str, np.ndarray]]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved model at {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a minnet model file: model.save writes an .npz (zip) "
                         f"archive, and this file is not one")
    try:  # numpy's own messages would point at allow_pickle: never the answer here
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        spec = json.loads(str(arrays.pop("__spec__")))
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, ValueError):
        raise ValueError(f"{path} is not a minnet model file: an .npz archive that is "
                         f"truncated, damaged, or written by something else") from None
    if not isinstance(spec, dict) or spec.get("format") != "minnet":
        raise ValueError(f"{path} is not a minnet model file")
    missing = {"layers", "loss", "l2", "dtype"} - set(spec)
    if missing:
        raise ValueError(f"{path} is a damaged minnet model file: it lacks {sorted(missing)}")
    return spec, arrays


def _postfix(history: History) -> dict:
    shown = {"loss": f"{history.loss[-1]:.4f}"}
    if history.accuracy[-1] is not None:
        shown["acc"] = f"{history.accuracy[-1]:.3f}"
    if history.val_loss:
        shown["val_loss"] = f"{history.val_loss[-1]:.4f}"
    if history.val_accuracy and history.val_accuracy[-1] is not None:
        shown["val_acc"] = f"{history.val_accuracy[-1]:.3f}"
    return shown
