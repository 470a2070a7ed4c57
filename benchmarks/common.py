"""What every benchmark shares: interleaved timing rounds, rounding, progress lines and the machine's description."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `make bench`'s sizes that an option can lower (a run given less is a reduced run, and RESULTS.md says so)
FULL_SIZES = {"--submissions": 20, "--repeat": 30, "--gpu-rounds": 3}


def sig(v: float, digits: int = 3) -> float:
    """``v`` to ``digits`` significant digits (a ratio of 0.004 stays 0.004, not 0.0)."""
    return float(f"{v:.{digits}g}")


def progress(message: str) -> None:
    """One progress line on stderr, flushed at once, so that a long run shows where it is."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def time_rounds(runners: dict[str, Callable[[], object]], repeat: int, warmup: int = 1,
                sync: Callable[[], None] | None = None) -> dict[str, list[float]]:
    """Seconds of each runner in each of ``repeat`` timed rounds, after ``warmup`` untimed ones.

    The runners take turns inside every round, so that a drift of a shared machine's speed hits all of them;
    ``sync`` (e.g. ``torch.cuda.synchronize``) is called before every clock reading.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    times: dict[str, list[float]] = {name: [] for name in runners}
    for i in range(warmup + repeat):
        for name, run in runners.items():
            if sync:
                sync()
            start = time.perf_counter()
            run()
            if sync:
                sync()
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def agree(pairs: dict[str, tuple], what: str, tolerance: float = 1e-10) -> float:
    """The largest relative difference over ``pairs`` (name -> (numpy array, torch tensor)), each relative to the
    numpy array's largest magnitude (at least 1); ValueError naming ``what`` above ``tolerance``."""
    import numpy as np

    errors = {name: float(np.max(np.abs(mine - theirs.numpy()), initial=0.0)) / max(1.0, float(np.max(np.abs(mine))))
              for name, (mine, theirs) in pairs.items()}
    if max(errors.values()) > tolerance:
        raise ValueError(f"numpy and torch (float64) {what} disagree: relative errors {errors}")
    return max(errors.values())


def median_ms(seconds: list[float]) -> float:
    """The median of ``seconds``, in milliseconds, to three significant digits."""
    return sig(statistics.median(seconds) * 1e3)


def ratio(numerator: list[float], denominator: list[float]) -> dict[str, float]:
    """The ratio of two runners' medians, and the range of the ratios round by round (same-round pairs)."""
    per_round = sorted(a / b for a, b in zip(numerator, denominator))
    return {"ratio": sig(statistics.median(numerator) / statistics.median(denominator)),
            "ratio_min": sig(per_round[0]), "ratio_max": sig(per_round[-1])}


def blas_threads() -> int | None:
    """The thread count of numpy's BLAS (None if threadpoolctl cannot tell)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return next((p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"), None)


def cpu_model() -> str:
    """The CPU's model name as /proc/cpuinfo gives it (else platform's guess), with its widest vector instructions:
    machines named alike ("AMD EPYC") differ by 2x in speed here, and AVX-512 tells them apart."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                platform.processor() or platform.machine())
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    widest = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else None
    return f"{name} ({widest})" if widest else name


def git_commit() -> str:
    """The repository's HEAD commit (short), with ``+changes`` when the tracked files differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}+changes" if head and dirty else head or "unknown"


def machine() -> dict:
    """Where and when the figures were measured: CPU, cores, RAM, versions, the load average at the start."""
    import numpy as np
    import psutil
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(), "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
        "torch_threads": torch.get_num_threads(), "blas_threads": blas_threads(), "gpu": gpu,
        "load_average": [round(x, 2) for x in os.getloadavg()], "commit": git_commit(),
    }
