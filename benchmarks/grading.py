"""Grading throughput: plain `nbgrader autograde` (nbgrader's default settings) vs `dlcourse grade`.

    .venv/bin/python -m benchmarks.grading                       # 20 ps3 submissions each way, then 20 and 200
    .venv/bin/python -m benchmarks.grading --assignments ps1 ps3 ps7 --scale 20 50 200
    .venv/bin/python -m benchmarks.grading --scale                # no scaling run

Both grade the same submissions of each assignment, built from the solutions (``dlcourse.grading.mock``): most
are correct, the others carry one typical mistake each (a wrong formula, a NameError: partly wrong or erroring
submissions) and, with ``--infinite-loop`` (the default for 2 submissions or more), the last one starts an
answer cell with ``while True: pass``. Plain nbgrader runs in a course folder whose nbgrader_config.py sets only
the folders (every other setting is nbgrader's default: kernels start fresh, the checks run inside the student's
kernel, 30 s per cell); `dlcourse grade` uses the course's own configuration (sandboxed kernels, tests run in the
grader, 30 s per cell too) on a Dask LocalCluster. Wall-clock times include each command's start-up. The scores of
every honest submission (all but the infinite loop, which each grader may stop differently) must agree, test by
test; the script fails if they do not. The scaling run grades 20, ..., 200 generated honest submissions of ps3
(or ``--scale-assignment``) with `dlcourse grade` alone, ``--repeat`` rounds through the sizes (the report fits a
line through every run). ``python -m benchmarks`` runs this as the suite's table 2.
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

from .common import ROOT, progress, sig

BIN = Path(sys.executable).parent
SCALE_ASSIGNMENT = "ps3"
INFINITE_LOOP = "infinite_loop"
CYCLE = 10  # a mix repeats every 10 submissions: each of the assignment's mistakes once, the rest correct

# One typical mistake per entry: answer cell (grade_id) -> the student's code. Each assignment has a wrong value
# or two and an error (NameError).
MISTAKES: dict[str, dict[str, dict[str, str]]] = {
    "ps1": {
        "nll_sum": {"nll": '''def nll(w, b, X, y):
    a = np.asarray(X, float) @ np.asarray(w, float) + b
    y = np.asarray(y, float)
    return float(np.sum(np.logaddexp(0.0, a) - y * a))
'''},
        "grad_sign": {"nll_grad": '''def nll_grad(w, b, X, y):
    X, y = np.asarray(X, float), np.asarray(y, float)
    r = y - sigmoid(X @ np.asarray(w, float) + b)
    return X.T @ r / len(y), float(np.mean(r))
'''},
        "no_prior": {"bayes_to_logistic": '''def bayes_to_logistic(mu0, mu1, Sigma, prior1):
    mu0, mu1, Sigma = np.asarray(mu0, float), np.asarray(mu1, float), np.asarray(Sigma, float)
    w = np.linalg.solve(Sigma, mu1 - mu0)
    b = -0.5 * mu1 @ np.linalg.solve(Sigma, mu1) + 0.5 * mu0 @ np.linalg.solve(Sigma, mu0)
    return w, float(b)
'''},
        "name_error": {"fit_logistic": '''def fit_logistic(X, y, lr, n_iter):
    X = np.asarray(X, float)
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(n_steps):
        dw, db = nll_grad(w, b, X, y)
        w, b = w - lr * dw, b - lr * db
    return w, float(b)
'''},
    },
    "ps2": {
        "margin_unnormalised": {"margin": '''def margin(X, y, w):
    X, y, w = np.asarray(X, float), np.asarray(y, float), np.asarray(w, float)
    return float(np.min(y * (X @ w)))
'''},
        "hinge_grad_sum": {"hinge_grad": '''def hinge_grad(w, X, y):
    X, y, w = np.asarray(X, float), np.asarray(y, float), np.asarray(w, float)
    active = (1.0 - y * (X @ w)) > 0
    return -(X.T @ (y * active))
'''},
        "cross_entropy_sum": {"cross_entropy": '''def cross_entropy(P, y):
    P, y = np.asarray(P, float), np.asarray(y, int)
    return float(-np.sum(np.log(P[np.arange(len(y)), y])))
'''},
        "name_error": {"softmax": '''def softmax(Z):
    Z = np.asarray(Z, float)
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / normaliser
'''},
    },
    "ps3": {
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
    },
    "ps4": {
        "output_size_no_padding": {"conv_output_size": '''def conv_output_size(n, k, stride, padding):
    return (n - k) // stride + 1
'''},
        "name_error": {"conv1d": '''def conv1d(x, u):
    x, u = np.asarray(x, float), np.asarray(u, float)
    return np.lib.stride_tricks.sliding_window_view(x, len(kernel)) @ u
'''},
    },
    "ps5": {
        "pca_uncentred": {"pca_subspace": '''def pca_subspace(X, k):
    _, _, Vt = np.linalg.svd(np.asarray(X, float), full_matrices=False)
    return Vt[:k].T
'''},
        "name_error": {"principal_angles": '''def principal_angles(A, B):
    Qa, _ = np.linalg.qr(np.asarray(A_, float))
    Qb, _ = np.linalg.qr(np.asarray(B, float))
    return np.sort(np.arccos(np.clip(np.linalg.svd(Qa.T @ Qb, compute_uv=False), -1.0, 1.0)))
'''},
    },
    "ps6": {
        "minimax_generator": {"generator_loss": '''def generator_loss(fake_logits):
    return -F.softplus(fake_logits).mean()
'''},
        "name_error": {"optimal_discriminator": '''def optimal_discriminator(p_data, p_g):
    return np.asarray(p_data, dtype=float) / denominator
'''},
    },
    "ps7": {
        "unnormalised_weights": {"memory_read": '''def memory_read(X, K, V):
    scores = X @ K.T
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    return weights, weights @ V
'''},
        "shrink_no_sign": {"shrink": '''def shrink(x, t):
    x = np.asarray(x, dtype=float)
    return np.maximum(np.abs(x) - t, 0.0)
'''},
        "ista_ascent": {"ista_step": '''def ista_step(Z, Y, W_d, lam, L):
    gradient = W_d.T @ (W_d @ Z - Y)
    return shrink(Z + gradient / L, lam / L)
'''},
        "name_error": {"easgd_round": '''def easgd_round(workers, center, grads, eta, alpha):
    spring = alpha * (workers - center)
    return workers - eta * grads - spring, (1 - p * alpha) * center + p * alpha * workers.mean(axis=0)
'''},
    },
}
ASSIGNMENTS = tuple(MISTAKES)


def mix(assignment: str, n: int, infinite_loop: bool) -> list[str]:
    """The kinds of ``n`` submissions: ``"solution"`` or a mistake's name, in a cycle of 10 (correct and wrong in
    turn while there are mistakes, then correct); with ``infinite_loop`` the last one is ``"infinite_loop"``."""
    if assignment not in MISTAKES:
        raise ValueError(f"no mistakes written for {assignment!r}; known: {', '.join(ASSIGNMENTS)}")
    cycle = [kind for mistake in MISTAKES[assignment] for kind in ("solution", mistake)]
    cycle += ["solution"] * (CYCLE - len(cycle))
    kinds = [cycle[i % len(cycle)] for i in range(n)]
    if infinite_loop and n:
        kinds[-1] = INFINITE_LOOP
    return kinds


def submission(assignment: str, kind: str, release, solutions) -> nbformat.NotebookNode:
    """A student's notebook of the given kind (see :func:`mix`)."""
    from dlcourse.grading.mock import fill_answers, solution_answers

    if kind == INFINITE_LOOP:  # the first code answer never gets past its first line
        first = next(iter(MISTAKES[assignment]["name_error"]))
        return fill_answers(release, solutions, {first: "while True:\n    pass\n" + solution_answers(solutions)[first]})
    return fill_answers(release, solutions, MISTAKES[assignment].get(kind, {}))


