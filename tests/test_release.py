"""course/assignments/ is exactly what nbgrader generates from solutions/, and holds nothing a student must not see."""

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
MARKERS = re.compile(r"(BEGIN|END) (SOLUTION|HIDDEN TESTS)|(BEGIN|END) MARK SCHEME")


def normalised(nb: nbformat.NotebookNode) -> dict:
    """The parts of a notebook that matter to a student; volatile metadata (Python version, widget state) dropped."""
    meta = {k: v for k, v in nb.metadata.items() if k not in ("language_info", "widgets")}
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


def protected_lines(name: str) -> set[str]:
    """Lines inside solution and hidden-test regions that appear nowhere else in the source notebook."""
    inside, outside = set(), set()
    for nb_path in (ROOT / "solutions" / name).glob("*.ipynb"):
        for cell in nbformat.read(nb_path, as_version=4).cells:
            region = False
            for line in cell.source.splitlines():
                text = line.strip()
                if MARKERS.search(line):
                    region = "BEGIN" in line
                    continue
                (inside if region else outside).add(text)
    return {t for t in inside - outside if len(t) >= 8 and re.search(r"[A-Za-z]", t)}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_no_released_file_leaks_solutions_or_hidden_tests(name):
    secret = protected_lines(name)
    assert len(secret) > 10
    for path in (ROOT / "course").rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(errors="ignore")
        assert not MARKERS.search(text), f"{path} contains a solution or hidden-test marker"
        if path.suffix == ".ipynb":
            sources = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
            leaked = [line for line in secret if line in sources]
            assert not leaked, f"{path} contains solution or hidden-test lines: {leaked[:3]}"


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
