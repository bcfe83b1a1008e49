"""The `minnet` command line (also `python -m minnet`): demo, train, check and sample.

Exit codes: 0 done (and the gradient check passed); 1 a gradient check failed or training
diverged; 2 bad arguments, unreadable data, or an exception in the code of your own layer,
reported in one line on stderr.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import importlib.util
import json
import math
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__, datasets, plot
from .datasets import Vocabulary
from .decoder import transformer
from .gradcheck import (
    DEFAULT_EPS,
    MODES,
    CheckReport,
    GradientChecker,
    GradientCheckError,
    eps_sweep,
)
from .layers import (
    GRU,
    LSTM,
    RNN,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    LeakyReLU,
    MaxPool2D,
    ReLU,
    Sigmoid,
    Tanh,
)
from .losses import SoftmaxCE
from .model import Model
from .optim import SGD, Adam, Momentum
from .sampling import sample_text

BUILT_IN_DATA = ("digits", "spiral", "moons", "xor")
SEQUENCE_DATA = ("text", "addition")
RECURRENT = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
SEQUENCE_ARCHS = (*RECURRENT, "transformer")
ARCHS = ("mlp", "conv", *SEQUENCE_ARCHS)
# Options that only some archs or data sets take. Their parser default is None, so that one
# given where it does not apply is refused; where it applies, None becomes the default here.
ONLY_FOR = {"hidden": ("mlp", "conv", *RECURRENT), "activation": ("mlp", "conv"),
            "dropout": ("mlp", "conv"), "batchnorm": ("mlp", "conv"), "l2": ("mlp", "conv"),
            "embed_dim": SEQUENCE_ARCHS, "heads": ("transformer",), "blocks": ("transformer",),
            "seq_length": ("text",), "chars": ("text",), "digits": ("addition",)}
DEFAULTS = {"hidden": [64], "activation": "relu", "dropout": 0.0, "batchnorm": False, "l2": 0.0,
            "embed_dim": 16, "heads": 2, "blocks": 2, "seq_length": 32, "chars": 50_000,
            "digits": 3}
TRANSFORMER_DIM = 32  # --embed-dim of a transformer: the width of every block
EPOCHS = {"text": 5, "addition": 15}  # a few seconds each; 30 for the other data
CLIP_NORM = 5.0  # recurrent archs clip by default, as the RNN assignments of courses do
ADDITION_SAMPLES = 5000
CHECKED_SEQUENCES = 4  # check's batch of a sequence model: each sequence is T steps long
ACTIVATIONS = {"relu": (ReLU, "he"), "leaky_relu": (LeakyReLU, "he"),
               "tanh": (Tanh, "xavier"), "sigmoid": (Sigmoid, "xavier")}
OPTIMIZERS = {"adam": Adam, "sgd": SGD, "momentum": Momentum}
DEMO_LR = 3e-3
BATCH_SIZE = 32  # the default of --batch-size; lowered (not refused) for a small data set
LARGE_FEATURE = 100  # a CSV feature beyond ±this is far from the [-1, 1] the networks expect
EPILOG = ("exit codes: 0 done, 1 the gradient check failed (or training diverged), "
          "2 bad arguments, unreadable data, or an error in your own layer's code")


class UsageError(Exception):
    """A mistake in the command line or the data: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{message} (see: {self.prog} --help)")


# ---- argument types ------------------------------------------------------------------------


def _number(kind, test, what):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if not (math.isfinite(value) and test(value)):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value
    return parse


positive_int = _number(int, lambda v: v > 0, "a positive integer")
nonnegative_int = _number(int, lambda v: v >= 0, "an integer >= 0")
positive_float = _number(float, lambda v: v > 0, "a number > 0")
nonnegative_float = _number(float, lambda v: v >= 0, "a number >= 0")
fraction = _number(float, lambda v: 0 < v < 1, "a fraction between 0 and 1")
probability = _number(float, lambda v: 0 <= v < 1, "a probability in [0, 1)")


width = _number(int, lambda v: v > 0, "a positive integer or none")


def hidden_size(text: str) -> int | None:
    """A hidden layer width, or "none" (no hidden layer: softmax regression)."""
    return None if text.lower() == "none" else width(text)


def norm_or_none(text: str) -> float | str:
    """A gradient norm > 0, or "none" (no clipping)."""
    return "none" if text.lower() == "none" else positive_float(text)