def nbgrader(course: Path, *args: str, timeout: int = 3600) -> float:
    """Run ``nbgrader ARGS`` in ``course``; its wall time in seconds. SystemExit with its output if it fails."""
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


def _base_course(tmp: Path, assignment: str, plain: bool) -> Path:
    """A scratch course with ``assignment`` generated and no submission (made once per temporary folder, then
    reused): ``plain``: nbgrader's defaults, else the course's config."""
    folder = tmp / f"base-{assignment}-{'plain' if plain else 'ours'}"
    if folder.exists():
        return folder
    folder.mkdir(parents=True)
    if plain:
        (folder / "nbgrader_config.py").write_text(PLAIN_CONFIG)
    else:
        shutil.copy(ROOT / "nbgrader_config.py", folder)
    shutil.copytree(ROOT / "solutions" / assignment, folder / "solutions" / assignment)
    nbgrader(folder, "generate_assignment", assignment)
    return folder


def make_course(folder: Path, assignment: str, kinds: list[str], plain: bool) -> Path:
    """A scratch course at ``folder`` with one submission of each of ``kinds`` (students ``s000_<kind>``, ...);
    ``plain``: nbgrader's defaults, else the course's config."""
    shutil.copytree(_base_course(folder.parent, assignment, plain), folder)
    release_dir = "release" if plain else "grading/release"
    submitted = folder / ("submitted" if plain else "grading/submitted")
    release = nbformat.read(folder / release_dir / assignment / f"{assignment}.ipynb", as_version=4)
    solutions = nbformat.read(folder / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    from dlcourse.grading.mock import submit

    for i, kind in enumerate(kinds):
        submit(submitted, assignment, f"s{i:03d}_{kind}", submission(assignment, kind, release, solutions))
    return folder


def scores(course: Path, assignment: str) -> dict[str, dict[str, float]]:
    """student -> {test cell: automatic score} from the course's gradebook; ``"(max)"``: the notebook's maximum."""
    from nbgrader.api import Gradebook

    from dlcourse.grading.queue import course_config

    _, coursedir = course_config(course)
    out = {}
    with Gradebook(coursedir.db_url) as gb:
        for sub in gb.assignment_submissions(assignment):
            nb = gb.find_submission_notebook(assignment, assignment, sub.student.id)
            out[sub.student.id] = {g.name: g.auto_score for g in nb.grades if g.auto_score is not None}
            out[sub.student.id]["(max)"] = nb.max_score
    return out


def dlcourse_grade(course: Path, assignment: str, workers: int) -> float:
    """Run ``dlcourse grade`` in ``course``; its wall time in seconds. SystemExit with its output if it fails."""
    start = time.perf_counter()
    proc = subprocess.run([str(BIN / "dlcourse"), "grade", assignment, "--workers", str(workers), "--no-progress"],
                          cwd=course, capture_output=True, text=True, env=_env(), timeout=7200)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"dlcourse grade failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds


def _total(per_test: dict[str, float] | None) -> float | None:
    return None if per_test is None else round(sum(v for k, v in per_test.items() if k != "(max)"), 2)


def compare(tmp: Path, assignment: str, n: int, workers: int, repeat: int, infinite_loop: bool) -> dict:
    """One row of the comparison: ``repeat`` pairs (plain, then dlcourse grade) on the same ``n`` submissions."""
    kinds = mix(assignment, n, infinite_loop)
    plain0 = make_course(tmp / f"{assignment}-plain0", assignment, kinds, plain=True)
    ours0 = make_course(tmp / f"{assignment}-ours0", assignment, kinds, plain=False)
    t_plain, t_ours, differ, loop_scores, totals = [], [], {}, {}, {}
    for i in range(repeat):  # in turn, so that a drift of the machine's speed hits both
        plain, ours = tmp / f"{assignment}-plain{i + 1}", tmp / f"{assignment}-ours{i + 1}"
        shutil.copytree(plain0, plain)
        shutil.copytree(ours0, ours)
        t_plain.append(nbgrader(plain, "autograde", assignment))
        progress(f"grading: {assignment} pair {i + 1}/{repeat}: plain nbgrader {t_plain[-1]:.1f} s for {n}")
        t_ours.append(dlcourse_grade(ours, assignment, workers))
        progress(f"grading: {assignment} pair {i + 1}/{repeat}: dlcourse grade {t_ours[-1]:.1f} s for {n}")
        s_plain, s_ours = scores(plain, assignment), scores(ours, assignment)
        for student in s_plain.keys() | s_ours.keys():
            pair = (s_plain.get(student), s_ours.get(student))
            totals[student] = [_total(pair[0]), _total(pair[1]), (pair[0] or pair[1] or {}).get("(max)")]
            if student.endswith(INFINITE_LOOP):
                loop_scores = {"plain": _total(pair[0]), "dlcourse": _total(pair[1]),
                               "max": (pair[0] or pair[1] or {}).get("(max)")}
            elif pair[0] != pair[1]:
                differ[student] = pair
        shutil.rmtree(plain)
        shutil.rmtree(ours)
    med = statistics.median
    pairs = sorted(p / o for p, o in zip(t_plain, t_ours))
    return {"assignment": assignment, "submissions": n, "kinds": kinds, "repeat": repeat,
            "plain_s": [round(t, 1) for t in t_plain], "dlcourse_s": [round(t, 1) for t in t_ours],
            "plain_s_per_sub": sig(med(t_plain) / n), "dlcourse_s_per_sub": sig(med(t_ours) / n),
            "speedup": sig(med(t_plain) / med(t_ours)), "speedup_range": [sig(pairs[0]), sig(pairs[-1])],
            "identical_scores": not differ, "differ": differ, "infinite_loop_scores": loop_scores or None,
            "totals": dict(sorted(totals.items()))}


def scale(tmp: Path, assignment: str, sizes: list[int], workers: int, repeat: int = 1) -> list[dict]:
    """`dlcourse grade` alone on ``sizes`` generated honest submissions, ``repeat`` rounds through the sizes (so
    that a drift of the machine's speed hits every size): per size the median seconds, per submission, and the
    seconds per submission between one size and the next (the marginal cost, start-up excluded)."""
    runs: dict[int, list[float]] = {n: [] for n in sorted(set(sizes))}
    for i in range(repeat):
        for n in runs:
            course = make_course(tmp / f"scale{n}-{i}", assignment, mix(assignment, n, False), plain=False)
            runs[n].append(dlcourse_grade(course, assignment, workers))
            shutil.rmtree(course)
            progress(f"grading: scaling round {i + 1}/{repeat}, dlcourse grade {runs[n][-1]:.1f} s for {n}")
    rows, previous = [], None
    for n, seconds in runs.items():
        row = {"submissions": n, "seconds": round(statistics.median(seconds), 1), "runs": [round(t, 1) for t in seconds],
               "s_per_sub": sig(statistics.median(seconds) / n), "marginal": None}
        if previous is not None:
            row["marginal"] = sig((row["seconds"] - previous["seconds"]) / (n - previous["submissions"]))
        rows.append(row)
        previous = row
    return rows


def measure(assignments: list[str], submissions: int = 20, sizes: list[int] | None = None, workers: int | None = None,
            repeat: int = 1, infinite_loop: bool | None = None, scale_assignment: str = SCALE_ASSIGNMENT) -> dict:
    """Table 2's figures: one comparison row per assignment, then the scaling rows (``scale_assignment``)."""
    workers = workers or os.cpu_count() or 1
    infinite_loop = submissions >= 2 if infinite_loop is None else infinite_loop
    with tempfile.TemporaryDirectory(prefix="dlcourse-bench-grading-") as tmp:
        rows = [compare(Path(tmp), a, submissions, workers, repeat, infinite_loop) for a in assignments]
        scaling = scale(Path(tmp), scale_assignment, sizes or [], workers, repeat)
    return {"cores": os.cpu_count(), "workers": workers, "submissions": submissions, "rows": rows,
            "scale_assignment": scale_assignment, "scaling": scaling,
            "identical_scores": all(r["identical_scores"] for r in rows)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignments", nargs="+", default=[SCALE_ASSIGNMENT], choices=ASSIGNMENTS)
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--scale", type=int, nargs="*", default=[20, 200],
                        help="also time dlcourse grade alone on these many submissions (none: skip)")
    parser.add_argument("--scale-assignment", default=SCALE_ASSIGNMENT, choices=ASSIGNMENTS)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=1,
                        help="pairs of runs, plain and dlcourse grade in turn; rounds of the scaling run")
    parser.add_argument("--infinite-loop", action=argparse.BooleanOptionalAction, default=None,
                        help="make the last submission an infinite loop (default: with 2 submissions or more)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    results = measure(args.assignments, args.submissions, args.scale, args.workers, args.repeat, args.infinite_loop,
                      args.scale_assignment)
    from .report import render_grading

    print("\n".join(render_grading(results)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    for row in results["rows"]:
        if row["differ"]:
            print(f"{row['assignment']}: scores differ:", json.dumps(row["differ"], indent=1))
    return 0 if results["identical_scores"] else 1


if __name__ == "__main__":
    sys.exit(main())
