"""Convolution speed: minnet's Conv2D against torch and naive loops; a conv net's full check.

What is measured
  1. Conv2D forward + backward (dx, dW, db), float32, x (64, 16, 14, 14), 16 -> 32 channels,
     k = 3, padding 1, stride 1, by:

       minnet            mn.Conv2D: im2col (a strided view, one copy) and one matrix product
       torch             torch.nn.functional.conv2d and autograd, on the CPU, with the thread
                         count numpy's BLAS gets (the cores, or OPENBLAS_NUM_THREADS when set),
                         and with 1 thread: on a loaded machine torch's 2-thread convolution
                         can be 10x slower than its 1-thread one, so the goal's ratio is taken
                         against the faster of the two. Skipped when torch is absent
       loop over pixels  one Python step per output position (h', w'), each a product over
                         the batch and the channels (the loop minnet's Conv2D avoids)
       naive loop        CS231n's conv_forward_naive / conv_backward_naive: one Python step
                         per (sample, output channel, h', w'). It takes seconds per call, so by
                         default it runs on 4 of the 64 samples and its time is multiplied by
                         16 (its work is exactly linear in N); --full-naive runs all 64

  2. A full gradient check (every weight, float64, eps = 1e-6) of Conv2D(1, 16, 3, padding=1) -
     ReLU - MaxPool2D(2) - Flatten - Dense(256, 10) - SoftmaxCE on 32 digit images (2,730
     parameters), by minnet's GradientChecker(mode="full") and by the naive perturb-every-
     weight loop of bench/check_speed.py (two compute_loss calls per entry).

Goals (from the issue): conv forward+backward <= 3x torch and >= 50x faster than the naive
loop; the full check <= 0.25x the naive loop. The last line prints the ratios.

    python bench/conv_speed.py [--repeats N] [--full-naive]
"""

from __future__ import annotations

import argparse
import os

import common
import numpy as np
from check_speed import full_against_naive

import minnet as mn

N, C, OUT, SIZE, K, PAD = 64, 16, 32, 14, 3, 1
NAIVE_SAMPLES = 4


def conv_data(n: int = N, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, C, SIZE, SIZE), dtype=np.float32)
    layer = mn.Conv2D(C, OUT, K, padding=PAD, seed=seed).astype(np.float32)
    dout = rng.standard_normal((n, OUT, SIZE, SIZE), dtype=np.float32)
    return x, layer, dout


# ---- the baselines -----------------------------------------------------------------------


def pixel_loop(x, W, b, dout):
    """Forward and backward with one Python step per output position (h', w')."""
    k, p = W.shape[-1], PAD
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    h, w = dout.shape[-2:]
    y = np.empty((len(x), len(W), h, w), dtype=x.dtype)
    dxp, dW = np.zeros_like(xp), np.zeros_like(W)
    for i in range(h):
        for j in range(w):
            window = xp[:, :, i:i + k, j:j + k]
            y[:, :, i, j] = np.tensordot(window, W, axes=([1, 2, 3], [1, 2, 3])) + b
            dW += np.tensordot(dout[:, :, i, j], window, axes=([0], [0]))
            dxp[:, :, i:i + k, j:j + k] += np.tensordot(dout[:, :, i, j], W, axes=([1], [0]))
    return y, dxp[:, :, p:-p, p:-p], dW, dout.sum(axis=(0, 2, 3))


def naive_loop(x, W, b, dout):
    """CS231n's naive convolution: one Python step per (sample, output channel, h', w')."""
    k, p = W.shape[-1], PAD
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    n, o, h, w = dout.shape
    y = np.empty((n, o, h, w), dtype=x.dtype)
    dxp, dW, db = np.zeros_like(xp), np.zeros_like(W), np.zeros_like(b)
    for s in range(n):
        for f in range(o):
            for i in range(h):
                for j in range(w):
                    window = xp[s, :, i:i + k, j:j + k]
                    y[s, f, i, j] = np.sum(window * W[f]) + b[f]
                    dW[f] += dout[s, f, i, j] * window
                    dxp[s, :, i:i + k, j:j + k] += dout[s, f, i, j] * W[f]
                    db[f] += dout[s, f, i, j]
    return y, dxp[:, :, p:-p, p:-p], dW, db


def torch_conv(torch, threads, x, W, b, dout):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _torch_conv(torch, x, W, b, dout)
    finally:
        torch.set_num_threads(before)


def _torch_conv(torch, x, W, b, dout):
    xt = torch.from_numpy(x).requires_grad_()
    Wt, bt = torch.from_numpy(W).requires_grad_(), torch.from_numpy(b).requires_grad_()
    yt = torch.nn.functional.conv2d(xt, Wt, bt, padding=PAD)
    yt.backward(torch.from_numpy(dout))
    return yt, xt.grad, Wt.grad, bt.grad


