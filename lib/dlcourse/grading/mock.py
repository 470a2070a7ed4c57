"""Mock submissions, to try grading out before the students do (the tests and the benchmarks build theirs here).

    release = nbformat.read("grading/release/ps3/ps3.ipynb", as_version=4)
    solutions = nbformat.read("solutions/ps3/ps3.ipynb", as_version=4)
    nb = fill_answers(release, solutions, replace={"relu_forward": "def relu_forward(x):\\n    return x\\n"})
    submit(course, "ps3", "alice", nb)
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat


def solution_answers(solutions: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> source of every answer cell of a solutions notebook, solution markers removed."""
    return {c.metadata["nbgrader"]["grade_id"]: "\n".join(
                line for line in c.source.splitlines() if not re.search(r"(BEGIN|END) SOLUTION", line))
            for c in solutions.cells if c.metadata.get("nbgrader", {}).get("solution")}


def fill_answers(release: nbformat.NotebookNode, solutions: nbformat.NotebookNode, replace: dict[str, str] | None = None,
                 delete=frozenset(), prefix: str = "") -> nbformat.NotebookNode:
    """A student's submission: the release with every answer taken from the solutions, except the ``replace``d
    answers and the ``delete``d cells (by grade_id); ``prefix`` is put before every code answer."""
    answers = {**solution_answers(solutions), **(replace or {})}
    ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in release.cells}
    unknown = (set(replace or {}) | set(delete)) - ids
    if unknown:
        raise KeyError(f"no cell with grade_id {sorted(unknown)} in the notebook")
    nb = nbformat.from_dict(release)
    cells = []
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in delete:
            continue
        if grade_id in answers:
            cell.source = (prefix if cell.cell_type == "code" else "") + answers[grade_id]
        cells.append(cell)
    nb.cells = cells
    return nb


def submit(submitted: str | os.PathLike, assignment: str, student: str, nb: nbformat.NotebookNode,
           name: str | None = None) -> Path:
    """Write ``nb`` as ``student``'s submission under the ``submitted`` folder; returns the file written."""
    folder = Path(submitted) / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name or assignment}.ipynb"
    nbformat.write(nb, path)
    return path
