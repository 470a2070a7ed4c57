"""The first screen a newcomer sees: `make lab` opens course/index.ipynb, which links every lecture and problem
set in the course map's order, each under its own title."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
COURSE = ROOT / "course"
LINK = re.compile(r"\[([^\]]+)\]\(([^)]+\.ipynb)\)")


def course_map() -> list[str]:
    """The notebooks of the README's course map, in its order (paths relative to course/)."""
    rows = re.findall(r"^\| (?:Lecture|Problem set) \d+ \| `course/([^`]+)`", (ROOT / "README.md").read_text(), re.M)
    assert rows, "no course map in the README"
    return rows


def index_links() -> list[tuple[str, str]]:
    nb = nbformat.read(COURSE / "index.ipynb", as_version=4)
    return [(title, target) for cell in nb.cells if cell.cell_type == "markdown"
            for title, target in LINK.findall(cell.source)]


def test_the_index_links_every_lecture_and_problem_set_in_the_course_maps_order():
    links = index_links()
    on_disk = sorted(str(p.relative_to(COURSE)) for p in [*COURSE.glob("lectures/*.ipynb"),
                                                            *COURSE.glob("assignments/*/*.ipynb")])
    assert [target for _, target in links] == course_map()
    assert sorted(target for _, target in links) == on_disk  # nothing left out, nothing that is not there


def test_each_link_carries_its_notebooks_own_title():
    for title, target in index_links():
        first = nbformat.read(COURSE / target, as_version=4).cells[0]
        assert first.cell_type == "markdown" and first.source.splitlines()[0] == f"# {title}", target


def test_the_index_has_no_code_to_run_and_make_lab_opens_it():
    nb = nbformat.read(COURSE / "index.ipynb", as_version=4)
    assert nb.cells and all(cell.cell_type == "markdown" for cell in nb.cells)
    dry = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "--ServerApp.root_dir=course" in dry and "--LabApp.default_url=/lab/tree/index.ipynb" in dry
