"""Real grading, end to end: the instructor's nbgrader commands on a scratch copy of the course.

Nine students submit ps1: the solution, the untouched release, one wrong gradient, a never-ending loop, a deleted
test cell, correct answers that emit warnings, an answer that calls the reference solution, a renamed function, and
a function that kills the kernel.
Expected scores are derived from the points in the notebook's metadata, not hard-coded.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "ps1"
NBGRADER = str(Path(sys.executable).parent / "nbgrader")
HELPER_LIMIT_S = 10  # dlcourse.grading.core.DEFAULT_TIME_LIMIT
CELL_TIMEOUT_S = 30  # Execute.timeout in nbgrader_config.py

BROKEN = {
    "nll_grad": '''def nll_grad(w, b, X, y):
    r = 1 / (1 + np.exp(-(X @ w + b))) - y
    return X.T @ r / len(y) * 2, float(np.mean(r))   # factor 2 too many in dw
''',
    "fit_logistic": '''def fit_logistic(X, y, lr, n_iter):
    w, b = np.zeros(X.shape[1]), 0.0
    step = 0
    while step < n_iter or True:   # never ends
        step += 1
    return w, b
''',
    "cheat_sigmoid": '''import dlcourse.linear
def sigmoid(z):
    return dlcourse.linear.sigmoid(z)
''',
    "crash_sigmoid": '''import os
def sigmoid(z):
    os._exit(1)   # kills the kernel
''',
    "renamed_nll": '''def negative_log_likelihood(w, b, X, y):
    a = X @ w + b
    return float(np.mean(np.logaddexp(0, a) - y * a))
''',
}
WARN_PREFIX = "import warnings\nwarnings.warn('answer cell warns at definition time')\n"


def nbgrader(course: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([NBGRADER, *args], cwd=course, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def hidden_test_lines() -> list[str]:
    nb = nbformat.read(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    lines = []
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside and line.strip():
                lines.append(line.strip())
    assert lines, "the solution notebook has no hidden tests?"
    return lines


def points_by_test(nb: nbformat.NotebookNode) -> dict[str, float]:
    return {c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"])
            for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")}


# student -> (replace, delete, prefix, the test cell that must score 0)
SCENARIOS = {
    "solution": ({}, set(), "", None),
    "untouched": (None, set(), "", "ALL"),
    "wrong_grad": ({"nll_grad": BROKEN["nll_grad"]}, set(), "", "test_nll_grad"),
    "deleted_test": ({}, {"test_sigmoid"}, "", None),
    "warns": ({}, set(), WARN_PREFIX, None),
    "cheater": ({"sigmoid": BROKEN["cheat_sigmoid"]}, set(), "", "test_sigmoid"),
    "renamed": ({"nll": BROKEN["renamed_nll"]}, set(), "", "test_nll"),
    "crasher": ({"sigmoid": BROKEN["crash_sigmoid"]}, set(), "", "test_sigmoid"),
    "endless": ({"fit_logistic": BROKEN["fit_logistic"]}, set(), "", "test_fit_logistic"),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory, submissions):
    """Run the whole instructor workflow once; return (course folder, test points, autograde time of 'endless')."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    nbgrader(course, "generate_assignment", ASSIGNMENT)

    release = nbformat.read(course / "course" / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    solutions = nbformat.read(course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    # warnings emitted while a check runs the student's functions, not only at definition time
    answers = submissions.solution_answers(solutions)
    warn_answers = {
        "nll": "import warnings\n" + answers["nll"].replace(
            '"""\n', '"""\n    warnings.warn("slow path", UserWarning)\n', 1),
        "fit_logistic": answers["fit_logistic"].replace(
            '"""\n', '"""\n    np.exp(np.array([1000.0]))  # overflow warning, result unused\n', 1),
    }
    for student, (replace, delete, prefix, _) in SCENARIOS.items():
        if replace is None:
            nb = release
        else:
            replace = dict(replace, **(warn_answers if student == "warns" else {}))
            nb = submissions.fill_answers(release, solutions, replace, delete, prefix)
        folder = course / "grading" / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")

    nbgrader(course, "autograde", ASSIGNMENT, "--CourseDirectory.student_id_exclude=endless")
    start = time.perf_counter()
    nbgrader(course, "autograde", ASSIGNMENT, "--student", "endless")
    endless_seconds = time.perf_counter() - start
    nbgrader(course, "generate_feedback", ASSIGNMENT)
    nbgrader(course, "export")
    return course, points_by_test(release), endless_seconds


def scores(course: Path, student: str) -> dict[str, tuple[float | None, bool]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'grading' / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        return {g.name: (g.auto_score, g.needs_manual_grade) for g in nb.grades}


@pytest.mark.parametrize("student", list(SCENARIOS))
def test_each_scenario_loses_exactly_its_points(graded, student):
    course, points, _ = graded
    zero = SCENARIOS[student][3]
    got = scores(course, student)
    for test_id, full in points.items():
        expected = 0.0 if zero in ("ALL", test_id) else full
        score, needs_manual = got[test_id]
        assert (score, needs_manual) == (expected, False), f"{student}: {test_id} scored {score}, expected {expected}"
    auto = sum(got[t][0] for t in points)
    lost = sum(points.values()) if zero == "ALL" else points.get(zero, 0.0)
    assert auto == sum(points.values()) - lost
    # the written answer waits for the instructor (the untouched one is 0: nothing was written)
    assert got["nll_is_cross_entropy"] == ((0.0, False) if student == "untouched" else (None, True))


def test_an_endless_loop_costs_one_helper_time_limit(graded):
    _, _, seconds = graded
    assert seconds < CELL_TIMEOUT_S, f"grading a never-ending loop took {seconds:.1f} s"
    assert seconds > HELPER_LIMIT_S  # the limit really was hit (not an instant error)


def test_feedback_never_shows_hidden_tests_but_explains_failures(graded):
    course, _, _ = graded
    hidden = hidden_test_lines()
    for student in SCENARIOS:
        html = (course / "grading" / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
        assert "HIDDEN TESTS" not in html and "BEGIN SOLUTION" not in html
        for line in hidden:
            assert line not in html, f"{student}'s feedback shows a hidden test line: {line}"
    wrong = (course / "grading" / "feedback" / "wrong_grad" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "dw is wrong" in wrong and "db is right" in wrong
    renamed = (course / "grading" / "feedback" / "renamed" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "name &#39;nll&#39; is not defined" in renamed or "name 'nll' is not defined" in renamed
    cheater = (course / "grading" / "feedback" / "cheater" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "reference solution" in cheater


def test_runtime_data_stays_in_the_grading_folder(graded):
    course, points, _ = graded
    assert sorted(p.name for p in course.iterdir()) == ["course", "grading", "nbgrader_config.py", "solutions"]
    assert (course / "grading" / "gradebook.db").is_file()
    csv = (course / "grading" / "grades.csv").read_text().splitlines()
    assert csv[0].startswith("assignment,") and len(csv) == 1 + len(SCENARIOS)
    solution_row = next(r for r in csv if ",solution," in r)
    assert f",{sum(points.values()):.1f}," in solution_row
