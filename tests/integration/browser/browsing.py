"""What the browser tests do in JupyterLab: start it on a copy of the course, open a notebook, run it, wait for
the kernel, take screenshots. The fixtures that share one server and one browser across the suite are in
conftest.py.

Needs Debian's chromium (Playwright cannot download browsers here). Skipped, with the reason in the summary, when
it is missing, except in CI (.ci/run sets DLCOURSE_REQUIRE_SYSTEM=1 and installs it). The server runs on a COPY of
course/, solutions/ and nbgrader_config.py: autosave, nbgrader's Validate and the formgrader write into it.
Screenshots go to build/browser/ (not committed; `make clean` removes them) so a person can look at each lecture.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "build" / "browser"

if not CHROMIUM.exists():
    if os.environ.get("DLCOURSE_REQUIRE_SYSTEM"):
        raise RuntimeError("DLCOURSE_REQUIRE_SYSTEM is set but /usr/bin/chromium is missing (apt-get install chromium)")
    pytest.skip("the browser tests need Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
                allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402,F401  (re-exported for the tests)

CHROMIUM_ARGS = ["--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
                 # several notebooks run at once, each in its own page: none may be throttled as a background tab
                 "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                 "--disable-backgrounding-occluded-windows"]
VIEWPORT = {"width": 1400, "height": 1000}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running JupyterLab: its URL, token and working copy, and its REST API for what a page does not show."""

    def __init__(self, url: str, token: str, work: Path):
        self.url, self.token, self.work = url, token, work

    def api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(f"{self.url}/api/{path}?token={self.token}", method=method)
        with urllib.request.urlopen(req, timeout=30) as reply:
            text = reply.read()
        return json.loads(text) if text else None

    def shut_down_kernels(self, which) -> None:
        """Delete the kernel sessions of the notebooks whose path (relative to course/) ``which(path)`` accepts."""
        for session in self.api("sessions"):
            if which(session["path"]):
                self.api(f"sessions/{session['id']}", method="DELETE")


# Work that goes on in other pages while a test waits: each is called on every tick of wait_until.
BACKGROUND: list = []


def wait_until(condition, timeout_s: float, what: str, interval_s: float = 0.3) -> None:
    """Poll ``condition`` until it holds, moving the background work on at every tick."""
    deadline = time.time() + timeout_s
    while not condition():
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        for step in BACKGROUND:
            step()
        time.sleep(interval_s)


def goto_notebook(page, lab: Lab, path: str) -> None:
    page.goto(f"{lab.url}/lab/tree/{path}?reset&token={lab.token}")


def kernel_idle(page) -> bool:
    # the toolbar says idle before the kernel is attached; the status bar text is the reliable signal
    return "| Idle" in page.locator("#jp-main-statusbar").inner_text()


def open_notebook(page, lab: Lab, path: str) -> None:
    """Open ``path`` (relative to course/) and wait until its kernel is attached and idle."""
    goto_notebook(page, lab, path)
    wait_until(lambda: kernel_idle(page), 120, f"the kernel of {path}")


def click_run_all(page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def all_cells_ran(page) -> bool:
    """Whether every code cell shows an execution count (none waiting with ``[*]`` or never run)."""
    texts = page.locator(".jp-CodeCell .jp-InputPrompt").all_text_contents()
    return bool(texts) and all(re.fullmatch(r"\[\d+\]:", t.strip()) for t in texts)


def wait_idle(page, timeout_s: float = 120) -> None:
    wait_until(lambda: kernel_idle(page), timeout_s, "the kernel to be idle")


HIDE_JS = """async () => {
  const app = window.jupyterapp;
  window.__lecture = app.shell.currentWidget.id;
  await app.commands.execute('launcher:create');
}"""
SHOW_JS = """() => {
  const app = window.jupyterapp;
  app.shell.activateById(window.__lecture);
  for (const w of Array.from(app.shell.widgets('main'))) { if (w.id !== window.__lecture) w.close(); }
}"""


class LectureRuns:
    """Runs the lectures in the background, ``at_once`` at a time, each in its own page, from the start of the
    browser suite: the lectures compute while the problem sets are validated, and their tests then find them run.

    Each run is a small state machine moved on by :meth:`step` (registered in BACKGROUND): opened, kernel idle ->
    Run All clicked -> every cell ran.
    """

    def __init__(self, browser, lab: Lab, names: list[str], at_once: int = 2):
        self.browser, self.lab, self.names, self.at_once = browser, lab, names, at_once
        self.pages: dict[str, object] = {}
        self.state: dict[str, str] = {}
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self._stepping = False

    def step(self) -> None:
        if self._stepping:
            return
        self._stepping = True
        try:
            for name in self.names:
                if self.state.get(name) in ("opening", "running"):
                    try:
                        self._advance(name)
                    except Exception as error:  # reported by the lecture's own test, not by whichever test waits
                        self.state[name] = f"failed: {type(error).__name__}: {error}"
            busy = sum(s in ("opening", "running") for s in self.state.values())
            for name in self.names:
                if busy >= self.at_once:
                    break
                if name not in self.state:
                    page = self.browser.new_context(viewport=VIEWPORT).new_page()
                    self.pages[name], self.state[name], self.started[name] = page, "opening", time.time()
                    busy += 1
                    try:
                        goto_notebook(page, self.lab, f"lectures/{name}")
                    except Exception as error:
                        self.state[name] = f"failed: {type(error).__name__}: {error}"
        finally:
            self._stepping = False

    def _advance(self, name: str) -> None:
        page = self.pages[name]
        if self.state[name] == "opening" and kernel_idle(page):
            click_run_all(page)
            # while it runs, a Launcher tab covers the notebook: Chromium then skips the layout and paint of
            # every output update
            page.evaluate(HIDE_JS)
            self.state[name] = "running"
        elif self.state[name] == "running" and all_cells_ran(page):
            page.evaluate(SHOW_JS)
            self.state[name] = "ran"
            self.seconds[name] = time.time() - self.started[name]

    def ran(self, name: str, timeout_s: float = 400):
        """The page of lecture ``name`` once every cell has run."""
        wait_until(lambda: self.state.get(name, "").startswith(("ran", "failed")), timeout_s,
                   f"every cell of {name} to run", interval_s=0.5)
        assert self.state[name] == "ran", f"{name}: {self.state[name]}"
        return self.pages[name]

    def close(self, name: str) -> None:
        page = self.pages.pop(name, None)
        if page is not None:
            page.context.close()
        self.lab.shut_down_kernels(lambda path: path == f"lectures/{name}")


def screenshots(page, name: str, height: int = 5000) -> list[Path]:
    """The whole notebook as JPEGs of ``height`` pixels each (build/browser/<name>-NN.jpg), top to bottom."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob(f"{name}-*.jpg"):
        old.unlink()
    page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    scroller = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer")
    total, view = scroller.evaluate("el => [el.scrollHeight, el.clientHeight]")
    files = []
    for k in range(max(1, -(-total // view))):
        scroller.evaluate(f"el => {{ el.scrollTop = {k * view}; }}")
        path = SCREENSHOTS / f"{name}-{k:02d}.jpg"
        page.screenshot(path=path, type="jpeg", quality=60)
        files.append(path)
    page.set_viewport_size(VIEWPORT)
    return files
