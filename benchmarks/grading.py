"""Grading throughput: plain `nbgrader autograde` (nbgrader's default settings) vs `dlcourse grade`.

    .venv/bin/python benchmarks/grading.py                 # 20 ps3 submissions each way, then 200 with dlcourse grade
    .venv/bin/python benchmarks/grading.py --scale 0       # without the 200

Both grade the same submissions of ps3, built from the solutions: most are correct, the others carry one typical
mistake each (a mean instead of a sum, a missing ReLU mask, an unstable softmax, a reused node's gradient
overwritten, a NameError) or are the untouched release. Plain nbgrader runs in a course folder whose
nbgrader_config.py sets only the folders (every other setting is nbgrader's default: kernels start fresh, the
checks run inside the student's kernel); `dlcourse grade` uses the course's own configuration (sandboxed kernels,
tests run in the grader) on a Dask LocalCluster. Wall-clock times include each command's start-up. The scores of
every submission must agree, test by test; the script fails if they do not.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ASSIGNMENT = "ps3"

MISTAKES = {
    "db_mean": {"linear_backward": '''def linear_backward(dout, x, W):
    return dout @ W.T, x.T @ dout, dout.mean(axis=0)
'''},
    "no_mask": {"mlp_gradients": '''def mlp_gradients(params, X, y):
    h = relu_forward(linear_forward(X, params["W1"], params["b1"]))
    _, dlogits = softmax_cross_entropy(linear_forward(h, params["W2"], params["b2"]), y)
    dh, dW2, db2 = linear_backward(dlogits, h, params["W2"])
    _, dW1, db1 = linear_backward(dh, X, params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
'''},
    "unstable_softmax": {"softmax_cross_entropy": '''def softmax_cross_entropy(logits, y):
    e = np.exp(np.asarray(logits, float))
    p = e / e.sum(axis=1, keepdims=True)
    n = len(y)
    loss = -np.log(p[np.arange(n), y]).mean()
    d = p.copy()
    d[np.arange(n), y] -= 1
    return float(loss), d / n
'''},
    "name_error": {"relu_forward": '''def relu_forward(x):
    return np.maximum(x, zero)
'''},
}
# 20 submissions: 12 correct, 2 of each mistake, 0 untouched; the 200 repeat the same mix
MIX = ["solution", "solution", "db_mean", "solution", "no_mask", "solution", "unstable_softmax", "solution",
       "name_error", "solution"]


def nbgrader(course: Path, *args: str, timeout: int = 3600) -> float:
    start = time.perf_counter()
    proc = subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, capture_output=True, text=True,
                          timeout=timeout, env=_env())
    if proc.returncode != 0:
        raise SystemExit(f"nbgrader {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLCOURSE_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


PLAIN_CONFIG = '''c = get_config()
c.CourseDirectory.course_id = "bench"
c.CourseDirectory.source_directory = "solutions"
'''


def make_course(folder: Path, n: int, plain: bool) -> Path:
    """A scratch course with ``n`` submissions of ps3; ``plain``: nbgrader's defaults, else the course's config."""
    from dlcourse.grading.mock import fill_answers, submit

    folder.mkdir(parents=True)
    if plain:
        (folder / "nbgrader_config.py").write_text(PLAIN_CONFIG)
    else:
        shutil.copy(ROOT / "nbgrader_config.py", folder)
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, folder / "solutions" / ASSIGNMENT)
    nbgrader(folder, "generate_assignment", ASSIGNMENT)
    release_dir = "release" if plain else "grading/release"
    submitted = folder / ("submitted" if plain else "grading/submitted")
    release = nbformat.read(folder / release_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    solutions = nbformat.read(folder / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    for i in range(n):
        kind = MIX[i % len(MIX)]
        nb = fill_answers(release, solutions, MISTAKES.get(kind, {}))
        submit(submitted, ASSIGNMENT, f"s{i:03d}_{kind}", nb)
    return folder


def scores(course: Path) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    from dlcourse.grading.queue import course_config

    _, coursedir = course_config(course)
    out = {}
    with Gradebook(coursedir.db_url) as gb:
        for sub in gb.assignment_submissions(ASSIGNMENT):
            nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, sub.student.id)
            out[sub.student.id] = {g.name: g.auto_score for g in nb.grades if g.auto_score is not None}
    return out


def dlcourse_grade(course: Path, workers: int) -> float:
    start = time.perf_counter()
    proc = subprocess.run([str(BIN / "dlcourse"), "grade", ASSIGNMENT, "--workers", str(workers), "--no-progress"],
                          cwd=course, capture_output=True, text=True, env=_env(), timeout=7200)
    seconds = time.perf_counter() - start
    print(proc.stdout.strip())
    if proc.returncode != 0:
        raise SystemExit(f"dlcourse grade failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--scale", type=int, default=200, help="also time dlcourse grade on this many (0: skip)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=1, help="pairs of runs, plain and dlcourse grade in turn")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    results = {"cores": os.cpu_count(), "workers": args.workers, "submissions": args.submissions}
    differ = {}
    with tempfile.TemporaryDirectory(prefix="dlcourse-bench-grading-") as tmp:
        tmp = Path(tmp)
        plain0 = make_course(tmp / "plain0", args.submissions, plain=True)
        ours0 = make_course(tmp / "ours0", args.submissions, plain=False)
        t_plain, t_ours = [], []
        for i in range(args.repeat):  # in turn, so that a drift of the machine's speed hits both
            plain, ours = tmp / f"plain{i + 1}", tmp / f"ours{i + 1}"
            shutil.copytree(plain0, plain)
            shutil.copytree(ours0, ours)
            t_plain.append(nbgrader(plain, "autograde", ASSIGNMENT))
            t_ours.append(dlcourse_grade(ours, args.workers))
            s_plain, s_ours = scores(plain), scores(ours)
            differ.update({s: (s_plain.get(s), s_ours.get(s)) for s in s_plain.keys() | s_ours.keys()
                           if s_plain.get(s) != s_ours.get(s)})
            shutil.rmtree(plain)
            shutil.rmtree(ours)
        ratios = sorted(p / o for p, o in zip(t_plain, t_ours))
        med = statistics.median
        results.update(plain_s=[round(x, 1) for x in t_plain], dlcourse_s=[round(x, 1) for x in t_ours],
                       plain_s_per_sub=round(med(t_plain) / args.submissions, 2),
                       dlcourse_s_per_sub=round(med(t_ours) / args.submissions, 2),
                       speedup=round(med(ratios), 2), speedup_range=[round(ratios[0], 2), round(ratios[-1], 2)],
                       identical_scores=not differ)
        if args.scale:
            big = make_course(tmp / "scale", args.scale, plain=False)
            t_big = dlcourse_grade(big, args.workers)
            results.update(scale_submissions=args.scale, scale_s=round(t_big, 1),
                           scale_s_per_sub=round(t_big / args.scale, 2))
    print(f"\n| {args.submissions} ps3 submissions, {args.workers} worker(s) on {os.cpu_count()} cores, median of "
          f"{args.repeat} | s / submission |\n|---|---|")
    print(f"| plain `nbgrader autograde` (defaults) | {results['plain_s_per_sub']} |")
    print(f"| `dlcourse grade` | {results['dlcourse_s_per_sub']} |")
    if args.scale:
        print(f"| `dlcourse grade`, {args.scale} submissions | {results['scale_s_per_sub']} |")
    print(f"\nspeed-up {results['speedup']}x (pairs: {results['speedup_range'][0]}-{results['speedup_range'][1]}x); "
          f"identical scores for every submission: {results['identical_scores']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    if differ:
        print("scores differ:", json.dumps(differ, indent=1))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
