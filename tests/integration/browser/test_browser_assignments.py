"""What a student does in JupyterLab, in a real browser: run lecture 01, move a slider, Validate ps1.

Needs Debian's chromium (Playwright cannot download browsers here). Skipped when it is missing, except in CI
(.ci/run sets DLCOURSE_REQUIRE_SYSTEM=1 and installs it). The server runs on a COPY of the course: autosave and
nbgrader's Validate write into the notebooks.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")

if not CHROMIUM.exists():
    if os.environ.get("DLCOURSE_REQUIRE_SYSTEM"):
        raise RuntimeError("DLCOURSE_REQUIRE_SYSTEM is set but /usr/bin/chromium is missing (apt-get install chromium)")
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

CHROMIUM_ARGS = ["--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory, submissions):
    """JupyterLab on a copy of course/ (cwd holds nbgrader_config.py, as with `make lab`); yields (url, token)."""
    work = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "course", work / "course")
    shutil.copy(ROOT / "nbgrader_config.py", work)
    shutil.copytree(ROOT / "solutions", work / "solutions")
    solved = submissions.fill_answers(nbformat.read(ROOT / "course" / "assignments" / "ps1" / "ps1.ipynb", as_version=4),
                                      nbformat.read(ROOT / "solutions" / "ps1" / "ps1.ipynb", as_version=4))
    nbformat.write(solved, work / "course" / "assignments" / "ps1" / "ps1_solved.ipynb")
    settings = work / "settings"
    for extension, name, values in [
        ("apputils-extension", "notification", {"fetchNews": "false"}),  # no news toast over the page
        ("notebook-extension", "tracker", {"windowingMode": "none"}),  # render every cell, not only visible ones
    ]:
        (settings / "@jupyterlab" / extension).mkdir(parents=True, exist_ok=True)
        (settings / "@jupyterlab" / extension / f"{name}.jupyterlab-settings").write_text(json.dumps(values))
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(work / "ws"),
               JUPYTER_RUNTIME_DIR=str(work / "runtime"))
    cmd = [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--allow-root",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={work / 'course'}"]
    log = open(work / "server.log", "w")
    server = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            time.sleep(0.3)
    else:
        server.kill()
        pytest.fail("JupyterLab did not start:\n" + (work / "server.log").read_text()[-3000:])
    yield url, token
    server.terminate()
    server.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, lab):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()
    url, token = lab
    # kernels outlive the page: shut them down between tests
    req = urllib.request.Request(f"{url}/api/sessions?token={token}")
    for session in json.load(urllib.request.urlopen(req)):
        urllib.request.urlopen(urllib.request.Request(f"{url}/api/sessions/{session['id']}?token={token}",
                                                      method="DELETE"))


def open_notebook(page, lab, path: str) -> None:
    url, token = lab
    page.goto(f"{url}/lab/tree/{path}?reset&token={token}")
    # the toolbar says idle before the kernel is attached; the status bar text is the reliable signal
    expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=60_000)


def run_all(page, timeout_s: float = 120) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    prompts = page.locator(".jp-CodeCell .jp-InputPrompt")
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        texts = prompts.all_text_contents()
        if texts and all(re.fullmatch(r"\[\d+\]:", t.strip()) for t in texts):
            return
        time.sleep(0.5)
    raise AssertionError(f"not every cell ran: {texts}")


def test_lecture_01_runs_and_its_sliders_redraw(page, lab):
    open_notebook(page, lab, "lectures/01_bayes_to_sigmoid.ipynb")
    run_all(page)
    assert page.locator(".jp-MarkdownCell mjx-container").count() > 10  # the LaTeX is typeset
    stdout = " ".join(page.locator('[data-mime-type="application/vnd.jupyter.stdout"]').all_inner_texts())
    assert "max |Bayes - sigmoid|" in stdout and "test accuracy" in stdout
    assert page.locator(".jp-OutputArea-output img").count() >= 6  # the figures
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0

    sliders = page.locator(".widget-hslider")
    expect(sliders).to_have_count(8)
    readout = page.locator(".widget-output", has_text="w = ")
    before = readout.inner_text()
    prior = sliders.filter(has_text="P(y=1)")
    prior.locator(".noUi-handle").focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    expect(prior.locator(".widget-readout")).to_have_text("0.55")
    expect(readout).not_to_have_text(before, timeout=20_000)
    w_before = re.search(r"w = (\[.*?\])", before)[1]
    after = readout.inner_text()
    assert re.search(r"w = (\[.*?\])", after)[1] == w_before  # the prior moves b only
    assert re.search(r"b = (\S+)", after)[1] != re.search(r"b = (\S+)", before)[1]


def test_validate_reports_a_blank_and_accepts_a_solved_ps1(page, lab):
    open_notebook(page, lab, "assignments/ps1/ps1.ipynb")
    page.locator("jp-button.validate-button").click()
    expect(page.locator(".nbgrader-ErrorDialog .validation-failed")).to_be_visible(timeout=120_000)
    page.keyboard.press("Escape")

    open_notebook(page, lab, "assignments/ps1/ps1_solved.ipynb")
    page.locator("jp-button.validate-button").click()
    expect(page.locator(".nbgrader-SuccessDialog .validation-success")).to_be_visible(timeout=120_000)
