"""Recurrent speed: minnet's LSTM against torch's; a character LSTM's full gradient check.

What is measured
  1. LSTM forward + backward (dx, dWx, dWh, db), float32, x (32, 32, 64), H = 128, the output
     at every step, by:

       minnet    mn.LSTM: the input terms of all steps in one product, then the recurrence
                 step by step (BPTT in reverse), the weight gradients one product each
       torch     torch.nn.LSTM(batch_first=True) and autograd, on the CPU, with the thread
                 count numpy's BLAS gets and with 1 thread; the goal's ratio is taken against
                 the faster of the two (as in conv_speed.py). Skipped when torch is absent

  2. A full gradient check (every weight, float64, eps = 1e-6) of Embedding(20, 16) -
     LSTM(16, 32) - Dense(32, 20) - SoftmaxCE on N = 8 sequences of T = 12 token ids (7,252
     parameters), by minnet's GradientChecker(mode="full"), by the same with fast=False (no
     shortcuts: one forward from the moved layer per perturbation), and by the naive
     perturb-every-weight loop of bench/check_speed.py (two compute_loss calls per entry).

Goals (from the issue): LSTM forward + backward <= 3x torch; the full check <= 0.25x the naive
loop. The last line prints the ratios.

    python bench/rnn_speed.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os

import common
import numpy as np
from check_speed import full_against_naive

import minnet as mn

N, T, D, H = 32, 32, 64, 128
V, CD, CH, CT, CN = 20, 16, 32, 12, 8  # the character LSTM of the check


def lstm_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, D), dtype=np.float32)
    dout = rng.standard_normal((N, T, H), dtype=np.float32)
    return x, mn.LSTM(D, H, seed=seed).astype(np.float32), dout


def minnet_lstm(layer, x, dout):
    y = layer.forward(x)
    dx = layer.backward(dout)
    return y, dx, layer.grads["Wx"], layer.grads["Wh"], layer.grads["b"]


def torch_lstm(torch, threads, module, x, dout):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        xt = torch.from_numpy(x).requires_grad_()
        for p in module.parameters():
            p.grad = None
        out, _ = module(xt)
        out.backward(torch.from_numpy(dout))
        return out, xt.grad, module
    finally:
        torch.set_num_threads(before)


def torch_twin(torch, layer):
    """torch.nn.LSTM with minnet's weights: gate blocks i, f, o, g -> i, f, g, o, b -> bias_ih."""
    module = torch.nn.LSTM(D, H, batch_first=True)
    order = np.r_[0:2 * H, 3 * H:4 * H, 2 * H:3 * H]
    p = layer.params
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.from_numpy(p["Wx"][:, order].T.copy()))
        module.weight_hh_l0.copy_(torch.from_numpy(p["Wh"][:, order].T.copy()))
        module.bias_ih_l0.copy_(torch.from_numpy(p["b"][order]))
        module.bias_hh_l0.zero_()
    return module, order


def agree(ours, out, dx, module, order) -> str:
    """The largest difference over (y, dx, dWx, dWh, db), relative to each one's size."""
    inverse = np.argsort(order)
    theirs = [out.detach().numpy(), dx.numpy(),
              module.weight_ih_l0.grad.numpy().T[:, inverse],
              module.weight_hh_l0.grad.numpy().T[:, inverse],
              module.bias_ih_l0.grad.numpy()[inverse]]
    worst = max(float(np.max(np.abs(a - r))) / max(float(np.max(np.abs(r))), 1e-30)
                for a, r in zip(ours, theirs, strict=True))
    return f"max relative difference from minnet {worst:.1e}"


# ---- 1. LSTM forward + backward -------------------------------------------------------------


def run_lstm(repeats, torch) -> dict[str, float | None]:
    x, layer, dout = lstm_data()
    ours = tuple(np.array(a, copy=True) for a in minnet_lstm(layer, x, dout))
    contenders = {"minnet": lambda: lambda: minnet_lstm(layer, x, dout)}
    names, module = {}, None
    if torch is not None:
        module, order = torch_twin(torch, layer)
        for threads in sorted({torch.get_num_threads(), 1}, reverse=True):
            name = names[threads] = f"torch, {threads} thread{'s' if threads > 1 else ''}"
            contenders[name] = (lambda n: lambda: lambda: torch_lstm(torch, n, module, x,
                                                                     dout))(threads)
    times, outputs = common.time_interleaved(contenders, repeats)
    results = {"minnet": "-"}
    for name in names.values():
        out, dx, m = outputs[name]
        results[name] = agree(ours, out, dx, m, order)
    med = common.print_table(f"[lstm] forward + backward, float32, x {(N, T, D)}, H={H}, every "
                             f"step's output", times, results, "minnet")
    torch_best = min((med[n] for n in names.values()), default=None)
    return {"lstm:minnet/torch": med["minnet"] / torch_best if torch_best else None}


# ---- 2. a character LSTM's full gradient check ----------------------------------------------


def char_lstm() -> mn.Model:
    return mn.Model([mn.Embedding(V, CD, seed=0), mn.LSTM(CD, CH, seed=1),
                     mn.Dense(CH, V, seed=2)], loss=mn.SoftmaxCE())


def run_check(repeats) -> dict[str, float]:
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, V, (CN, CT)), rng.integers(0, V, (CN, CT))
    model = char_lstm()

    med = full_against_naive(model, X, y, f"[check] Embedding({V}, {CD}) - LSTM({CD}, {CH}) - "
                             f"Dense({CH}, {V}), N={CN} sequences of T={CT} ids", repeats)
    return {"check:full/naive": med["minnet full"] / med["naive"],
            "check:no_shortcuts/naive": med["minnet full, fast=False"] / med["naive"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds (default 7)")
    args = parser.parse_args()
    torch = common.load_torch(int(os.environ.get("OPENBLAS_NUM_THREADS", common.cpu_count())))
    common.print_header("minnet recurrent speed: LSTM vs torch; a character LSTM's full "
                        "gradient check vs the naive loop", torch)
    ratios = run_lstm(args.repeats, torch)
    ratios.update(run_check(max(1, args.repeats // 2)))
    print(common.ratios_line(ratios))


if __name__ == "__main__":
    main()
