"""Training speed: one epoch of the same MLP in minnet, in plain numpy and in PyTorch (CPU).

What is measured
  One epoch of SGD with momentum (lr 0.01, momentum 0.9) from the same initial weights
  (copied from minnet's Dense layers) over the same mini-batches, in the order fit draws
  them (np.random.default_rng(seed).permutation(n)), by each contender:

    numpy        the bench's own reference, written by hand: forward, softmax
                 cross-entropy, backward, momentum update, nothing else
    minnet fit   model.fit(X, y, epochs=1, ..., progress=False, debug=False)
    minnet loop  model.forward, loss.forward, model.backward, optimizer.step on the same
                 batches: minnet's layers without fit's own bookkeeping
    torch        nn.Sequential of Linear and ReLU, CrossEntropyLoss, optim.SGD(momentum=0.9),
                 with as many threads as numpy's BLAS gets (skipped when torch is absent)

  Cases  large  784-256-128-10, float32, batch 128, 20,000 synthetic samples
         small  64-64-10, float64 (minnet's default), batch 32, the 1,797 digits

  The contenders run interleaved in one process (see common.py); each figure is the median
  of --repeats rounds. Each contender's final weights are compared with the numpy
  reference's, so "the same updates" is checked, not assumed.

Memory
  A child process fits one epoch (debug=False) on 60,000 x 784 float32 samples and reports
  peak memory as a multiple of (data + parameters): the peak resident set (VmHWM, reset
  just before fit, minus what the process held before the data existed), and numpy's own
  allocations traced by tracemalloc during a second fit.

Goals (from the issue): minnet / numpy <= 1.15 and minnet / torch <= 0.8, on both cases;
memory peak / (data + params) < 2. The last line prints the ratios.

    python bench/train_speed.py [--repeats N] [--quick] [--no-memory]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tracemalloc

import common
import numpy as np

import minnet as mn

LR, MOMENTUM, SEED = 0.01, 0.9, 0
CASES = {
    "large": {"sizes": (784, 256, 128, 10), "dtype": np.float32, "batch": 128, "n": 20_000},
    "small": {"sizes": (64, 64, 10), "dtype": np.float64, "batch": 32, "n": None},  # digits
}
MEMORY_SAMPLES = 60_000


# ---- data and the shared starting point --------------------------------------------------


def case_data(case: dict) -> tuple[np.ndarray, np.ndarray]:
    if case["n"] is None:
        X, y = mn.datasets.load_digits()
        return X.astype(case["dtype"]), y
    return common.synthetic_classes(case["n"], case["sizes"][0], dtype=case["dtype"])


def build_model(sizes, dtype) -> mn.Model:
    """Dense + ReLU layers with seeded weights: every contender starts from these."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [mn.Dense(n_in, n_out, seed=i), mn.ReLU()]
    return mn.Model(layers[:-1], loss=mn.SoftmaxCE()).astype(dtype)


def dense_weights(model: mn.Model) -> list[tuple[np.ndarray, np.ndarray]]:
    """Copies of (W, b) of every Dense layer, W of shape (in, out)."""
    return [(layer.params["W"].copy(), layer.params["b"].copy())
            for layer in model.layers if isinstance(layer, mn.Dense)]


def epoch_order(n: int, seed: int = SEED) -> np.ndarray:
    """The sample order of fit's first epoch (minnet.datasets.batches with a fresh rng)."""
    return np.random.default_rng(seed).permutation(n)


# ---- the contenders ----------------------------------------------------------------------


