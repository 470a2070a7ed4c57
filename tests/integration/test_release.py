"""course/assignments/ is exactly what nbgrader generates from solutions/, and holds nothing a student must not see."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
MARKERS = re.compile(r"(BEGIN|END) (SOLUTION|HIDDEN TESTS)|(BEGIN|END) MARK SCHEME")


def normalised(nb: nbformat.NotebookNode) -> dict:
    """The parts of a notebook that matter to a student; volatile metadata (the Python version) dropped."""
    meta = {k: v for k, v in nb.metadata.items() if k != "language_info"}
    cells = [{"type": c.cell_type, "source": c.source, "metadata": dict(c.metadata),
              "outputs": c.get("outputs", [])} for c in nb.cells]
    return {"metadata": meta, "cells": cells}


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release")
    subprocess.run([sys.executable, str(ROOT / "tools" / "release.py"), "--into", str(out)], check=True,
                   capture_output=True, text=True)
    return out


def test_every_assignment_is_released():
    assert ASSIGNMENTS, "no assignment in solutions/"
    released = sorted(p.name for p in (ROOT / "course" / "assignments").iterdir() if p.is_dir())
    assert released == ASSIGNMENTS


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_committed_release_equals_a_fresh_generation(regenerated, name):
    committed = sorted(p.relative_to(ROOT / "course" / "assignments" / name)
                       for p in (ROOT / "course" / "assignments" / name).rglob("*") if p.is_file())
    fresh = sorted(p.relative_to(regenerated / name) for p in (regenerated / name).rglob("*") if p.is_file())
    assert committed == fresh
    for rel in committed:
        if rel.suffix == ".ipynb":
            a = nbformat.read(ROOT / "course" / "assignments" / name / rel, as_version=4)
            b = nbformat.read(regenerated / name / rel, as_version=4)
            assert normalised(a) == normalised(b), f"course/assignments/{name}/{rel} is stale: run `make release`"
        else:
            assert (ROOT / "course" / "assignments" / name / rel).read_bytes() == (regenerated / name / rel).read_bytes()


def protected_regions(name: str) -> list[tuple[str, set[str]]]:
    """(kind, lines) for every solution or hidden-test region of the source notebooks, keeping the lines that
    appear nowhere outside such regions (so a line the release legitimately shows is never "secret")."""
    regions, outside = [], set()
    for nb_path in (ROOT / "solutions" / name).glob("*.ipynb"):
        for cell in nbformat.read(nb_path, as_version=4).cells:
            current = None
            for line in cell.source.splitlines():
                text = line.strip()
                if MARKERS.search(line):
                    current = set() if "BEGIN" in line else None
                    if current is not None:
                        regions.append(("hidden test" if "HIDDEN" in line else "solution", current))
                    continue
                (current if current is not None else outside).add(text)
    distinctive = [(kind, {t for t in lines - outside if len(t) >= 8 and re.search(r"[A-Za-z]", t)})
                   for kind, lines in regions]
    return [(kind, lines) for kind, lines in distinctive if lines]


def leaks(regions: list[tuple[str, set[str]]], text: str) -> list[str]:
    """Regions whose content shows up in ``text``: any line of a hidden test; for a solution, all of its
    distinctive lines when it has one or two, at least three otherwise. (A single idiomatic line such as
    ``order = rng.permutation(len(y))`` may appear in a lecture; a solution's body may not.)"""
    found = []
    for kind, lines in regions:
        present = sorted(line for line in lines if line in text)
        if present and (kind == "hidden test" or len(present) >= min(len(lines), 3)):
            found.append(f"{kind}: {present[:3]}")
    return found


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_no_released_file_leaks_solutions_or_hidden_tests(name):
    regions = protected_regions(name)
    assert sum(len(lines) for _, lines in regions) > 10
    for path in (ROOT / "course").rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(errors="ignore")
        assert not MARKERS.search(text), f"{path} contains a solution or hidden-test marker"
        if path.suffix == ".ipynb":
            sources = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
            assert not leaks(regions, sources), f"{path} contains solution or hidden-test lines: {leaks(regions, sources)}"


def test_the_leak_detector_catches_a_pasted_answer_and_a_hidden_test():
    regions = protected_regions("ps3")
    solutions = nbformat.read(ROOT / "solutions" / "ps3" / "ps3.ipynb", as_version=4)
    answer = next(c.source for c in solutions.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "Value")
    hidden = next(c.source for c in solutions.cells if "BEGIN HIDDEN TESTS" in c.source)
    assert leaks(regions, answer) and leaks(regions, hidden.splitlines()[-2])
    assert not leaks(regions, "order = rng.permutation(len(y))\nreturn params")


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_released_notebooks_are_clean_and_gradable(name):
    for path in (ROOT / "course" / "assignments" / name).glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells), f"{path} has outputs"
        grade_ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
        assert len(grade_ids) == len(set(grade_ids))
        answers = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"]
        assert answers and all("raise NotImplementedError()" in c.source for c in answers)
        assert json.loads(path.read_text())["nbformat"] == 4
        # no widget state: an executed solution's progress display would give its settings and results away
        assert "widgets" not in nb.metadata and not any("widgets" in c.metadata for c in nb.cells), \
            f"{path} carries widget state"


