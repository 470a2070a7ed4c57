"""One JupyterLab server on a copy of the course and one headless Chromium, shared by every browser test.

The helpers live in browsing.py, which skips a test module (with the reason in the summary) when Chromium is
missing; this file imports it only inside the fixtures for that reason.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest


def make_lab_default_url() -> list[str]:
    """The first-screen flag of `make lab`'s own command line (`make -n lab`), so the browser sees what it opens."""
    from browsing import ROOT

    dry = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [flag for flag in dry.split() if "default_url=" in flag]


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """JupyterLab on a copy of course/ (its cwd holds nbgrader_config.py and solutions/, as with `make lab`)."""
    from browsing import ROOT, Lab, free_port

    work = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "course", work / "course")
    shutil.copytree(ROOT / "solutions", work / "solutions")
    shutil.copy(ROOT / "nbgrader_config.py", work)
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
           "--expose-app-in-browser",  # window.jupyterapp: tests fill cells through the notebook model
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={work / 'course'}", *make_lab_default_url()]
    log = open(work / "server.log", "w")
    server = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    running = Lab(f"http://127.0.0.1:{port}", token, work)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            running.api("status")
            break
        except OSError:
            time.sleep(0.3)
    else:
        server.kill()
        pytest.fail("JupyterLab did not start:\n" + (work / "server.log").read_text()[-3000:])
    yield running
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture(scope="session")
def browser():
    from browsing import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session", autouse=True)
def lecture_runs(request):
    """The selected lectures, started in the background as soon as the browser suite starts (browsing.LectureRuns):
    they compute while the problem-set tests run, and every test's waits move them on."""
    names = [item.callspec.params["lecture"] for item in request.session.items
             if getattr(item, "originalname", None) == "test_lecture_runs_renders_and_its_widgets_respond"]
    if not names:
        yield None
        return
    from browsing import BACKGROUND, LectureRuns

    runs = LectureRuns(request.getfixturevalue("browser"), request.getfixturevalue("lab"), names)
    BACKGROUND.append(runs.step)
    runs.step()
    yield runs
    BACKGROUND.remove(runs.step)
    for name in list(runs.pages):
        runs.close(name)


@pytest.fixture
def page(browser, lab):
    """A fresh page; the kernels it started are shut down afterwards (kernels outlive the page), not the lectures
    running in the background."""
    from browsing import VIEWPORT

    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    yield pg
    context.close()
    lab.shut_down_kernels(lambda path: not path.startswith("lectures/"))


def pytest_collection_modifyitems(session, config, items):
    """The browser suite runs after every other test. Its server, browser and Playwright (whose sync API keeps an
    asyncio loop running in the main thread) live until the session ends: a test after them failed at
    ``asyncio.run()`` or at opening Playwright again (the attack suite's report), and nbval's notebooks ran slower."""
    here = Path(__file__).resolve().parent
    ours = [item for item in items if here in Path(str(item.fspath)).resolve().parents]
    items[:] = [item for item in items if item not in ours] + ours
