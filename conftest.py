"""Two guarantees for the whole test run (lib tests, nbval notebooks, grading tests), and the helpers that
build student submissions from an assignment's solutions.

* The venv's bin/ is on PATH: nbgrader runs the `alembic` executable to create a gradebook.
* Every kernel computes with torch's AVX2 kernels (`runtime.pin_cpu_kernels`), as `make notebooks` did when it
  wrote the committed outputs: the solution notebooks do not call `runtime.setup`, which pins the lectures.
* Time budget: each notebook executed by nbval must finish within --notebook-budget seconds (default 60: the
  course promises a lecture runs in about a minute on a 2-core CPU); the per-notebook times are printed at the
  end of the run and an over-budget notebook fails the session.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import pytest


os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
from dlcourse import runtime  # noqa: E402 (after PATH)

if not runtime.is_full():
    runtime.pin_cpu_kernels()

_notebook_seconds: dict[str, float] = defaultdict(float)


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch on one thread for a test module, as runtime.setup and every grading kernel compute: the course's tiny
    networks train as fast on one thread, and two threads on a busy 2-core machine were 10 to 20 times slower
    (measured). Use it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def student_process(tmp_path):
    """``start(source)``: a :class:`~dlcourse.grading.remote.RemoteSession` served by a plain Python process that
    ran ``source`` first (a stand-in for a student's kernel: no kernel, no sandbox, the same worker code); each
    request that opens the session starts such a process. Every process is gone after the test."""
    import subprocess

    from dlcourse.grading.remote import RemoteSession

    sessions, procs = [], []

    def start(source: str) -> RemoteSession:
        def run_in_kernel(expression):
            procs.append(subprocess.Popen([sys.executable, "-c", source + f"\n{expression}\n"]))

        session = RemoteSession(tmp_path, run_in_kernel, lambda: [p.kill() for p in procs])
        sessions.append(session)
        return session

    yield start
    for session in sessions:
        session.close()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def pytest_addoption(parser):
    parser.addoption("--notebook-budget", type=float, default=60.0,
                     help="seconds each notebook may take under nbval (default 60)")


def pytest_runtest_makereport(item, call):
    # keyed on the item's file: nbval's node ids lose the path when a sanitize file is given
    if item.path.suffix == ".ipynb":
        try:
            name = str(item.path.relative_to(item.config.rootpath))
        except ValueError:
            name = str(item.path)
        _notebook_seconds[name] += call.duration


def pytest_terminal_summary(terminalreporter, config):
    if not _notebook_seconds:
        return
    budget = config.getoption("notebook_budget")
    terminalreporter.section("notebook execution times (nbval)")
    for path, seconds in sorted(_notebook_seconds.items()):
        flag = "  OVER BUDGET" if seconds > budget else ""
        terminalreporter.write_line(f"{seconds:6.1f} s  {path}{flag}")


def pytest_sessionfinish(session, exitstatus):
    budget = session.config.getoption("notebook_budget")
    over = {p: round(s, 1) for p, s in _notebook_seconds.items() if s > budget}
    if over and session.exitstatus == 0:
        session.exitstatus = 1
        print(f"\nnotebooks over the {budget:g} s budget: {over}")


@pytest.fixture(scope="session")
def submissions():
    """The helpers above, for tests that build submissions: ``submissions.fill_answers(...)``."""
    from dlcourse.grading.mock import fill_answers, solution_answers, submit

    return SimpleNamespace(solution_answers=solution_answers, fill_answers=fill_answers, submit=submit)