def minnet_conv(layer, x, dout):
    y = layer.forward(x)
    return y, layer.backward(dout), layer.grads["W"], layer.grads["b"]


def agree(ours, reference) -> str:
    """The largest difference over (y, dx, dW, db), relative to each reference's size."""
    worst = max(float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(r))))
                / max(float(np.max(np.abs(np.asarray(r)))), 1e-30)
                for a, r in zip(ours, reference, strict=True))
    return f"max relative difference from minnet {worst:.1e}"


# ---- 1. Conv2D forward + backward -------------------------------------------------------


def run_conv(repeats, torch, full_naive) -> dict[str, float | None]:
    x, layer, dout = conv_data()
    W, b = layer.params["W"], layer.params["b"]
    ours = minnet_conv(layer, x, dout)
    ours = tuple(np.array(a, copy=True) for a in ours)
    m = N if full_naive else NAIVE_SAMPLES
    naive_ref = ours if m == N else (ours[0][:m], ours[1][:m])  # its dW, db: m samples only
    contenders = {
        "minnet": lambda: lambda: minnet_conv(layer, x, dout),
        "loop over pixels": lambda: lambda: pixel_loop(x, W, b, dout),
        "naive loop": lambda: lambda: naive_loop(x[:m], W, b, dout[:m]),
    }
    names = {}
    if torch is not None:
        for threads in sorted({torch.get_num_threads(), 1}, reverse=True):
            name = names[threads] = f"torch, {threads} thread{'s' if threads > 1 else ''}"
            contenders[name] = (lambda n: lambda: lambda: torch_conv(torch, n, x, W, b, dout))(
                threads)
    times, outputs = common.time_interleaved(contenders, repeats)
    results = {"minnet": "-", "loop over pixels": agree(outputs["loop over pixels"], ours),
               "naive loop": agree(outputs["naive loop"][:len(naive_ref)], naive_ref)}
    if m < N:
        results["naive loop"] = f"y and dx of {m} samples: {results['naive loop']}"
    for name in names.values():
        results[name] = agree([t.detach().numpy() for t in outputs[name]], ours)
    scale = {"naive loop": N / m}
    med = {k: common.median(v) * scale.get(k, 1.0) for k, v in times.items()}
    rows = [[k, common.seconds_text(med[k]), common.seconds_text(min(v) * scale.get(k, 1.0)),
             f"{len(v)} runs" + (f", x{scale[k]:.0f} (estimate)" if scale.get(k, 1) != 1 else ""),
             common.ratio_text(med[k] / med["minnet"]), str(results[k])]
            for k, v in times.items()]
    print(f"[conv] forward + backward, float32, x {(N, C, SIZE, SIZE)}, {C} -> {OUT} channels, "
          f"k={K}, padding {PAD}")
    print(common.table(["contender", "median", "fastest", "timed", "/ minnet", "result"], rows))
    print()
    torch_best = min((med[n] for n in names.values()), default=None)
    return {"conv:minnet/torch": med["minnet"] / torch_best if torch_best else None,
            "conv:naive/minnet": med["naive loop"] / med["minnet"],
            "conv:pixel_loop/minnet": med["loop over pixels"] / med["minnet"]}


# ---- 2. a conv net's full gradient check --------------------------------------------------


def conv_net() -> mn.Model:
    return mn.Model([mn.Conv2D(1, 16, 3, padding=1, seed=0), mn.ReLU(), mn.MaxPool2D(2),
                     mn.Flatten(), mn.Dense(256, 10, seed=1)], loss=mn.SoftmaxCE())


def run_check(repeats) -> dict[str, float]:
    X, y = mn.datasets.load_digits(images=True)
    X, y = X[:32], y[:32]
    model = conv_net()

    med = full_against_naive(model, X, y, "[check] Conv2D(1, 16, 3, padding=1) - ReLU - "
                             "MaxPool2D(2) - Flatten - Dense(256, 10), 32 digit images", repeats,
                             no_shortcuts=False)
    return {"check:full/naive": med["minnet full"] / med["naive"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--full-naive", action="store_true",
                        help="run the naive loop on all 64 samples (about a minute a call)")
    args = parser.parse_args()
    torch = common.load_torch(int(os.environ.get("OPENBLAS_NUM_THREADS", common.cpu_count())))
    common.print_header("minnet convolution speed: Conv2D vs torch vs loops; a conv net's "
                        "full gradient check vs the naive loop", torch)
    ratios = run_conv(args.repeats, torch, args.full_naive)
    ratios.update(run_check(max(1, args.repeats // 2)))
    print(common.ratios_line(ratios))


if __name__ == "__main__":
    main()