# ---- the parser ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The `minnet` parser with its three subcommands."""
    parser = _Parser(prog="minnet", epilog=EPILOG, description=(
        "minnet: a small neural-network framework in numpy with a gradient checker that "
        "says where backprop is wrong."))
    parser.add_argument("--version", action="version", version=f"minnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{demo,train,check,sample}")

    demo = sub.add_parser("demo", epilog=EPILOG, help="check, train and test a 64-64-10 "
                          "network on the digits, and draw pictures",
                          description="Gradient-check a 64-64-10 ReLU network on the UCI "
                          "digits, train it with Adam, print the test accuracy, and write "
                          "pictures and the model to a folder.")
    demo.add_argument("--epochs", type=positive_int, default=40, help="default: 40")
    demo.add_argument("--seed", type=nonnegative_int, default=0, help="seed of every random choice")
    _add_output(demo)
    demo.set_defaults(run=run_demo)

    train = sub.add_parser("train", epilog=EPILOG, help="train a network on a data set, a "
                           "CSV file, or text", description="Train a network (fully connected, "
                           "or convolutional with --arch conv) on a data set or a CSV file, or a "
                           "sequence model (--arch rnn, lstm, gru or transformer) on --data text "
                           "or addition; print its loss and accuracy, and save the model and "
                           "pictures to --out.")
    _add_model(train)
    train.add_argument("--epochs", type=positive_int, default=None,
                       help=f"default: 30; for sequences {EPOCHS['text']} on text, "
                       f"{EPOCHS['addition']} on addition")
    train.add_argument("--lr", type=positive_float, default=0.01, help="learning rate "
                       "(default: 0.01)")
    train.add_argument("--batch-size", type=positive_int, default=None,
                       help="default: 32, or every training sample when there are fewer")
    train.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default="adam",
                       help="the update rule, with --lr as its learning rate (default: adam)")
    train.add_argument("--test-size", type=fraction, default=0.2,
                       help="fraction held out for testing (default: 0.2); for "
                       "sequences, the last ones, held out for validation")
    train.add_argument("--clip-norm", type=norm_or_none, default=None, metavar="NORM",
                       help=f"scale each step's gradients down to this global norm, or none "
                       f"(default: {CLIP_NORM:g} for rnn, lstm and gru; none for the others)")
    train.add_argument("--debug", action="store_true",
                       help="gradient-check a batch first; stop (exit 1) if it fails")
    _add_output(train)
    train.set_defaults(run=run_train)

    check = sub.add_parser("check", epilog=EPILOG, help="gradient-check a network and "
                           "print the report", description="Build the network `train` "
                           "would build and compare its backprop with numerical gradients. "
                           "Exit code 0 when it passes, 1 when it fails.")
    _add_model(check)
    check.add_argument("--mode", choices=MODES, default="auto",
                       help="full: every weight; sample / directional: a few per tensor; "
                       "auto: full for small models (default)")
    check.add_argument("--eps", type=positive_float, default=DEFAULT_EPS,
                       help=f"step of the centered difference (default: {DEFAULT_EPS:g})")
    check.add_argument("--batch-size", type=positive_int, default=None,
                       help="samples in the checked batch (default: 32, or every training "
                       f"sample when there are fewer; {CHECKED_SEQUENCES} sequences for the "
                       "sequence archs)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--out", type=Path, default=None,
                       help="also draw the report (and failing tensors) into this folder")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    check.set_defaults(run=run_check)

    sample = sub.add_parser("sample", epilog=EPILOG, help="continue a text with a character "
                            "model saved by `minnet train --data text`", description="Load a "
                            "character model (and the vocabulary saved next to it), read the "
                            "prefix, and print it followed by the characters the model draws "
                            "one at a time.")
    sample.add_argument("model", type=Path, metavar="MODEL", help="the model file, e.g. "
                        "minnet-out/model.npz (its vocabulary: minnet-out/model.vocab.json)")
    sample.add_argument("--prefix", required=True, metavar="TEXT",
                        help="the text to continue")
    sample.add_argument("--steps", type=positive_int, required=True, metavar="N",
                        help="characters to draw")
    sample.add_argument("--temperature", type=nonnegative_float, default=1.0, metavar="T",
                        help="below 1 likelier, more repetitive text; above 1 more surprising; "
                        "0 always the likeliest character (default: 1)")
    sample.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the draws")
    sample.set_defaults(run=run_sample)
    return parser