def numpy_epoch(weights, X, y, order, batch_size, lr=LR, momentum=MOMENTUM):
    """The reference loop: an MLP with ReLU and softmax cross-entropy, in plain numpy.

    weights is a list of (W, b), updated in place; returns the last batch's loss.
    """
    velocity = [(np.zeros_like(W), np.zeros_like(b)) for W, b in weights]
    loss = np.nan
    for start in range(0, len(X), batch_size):
        idx = order[start:start + batch_size]
        xb, yb = X[idx], y[idx]
        rows = np.arange(len(yb))
        # forward, keeping the input of every Dense layer
        inputs = [xb]
        for W, b in weights[:-1]:
            inputs.append(np.maximum(inputs[-1] @ W + b, 0))
        scores = inputs[-1] @ weights[-1][0] + weights[-1][1]
        # softmax cross-entropy
        scores -= scores.max(axis=1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=1, keepdims=True)
        loss = -np.log(probs[rows, yb]).mean()
        # backward: d is dL/d(output of layer i)
        d = probs
        d[rows, yb] -= 1
        d /= len(yb)
        grads = []
        for i in reversed(range(len(weights))):
            grads.append((inputs[i].T @ d, d.sum(axis=0)))
            if i > 0:
                d = (d @ weights[i][0].T) * (inputs[i] > 0)
        grads.reverse()
        # momentum update: v = mu v - lr g; p += v
        for (W, b), (gW, gb), (vW, vb) in zip(weights, grads, velocity):
            for p, g, v in ((W, gW, vW), (b, gb, vb)):
                v *= momentum
                v -= lr * g
                p += v
    return float(loss)


def minnet_fit(model, X, y, batch_size):
    model.fit(X, y, epochs=1, batch_size=batch_size, optimizer=mn.Momentum(LR, MOMENTUM),
              seed=SEED, progress=False, debug=False)


def minnet_loop(model, X, y, order, batch_size):
    """minnet's own pieces in the simplest training loop, without fit around them."""
    optimizer = mn.Momentum(LR, MOMENTUM)
    model.train()
    for start in range(0, len(X), batch_size):
        idx = order[start:start + batch_size]
        scores = model.forward(X[idx])
        model.loss.forward(scores, y[idx])
        model.backward()
        optimizer.step(model)


