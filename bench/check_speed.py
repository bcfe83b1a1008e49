"""Gradient-check speed: minnet's checker against the naive loop and torch.autograd.gradcheck.

What is measured
  A check of every weight of a Dense-ReLU-Dense-SoftmaxCE model, float64, eps = 1e-6, by:

    minnet full           mn.GradientChecker(mode="full").check(model, X, y)
    minnet full, fast=False   the same without the shortcuts (small case only: it is slow)
    minnet directional    mode="directional": random directions per tensor, as many as
                          the default (DIRECTIONS in minnet/gradcheck/checker.py)
    minnet directional, 1 per tensor   directions=1: as much numeric work as torch's
                          fast_mode, which projects each input on one random vector
    naive                 the seed's method: flatten every parameter, move each entry by
                          +-eps with set_flat_params, two full compute_loss calls per entry
    torch gradcheck       torch.autograd.gradcheck over the same parameter tensors, slow mode
                          (every entry) and fast_mode=True (random projections); the same
                          thread count as numpy; skipped when torch is absent

  Cases  small  64-32-10, batch 32 (2,410 parameters), the first 32 digits
         large  784-128-10, batch 64 (101,770 parameters), synthetic data

  The small case runs every contender --repeats times, interleaved, and keeps medians.
  On the large case the full checks take a minute or two each, so they run once, and the
  naive loop is *estimated*: it is timed on --naive-entries random entries (3,000 by default)
  and scaled to all 101,770 (--full-naive runs it on every entry instead). torch's slow
  gradcheck on the large case takes about 100 s; --quick skips it and samples fewer naive
  entries. The cheap contenders (directional, fast_mode) still get --repeats rounds there.

Goals (from the issue): minnet full / naive <= 0.2 (small) and <= 0.25 (large); minnet
directional no slower than torch's fast_mode. The last line prints the ratios.

    python bench/check_speed.py [--repeats N] [--quick] [--full-naive] [--naive-entries N]
"""

from __future__ import annotations

import argparse

import common
import numpy as np

import minnet as mn

EPS = 1e-6
SEED = 0
CASES = {
    "small": {"sizes": (64, 32, 10), "batch": 32},
    "large": {"sizes": (784, 128, 10), "batch": 64},
}


def case_data(name: str, case: dict) -> tuple[np.ndarray, np.ndarray]:
    if name == "small":
        X, y = mn.datasets.load_digits()
        return X[:case["batch"]], y[:case["batch"]]
    return common.synthetic_classes(case["batch"], case["sizes"][0], dtype=np.float64)


def build_model(sizes) -> mn.Model:
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [mn.Dense(n_in, n_out, seed=i), mn.ReLU()]
    return mn.Model(layers[:-1], loss=mn.SoftmaxCE())


# ---- the contenders ----------------------------------------------------------------------


def full_against_naive(model, X, y, title: str, repeats: int,
                       no_shortcuts: bool = True) -> dict[str, float]:
    """Time minnet's full check (and, if asked, the same without shortcuts) against the naive
    loop, interleaved; print the table under `title` (the parameter count is added) and return
    the medians by contender."""

    def full(fast):
        checker = mn.GradientChecker(mode="full", eps=EPS, progress=False, fast=fast)
        report = checker.check(model, X, y)
        return f"{'passed' if report.passed else 'FAILED'}, difference {report.difference:.1e}"

    contenders = {"minnet full": lambda: lambda: full(True)}
    if no_shortcuts:
        contenders["minnet full, fast=False"] = lambda: lambda: full(False)
    contenders["naive"] = lambda: lambda: f"difference {naive_check(model, X, y):.1e}"
    times, results = common.time_interleaved(contenders, repeats)
    n = model.get_flat_params().size
    return common.print_table(f"{title}, float64, {n:,} parameters", times, results, "naive")


def naive_check(model, X, y, entries=None, eps=EPS) -> float:
    """The seed's method on the given flat entries (all by default); returns the difference
    ||g - g_num|| / (||g|| + ||g_num||) over those entries."""
    model.compute_loss(X, y)
    model.backward()
    analytic = model.get_flat_grads()
    theta = model.get_flat_params()
    entries = np.arange(theta.size) if entries is None else entries
    numeric = np.empty(len(entries))
    for k, i in enumerate(entries):
        old = theta[i]
        theta[i] = old + eps
        model.set_flat_params(theta)
        plus = model.compute_loss(X, y)
        theta[i] = old - eps
        model.set_flat_params(theta)
        minus = model.compute_loss(X, y)
        theta[i] = old
        numeric[k] = (plus - minus) / (2 * eps)
    model.set_flat_params(theta)
    a = analytic[entries]
    return float(np.linalg.norm(a - numeric) / (np.linalg.norm(a) + np.linalg.norm(numeric)))


def minnet_check(model, X, y, mode, fast=True, directions=mn.gradcheck.DIRECTIONS) -> str:
    checker = mn.GradientChecker(mode=mode, eps=EPS, progress=False, fast=fast,
                                 directions=directions)
    report = checker.check(model, X, y)
    return f"{'passed' if report.passed else 'FAILED'}, difference {report.difference:.1e}"


def torch_loss_function(torch, X, y):
    """The same MLP as a function of its parameter tensors (W1, b1, W2, b2, ...)."""
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)

    def loss(*params):
        h = X_t
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i + 2 < len(params):
                h = torch.relu(h)
        return torch.nn.functional.cross_entropy(h, y_t)
    return loss