def _add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None, help="digits, spiral, moons, xor, or a CSV "
                   "file: features, then an integer class label in the last column "
                   "(default: digits); for the sequence archs, text (Tiny Shakespeare, one "
                   "character per step) or addition (two numbers read digit by digit, "
                   "their sum's digits as targets) (default: text)")
    p.add_argument("--arch", choices=ARCHS, default="mlp", help="mlp: fully "
                   "connected layers; conv: the digits as 8x8 images through Conv2D(1, 16, 3, "
                   "padding=1), the activation and MaxPool2D(2), then the --hidden layers; "
                   "rnn, lstm, gru: Embedding, the recurrent layer, and Dense to a score "
                   "per class (character, digit) at every step; transformer: "
                   "mn.transformer, a small GPT (default: mlp)")
    p.add_argument("--hidden", type=hidden_size, nargs="*", default=None, metavar="N",
                   help="hidden layer sizes, e.g. --hidden 64 32 (default: 64; none: "
                   "softmax regression); rnn, lstm, gru: the size of the hidden state "
                   "(default: 64)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of every random choice")
    dense = p.add_argument_group("mlp and conv only")
    dense.add_argument("--activation", default=None, help=f"{', '.join(ACTIVATIONS)}, or a "
                       f"layer class of your own: my_layers.py:MyReLU (default: relu)")
    dense.add_argument("--dropout", type=probability, default=None,
                       help="dropout probability after each hidden layer (default: 0, none)")
    dense.add_argument("--batchnorm", action="store_true",
                       help="BatchNorm before each activation")
    dense.add_argument("--l2", type=nonnegative_float, default=None,
                       help="weight decay (default: 0)")
    seq = p.add_argument_group("sequence archs only (rnn, lstm, gru, transformer)")
    seq.add_argument("--embed-dim", type=positive_int, default=None, metavar="D",
                     help=f"the size of the vectors each token becomes (default: "
                     f"{DEFAULTS['embed_dim']}; transformer: {TRANSFORMER_DIM}, the width of "
                     f"every block)")
    seq.add_argument("--heads", type=positive_int, default=None, help="attention heads of the "
                     f"transformer; they split --embed-dim (default: {DEFAULTS['heads']})")
    seq.add_argument("--blocks", type=positive_int, default=None, help="transformer blocks "
                     f"(default: {DEFAULTS['blocks']})")
    seq.add_argument("--seq-length", type=positive_int, default=None, metavar="T",
                     help=f"characters per window of --data text (default: "
                     f"{DEFAULTS['seq_length']})")
    seq.add_argument("--chars", type=positive_int, default=None, metavar="N", help="train on "
                     f"the first N characters of --data text (default: {DEFAULTS['chars']}; "
                     f"all of it: 1115394)")
    seq.add_argument("--digits", type=positive_int, default=None, metavar="N",
                     help=f"digits of the numbers of --data addition (default: "
                     f"{DEFAULTS['digits']})")


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("minnet-out"),
                   help="folder for the model and pictures (default: minnet-out)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


# ---- data and model --------------------------------------------------------------------------