def torch_net(torch, weights, dtype):
    """nn.Sequential(Linear, ReLU, ..., Linear) holding the given weights."""
    modules = []
    for W, b in weights:
        linear = torch.nn.Linear(*W.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            linear.bias.copy_(torch.from_numpy(b))
        modules += [linear, torch.nn.ReLU()]
    net = torch.nn.Sequential(*modules[:-1])
    return net.double() if dtype == np.float64 else net.float()


def torch_epoch(torch, net, X_t, y_t, order_t, batch_size):
    """The usual PyTorch loop; its SGD momentum (buf = mu buf + g; p -= lr buf) gives the
    same updates as v = mu v - lr g; p += v."""
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = torch.nn.CrossEntropyLoss()
    for start in range(0, len(X_t), batch_size):
        idx = order_t[start:start + batch_size]
        optimizer.zero_grad()
        loss = loss_fn(net(X_t[idx]), y_t[idx])
        loss.backward()
        optimizer.step()


def contenders(case, X, y, torch):
    """name -> prepare() -> run(); each run returns the first layer's W after the epoch."""
    sizes, dtype, batch = case["sizes"], case["dtype"], case["batch"]
    start = dense_weights(build_model(sizes, dtype))
    order = epoch_order(len(X))

    def numpy_():
        weights = [(W.copy(), b.copy()) for W, b in start]
        return lambda: (numpy_epoch(weights, X, y, order, batch), weights[0][0])[1]

    def fresh_minnet():
        model = build_model(sizes, dtype)
        for layer, (W, b) in zip([la for la in model.layers if isinstance(la, mn.Dense)], start):
            layer.params["W"][...], layer.params["b"][...] = W, b
        return model

    def fit_():
        model = fresh_minnet()
        return lambda: (minnet_fit(model, X, y, batch), model.layers[0].params["W"])[1]

    def loop_():
        model = fresh_minnet()
        return lambda: (minnet_loop(model, X, y, order, batch), model.layers[0].params["W"])[1]

    found = {"numpy": numpy_, "minnet fit": fit_, "minnet loop": loop_}
    if torch is not None:
        X_t, y_t, order_t = torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(order)

        def torch_():
            net = torch_net(torch, start, dtype)
            return lambda: (torch_epoch(torch, net, X_t, y_t, order_t, batch),
                            net[0].weight.detach().numpy().T)[1]
        found["torch"] = torch_
    return found


# ---- one case ----------------------------------------------------------------------------


def run_case(name, case, repeats, torch) -> dict[str, float | None]:
    X, y = case_data(case)
    sizes = "-".join(map(str, case["sizes"]))
    print(f"[{name}] {sizes}, {np.dtype(case['dtype']).name}, batch {case['batch']}, "
          f"{len(X):,} samples ({-(-len(X) // case['batch'])} steps), "
          f"median of {repeats} rounds")
    times, finals = common.time_interleaved(contenders(case, X, y, torch), repeats)
    med = {k: common.median(v) for k, v in times.items()}
    reference = finals["numpy"]
    scale = float(np.abs(reference).max())
    rows = [[k, common.seconds_text(med[k]), common.seconds_text(min(times[k])),
             common.ratio_text(med[k] / med["numpy"]),
             f"{np.abs(finals[k] - reference).max() / scale:.1e}"] for k in times]
    print(common.table(["contender", "median", "fastest", "/ numpy", "max |W - W_numpy| / max|W|"],
                       rows))
    print()
    return {f"{name}:minnet/numpy": med["minnet fit"] / med["numpy"],
            f"{name}:loop/numpy": med["minnet loop"] / med["numpy"],
            f"{name}:minnet/torch": med["minnet fit"] / med["torch"] if torch else None}


# ---- memory ------------------------------------------------------------------------------


def status_kib(field: str) -> int:
    """A field of /proc/self/status (VmRSS, VmHWM) in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current resident set (Linux >= 4.0); False when not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def memory_child() -> None:
    """Run in a fresh process: print one JSON line of memory figures for a big fit."""
    sizes, batch = CASES["large"]["sizes"], CASES["large"]["batch"]
    before_data = status_kib("VmRSS") * 1024
    X, y = common.synthetic_classes(MEMORY_SAMPLES, sizes[0], dtype=np.float32)
    model = build_model(sizes, np.float32)
    data = X.nbytes + y.nbytes
    params = sum(p.nbytes for p in model.parameters())
    exact_peak = reset_peak_rss()
    minnet_fit(model, X, y, batch)
    peak_rss = status_kib("VmHWM") * 1024 - before_data

    model = build_model(sizes, np.float32)
    tracemalloc.start()
    minnet_fit(model, X, y, batch)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"data": data, "params": params, "peak_rss": peak_rss,
                      "exact_peak": exact_peak, "traced_extra": traced_peak}))


def run_memory() -> float:
    """Start memory_child in a new interpreter (its peak is then fit's alone) and report."""
    out = subprocess.run([sys.executable, __file__, "--memory-child"], capture_output=True,
                         text=True, check=True).stdout
    m = json.loads(out.strip().splitlines()[-1])
    base = m["data"] + m["params"]
    rss_ratio = m["peak_rss"] / base
    traced_ratio = (m["data"] + m["traced_extra"]) / base
    mb = lambda b: f"{b / 2**20:.1f} MB"  # noqa: E731
    print(f"[memory] fit, 1 epoch, on {MEMORY_SAMPLES:,} x {CASES['large']['sizes'][0]} float32, "
          f"batch {CASES['large']['batch']}: data {mb(m['data'])}, params {mb(m['params'])}")
    how = "VmHWM reset before fit" if m["exact_peak"] else "ru_maxrss, reset not allowed"
    print(common.table(["measure", "peak", "peak / (data + params)"], [
        [f"resident set ({how}), less the process before the data", mb(m["peak_rss"]),
         f"{rss_ratio:.2f}"],
        ["tracemalloc: data + fit's largest live allocations", mb(m["data"] + m["traced_extra"]),
         f"{traced_ratio:.2f}"]]))
    print()
    return rss_ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help="rounds per case (default 7 for large, 21 for small; --quick 3/7)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child()

    torch = common.load_torch(common.cpu_count())
    common.print_header("minnet training speed: one epoch, minnet vs numpy vs PyTorch", torch)
    ratios = {}
    for name, case in CASES.items():
        default = (3 if args.quick else 7) if name == "large" else (7 if args.quick else 21)
        ratios.update(run_case(name, case, args.repeats or default, torch))
    if not args.no_memory:
        ratios["memory:peak/(data+params)"] = run_memory()
    print(common.ratios_line(ratios))


if __name__ == "__main__":
    main()
