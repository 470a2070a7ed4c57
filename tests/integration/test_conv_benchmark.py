"""Smoke run of benchmarks/conv.py on a tiny size, so that the convolution benchmark cannot break unnoticed."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_conv_benchmark_runs_and_writes_its_figures(tmp_path):
    out = tmp_path / "conv.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "conv.py"), "--tiny", "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "numpy / torch" in proc.stdout
    figures = json.loads(out.read_text())
    for field in ("x", "w", "stride", "padding", "cores", "torch_threads", "repeat", "numpy_ms", "torch_ms",
                  "torch_float32_ms", "ratio", "ratio_float32", "max_relative_error", "within_goal"):
        assert field in figures, field
    assert figures["x"] == [2, 3, 8, 8] and figures["w"] == [4, 3, 3, 3]
    assert figures["numpy_ms"] > 0 and figures["torch_ms"] > 0 and figures["torch_float32_ms"] > 0
    assert figures["ratio"] > 0 and figures["max_relative_error"] < 1e-10