def load_data(name: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A built-in data set by name, or a CSV file whose last column holds the labels."""
    if name == "digits":
        return datasets.load_digits()
    if name == "spiral":
        return datasets.spiral(100, 3, 0.2, seed=seed)
    if name == "moons":
        return datasets.moons(300, 0.15, seed=seed)
    if name == "xor":
        return datasets.xor(300, 0.1, seed=seed)
    return read_csv(name)


def read_csv(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Numbers separated by commas, an optional header line; the last column is the label."""
    table = _parse_rows(_read_lines(path), path)
    if table.shape[1] < 2:
        raise UsageError(f"{path}: needs feature columns and a label column, found "
                         f"{table.shape[1]} column")
    X, labels = table[:, :-1], table[:, -1]
    bad = np.flatnonzero((labels != np.round(labels)) | (labels < 0))
    if len(bad):
        raise UsageError(f"{path}: the last column must hold class labels 0, 1, 2, ...; "
                         f"data row {bad[0] + 1} has {labels[bad[0]]:g}")
    if len(np.unique(labels)) < 2:
        raise UsageError(f"{path}: all {len(labels)} rows have the same label; a classifier "
                         f"needs at least two classes")
    _warn_about_csv(path, X, labels.astype(np.int64))
    return X, labels.astype(np.int64)


def _warn_about_csv(path: str, X: np.ndarray, y: np.ndarray) -> None:
    """Two things that train badly without failing: gaps in the labels, and large features."""
    present = np.unique(y)
    if len(present) < present[-1] + 1:
        missing = np.setdiff1d(np.arange(present[-1] + 1), present)
        _warn(f"{path}: the labels are {_some(present)}, so the network gets {present[-1] + 1} "
              f"outputs, {len(missing)} of them for classes no row has ({_some(missing)}); "
              f"number the classes 0, 1, 2, ... without gaps")
    largest = np.abs(X).max(axis=0)
    if largest.max() > LARGE_FEATURE:
        _warn(f"{path}: feature column {int(largest.argmax()) + 1} reaches |x| = "
              f"{largest.max():g}; scale the features to about [-1, 1] (subtract each column's "
              f"mean, divide by its standard deviation), or training may diverge or overfit")


def _some(values: np.ndarray, shown: int = 6) -> str:
    """'0, 5' or '1, 2, 3, 4, 5, 6, ...': a few values of a list, for one line of text."""
    return ", ".join(map(str, values[:shown].tolist())) + (", ..." if len(values) > shown else "")


def _warn(message: str) -> None:
    print(f"minnet: warning: {message}", file=sys.stderr)


def _read_lines(path: str) -> list[str]:
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        names = ", ".join(BUILT_IN_DATA)
        raise UsageError(f"no data set or file named {path!r} (built in: {names}; or give "
                         f"the path of a CSV file)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None


def _parse_rows(lines: list[str], path: str) -> np.ndarray:
    rows: list[list[float]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append([float(v) for v in line.split(",")])
        except ValueError:
            if number == 1:
                continue  # a header line
            raise UsageError(f"{path}, line {number}: {line[:40]!r} is not a row of "
                             f"numbers separated by commas") from None
        if len(rows[-1]) != len(rows[0]):
            raise UsageError(f"{path}, line {number}: {len(rows[-1])} columns, but the "
                             f"first row has {len(rows[0])}")
        if not all(math.isfinite(v) for v in rows[-1]):
            raise UsageError(f"{path}, line {number}: holds NaN or infinity")
    if not rows:
        raise UsageError(f"{path}: no rows of numbers in the file")
    return np.array(rows)


def load_activation(name: str) -> tuple[type, str]:
    """(layer class, Dense init) of a built-in activation, or of your own: file.py:Class."""
    if name in ACTIVATIONS:
        return ACTIVATIONS[name]
    where, _, cls = name.rpartition(":")
    if not where or not cls:
        raise UsageError(f"unknown activation {name!r}: choose from {', '.join(ACTIVATIONS)}, "
                         f"or give a layer of your own as my_layers.py:MyReLU")
    try:
        return getattr(_import(where), cls), "he"
    except Exception as e:  # importing runs the user's code, which may raise anything
        raise UsageError(f"cannot load {name}: {type(e).__name__}: {e}") from None


def _import(where: str):
    """A module from a .py file path, or by name (the current folder comes first)."""
    if where.endswith(".py"):
        spec = importlib.util.spec_from_file_location(Path(where).stem, where)
        if spec is None or not Path(where).is_file():
            raise FileNotFoundError(f"no file {where}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    if "" not in sys.path:
        sys.path.insert(0, "")
    return importlib.import_module(where)


def build_model(n_inputs: int, n_classes: int, hidden: list[int], activation: str = "relu",
                seed: int = 0, dropout: float = 0.0, batchnorm: bool = False,
                l2: float = 0.0) -> Model:
    """Dense layers of the given widths, each hidden one followed by the activation."""
    act, init = load_activation(activation)
    sizes = [n_inputs, *hidden, n_classes]
    layers: list = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(Dense(a, b, init=init, seed=seed + i))
        if i < len(hidden):
            layers += [BatchNorm(b)] if batchnorm else []
            layers.append(act())
            layers += [Dropout(dropout, seed=seed + 1000 + i)] if dropout else []
    return Model(layers, loss=SoftmaxCE(), l2=l2)


def build_conv_model(image: tuple[int, int, int], n_classes: int, hidden: list[int],
                     activation: str = "relu", seed: int = 0, dropout: float = 0.0,
                     batchnorm: bool = False, l2: float = 0.0) -> Model:
    """Conv2D(C, 16, 3, padding=1) - activation - MaxPool2D(2) - Flatten, then build_model's
    layers from 16 (H/2) (W/2) features; `image` is the (C, H, W) of one sample."""
    act, init = load_activation(activation)
    c, h, w = image
    head = build_model(16 * (h // 2) * (w // 2), n_classes, hidden, activation, seed + 1,
                       dropout, batchnorm)
    return Model([Conv2D(c, 16, 3, padding=1, init=init, seed=seed), act(), MaxPool2D(2),
                  Flatten(), *head.layers], loss=SoftmaxCE(), l2=l2)


@dataclass
class Task:
    """What train and check work on: the data, split for training and testing, the model for
    it, both in words, and a character model's vocabulary."""

    split: tuple  # X_train, X_test, y_train, y_test
    model: Model
    data: str  # "spiral, 240 training and 60 test samples, ..."
    network: str  # "2-64-3 (ReLU)", "Embedding(65, 16) - LSTM(16, 64) - Dense(64, 65)"
    vocab: Vocabulary | None = None


def _prepare(args: argparse.Namespace) -> Task:
    """Load and split the data named by args, and build the model for it."""
    _resolve(args)
    sequences = args.arch in SEQUENCE_ARCHS
    task = _sequence_task(args) if sequences else _classifier_task(args)
    n = len(task.split[0])
    if args.batch_size is None:
        args.batch_size = min(CHECKED_SEQUENCES if sequences and args.command == "check"
                              else BATCH_SIZE, n)
    elif args.batch_size > n:
        raise UsageError(f"--batch-size {args.batch_size} is more than the {n} training "
                         f"{'sequences' if sequences else 'samples'} of {args.data}; choose "
                         f"at most {n}")
    return task


def _resolve(args: argparse.Namespace) -> None:
    """Refuse the options that do not apply to the arch and the data; give those that do
    their defaults."""
    sequences = args.arch in SEQUENCE_ARCHS
    args.data = args.data or ("text" if sequences else "digits")
    if sequences and args.data not in SEQUENCE_DATA:
        raise UsageError(f"--arch {args.arch} learns sequences: --data text or addition "
                         f"(got --data {args.data})")
    if not sequences and args.data in SEQUENCE_DATA:
        raise UsageError(f"--data {args.data} holds sequences: learn them with --arch "
                         f"{_listed(SEQUENCE_ARCHS, 'or')}")
    if args.arch == "transformer" and args.embed_dim is None:
        args.embed_dim = TRANSFORMER_DIM
    for option, where in ONLY_FOR.items():
        value = getattr(args, option)
        if value is None or value is False:
            setattr(args, option, DEFAULTS[option])
        elif args.arch not in where and args.data not in where:
            kind, chosen = ("--data", args.data) if where[0] in SEQUENCE_DATA else \
                ("--arch", args.arch)
            raise UsageError(f"--{option.replace('_', '-')} applies to {kind} "
                             f"{_listed(where, 'and')} only, not to {kind} {chosen}")
    if args.command == "train":
        args.epochs = args.epochs or EPOCHS.get(args.data, 30)
        if args.clip_norm is None:  # not given
            args.clip_norm = CLIP_NORM if args.arch in RECURRENT else None
        elif args.clip_norm == "none":
            args.clip_norm = None


def _listed(words: tuple[str, ...], last: str) -> str:
    """'rnn, lstm or gru'."""
    return f" {last} ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else words[0]


def _classifier_task(args: argparse.Namespace) -> Task:
    """A data set or CSV file of samples with a class each, and the mlp or conv net."""
    X, y = load_data(args.data, args.seed)
    if args.arch == "conv":
        if args.data != "digits":
            raise UsageError(f"--arch conv needs images, and of the data sets only digits "
                             f"has them (got --data {args.data})")
        X = X.reshape(-1, 1, 8, 8)
    split = datasets.train_test_split(X, y, test_size=getattr(args, "test_size", 0.2),
                                      seed=args.seed)
    if min(len(split[0]), len(split[1])) == 0:
        raise UsageError(f"{args.data}: {len(X)} rows are too few to split into a training "
                         f"and a test set")
    if None in args.hidden and args.hidden != [None]:
        raise UsageError("--hidden: none (no hidden layer) cannot be mixed with sizes")
    args.hidden = [h for h in args.hidden if h is not None]
    try:
        build = build_conv_model if args.arch == "conv" else build_model
        model = build(X.shape[1:] if X.ndim > 2 else X.shape[1], int(y.max()) + 1, args.hidden,
                      args.activation, args.seed, args.dropout, args.batchnorm, args.l2)
    except (TypeError, ValueError) as e:  # a layer of the user's own that does not fit
        raise UsageError(f"cannot build the network: {e}") from None
    data = (f"{args.data}, {len(split[0])} training and {len(split[1])} test samples, "
            f"{X[0].size} features, {model.n_outputs} classes")
    return Task(split, model, data, _architecture(model))


def _architecture(model: Model) -> str:
    widths = [model.n_inputs or "images"] + [layer.out_features for layer in model.layers
                                             if isinstance(layer, Dense)]
    others = list(dict.fromkeys(type(layer).__name__ for layer in model.layers
                                if not isinstance(layer, Dense)))  # in network order
    return "-".join(map(str, widths)) + (f" ({', '.join(others)})" if others else "")


def _sequence_task(args: argparse.Namespace) -> Task:
    """Windows of the text, or sums to learn digit by digit, their last test_size held out
    for validation; and the sequence model that scores the next character (digit) at every
    step."""
    if args.data == "text":
        if args.chars <= args.seq_length:
            raise UsageError(f"--chars {args.chars} cannot hold one window of --seq-length "
                             f"{args.seq_length} and the character after it")
        text, vocab, X, y = datasets.load_text(seq_length=args.seq_length, chars=args.chars)
        ids, classes = len(vocab), len(vocab)
        data = (f"the first {len(text):,} characters of Tiny Shakespeare ({len(vocab)} "
                f"distinct) in windows of {args.seq_length}")
    else:
        X, y = datasets.addition(ADDITION_SAMPLES, args.digits, seed=args.seed)
        vocab, ids, classes = None, 100, 10  # step t reads 10 a_t + b_t, scores a digit
        data = f"sums of two {args.digits}-digit numbers, read digit by digit from the units"
    held = round(getattr(args, "test_size", 0.2) * len(X))
    if not 0 < held < len(X):
        raise UsageError(f"{args.data}: {len(X)} sequences are too few to split into a "
                         f"training and a validation set")
    if len(args.hidden) != 1 or args.hidden[0] is None:
        raise UsageError(f"--hidden: --arch {args.arch} has one recurrent layer; give it one "
                         f"size, e.g. --hidden 64")
    try:
        model = build_sequence_model(args.arch, ids, classes, args.embed_dim, args.hidden[0],
                                     args.heads, args.blocks, X.shape[1], args.seed)
    except ValueError as e:  # heads that do not split the width
        raise UsageError(f"cannot build the network: {e}") from None
    E, H = args.embed_dim, args.hidden[0]
    middle = f"{args.blocks} transformer block{'s' * (args.blocks > 1)} ({args.heads} heads)" \
        if args.arch == "transformer" else f"{type(model.layers[1]).__name__}({E}, {H})"
    network = f"Embedding({ids}, {E}) - {middle} - Dense({model.layers[-1].in_features}, " \
        f"{classes})"
    split = X[:-held], X[-held:], y[:-held], y[-held:]
    data = f"{args.data}, {data}: {len(X) - held} for training, {held} for validation"
    return Task(split, model, data, network, vocab)


def build_sequence_model(arch: str, ids: int, classes: int, embed_dim: int = 16,
                         hidden: int = 64, heads: int = 2, blocks: int = 2, max_len: int = 32,
                         seed: int = 0) -> Model:
    """Embedding(ids, embed_dim) - the recurrent layer - Dense(hidden, classes), or
    mn.transformer; each scores the classes at every step, loss SoftmaxCE over (N, T, C)."""
    if arch in RECURRENT:
        return Model([Embedding(ids, embed_dim, seed=seed),
                      RECURRENT[arch](embed_dim, hidden, seed=seed + 1),
                      Dense(hidden, classes, init="xavier", seed=seed + 2)], loss=SoftmaxCE())
    model = transformer(ids, embed_dim, heads, blocks, max_len, seed)
    if classes == ids:
        return model
    last = model.layers[-1]  # it scores the ids; a model of addition scores 10 digits
    return Model([*model.layers[:-1], Dense(embed_dim, classes, init="xavier", seed=last.seed)],
                 loss=model.loss)


def _output_folder(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create the output folder {path}: "
                         f"{e.strerror or e}") from None
    return path


def _checked_batch(X, y, size: int, seed: int):
    idx = np.random.default_rng(seed).choice(len(X), min(size, len(X)), replace=False)
    return X[idx], y[idx]


# ---- the commands --------------------------------------------------------------------------


def run_demo(args: argparse.Namespace) -> int:
    """minnet demo: gradient check, training, test accuracy, pictures."""
    out = _output_folder(args.out)
    X, y = datasets.load_digits()
    Xtr, Xte, ytr, yte = datasets.train_test_split(X, y, test_size=0.2, seed=args.seed)
    model = build_model(64, 10, [64], "relu", seed=args.seed)
    print(f"minnet demo: a 64-64-10 ReLU network on the UCI handwritten digits (8x8 images), "
          f"{len(Xtr)} for training, {len(Xte)} for testing, seed {args.seed}\n")

    print("1. Gradient check: backprop against centered differences, on 32 training images")
    Xc, yc = _checked_batch(Xtr, ytr, 32, args.seed)
    report = GradientChecker(seed=args.seed, progress=not args.quiet).check(model, Xc, yc)
    print(report, "\n")
    plot.check_report(report, out / "gradient_check.png")
    if not report.passed:
        print(f"minnet: the gradient check failed; picture in {out / 'gradient_check.png'}",
              file=sys.stderr)
        return 1
    plot.eps_sweep(eps_sweep(model, Xc, yc, seed=args.seed), out / "eps_sweep.png")

    print(f"2. Training: {args.epochs} epochs of Adam (lr {DEMO_LR:g}), batches of 32")
    history = model.fit(Xtr, ytr, epochs=args.epochs, batch_size=32, optimizer=Adam(DEMO_LR),
                        validation_data=(Xte, yte), seed=args.seed, progress=not args.quiet)
    test, train = model.evaluate(Xte, yte), model.evaluate(Xtr, ytr)
    print(f"\n3. Test accuracy: {test['accuracy']:.1%} "
          f"({round(test['accuracy'] * len(Xte))} of {len(Xte)} test images; "
          f"train accuracy {train['accuracy']:.1%})\n")

    plot.history(history, out / "history.png")
    plot.misclassified(model, Xte, yte, path=out / "misclassified.png")
    model.save(out / "model.npz")
    _print_files(out, ["history.png", "gradient_check.png", "eps_sweep.png",
                       "misclassified.png", "model.npz"])
    return 0


def run_train(args: argparse.Namespace) -> int:
    """minnet train: fit a network, print train and test accuracy, save model and pictures."""
    out = _output_folder(args.out)
    task = _prepare(args)
    (Xtr, Xte, ytr, yte), model = task.split, task.model
    optimizer = OPTIMIZERS[args.optimizer](args.lr)
    print(f"minnet train: {task.data}")
    epochs = f"{args.epochs} epoch" + ("s" if args.epochs > 1 else "")
    clipped = f", gradients clipped to norm {args.clip_norm:g}" if args.clip_norm else ""
    print(f"network {task.network}; {epochs} of {optimizer!r}, batches of {args.batch_size}"
          f"{clipped}, seed {args.seed}")
    try:
        history = model.fit(Xtr, ytr, epochs=args.epochs, batch_size=args.batch_size,
                            optimizer=optimizer, validation_data=(Xte, yte), seed=args.seed,
                            progress=not args.quiet, debug=args.debug, clip_norm=args.clip_norm)
    except GradientCheckError as e:
        print(e.report)
        plot.check_report(e.report, out / "gradient_check.png")
        print(f"minnet: the gradient check failed, training did not start; picture in "
              f"{out / 'gradient_check.png'}", file=sys.stderr)
        return 1
    except FloatingPointError as e:
        print(f"minnet: {e}", file=sys.stderr)
        return 1
    # the final model's figures, as its pictures show them (not the last epoch's running mean)
    sequences = args.arch in SEQUENCE_ARCHS
    print(f"train: {_scores(model, Xtr, ytr, args.data)}   "
          f"{'validation' if sequences else 'test'}: {_scores(model, Xte, yte, args.data)}")
    files = ["model.npz", "history.png"]
    model.save(out / files[0])
    plot.history(history, out / files[1])
    if task.vocab is not None:
        files.insert(1, _vocabulary_path(out / files[0]).name)
        task.vocab.save(out / files[1])
    if Xtr.shape[1] == 2 and not sequences:
        files.append("decision_boundary.png")
        plot.decision_boundary(model, Xtr, ytr, out / files[-1])
    if args.data == "digits":
        files.append("misclassified.png")
        plot.misclassified(model, Xte, yte, path=out / files[-1])
    _print_files(out, files)
    return 0


def _scores(model: Model, X: np.ndarray, y: np.ndarray, data: str) -> str:
    """"loss 0.0207, accuracy 99.2%": per token on sequences, and for addition also the
    fraction of sums whose every digit is right."""
    metrics = model.evaluate(X, y)
    per = "per-token accuracy" if data in SEQUENCE_DATA else "accuracy"
    text = f"loss {metrics['loss']:.4f}, {per} {metrics['accuracy']:.1%}"
    if data == "addition":
        text += f", per-sequence {np.mean(np.all(model.predict(X) == y, axis=1)):.1%}"
    return text


def run_check(args: argparse.Namespace) -> int:
    """minnet check: print the gradient-check report; exit 0 if it passes, 1 if not."""
    task = _prepare(args)
    (Xtr, _, ytr, _), model = task.split, task.model
    X, y = _checked_batch(Xtr, ytr, args.batch_size, args.seed)
    checker = GradientChecker(eps=args.eps, mode=args.mode, seed=args.seed,
                              progress=not (args.quiet or args.json))
    report = checker.check(model, X, y)
    if args.json:
        print(json.dumps(_json_safe(report.to_dict()), indent=2))
    else:
        samples = "sequences" if args.arch in SEQUENCE_ARCHS else "samples"
        print(f"minnet check: network {task.network} on {len(X)} {samples} of {args.data}, "
              f"seed {args.seed}\n")
        print(report)
    if args.out is not None:
        _draw_check(report, _output_folder(args.out), quiet=args.json)
    return 0 if report.passed else 1


def _draw_check(report: CheckReport, out: Path, quiet: bool) -> None:
    files = ["gradient_check.png"]
    plot.check_report(report, out / files[0])
    for c in _wrong_tensors(report):
        files.append(f"errors_{c.layer_index}.{c.param}.png")
        plot.error_heatmap(c, out / files[-1])
    if not quiet:
        _print_files(out, files)


def _wrong_tensors(report: CheckReport) -> list:
    """The failing tensors worth a heatmap: the suspects' own, as each was checked alone; the
    model's failing tensors only when no layer is suspected (the others follow from it)."""
    own = [c for s in report.suspects for c in s.checks if c.errors is not None]
    return own or [c for c in report.params if c.errors is not None]


def run_sample(args: argparse.Namespace) -> int:
    """minnet sample: print the prefix and the characters a saved model draws after it."""
    model, vocab = _load_character_model(args.model)
    if not args.prefix:
        raise UsageError("--prefix: give at least one character for the model to read")
    try:
        vocab.encode(args.prefix)
    except ValueError as e:
        raise UsageError(f"--prefix: {e}") from None
    print(sample_text(model, vocab, args.prefix, args.steps, args.temperature, args.seed))
    return 0


def _load_character_model(path: Path) -> tuple[Model, Vocabulary]:
    """A model saved by `minnet train --data text`, and the vocabulary saved next to it."""
    if path.is_dir():
        raise UsageError(f"{path} is a folder; give the model file in it, e.g. "
                         f"{path / 'model.npz'}")
    model = _read(Model.load, path)
    first, scores = model.layers[0], (model.output_shape or (None,))[-1]
    if not isinstance(first, Embedding):
        raise UsageError(f"{path} is not a character model: its first layer is "
                         f"{type(first).__name__}, not an Embedding of character ids")
    vocab_path = _vocabulary_path(path)
    if not vocab_path.is_file():
        raise UsageError(f"{path} has no vocabulary next to it ({vocab_path}); minnet sample "
                         f"takes a model saved by `minnet train --data text`")
    vocab = _read(Vocabulary.load, vocab_path)
    if first.num_embeddings != len(vocab) or scores != len(vocab):
        raise UsageError(f"{path} is not a character model of {vocab_path}: it reads "
                         f"{first.num_embeddings} ids and scores {scores} classes, and the "
                         f"vocabulary has {len(vocab)} characters")
    return model, vocab


def _read(load, path: Path):
    """load(path); what is wrong with the file (missing, unreadable, not one) as a UsageError."""
    try:
        return load(path)
    except (OSError, ValueError) as e:
        raise UsageError(str(e)) from None
    except (KeyError, TypeError):  # a model spec whose entries no layer takes
        raise UsageError(f"{path} is a damaged minnet file") from None


def _vocabulary_path(model_path: Path) -> Path:
    """Where a character model's vocabulary lives: model.npz -> model.vocab.json."""
    return model_path.with_suffix(".vocab.json")


def _print_files(out: Path, files: list[str]) -> None:
    print(f"Wrote to {out}/: {', '.join(files)}")


def _json_safe(x):
    """NaN and infinity are not JSON: write them as null."""
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_json_safe(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


# ---- entry point -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 done, 1 check failed, 2 usage error)."""
    parser = build_parser()
    args = None
    try:
        args = parser.parse_args(_glue_negative_numbers(sys.argv[1:] if argv is None else argv))
        if args.command is None:
            parser.print_help()
            return 2
        return args.run(args)
    except UsageError as e:
        print(f"minnet: error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # --help and --version
        return e.code if isinstance(e.code, int) else 0
    except KeyboardInterrupt:
        print("minnet: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `minnet check --json | head`: the reader left early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as e:
        where = _in_users_code(e, getattr(args, "activation", None))
        if where is None:
            raise  # minnet's own bug: the traceback is for us
        print(f"minnet: error: {where}", file=sys.stderr)
        return 2


def _glue_negative_numbers(argv: list[str]) -> list[str]:
    """`--eps -1e-5` as `--eps=-1e-5`, so that its type says what is wrong with it: argparse
    takes a word such as -1e-5 for an option (it knows -1 and -0.5 only), not for a value."""
    glued: list[str] = []
    for word in argv:
        if glued and glued[-1].startswith("--") and "=" not in glued[-1] and \
                word.startswith("-") and _is_number(word):
            glued[-1] = f"{glued[-1]}={word}"
        else:
            glued.append(word)
    return glued


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _in_users_code(error: BaseException, activation: str | None) -> str | None:
    """One line for an exception raised in the file of the user's --activation layer: the
    file, the line, the class and method minnet called, and the exception. None if it was
    raised elsewhere."""
    path = _users_file(activation)
    while path is not None and error is not None:
        frames = [(frame, line) for frame, line in traceback.walk_tb(error.__traceback__)
                  if Path(frame.f_code.co_filename).resolve() == path.resolve()]
        if frames:
            entry, line = frames[0][0], frames[-1][1]  # where minnet called in, where it raised
            owner = entry.f_locals.get("self")
            method = f"{type(owner).__name__}.{entry.f_code.co_name}" if owner is not None \
                else entry.f_code.co_name
            what = " ".join(str(error).split())
            return (f"your layer's code raised {type(error).__name__} in {method} ({path}, "
                    f"line {line}): {what}")
        error = error.__cause__ or error.__context__
    return None


def _users_file(activation: str | None) -> Path | None:
    """The file of a layer given as --activation file.py:Class (or module:Class), if any."""
    if not activation or activation in ACTIVATIONS or ":" not in activation:
        return None
    where = activation.rpartition(":")[0]
    if where.endswith(".py"):
        return Path(where)
    module = sys.modules.get(where)
    return Path(module.__file__) if getattr(module, "__file__", None) else None
