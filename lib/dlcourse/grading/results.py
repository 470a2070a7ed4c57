"""Per-submission results in the Gradescope autograder format (``results.json``), from nbgrader's gradebook.

    dlcourse results ps1        # grading/results/ps1/<student>/results.json, for every student

One test per graded cell of the notebooks: its name (the grade id), its score and maximum from the gradebook
(a written answer not yet graded by hand scores 0 and says so), ``status`` passed or failed, and ``output``, the
message the checks printed in the autograded notebook: the first line of a failure ("sigmoid is not correct on
z = 1000 ...") or the ✓ line. Outputs go through the same filter as feedback (:func:`~dlcourse.grading.nbgrader_ext`'s
redaction), so no hidden-test line reaches the file. :data:`SCHEMA` is the format as Gradescope documents it; the
tests validate every file against it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import nbformat

SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["tests"],
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]},
        "stdout_visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "score", "max_score"],
                "properties": {
                    "score": {"type": "number"},
                    "max_score": {"type": "number", "minimum": 0},
                    "status": {"enum": ["passed", "failed"]},
                    "name": {"type": "string"},
                    "number": {"type": "string"},
                    "output": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]},
                },
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}
"""The Gradescope autograder results format (the fields this course writes and the values they may take)."""


def _messages(notebook: Path, redact) -> dict[str, str]:
    """grade_id -> what the checks printed in that graded cell (the failure first, or the ✓ lines), redacted."""
    if not notebook.exists():
        return {}
    nb = nbformat.read(notebook, as_version=4)
    nb, _ = redact(nb, notebook.stem)
    found = {}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not grade_id or cell.cell_type != "code":
            continue
        lines = []
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                lines.insert(0, f"{out.ename}: {out.evalue}".strip())
            elif out.output_type == "stream":
                lines += [line for line in out.text.splitlines() if line.strip()]
        found[grade_id] = "\n".join(lines[:20])
    return found


def gradescope_results(gradebook, coursedir, assignment: str, student: str, redact) -> dict:
    """The ``results.json`` document of one student's submission of ``assignment``."""
    submission = gradebook.find_submission(assignment, student)
    tests, number = [], 0
    for notebook in submission.notebooks:
        path = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment)) / f"{notebook.name}.ipynb"
        messages = _messages(path, redact)
        for grade in sorted(notebook.grades, key=lambda g: g.name):
            number += 1
            score = grade.score if grade.score is not None else 0.0
            manual = grade.needs_manual_grade
            output = "waiting for the instructor's grade" if manual else messages.get(grade.name, "")
            tests.append({"name": grade.name, "number": str(number), "score": float(score),
                          "max_score": float(grade.max_score),
                          "status": "passed" if not manual and score >= grade.max_score else "failed",
                          "output": output, "visibility": "visible"})
    return {"score": float(sum(t["score"] for t in tests)), "tests": tests, "visibility": "visible",
            "stdout_visibility": "hidden", "output": f"{assignment}: {sum(t['score'] for t in tests):g} of "
                                                     f"{sum(t['max_score'] for t in tests):g} points"}


def load_course(root: str | os.PathLike):
    """``(config, CourseDirectory)`` of the course folder ``root``, as its ``nbgrader_config.py`` sets them."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.CourseDirectory.root = str(Path(root).resolve())
    return config, CourseDirectory(config=config)


def write_all(course_root: str | os.PathLike, assignment: str, out: str | os.PathLike | None = None) -> list[Path]:
    """Write ``results.json`` for every student who submitted ``assignment``; returns the files written."""
    from nbgrader.api import Gradebook

    from .nbgrader_ext import RedactHiddenTests

    root = Path(course_root).resolve()
    config, coursedir = load_course(root)
    out = Path(out) if out else root / "grading" / "results" / assignment
    written = []

    def redact(nb, name):
        return RedactHiddenTests(config=config).preprocess(nb, {"nbgrader": {"assignment": assignment, "notebook": name}})

    with Gradebook(coursedir.db_url) as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            student = submission.student.id
            document = gradescope_results(gradebook, coursedir, assignment, student, redact)
            path = out / student / "results.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
            written.append(path)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="write Gradescope results.json files from the gradebook")
    parser.add_argument("assignment")
    parser.add_argument("--course", default=".", help="the course folder (with nbgrader_config.py)")
    parser.add_argument("--out", help="folder for <student>/results.json (default grading/results/<assignment>)")
    args = parser.parse_args(argv)
    written = write_all(args.course, args.assignment, args.out)
    print(f"{len(written)} results.json files written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
