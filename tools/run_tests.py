"""`make test`: every test of the course in two phases, the browser suite overlapping the rest.

1. The notebooks under nbval (course/lectures, solutions), alone on the machine: conftest.py fails a notebook that
   takes more than a minute, and that wall-clock budget means something only on an otherwise idle machine.
2. The browser suite (tests/integration/browser) in the background, while the library, grading and release tests
   (tests/) run in the foreground. The foreground mostly waits on nbgrader, kernels and sandboxes (it keeps about
   one of the 2 cores busy), so the browser suite's kernels and Chromium use the idle core instead of adding their
   whole run time to `make test`. The browser suite's output goes to build/browser/pytest.log and is printed when
   it ends.

`.venv/bin/python -m pytest` runs the same tests one after the other; `--serial` makes this script do that.
Exits non-zero when any phase failed, and says which.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BROWSER = "tests/integration/browser"
NOTEBOOKS = ["course/lectures", "solutions"]
LOG = ROOT / "build" / "browser" / "pytest.log"


def pytest(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", *args]


def run(title: str, command: list[str]) -> int:
    print(f"\n===== {title}: {' '.join(command[3:])} =====", flush=True)
    return subprocess.run(command, cwd=ROOT).returncode


def start_in_background(command: list[str], log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"\n===== browser suite in the background: {' '.join(command[3:])} (log: {log.relative_to(ROOT)}) =====",
          flush=True)
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    """Stop the background suite and everything it started (its server, kernels and browser)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serial", action="store_true", help="one pytest run, everything one after the other")
    args = parser.parse_args(argv)
    if args.serial:
        return run("every test", pytest())
    started = time.perf_counter()
    codes = {"notebooks (nbval)": run("notebooks under nbval, alone", pytest(*NOTEBOOKS))}
    browser = start_in_background(pytest(BROWSER), LOG)
    try:
        codes["library, grading and release tests"] = run("library, grading and release tests",
                                                          pytest("tests", f"--ignore={BROWSER}"))
        if browser.poll() is None:
            print("\n===== waiting for the browser suite =====", flush=True)
        codes["browser suite"] = browser.wait()
    finally:
        stop(browser)
    print(f"\n===== browser suite ({LOG.relative_to(ROOT)}) =====", flush=True)
    sys.stdout.write(LOG.read_text(errors="replace"))
    minutes, seconds = divmod(round(time.perf_counter() - started), 60)
    print(f"\n===== make test: {minutes} min {seconds} s =====")
    for phase, code in codes.items():
        print(f"{phase}: {'passed' if code == 0 else f'FAILED (pytest exit code {code})'}")
    return 0 if not any(codes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
