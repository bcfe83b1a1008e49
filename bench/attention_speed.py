"""Attention speed: minnet's MultiHeadAttention against torch; a Transformer's full check.

What is measured
  1. MultiHeadAttention forward + backward (dx and the 8 parameter gradients), float32,
     x (32, 64, 128), 4 heads, no mask, by:

       minnet   mn.MultiHeadAttention: the projections as one (N T, D) product each, the
                heads as batched products (N, H, T, d)
       torch    nn.MultiheadAttention(batch_first=True) and autograd, on the CPU, with the
                thread count numpy's BLAS gets (the cores, or OPENBLAS_NUM_THREADS when set):
                the goal's ratio, same threads on both sides. With 2 or more threads, torch on
                1 thread too, for a second ratio: on a loaded machine a 2-thread BLAS call can
                be far slower than a 1-thread one, on both sides (run the script with
                OPENBLAS_NUM_THREADS=1 to see minnet on 1 thread). Skipped when torch is absent

  2. A full gradient check (every weight, float64, eps = 1e-6) of a one-block Transformer,
     mn.transformer(32, dim=16, heads=2, blocks=1, max_len=8), on N = 4 sequences of T = 8
     token ids (4,368 parameters), by:

       minnet full           GradientChecker(mode="full"): the layers before a moved tensor
                             run once, blocks and attention move entries through `nudged`,
                             the layers after take the perturbed copies as one stack
       minnet, fast=False    the same without the shortcuts: one forward from the moved layer
                             per perturbation
       naive                 the perturb-every-weight loop of bench/check_speed.py: two whole
                             compute_loss calls per entry

Goals (from the issue): attention forward + backward <= 3x torch; the full check <= 0.25x the
naive loop. The last line prints the ratios.

    python bench/attention_speed.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os

import common
import numpy as np
from check_speed import full_against_naive

import minnet as mn

N, T, D, HEADS = 32, 64, 128, 4
VOCAB, CHECK_DIM, CHECK_HEADS, CHECK_T, CHECK_N = 32, 16, 2, 8, 4


def attention_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, D), dtype=np.float32)
    dout = rng.standard_normal((N, T, D), dtype=np.float32)
    layer = mn.MultiHeadAttention(D, HEADS, seed=seed).astype(np.float32)
    for p in layer.params.values():  # biases too: torch would start them at 0
        p[...] = rng.standard_normal(p.shape, dtype=np.float32) / np.sqrt(D)
    return x, layer, dout


def minnet_attention(layer, x, dout):
    y = layer.forward(x)
    return (y, layer.backward(dout), *layer.grads.values())


def torch_module(torch, layer):
    """nn.MultiheadAttention holding the layer's weights (in_proj packs Wq, Wk, Wv as rows)."""
    p = layer.params
    mha = torch.nn.MultiheadAttention(D, HEADS, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.from_numpy(np.concatenate([p["Wq"].T, p["Wk"].T,
                                                                  p["Wv"].T])))
        mha.in_proj_bias.copy_(torch.from_numpy(np.concatenate([p["bq"], p["bk"], p["bv"]])))
        mha.out_proj.weight.copy_(torch.from_numpy(p["Wo"].T.copy()))
        mha.out_proj.bias.copy_(torch.from_numpy(p["bo"]))
    return mha


def torch_attention(torch, threads, mha, x, dout):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        mha.zero_grad(set_to_none=True)
        xt = torch.from_numpy(x).requires_grad_()
        y = mha(xt, xt, xt, need_weights=False)[0]
        y.backward(torch.from_numpy(dout))
        return y, xt.grad, mha.in_proj_weight.grad, mha.out_proj.weight.grad
    finally:
        torch.set_num_threads(before)


def agree(ours, theirs) -> str:
    """The largest difference of y, dx, the packed dW_qkv and dWo, relative to torch's size."""
    y, dx, *grads = ours
    g = dict(zip(("Wq", "Wk", "Wv", "Wo"), grads))
    mine = [y, dx, np.concatenate([g["Wq"].T, g["Wk"].T, g["Wv"].T]), g["Wo"].T]
    worst = max(float(np.max(np.abs(a - t.detach().numpy()))) /
                max(float(np.max(np.abs(t.detach().numpy()))), 1e-30)
                for a, t in zip(mine, theirs, strict=True))
    return f"max relative difference from minnet {worst:.1e} (float32)"


# ---- 1. MultiHeadAttention forward + backward --------------------------------------------


def run_attention(repeats, torch) -> dict[str, float | None]:
    x, layer, dout = attention_data()
    contenders = {"minnet": lambda: lambda: minnet_attention(layer, x, dout)}
    names = {}
    if torch is not None:
        mha = torch_module(torch, layer)
        for threads in sorted({torch.get_num_threads(), 1}, reverse=True):
            name = names[threads] = f"torch, {threads} thread{'s' if threads > 1 else ''}"
            contenders[name] = (lambda n: lambda: lambda: torch_attention(torch, n, mha, x,
                                                                          dout))(threads)
    times, outputs = common.time_interleaved(contenders, repeats)
    ours = [np.array(a, copy=True) for a in minnet_attention(layer, x, dout)]
    results = {"minnet": "-", **{n: agree(ours, outputs[n]) for n in names.values()}}
    med = common.print_table(f"[attention] forward + backward, float32, x {(N, T, D)}, "
                             f"{HEADS} heads, no mask", times, results, "minnet")
    if torch is None:
        return {"attention:minnet/torch": None}
    ratios = {"attention:minnet/torch": med["minnet"] / med[names[torch.get_num_threads()]]}
    if 1 in names and torch.get_num_threads() > 1:
        ratios["attention:minnet/torch_1_thread"] = med["minnet"] / med[names[1]]
    return ratios


# ---- 2. a one-block Transformer's full gradient check -------------------------------------


def run_check(repeats) -> dict[str, float]:
    model = mn.transformer(VOCAB, dim=CHECK_DIM, heads=CHECK_HEADS, blocks=1,
                           max_len=CHECK_T, seed=0)
    rng = np.random.default_rng(0)
    X = rng.integers(0, VOCAB, (CHECK_N, CHECK_T))
    y = rng.integers(0, VOCAB, (CHECK_N, CHECK_T))

    med = full_against_naive(
        model, X, y, f"[check] mn.transformer({VOCAB}, dim={CHECK_DIM}, heads={CHECK_HEADS}, "
        f"blocks=1, max_len={CHECK_T}), {CHECK_N} sequences of {CHECK_T}", repeats)
    return {"check:full/naive": med["minnet full"] / med["naive"],
            "check:fast=False/naive": med["minnet full, fast=False"] / med["naive"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds (default 7)")
    args = parser.parse_args()
    torch = common.load_torch(int(os.environ.get("OPENBLAS_NUM_THREADS", common.cpu_count())))
    common.print_header("minnet attention speed: MultiHeadAttention vs torch; a Transformer's "
                        "full gradient check vs the naive loop", torch)
    ratios = run_attention(args.repeats, torch)
    ratios.update(run_check(max(1, args.repeats // 2)))
    print(common.ratios_line(ratios))


if __name__ == "__main__":
    main()