def torch_check(torch, loss, params, fast_mode) -> str:
    ok = torch.autograd.gradcheck(loss, params, eps=EPS, atol=1e-5, rtol=1e-3,
                                  fast_mode=fast_mode, raise_exception=False)
    return "passed" if ok else "FAILED"


def contenders(model, X, y, torch, which, naive_entries=None):
    """name -> prepare() -> run() for the contenders named in `which`."""
    every = {
        "minnet full": lambda: lambda: minnet_check(model, X, y, "full"),
        "minnet full, fast=False": lambda: lambda: minnet_check(model, X, y, "full", fast=False),
        "minnet directional": lambda: lambda: minnet_check(model, X, y, "directional"),
        "minnet directional, 1 per tensor":
            lambda: lambda: minnet_check(model, X, y, "directional", directions=1),
        "naive": lambda: lambda: f"difference {naive_check(model, X, y, naive_entries):.1e}",
    }
    if torch is not None:
        loss = torch_loss_function(torch, X, y)
        params = [torch.tensor(p, requires_grad=True) for p in model.parameters()]
        every["torch gradcheck"] = lambda: lambda: torch_check(torch, loss, params, False)
        every["torch fast_mode"] = lambda: lambda: torch_check(torch, loss, params, True)
    return {k: every[k] for k in which if k in every}


# ---- the cases ---------------------------------------------------------------------------


def report(name, sizes, n_params, times, results, scaled=None) -> dict[str, float]:
    """Print the table of one case; return the median seconds of each contender."""
    scaled = scaled or {}
    med = {k: common.median(v) * scaled.get(k, 1.0) for k, v in times.items()}
    base = med.get("naive")
    rows = []
    for k, v in times.items():
        how = f"{len(v)} run{'s' if len(v) > 1 else ''}"
        if k in scaled:
            how += f", x{scaled[k]:.1f} (estimate)"
        rows.append([k, common.seconds_text(med[k]), how,
                     common.ratio_text(med[k] / base) if base else "-", str(results[k])])
    print(f"[{name}] {'-'.join(map(str, sizes))}, float64, {n_params:,} parameters")
    print(common.table(["contender", "median", "timed", "/ naive", "result"], rows))
    print()
    return med


def run_small(case, repeats, torch) -> dict[str, float | None]:
    X, y = case_data("small", case)
    model = build_model(case["sizes"])
    names = ["minnet full", "minnet full, fast=False", "minnet directional",
             "minnet directional, 1 per tensor", "naive", "torch gradcheck", "torch fast_mode"]
    times, results = common.time_interleaved(contenders(model, X, y, torch, names), repeats)
    med = report("small", case["sizes"], model.get_flat_params().size, times, results)
    return ratios_of("small", med)


def run_large(case, repeats, torch, quick, naive_entries) -> dict[str, float | None]:
    X, y = case_data("large", case)
    model = build_model(case["sizes"])
    n = model.get_flat_params().size
    sample = None
    if naive_entries and naive_entries < n:
        sample = np.sort(np.random.default_rng(SEED).choice(n, naive_entries, replace=False))
    slow = ["minnet full", "naive"] + ([] if quick else ["torch gradcheck"])
    cheap = ["minnet directional", "minnet directional, 1 per tensor", "torch fast_mode"]
    t_slow, r_slow = common.time_interleaved(
        contenders(model, X, y, torch, slow, sample), 1, warmup=False)
    t_cheap, r_cheap = common.time_interleaved(contenders(model, X, y, torch, cheap), repeats)
    scaled = {"naive": n / len(sample)} if sample is not None else {}
    if sample is not None:
        r_slow["naive"] += f" on {len(sample):,} random entries"
    times, results = {**t_slow, **t_cheap}, {**r_slow, **r_cheap}
    if quick and torch is not None:
        note = "skipped (--quick); the issue measured about 106 s"
        print(f"note: torch gradcheck slow mode {note}")
    med = report("large", case["sizes"], n, times, results, scaled)
    return ratios_of("large", med)


def ratios_of(name, med) -> dict[str, float | None]:
    def ratio(a, b):
        return med[a] / med[b] if a in med and b in med else None
    return {f"{name}:full/naive": ratio("minnet full", "naive"),
            f"{name}:full/torch": ratio("minnet full", "torch gradcheck"),
            f"{name}:directional/torch_fast": ratio("minnet directional", "torch fast_mode"),
            f"{name}:directional1/torch_fast": ratio("minnet directional, 1 per tensor",
                                                     "torch fast_mode")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help="rounds of the timed contenders (default 5, --quick 3)")
    parser.add_argument("--quick", action="store_true",
                        help="skip torch's slow gradcheck on the large case, sample 1,000 naive "
                             "entries, fewer rounds")
    parser.add_argument("--full-naive", action="store_true",
                        help="run the naive loop on all 101,770 entries of the large case")
    parser.add_argument("--naive-entries", type=int, default=None,
                        help="entries the large-case naive loop is timed on (default 3,000)")
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)
    naive_entries = None if args.full_naive else \
        (args.naive_entries or (1000 if args.quick else 3000))

    torch = common.load_torch(common.cpu_count())
    common.print_header("minnet gradient-check speed: minnet vs naive loop vs "
                        "torch.autograd.gradcheck", torch)
    ratios = run_small(CASES["small"], repeats, torch)
    ratios.update(run_large(CASES["large"], repeats, torch, args.quick, naive_entries))
    print(common.ratios_line(ratios))


if __name__ == "__main__":
    main()
