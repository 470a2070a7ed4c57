"""Every released problem set as a student meets it in JupyterLab, with nbgrader's Validate button.

On the untouched notebook each visible test cell fails, and its error names what the student has to write (the
function, class or setting of the answer cells before it); Validate reports the failures. After the answers are
typed in (ps1 through the real editor, keystrokes into CodeMirror; the others through the notebook model, as a
paste would) and the notebook is saved, Validate reports success.
"""

from __future__ import annotations

import ast

import nbformat
import pytest
from browsing import ROOT, expect, open_notebook, wait_until
from playwright.sync_api import Page

ASSIGNMENTS = sorted(p.name for p in (ROOT / "course" / "assignments").iterdir() if p.is_dir())

RUN_CELL_JS = """async (i) => {
  const app = window.jupyterapp, notebook = app.shell.currentWidget.content;
  notebook.activeCellIndex = i;
  notebook.deselectAll();
  await app.commands.execute('notebook:run-cell');
  return notebook.widgets[i].model.toJSON().outputs;
}"""
SET_SOURCE_JS = """([i, source]) => {
  window.jupyterapp.shell.currentWidget.content.widgets[i].model.sharedModel.setSource(source);
}"""
SOURCE_JS = "i => window.jupyterapp.shell.currentWidget.content.widgets[i].model.sharedModel.getSource()"
SAVE_JS = "() => window.jupyterapp.commands.execute('docmanager:save')"


def notebooks(assignment: str) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    """(the released student version, the solutions notebook it was generated from)."""
    return (nbformat.read(ROOT / "course" / "assignments" / assignment / f"{assignment}.ipynb", as_version=4),
            nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4))


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def defined_names(source: str) -> set[str]:
    """The functions, classes and variables a code cell defines at its top level."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def visible_tests_and_what_they_need(release, solutions) -> dict[int, set[str]]:
    """Index of each visible test cell -> the student's names it uses (defined by the answer cells before it)."""
    answers = {nbgrader_meta(c)["grade_id"]: c.source for c in solutions.cells
               if nbgrader_meta(c).get("solution") and c.cell_type == "code"}
    needed, defined = {}, set()
    for i, cell in enumerate(release.cells):
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code":
            continue
        if meta.get("solution"):
            defined |= defined_names(answers[meta["grade_id"]])
        elif meta.get("grade"):
            used = {n.id for n in ast.walk(ast.parse(cell.source)) if isinstance(n, ast.Name)}
            needed[i] = used & defined
            assert needed[i], f"test cell {i} uses none of the student's names {sorted(defined)}"
    return needed


def validate(page: Page, expect_success: bool) -> str:
    """Press Validate, wait for nbgrader's verdict and close it; returns the dialog's text."""
    page.locator("jp-button.validate-button").click()
    verdict = page.locator(".nbgrader-SuccessDialog .validation-success, .nbgrader-ErrorDialog .validation-failed")
    wait_until(verdict.is_visible, 300, "Validate's verdict", interval_s=0.5)
    text = page.locator(".jp-Dialog").inner_text()
    succeeded = page.locator(".nbgrader-SuccessDialog .validation-success").count() > 0
    assert succeeded == expect_success, f"Validate {'succeeded' if succeeded else 'failed'}:\n{text[:3000]}"
    page.keyboard.press("Escape")
    expect(page.locator(".jp-Dialog")).to_have_count(0)
    return text


def visible_tests_fail_naming_what_is_missing(page: Page, assignment: str) -> None:
    release, solutions = notebooks(assignment)
    needed = visible_tests_and_what_they_need(release, solutions)
    assert needed, f"{assignment} has no visible test cell"
    last = max(needed)
    for i, cell in enumerate(release.cells[:last + 1]):
        if cell.cell_type != "code":
            continue
        outputs = page.evaluate(RUN_CELL_JS, i)
        if i in needed:
            errors = [o for o in outputs if o["output_type"] == "error"]
            assert errors, f"{assignment}: test cell {i} passed on the untouched notebook"
            message = f"{errors[0]['ename']}: {errors[0]['evalue']}"
            assert any(name in message for name in needed[i]), \
                f"{assignment}: test cell {i} fails with {message!r}, which names none of {sorted(needed[i])}"


def answer_cells(assignment: str) -> list[tuple[int, str, str]]:
    """(index in the release, cell type, the solution's answer) for each answer cell, code and written: Validate
    insists on every answer ("You did not provide a response")."""
    from dlcourse.grading.mock import solution_answers

    release, solutions = notebooks(assignment)
    answers = solution_answers(solutions)
    return [(i, c.cell_type, answers[nbgrader_meta(c)["grade_id"]]) for i, c in enumerate(release.cells)
            if nbgrader_meta(c).get("solution")]


def test_ps1_in_the_editor_validate_fails_untouched_and_succeeds_once_the_answers_are_typed_in(page, lab):
    open_notebook(page, lab, "assignments/ps1/ps1.ipynb")
    report = validate(page, expect_success=False)
    assert "sigmoid" in report  # the first failing test, as a student reads it
    visible_tests_fail_naming_what_is_missing(page, "ps1")

    cells = page.locator(".jp-Notebook .jp-Cell")
    for i, kind, answer in answer_cells("ps1"):
        if kind == "markdown":
            cells.nth(i).dblclick()  # a rendered written answer opens its editor on a double click
        cells.nth(i).locator(".cm-content").click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(answer)
        page.keyboard.press("Escape")  # back to command mode
        assert page.evaluate(SOURCE_JS, i) == answer  # what CodeMirror put in the cell is what was typed
    page.keyboard.press("Control+s")
    expect(page.locator(".lm-TabBar-tab.jp-mod-dirty")).to_have_count(0, timeout=20_000)
    saved = nbformat.read(lab.work / "course" / "assignments" / "ps1" / "ps1.ipynb", as_version=4)
    assert [saved.cells[i].source for i, _, _ in answer_cells("ps1")] == [a for _, _, a in answer_cells("ps1")]
    validate(page, expect_success=True)


@pytest.mark.parametrize("assignment", [a for a in ASSIGNMENTS if a != "ps1"])
def test_released_assignment_visible_tests_fail_untouched_and_validate_accepts_the_solution(page, lab, assignment):
    open_notebook(page, lab, f"assignments/{assignment}/{assignment}.ipynb")
    visible_tests_fail_naming_what_is_missing(page, assignment)
    for i, _, answer in answer_cells(assignment):
        page.evaluate(SET_SOURCE_JS, [i, answer])
    page.evaluate(SAVE_JS)
    validate(page, expect_success=True)
