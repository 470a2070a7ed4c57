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

from playwright.sync_api import expect  # noqa: E402

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

    def api(self, path: str, method: str = "GET", body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}/api/{path}?token={self.token}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as reply:
            text = reply.read()
        return json.loads(text) if text else None

    def shut_down_kernels(self, path: str | None = None) -> None:
        """Delete the kernel sessions of the notebook at ``path`` (relative to course/), or all of them."""
        for session in self.api("sessions"):
            if path is None or session["path"] == path:
                self.api(f"sessions/{session['id']}", method="DELETE")


def open_notebook(page, lab: Lab, path: str) -> None:
    """Open ``path`` (relative to course/) and wait until its kernel is attached and idle."""
    page.goto(f"{lab.url}/lab/tree/{path}?reset&token={lab.token}")
    # the toolbar says idle before the kernel is attached; the status bar text is the reliable signal
    expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=90_000)


def click_run_all(page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def all_cells_ran(page) -> bool:
    """Whether every code cell shows an execution count (none waiting with ``[*]`` or never run)."""
    texts = page.locator(".jp-CodeCell .jp-InputPrompt").all_text_contents()
    return bool(texts) and all(re.fullmatch(r"\[\d+\]:", t.strip()) for t in texts)


def wait_until(condition, timeout_s: float, what: str, interval_s: float = 0.3) -> None:
    deadline = time.time() + timeout_s
    while not condition():
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(interval_s)


def run_all(page, timeout_s: float = 180) -> None:
    click_run_all(page)
    wait_until(lambda: all_cells_ran(page), timeout_s, "every cell to run")


def wait_idle(page, timeout_s: float = 60) -> None:
    expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=timeout_s * 1000)


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
