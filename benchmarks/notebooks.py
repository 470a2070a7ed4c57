"""Table 1: every notebook executed from a fresh kernel at the default (fast) size: wall time and peak memory.

Each notebook runs top to bottom as ``make notebooks`` runs it (``dlcourse._execution.ReliableNotebookClient``,
a fresh ``python3`` kernel started in the notebook's folder, torch's AVX2 kernels pinned), in memory: nothing
is written back. The wall time includes the kernel's start; the peak RSS is the largest sum of the resident
memory of every process this one started (the kernel and its children, e.g. lecture 10's gloo workers), sampled
every 50 ms. Goals (issue 16): at most 60 s and 1 GB each, the whole course in at most 8 minutes on 2 cores.

    .venv/bin/python -m benchmarks --only notebooks
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from pathlib import Path

from .common import ROOT, progress

GOAL_SECONDS = 60.0
GOAL_MB = 1000.0  # 1 GB
GOAL_TOTAL_SECONDS = 8 * 60.0
TINY_NOTEBOOKS = ("solutions/ps7/ps7.ipynb",)


def all_notebooks() -> list[str]:
    """The lectures, then the solution notebooks, as paths relative to the repository."""
    found = sorted(ROOT.glob("course/lectures/*.ipynb")) + sorted(ROOT.glob("solutions/*/*.ipynb"))
    return [str(p.relative_to(ROOT)) for p in found]


class PeakRSS:
    """Samples, every ``interval`` seconds in a thread, the summed RSS of this process's descendants; keeps the
    largest sum (bytes). A ``with`` block."""

    def __init__(self, interval: float = 0.05):
        self.interval, self.peak = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        import psutil

        total = 0
        for child in psutil.Process().children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:  # gone since it was listed
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def execute(path: str, timeout: int = 300) -> tuple[float, float]:
    """Run the notebook at ``path`` (relative to the repository) in a fresh kernel: (wall seconds, peak RSS MB).
    RuntimeError, naming the notebook and the error, if a cell fails."""
    import nbformat
    from nbclient.exceptions import CellExecutionError

    from dlcourse._execution import ReliableNotebookClient

    full = ROOT / path
    nb = nbformat.read(full, as_version=4)
    client = ReliableNotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                    resources={"metadata": {"path": str(full.parent)}})
    with PeakRSS() as rss:
        start = time.perf_counter()
        try:
            client.execute()
        except CellExecutionError as err:
            raise RuntimeError(f"{path} failed:\n{err}") from None
        seconds = time.perf_counter() - start
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    if errors:
        raise RuntimeError(f"{path} failed: {errors[0].ename}: {errors[0].evalue}")
    return seconds, rss.peak / 1e6


def check_environment() -> None:
    """The default size on the CPU: refuse to run with DLCOURSE_FULL or DLCOURSE_DEVICE set."""
    if os.environ.get("DLCOURSE_FULL") or os.environ.get("DLCOURSE_DEVICE"):
        raise RuntimeError("the notebook table measures the default size on the CPU: unset DLCOURSE_FULL and "
                           "DLCOURSE_DEVICE (make bench does)")


def measure(notebooks: list[str] | None = None, repeat: int = 1, tiny: bool = False) -> dict:
    """Table 1's figures: per notebook the median wall time and peak RSS over ``repeat`` runs, the goals, totals."""
    from dlcourse import runtime

    check_environment()
    runtime.pin_cpu_kernels()  # as make notebooks: the kernels compute with the AVX2 kernels
    notebooks = list(notebooks or (TINY_NOTEBOOKS if tiny else all_notebooks()))
    rows = []
    for i, path in enumerate(notebooks, 1):
        runs = []
        for r in range(repeat):
            seconds, mb = execute(path)
            runs.append((seconds, mb))
            progress(f"notebooks: {i}/{len(notebooks)} {path} run {r + 1}/{repeat}: {seconds:.1f} s, {mb:.0f} MB")
        seconds = statistics.median(s for s, _ in runs)
        mb = statistics.median(m for _, m in runs)
        rows.append({"notebook": path, "seconds": round(seconds, 1), "peak_mb": round(mb), "runs": repeat,
                     "within_time": seconds <= GOAL_SECONDS, "within_memory": mb <= GOAL_MB})
    total = sum(r["seconds"] for r in rows)
    return {"rows": rows, "repeat": repeat, "total_seconds": round(total, 1),
            "max_peak_mb": max(r["peak_mb"] for r in rows), "within_total": total <= GOAL_TOTAL_SECONDS,
            "all_within": all(r["within_time"] and r["within_memory"] for r in rows),
            "goals": {"seconds": GOAL_SECONDS, "mb": GOAL_MB, "total_seconds": GOAL_TOTAL_SECONDS},
            "complete": len(rows) == len(all_notebooks())}
