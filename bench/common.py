"""Helpers shared by the benchmark scripts: interleaved timing, the machine, data, tables.

The scripts in bench/ import this file as `common` (Python puts the script's own folder
first on sys.path, so `python bench/train_speed.py` finds it from anywhere).

How timing is done, in every script:
  * every contender is a function that prepares its work (untimed: building models,
    copying weights) and returns the function to time;
  * one round runs every contender once, in an order rotated from round to round, so a
    burst of load from another process does not always hit the same contender;
  * the figure kept per contender is the median over the rounds, and ratios are ratios of
    medians; the fastest round is printed too, as a second opinion on noisy machines;
  * the garbage collector is run before each timed call and paused during it.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable

import numpy as np

BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                  "OMP_NUM_THREADS", "MKL_NUM_THREADS")

Contender = Callable[[], Callable[[], object]]  # prepare() -> run()


# ---- the machine ------------------------------------------------------------------------


def cpu_count() -> int:
    """Cores this process may run on (what numpy's BLAS uses by default)."""
    return len(os.sched_getaffinity(0))


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_torch(threads: int):
    """torch with `threads` intra-op threads, or None when torch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def machine_lines(torch=None) -> list[str]:
    """What the figures were measured on: CPU, cores, versions, BLAS environment."""
    blas = ", ".join(f"{k}={os.environ[k]}" for k in BLAS_VARIABLES if k in os.environ)
    torch_text = "absent" if torch is None else \
        f"{torch.__version__} ({torch.get_num_threads()} threads)"
    return [f"machine: {cpu_model()}, {cpu_count()} cores, load average "
            f"{os.getloadavg()[0]:.2f} (1 min) at start",
            f"python {platform.python_version()}, numpy {np.__version__}, torch {torch_text}",
            f"BLAS environment: {blas or 'none of ' + ', '.join(BLAS_VARIABLES[:4]) + ' set'}",
            f"minnet: {minnet_version()}, {time.strftime('%Y-%m-%d %H:%M %Z')}"]


def minnet_version() -> str:
    """The commit of the checkout being measured, and whether minnet/ differs from it."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "minnet"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "version unknown (not a git checkout)"
    return f"commit {head}" + (" with uncommitted changes in minnet/" if dirty else "")


def print_header(title: str, torch=None) -> None:
    print(title)
    print("=" * len(title))
    for line in machine_lines(torch):
        print(line)
    print()


# ---- timing -----------------------------------------------------------------------------


def timed(run: Callable[[], object]) -> tuple[float, object]:
    """Seconds taken by run(), with the garbage collector paused, and what it returned."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        result = run()
        return time.perf_counter() - start, result
    finally:
        gc.enable()


def time_interleaved(contenders: dict[str, Contender], repeats: int,
                     warmup: bool = True) -> tuple[dict[str, list[float]], dict[str, object]]:
    """Time every contender `repeats` times, one round at a time, in a rotated order.

    Returns the times of each contender and what its last run returned. With warmup=True a
    first, untimed round lets caches, BLAS threads and torch's dispatcher settle.
    """
    names = list(contenders)
    times: dict[str, list[float]] = {name: [] for name in names}
    results: dict[str, object] = {}
    for r in range(-1 if warmup else 0, repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            seconds, results[name] = timed(contenders[name]())
            if r >= 0:
                times[name].append(seconds)
    return times, results


def median(times: list[float]) -> float:
    return statistics.median(times)


# ---- data -------------------------------------------------------------------------------


def synthetic_classes(n: int, features: int, classes: int = 10, seed: int = 0,
                      dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs: one random center per class plus noise, so training has something to
    learn. Built in place, so the only large array ever allocated is X itself (plus one row
    block of centers per class)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((classes, features)).astype(dtype)
    y = rng.integers(0, classes, n)
    X = rng.standard_normal((n, features), dtype=dtype)
    for c in range(classes):
        X[y == c] += centers[c]
    return X, y


# ---- printing ---------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain-text table with left-aligned columns."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = lambda r: "  ".join(str(s).ljust(w) for s, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def seconds_text(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def ratio_text(r: float | int | str | None) -> str:
    """A ratio with two decimals; ints and ready-made strings are printed as they are."""
    if r is None:
        return "n/a"
    return str(r) if isinstance(r, (int, str)) else f"{r:.2f}"


def print_table(title: str, times: dict[str, list[float]], results: dict[str, object],
                baseline: str) -> dict[str, float]:
    """Print the title and, per contender, its median and fastest time, its runs, its ratio to
    `baseline` and its result; return the medians."""
    med = {k: median(v) for k, v in times.items()}
    rows = [[k, seconds_text(med[k]), seconds_text(min(v)), f"{len(v)} runs",
             ratio_text(med[k] / med[baseline]), str(results[k])] for k, v in times.items()]
    print(title)
    print(table(["contender", "median", "fastest", "timed", f"/ {baseline}", "result"], rows))
    print()
    return med


def ratios_line(ratios: dict[str, float | int | str | None]) -> str:
    """The last line every script prints: `ratios: name=value name=value ...`."""
    return "ratios: " + " ".join(f"{k}={ratio_text(v)}" for k, v in ratios.items())