def test_generating_a_release_strips_the_widget_state_of_an_executed_solution(regenerated):
    """The source notebooks are executed (make notebooks), so they carry widget state; the release must not."""
    assert any("widgets" in nbformat.read(p, as_version=4).metadata for p in (ROOT / "solutions").rglob("*.ipynb"))
    for path in regenerated.rglob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert "widgets" not in nb.metadata and "widget-state" not in path.read_text(), f"{path} carries widget state"


def test_nbgrader_generate_assignment_never_touches_course_assignments(tmp_path):
    """The README's `nbgrader generate_assignment ps1` writes nbgrader's copy under grading/ and leaves what
    students get, and whatever an instructor wrote in course/assignments/, alone."""
    course = tmp_path / "course"
    (course / "course" / "assignments" / "ps1").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions" / "ps1", course / "solutions" / "ps1")
    mine = course / "course" / "assignments" / "ps1" / "ps1.ipynb"
    mine.write_text("an instructor's edit, do not lose it")
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run([str(bin_dir / "nbgrader"), "generate_assignment", "ps1"], cwd=course, capture_output=True,
                          text=True, env={**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"})
    assert proc.returncode == 0, proc.stderr
    assert mine.read_text() == "an instructor's edit, do not lose it"
    generated = nbformat.read(course / "grading" / "release" / "ps1" / "ps1.ipynb", as_version=4)
    assert any(c.metadata.get("nbgrader", {}).get("grade_id") == "sigmoid" for c in generated.cells)


def test_release_refuses_to_overwrite_local_changes(tmp_path):
    """`make release` must never destroy a student's or instructor's edits in course/assignments/."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    for rel in ("tools/release.py", "nbgrader_config.py"):  # the working tree's versions, committed or not
        (clone / rel).write_text((ROOT / rel).read_text())
    target = clone / "course" / "assignments" / ASSIGNMENTS[0] / f"{ASSIGNMENTS[0]}.ipynb"
    target.write_text(target.read_text().replace("YOUR CODE HERE", "my own work, do not lose it"))
    proc = subprocess.run([sys.executable, str(clone / "tools" / "release.py")], cwd=clone, capture_output=True,
                          text=True)
    assert proc.returncode == 1 and "refusing to overwrite" in proc.stdout
    assert "my own work, do not lose it" in target.read_text()


PS4_CONTRACT = {  # issue 11: hidden tests and outside checks rely on these names and arguments
    "conv1d": "def conv1d(x, u):",
    "conv_output_size": "def conv_output_size(n, k, stride, padding):",
    "conv2d_forward": "def conv2d_forward(x, w, b, stride, padding):",
    "conv2d_backward": "def conv2d_backward(dout, x, w, stride, padding):",
    "maxpool2d_forward": "def maxpool2d_forward(x, size, stride):",
    "maxpool2d_backward": "def maxpool2d_backward(dout, x, size, stride):",
    "build_lenet": "def build_lenet(n_classes):",
    "train_lenet": "def train_lenet(model, X, y, epochs, seed):",
}


def test_ps4_release_keeps_the_public_contract():
    """The released ps4 asks for exactly the contract's functions, its hyper-parameters in an answer cell of their
    own, one written answer graded by hand, and hidden tests behind every graded code cell."""
    released = nbformat.read(ROOT / "course" / "assignments" / "ps4" / "ps4.ipynb", as_version=4)
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in released.cells if "nbgrader" in c.metadata}
    answers = {g for g, c in by_id.items() if c.metadata["nbgrader"].get("solution") and c.cell_type == "code"}
    assert answers == set(PS4_CONTRACT) | {"lenet_settings"}
    for grade_id, signature in PS4_CONTRACT.items():
        assert by_id[grade_id].source.startswith(signature), f"{grade_id}: {by_id[grade_id].source.splitlines()[0]}"
    assert by_id["lenet_settings"].source.strip() == "# YOUR CODE HERE\nraise NotImplementedError()"
    written = [c for c in released.cells if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")]
    assert len(written) == 1 and written[0].metadata["nbgrader"]["solution"]
    tests = [c for c in released.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
    points = sum(c.metadata["nbgrader"]["points"] for c in tests + written)
    assert points == 17 and written[0].metadata["nbgrader"]["points"] == 2
    solutions = nbformat.read(ROOT / "solutions" / "ps4" / "ps4.ipynb", as_version=4)
    hidden = {c.metadata["nbgrader"]["grade_id"] for c in solutions.cells if "BEGIN HIDDEN TESTS" in c.source}
    assert hidden == {c.metadata["nbgrader"]["grade_id"] for c in tests}


PS7_CONTRACT = {  # lecture 10's problem set: hidden tests and outside checks rely on these names and arguments
    "memory_read": "def memory_read(X, K, V):",
    "shrink": "def shrink(x, t):",
    "ista_step": "def ista_step(Z, Y, W_d, lam, L):",
    "easgd_round": "def easgd_round(workers, center, grads, eta, alpha):",
}


def test_ps7_release_keeps_the_public_contract():
    """The released ps7 asks for exactly the contract's functions (the student's memory_read has no scale), one
    written answer graded by hand, and hidden tests behind every graded code cell."""
    released = nbformat.read(ROOT / "course" / "assignments" / "ps7" / "ps7.ipynb", as_version=4)
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in released.cells if "nbgrader" in c.metadata}
    answers = {g for g, c in by_id.items() if c.metadata["nbgrader"].get("solution") and c.cell_type == "code"}
    assert answers == set(PS7_CONTRACT)
    for grade_id, signature in PS7_CONTRACT.items():
        assert by_id[grade_id].source.startswith(signature), f"{grade_id}: {by_id[grade_id].source.splitlines()[0]}"
    written = [c for c in released.cells if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")]
    assert len(written) == 1 and written[0].metadata["nbgrader"]["solution"]
    tests = [c for c in released.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
    assert sum(c.metadata["nbgrader"]["points"] for c in tests + written) == 13
    solutions = nbformat.read(ROOT / "solutions" / "ps7" / "ps7.ipynb", as_version=4)
    hidden = {c.metadata["nbgrader"]["grade_id"] for c in solutions.cells if "BEGIN HIDDEN TESTS" in c.source}
    assert hidden == {c.metadata["nbgrader"]["grade_id"] for c in tests}
    setup = next(c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    assert "from dlcourse.grading import ps7 as checks" in setup.source and "import numpy as np" in setup.source
