"""The benchmark suite (`make bench`): a smoke run of every table on a tiny size, so that none can break unnoticed,
and the committed benchmarks/RESULTS.md, which must parse (the parser is tested on broken copies too)."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from benchmarks import conv, grading, report

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """``python -m benchmarks --tiny`` into a temporary folder: (RESULTS.md's text, results.json, its TMPDIR, the
    time it started).

    The run gets a TMPDIR of its own (short: the graders' sockets live there), so that what its graders leave
    behind can be told from what another grading run on the machine has open."""
    out = tmp_path_factory.mktemp("bench") / "RESULTS.md"
    tmpdir = Path(tempfile.mkdtemp(prefix="dlbench-", dir="/tmp"))
    started = time.time()
    env = {k: v for k, v in os.environ.items() if k not in ("DLCOURSE_FULL", "DLCOURSE_DEVICE")}
    env["TMPDIR"] = str(tmpdir)
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--tiny", "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    yield out.read_text(), json.loads(out.with_name("results.json").read_text()), tmpdir, started
    shutil.rmtree(tmpdir, ignore_errors=True)


def test_the_tiny_suite_writes_every_table_with_numbers(tiny_run):
    text, doc = tiny_run[:2]
    tables = report.parse(text)
    assert set(tables) == set(report.KEYS) == set(doc["tables"])
    (notebooks,) = tables["notebooks"]
    assert notebooks[0]["notebook"] == "`solutions/ps7/ps7.ipynb`" and notebooks[0]["wall time (s)"] > 0
    comparison, scaling = tables["grading"]
    assert comparison[0]["assignment"] == "ps7" and comparison[0]["honest submissions: identical scores"] is True
    assert scaling[0]["s / submission"] > 0
    vs_torch, gemm = tables["reference"]
    assert [r["operation"].split(",")[0] for r in vs_torch] == ["conv2d forward + backward", "MLP training step"]
    assert gemm[0]["% of peak"] == 100 and len(gemm) == 5
    assert len(tables["autodiff"][0]) == 4
    (gpu,) = tables["gpu"]
    assert [r["model"].split(":")[0] for r in gpu] == ["CNN", "denoising autoencoder", "DCGAN"]
    assert all(r["CPU (s / epoch)"] > 0 for r in gpu)
    import torch

    if not torch.cuda.is_available():  # never a made-up figure
        assert all(r["GPU (s / epoch)"] is None and r["GPU speed-up (×)"] is None for r in gpu)
        assert "not measured (no GPU on this machine)" in text
    assert "Smoke-size figures" in text and doc["machine"]["cores"] == os.cpu_count()


def test_the_tiny_grading_run_leaves_no_sandbox_behind(tiny_run):
    """dlcourse grade stopped its workers' fork servers: no process of its sandboxes, no session folder, no cgroup,
    no student view of the lib (each grading process, nbgrader's and the Dask workers, removes its own)."""
    import psutil

    from dlcourse.grading.sandbox import CGROUP_ROOT

    tmpdir, started = tiny_run[2], tiny_run[3]
    assert not list(tmpdir.glob("dlcourse-grade-*")), "session folders left behind"
    assert not list(tmpdir.glob("dlcourse-student-lib-*")), "student views of the lib left behind"
    alive = [p.info for p in psutil.process_iter(["pid", "cmdline"])
             if str(tmpdir) in " ".join(p.info["cmdline"] or [])]
    assert not alive, f"processes left behind: {alive}"
    # a sandbox removes its cgroups before its session folder: a recent cgroup still there once its folder is gone
    # (another grading run on the machine keeps its folders in /tmp) was left behind
    recent = [g for c in ("pids", "memory") for g in (CGROUP_ROOT / c).glob("dlcourse-grade-*")
              if g.stat().st_mtime > started]
    leaked = [g for g in recent if not (Path("/tmp") / g.name).exists() and g.exists()]
    assert not leaked, f"cgroups left behind: {leaked}"


def test_one_table_is_rerun_and_the_others_are_kept(tiny_run, tmp_path):
    """--only rewrites one table and keeps the others from results.json (how the GPU table is filled in later)."""
    doc = tiny_run[1]
    (tmp_path / "results.json").write_text(json.dumps(doc))
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--tiny", "--only", "autodiff", "--out",
                           str(tmp_path / "RESULTS.md")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    new = json.loads((tmp_path / "results.json").read_text())
    assert new["tables"]["gpu"] == doc["tables"]["gpu"] and new["tables"]["autodiff"] != doc["tables"]["autodiff"]
    assert "--only autodiff" in new["tables"]["autodiff"]["command"]
    assert set(report.parse((tmp_path / "RESULTS.md").read_text())) == set(report.KEYS)


def test_the_committed_results_parse():
    assert RESULTS.exists(), "benchmarks/RESULTS.md is missing: run make bench"
    text = RESULTS.read_text()
    tables = report.parse(text)
    assert set(tables) == set(report.KEYS)
    assert "Smoke-size figures" not in text, "the committed RESULTS.md comes from a --tiny run"
    for row in tables["gpu"][0]:  # numbers, or "not measured" in both GPU columns
        assert (row["GPU (s / epoch)"] is None) == (row["GPU speed-up (×)"] is None)
    notebooks = tables["notebooks"][0]
    assert all(r["wall time (s)"] > 0 and r["peak RSS (MB)"] > 0 for r in notebooks)


BREAKAGES = {
    "a section is gone": (r"## 4\. Autodiff engine.*?(?=\n## 5\.)", "", "no section '## 4."),
    "a number is not one": (r"(\| `dlcourse\.autodiff\.Value`[^|]*\| )[0-9.]+", r"\1fast", "expected a number"),
    "a number is negative": (r"(\| `dlcourse\.autodiff\.Value`[^|]*\| )[0-9.]+", r"\1-1.5", "positive"),
    "a column is gone": (r"\| GFLOP/s \|", "|", "columns"),
    "a GPU figure is made up": (r"(\| CNN: [^|]*\| [0-9.]+ \| [0-9.]+ \| )(not measured \(no GPU[^|]*\)|[0-9.]+)",
                                r"\1n/a", "column 'GPU (s / epoch)': expected a number"),
    "a goal says maybe": (r"\| (yes|no) \|", "| maybe |", "expected yes or no"),
    "the machine is not described": (r"- CPU: ", "- processor: ", "does not say CPU"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_the_parser_rejects_a_broken_copy(breakage):
    pattern, replacement, message = BREAKAGES[breakage]
    text = RESULTS.read_text()
    broken, n = re.subn(pattern, replacement, text, count=1, flags=re.S)
    assert n == 1, f"the breakage {breakage!r} found nothing to break"
    with pytest.raises(report.ResultsError, match=re.escape(message)):
        report.parse(broken)


def test_the_conv_benchmark_runs_on_its_own_and_checks_torch(tmp_path, capsys):
    out = tmp_path / "conv.json"
    assert conv.main(["--tiny", "--json", str(out)]) == 0
    assert "numpy / torch" in capsys.readouterr().out
    figures = json.loads(out.read_text())
    assert figures["x"] == [2, 3, 8, 8] and figures["w"] == [4, 3, 3, 3]
    assert figures["numpy_ms"] > 0 and figures["torch_ms"] > 0 and figures["max_relative_error"] < 1e-10


@pytest.mark.parametrize("assignment", grading.ASSIGNMENTS)
def test_every_assignment_has_a_mix_of_submissions(assignment):
    """Each mistake replaces an answer cell that exists, and changes it; the infinite loop is the last one."""
    from dlcourse.grading.mock import solution_answers

    solutions = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    kinds = grading.mix(assignment, 20, infinite_loop=True)
    assert kinds[-1] == grading.INFINITE_LOOP and kinds.count("solution") >= 10
    assert {"name_error"} <= set(kinds) and len(set(kinds)) >= 4
    correct = solution_answers(solutions)
    for kind in set(kinds) - {"solution"}:
        answers = solution_answers(grading.submission(assignment, kind, solutions, solutions))
        assert [k for k in correct if answers[k] != correct[k]], kind


def test_numpy_and_torch_must_agree_relative_to_the_largest_value():
    import numpy as np
    import torch

    from benchmarks.common import agree

    a = np.array([[1000.0, -2.0], [0.5, 3.0]])
    assert agree({"out": (a, torch.from_numpy(a + 1e-8))}, "results") < 1e-10  # 1e-8 of 1000 is 1e-11
    with pytest.raises(ValueError, match=r"results disagree.*'db'"):
        agree({"out": (a, torch.from_numpy(a)), "db": (np.zeros(3), torch.full((3,), 1e-9, dtype=torch.float64))},
              "results")


def _grading_entry(date: str, assignments: list[str], scaling: bool, command: str) -> dict:
    rows = [{"assignment": a, "submissions": 20, "repeat": 3, "plain_s_per_sub": 9.0, "dlcourse_s_per_sub": 3.0,
             "speedup": 3.0, "identical_scores": True, "infinite_loop_scores": None,
             "kinds": grading.mix(a, 20, infinite_loop=True)} for a in assignments]
    figures = {"cores": 2, "workers": 2, "submissions": 20, "rows": rows, "scale_assignment": "ps3",
               "scaling": [{"submissions": 20, "seconds": 60.0, "s_per_sub": 3.0, "marginal": None}] if scaling else [],
               "identical_scores": True}
    return {"figures": figures, "command": command, "machine": {"date": date, "load_average": [0.3, 0.2, 0.1],
                                                                "commit": "abc1234", "cpu": "AMD EPYC (AVX2)"}}


def test_grading_rows_accumulate_one_assignment_at_a_time_each_saying_when():
    """A median of several pairs for all seven assignments takes hours: it is measured an assignment at a time,
    and a run keeps the rows (and the scaling) it did not measure, with their own date."""
    from benchmarks.run import accumulate_grading

    before = _grading_entry("2026-12-03 13:47 UTC", ["ps1", "ps3"], True, "python -m benchmarks")
    now = _grading_entry("2026-12-04 09:00 UTC", ["ps6", "ps3"], False, "python -m benchmarks --only grading")
    now["figures"]["rows"][0]["identical_scores"] = False
    accumulate_grading(now, before)
    rows = now["figures"]["rows"]
    assert [r["assignment"] for r in rows] == ["ps1", "ps3", "ps6"]
    assert [r["measured"]["date"][:10] for r in rows] == ["2026-12-03", "2026-12-04", "2026-12-04"]
    assert now["figures"]["scaling"] == before["figures"]["scaling"]
    assert now["figures"]["scaling_measured"]["date"].startswith("2026-12-03")
    assert now["figures"]["identical_scores"] is False  # a kept row cannot hide a new disagreement
    text = "\n".join(report.render_grading(now["figures"]))
    assert "| ps1 | 20 |" in text and "2026-12-04 09:00 UTC, AMD EPYC (AVX2), load 0.3, 3 pairs |" in text
    assert "measured 2026-12-03 13:47 UTC (load 0.3) by `python -m benchmarks`" in text
    shares = re.search(r"the others correct \(([^)]*)\)", text).group(1)  # counted from each row's mix
    assert shares == "6 in 10 for ps1 and ps3; 8 in 10 for ps6", shares


@pytest.mark.parametrize("flags, shown", [("fpu sse2 avx avx2 avx512f avx512bw", "AMD EPYC (AVX-512)"),
                                          ("fpu sse2 avx avx2", "AMD EPYC (AVX2)"), ("fpu sse2", "AMD EPYC")])
def test_the_machine_says_its_widest_vector_instructions(monkeypatch, flags, shown):
    """Two machines both named "AMD EPYC" ran this suite 2x apart; AVX-512 tells them apart."""
    from benchmarks import common

    info = f"processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: {flags}\n"
    monkeypatch.setattr(common.Path, "read_text", lambda self, *a, **k: info if str(self) == "/proc/cpuinfo" else "")
    assert common.cpu_model() == shown


def test_the_scaling_run_goes_round_the_sizes_and_fits_a_line(monkeypatch, tmp_path):
    """Each size is graded ``repeat`` times, in rounds through the sizes (a drift of the machine hits them all); a
    row holds the median and every run; a line through all the runs says how linear the queue is."""
    order, noise = [], iter([1.0, -1.0, 0.0, 4.0, 2.0, -2.0, 0.0, 0.0, 0.0])

    def fake_course(folder, assignment, kinds, plain):
        folder.mkdir()
        return folder

    def fake_grade(course, assignment, workers):
        order.append(course.name)
        return 10.0 + 2.0 * int(course.name[5:].split("-")[0]) + next(noise)

    monkeypatch.setattr(grading, "make_course", fake_course)
    monkeypatch.setattr(grading, "dlcourse_grade", fake_grade)
    rows = grading.scale(tmp_path, "ps3", [200, 20, 50], workers=2, repeat=3)
    assert order == ["scale20-0", "scale50-0", "scale200-0", "scale20-1", "scale50-1", "scale200-1",
                     "scale20-2", "scale50-2", "scale200-2"]
    assert [r["submissions"] for r in rows] == [20, 50, 200]
    assert [r["runs"] for r in rows] == [[51.0, 54.0, 50.0], [109.0, 112.0, 110.0], [410.0, 408.0, 410.0]]
    assert [r["seconds"] for r in rows] == [51.0, 110.0, 410.0]  # medians
    assert rows[0]["marginal"] is None and rows[2]["marginal"] == 2.0
    fit = report.linear_fit(rows)
    assert fit["runs"] == 9 and abs(fit["per_submission"] - 2.0) < 0.02 and abs(fit["start_up"] - 10) < 2
    assert fit["worst_pct"] < 3
    bent = report.linear_fit([{"submissions": n, "seconds": 0.01 * n * n} for n in (20, 50, 200)])
    assert bent["worst_pct"] > 20  # a queue that slows down as it grows does not pass for a line
    assert report.linear_fit(rows[:1]) is None

    figures = {**_grading_entry("2026-12-04 19:00 UTC", ["ps3"], False, "bench")["figures"], "scaling": rows,
               "scaling_fit": fit}
    text = "\n".join(report.render_grading(figures))
    assert "the median of 3 rounds through the sizes" in text and "| 200 | 410 | 408 – 410 | 2.05 | 2 |" in text
    assert f"{report.num(fit['per_submission'])} s per submission" in text
    old = {**figures, "scaling": [{k: v for k, v in r.items() if k != "runs"} for r in rows], "scaling_fit": None}
    text = "\n".join(report.render_grading(old))  # rows measured before the rounds existed
    assert "one run each" in text and "| 20 | 51 | one run |" in text and "least squares" not in text


@pytest.mark.parametrize("command, is_reduced", [
    ("python -m benchmarks", False),
    ("python -m benchmarks --only notebooks --notebook-repeat 3", False),  # more runs, not fewer
    ("python -m benchmarks --only grading --assignments ps6 --grading-repeat 3 --scale", False),
    ("python -m benchmarks --only grading --assignments --scale 20 50 100 200 --grading-repeat 3", False),
    ("python -m benchmarks --repeat 30 --gpu-rounds 5", False),
    ("python -m benchmarks --repeat 5", True), ("python -m benchmarks --gpu-rounds 1", True),
    ("python -m benchmarks --only grading --submissions 4", True),
    ("python -m benchmarks --only notebooks --notebooks course/lectures/01_bayes_to_sigmoid.ipynb", True),
    ("python -m benchmarks --workers 1", True)])
def test_a_reduced_run_is_one_that_measured_less_than_make_bench(command, is_reduced):
    assert report.reduced(command) is is_reduced
