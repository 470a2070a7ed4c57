"""Every lecture as a student meets it: opened in JupyterLab, run with Run All Cells, read, and played with.

For each lecture: every cell runs, no output is an error or a stderr message, no widget fails to display, the
LaTeX is typeset (no MathJax error), every figure the committed notebook has is shown, and each control of its
ipywidgets (slider, dropdown, play button) changes what it drives when it is moved. Screenshots of the whole
notebook after that go to build/browser/.

The lectures run in the background from the start of the browser suite, two at a time, each in its own page
(conftest.lecture_runs): they compute while the problem sets are validated, on one core each (runtime.setup).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest
from browsing import ROOT, screenshots, wait_idle, wait_until

LECTURES = sorted((ROOT / "course" / "lectures").glob("*.ipynb"))

# ipywidgets 8's controls as rendered; each is moved once
CONTROLS = ".widget-slider, .widget-dropdown, .widget-play"
# what the outputs of one cell show: the text and a hash of every image, inside the widgets' output areas
SIGNATURE_JS = """cell => {
  let h = 2166136261;
  const add = s => { for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); } };
  for (const out of cell.querySelectorAll('.widget-output')) {
    add(out.innerText);
    for (const img of out.querySelectorAll('img')) add(img.src);
  }
  return (h >>> 0).toString(16);
}"""


def committed_figures(path: Path) -> int:
    nb = nbformat.read(path, as_version=4)
    return sum("image/png" in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
               for out in cell.outputs)


def markdown_cells_with_math(path: Path) -> int:
    nb = nbformat.read(path, as_version=4)
    return sum(cell.cell_type == "markdown" and "$" in cell.source for cell in nb.cells)


def move(control, page) -> str:
    """Move one control the way a student would; returns what was done (for the failure message)."""
    kind = control.get_attribute("class")
    if "widget-play" in kind:
        control.locator("button").first.click()  # play: the linked slider steps on by itself
        return "pressed play"
    if "widget-dropdown" in kind:
        select = control.locator("select")
        current = select.input_value()
        values = select.locator("option").evaluate_all("os => os.map(o => o.value)")
        choice = next(v for v in values if v != current)
        select.select_option(choice)
        return f"chose option {choice!r}"
    readout = control.locator(".widget-readout")
    before = readout.inner_text()
    control.locator(".noUi-handle").focus()
    for key in ("ArrowRight", "ArrowLeft", "ArrowLeft"):  # one step right, or one step left when at the end
        page.keyboard.press(key)
        try:
            wait_until(lambda: readout.inner_text() != before, 10, "the readout", interval_s=0.1)
            return f"moved {readout.inner_text()!r} (from {before!r})"
        except AssertionError:
            continue
    raise AssertionError(f"the slider's readout stays at {before!r} whichever way it is moved")


def check_controls(page, name: str) -> int:
    """Move each control once and wait until the outputs of its cell change; returns how many were moved."""
    controls = page.locator(CONTROLS)
    n = controls.count()
    for k in range(n):
        control = controls.nth(k)
        control.scroll_into_view_if_needed()
        label = control.locator(".widget-label").first.inner_text() if control.locator(".widget-label").count() else ""
        cell = control.locator("xpath=ancestor::div[contains(concat(' ', @class, ' '), ' jp-CodeCell ')][1]")
        before = cell.evaluate(SIGNATURE_JS)
        done = move(control, page)
        try:
            wait_until(lambda: cell.evaluate(SIGNATURE_JS) != before, 120, "the output to change", interval_s=0.2)
        except AssertionError:
            raise AssertionError(f"{name}: control {k} ({label!r}) {done}, but nothing it drives changed") from None
        if "widget-play" in (control.get_attribute("class") or ""):
            control.locator("button").nth(1).click()  # pause
        wait_idle(page)
        errors = cell.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']")
        assert errors.count() == 0, f"{name}: moving {label!r} printed an error:\n{errors.first.inner_text()}"
    return n


@pytest.mark.parametrize("lecture", [p.name for p in LECTURES])
def test_lecture_runs_renders_and_its_widgets_respond(lecture_runs, lecture):
    page = lecture_runs.ran(lecture)
    print(f"{lecture}: every cell ran in {lecture_runs.seconds[lecture]:.1f} s (from Run All, sharing the machine)")
    try:
        path = ROOT / "course" / "lectures" / lecture
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        assert errors.count() == 0, f"{lecture} printed an error or a warning:\n{errors.first.inner_text()}"
        text = page.locator(".jp-Notebook").inner_text()
        assert "Error displaying widget" not in text and "Traceback" not in text
        assert page.locator(".jp-MarkdownCell mjx-container").count() >= markdown_cells_with_math(path)
        assert page.locator("mjx-merror").count() == 0, "a formula MathJax could not typeset"
        figures = page.locator(".jp-OutputArea-output img")
        assert figures.count() >= committed_figures(path) > 0
        assert figures.evaluate_all("imgs => imgs.every(i => i.complete && i.naturalWidth > 0)")
        t0 = time.time()
        moved = check_controls(page, lecture)
        assert moved > 0, f"{lecture} has no widget to play with"
        t1 = time.time()
        shots = screenshots(page, Path(lecture).stem)
        print(f"{lecture}: {moved} controls moved in {t1 - t0:.1f} s, {len(shots)} screenshots in {time.time() - t1:.1f} s")
    finally:
        lecture_runs.close(lecture)
