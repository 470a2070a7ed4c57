"""Shared fixtures, plus two guarantees for the whole run.

* The venv's bin/ is on PATH: nbgrader runs the `alembic` executable to create a gradebook.
* Time budget: each notebook executed by nbval must finish within NOTEBOOK_BUDGET_S seconds (the course promises
  a lecture runs in about a minute on a 2-core CPU); the per-notebook times are printed at the end of the run and
  an over-budget notebook fails the session.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_BUDGET_S = 60.0

os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

_notebook_seconds: dict[str, float] = defaultdict(float)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _notebook_seconds:
        return
    terminalreporter.section("notebook execution times (nbval)")
    for path, seconds in sorted(_notebook_seconds.items()):
        flag = "  OVER BUDGET" if seconds > NOTEBOOK_BUDGET_S else ""
        terminalreporter.write_line(f"{seconds:6.1f} s  {path}{flag}")


def pytest_sessionfinish(session, exitstatus):
    over = {p: s for p, s in _notebook_seconds.items() if s > NOTEBOOK_BUDGET_S}
    if over and session.exitstatus == 0:
        session.exitstatus = 1
        print(f"\nnotebooks over the {NOTEBOOK_BUDGET_S:.0f} s budget: {over}")
