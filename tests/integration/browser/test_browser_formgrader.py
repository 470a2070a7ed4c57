"""The instructor's side in the browser: nbgrader's formgrader on the course, after one ps7 submission was graded.

The assignments are listed, the graded submission's score shows, and points given by hand to the written answer
are saved and counted in the total.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from browsing import ROOT, expect, wait_until

NBGRADER = str(Path(sys.executable).parent / "nbgrader")


def nbgrader(cwd: Path, *args: str) -> None:
    """Run an nbgrader command; the lectures running in the background move on meanwhile."""
    proc = subprocess.Popen([NBGRADER, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_until(lambda: proc.poll() is not None, 300, f"nbgrader {args[0]}")
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout.read()}"


@pytest.fixture(scope="module")
def graded(lab, submissions):
    """ps7 released and alice's submission (the solution's answers) autograded, in the server's course copy."""
    nbgrader(lab.work, "generate_assignment", "ps7")
    release = nbformat.read(lab.work / "grading" / "release" / "ps7" / "ps7.ipynb", as_version=4)
    solutions = nbformat.read(ROOT / "solutions" / "ps7" / "ps7.ipynb", as_version=4)
    submissions.submit(lab.work / "grading" / "submitted", "ps7", "alice", submissions.fill_answers(release, solutions))
    nbgrader(lab.work, "autograde", "ps7")
    tests = {c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"]) for c in solutions.cells
             if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}
    written = {c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"]) for c in solutions.cells
               if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "markdown"}
    return tests, written


def score(text: str) -> tuple[float, float]:
    got, total = re.fullmatch(r"\s*([\d.]+)\s*/\s*([\d.]+)\s*", text).groups()
    return float(got), float(total)


def submission_row(page, lab):
    """alice's row on the gradebook page of ps7 (the only submission), once the table has loaded."""
    page.goto(f"{lab.url}/formgrader/gradebook/ps7/ps7?token={lab.token}")
    row = page.locator("#main-table tr", has=page.locator("td.score"))
    expect(row).to_have_count(1, timeout=30_000)
    expect(row.locator("td.score")).to_contain_text("/")
    return row


def test_formgrader_lists_the_assignments_shows_scores_and_counts_manual_points(page, lab, graded):
    tests, written = graded
    page.goto(f"{lab.url}/formgrader/manage_assignments?token={lab.token}")
    table = page.locator("#main-table")
    expect(table).not_to_contain_text("Loading", timeout=30_000)
    names = table.locator("tr td:first-child").all_inner_texts()
    assert sorted(n.strip() for n in names if n.strip().startswith("ps")) == \
        sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())

    # the gradebook: the autograded points out of everything, the written answer still to grade
    row = submission_row(page, lab)
    assert score(row.locator("td.score").inner_text()) == (sum(tests.values()), sum(tests.values()) + sum(written.values()))
    assert score(row.locator("td.code-score").inner_text()) == (sum(tests.values()), sum(tests.values()))
    assert row.locator("td.needs-manual-grade .glyphicon-ok").count() == 1

    # the submission: each test cell's score, and the written answer graded by hand
    row.locator("td.name a").first.click()
    expect(page.locator("input.score").first).to_be_visible(timeout=30_000)
    for grade_id, points in tests.items():
        expect(page.locator(f"input.score#{grade_id}")).to_have_attribute("placeholder", f"{points:g}")  # the auto score
    (grade_id, points), = written.items()
    given = points - 1
    box = page.locator(f"input.score#{grade_id}")
    box.fill(f"{given:g}")
    box.press("Tab")  # leaving the box saves it
    cell = page.locator(".nbgrader_cell", has=box)
    expect(cell.locator(".score-saved")).to_be_visible(timeout=20_000)

    row = submission_row(page, lab)
    assert score(row.locator("td.written-score").inner_text()) == (given, points)
    assert score(row.locator("td.score").inner_text()) == (sum(tests.values()) + given,
                                                           sum(tests.values()) + points)
    assert row.locator("td.needs-manual-grade .glyphicon-ok").count() == 0
