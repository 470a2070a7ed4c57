"""Smoke runs of the benchmark scripts on a tiny size, so that they cannot break unnoticed."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_grading_benchmark_runs_and_compares_scores(tmp_path):
    import time

    started = time.time()
    out = tmp_path / "grading.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "grading.py"), "--submissions", "1",
                           "--scale", "0", "--workers", "1", "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "identical scores for every submission: True" in proc.stdout
    import json

    figures = json.loads(out.read_text())
    assert figures["submissions"] == 1 and figures["plain_s_per_sub"] > 0 and figures["dlcourse_s_per_sub"] > 0
    # dlcourse grade stopped its workers' fork servers: no sandbox of theirs is left
    from dlcourse.grading.sandbox import CGROUP_ROOT

    assert not [g for g in (CGROUP_ROOT / "pids").glob("dlcourse-grade-*") if g.stat().st_mtime > started]
