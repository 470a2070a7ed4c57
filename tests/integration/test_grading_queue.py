"""`dlcourse grade`: the parallel queue, its journal, its progress bar, and a class that outgrows one machine.

* The default setup (a Dask LocalCluster of 2 worker processes, the sqlite gradebook) gives every submission the
  score plain `nbgrader autograde` gives it, reports progress and failures, and records each result in its journal.
* Re-running skips what is graded; `--force` and a changed submission regrade; a run killed half-way (the whole
  process group, workers and kernels included) resumes where it stopped and loses nothing.
* A graded cell that writes into an ipywidgets Output, graded while every core is busy, costs no cell timeout
  (the jupyter client's lost wake-up, ../shared/NOTES.md).
* A PostgreSQL gradebook (Debian's server, started here in a temporary folder) and a Dask scheduler with two
  separate worker processes, all on 127.0.0.1, one worker killed mid-run: the same scores as the default setup.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REQUIRED = os.environ.get("DLCOURSE_REQUIRE_SYSTEM") == "1"

MISTAKES = {
    "wrong_grad": {"nll_grad": '''def nll_grad(w, b, X, y):
    r = 1 / (1 + np.exp(-(X @ w + b))) - y
    return X.T @ r / len(y) * 2, float(np.mean(r))
'''},
    "renamed": {"nll": '''def negative_log_likelihood(w, b, X, y):
    a = X @ w + b
    return float(np.mean(np.logaddexp(0, a) - y * a))
'''},
}
STUDENTS = ["alice", "bob", "carol", "dave", "wrong_grad", "renamed", "untouched"]


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("DLCOURSE_")}
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    return e


def run(cmd: list[str], cwd: Path, timeout: int = 600, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env())
    if check:
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    return run([str(BIN / "nbgrader"), *args], course)


def dlcourse(course: Path, *args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    return run([str(BIN / "dlcourse"), "grade", *args], course, timeout=timeout, check=check)


def make_course(folder: Path, submissions, assignment: str = "ps1", students=STUDENTS, extra_config: str = "") -> Path:
    """A scratch course: the course's config (plus ``extra_config``), one assignment generated, one submission
    per student (the solution unless the name is a mistake; ``untouched`` is the release; ``broken`` not JSON)."""
    folder.mkdir(parents=True)
    (folder / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text() + extra_config)
    shutil.copytree(ROOT / "solutions" / assignment, folder / "solutions" / assignment)
    nbgrader(folder, "generate_assignment", assignment)
    release = nbformat.read(folder / "grading" / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    solutions = nbformat.read(folder / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    for student in students:
        if student == "broken":
            path = folder / "grading" / "submitted" / student / assignment / f"{assignment}.ipynb"
            path.parent.mkdir(parents=True)
            path.write_text('{"cells": [')
            continue
        nb = release if student == "untouched" else submissions.fill_answers(release, solutions, MISTAKES.get(student))
        submissions.submit(folder / "grading" / "submitted", assignment, student, nb)
    return folder


def scores(db_url: str, assignment: str = "ps1") -> dict[str, dict[str, float | None]]:
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(db_url) as gb:
        for sub in gb.assignment_submissions(assignment):
            nb = gb.find_submission_notebook(assignment, assignment, sub.student.id)
            out[sub.student.id] = {g.name: g.auto_score for g in nb.grades}
    return out


def sqlite(course: Path) -> str:
    return f"sqlite:///{course / 'grading' / 'gradebook.db'}"


def journal(course: Path, assignment: str = "ps1") -> list[dict]:
    path = course / "grading" / "dlcourse-grade" / f"{assignment}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


# --- the default setup -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_run(tmp_path_factory, submissions):
    """ps1 graded by `dlcourse grade --workers 2` and, on an identical copy, by plain `nbgrader autograde`."""
    base = tmp_path_factory.mktemp("queue")
    course = make_course(base / "queue", submissions, students=STUDENTS + ["broken"])
    plain = base / "plain"
    shutil.copytree(course, plain)
    before = tree_digest(course / "grading" / "submitted")
    start = time.perf_counter()
    proc = dlcourse(course, "ps1", "--workers", "2", check=False)
    seconds = time.perf_counter() - start
    run([str(BIN / "nbgrader"), "autograde", "ps1"], plain, check=False)  # fails on the broken one: expected
    return course, plain, proc, seconds, before


def test_the_queue_gives_the_scores_plain_nbgrader_gives(default_run):
    course, plain, proc, _, _ = default_run
    ours, theirs = scores(sqlite(course)), scores(sqlite(plain))
    assert set(ours) == set(STUDENTS) | {"broken"} and ours == theirs
    full = ours["alice"]
    assert all(v is not None for k, v in full.items() if k.startswith("test_"))
    lost = {s: {k for k in full if k.startswith("test_") and ours[s][k] != full[k]} for s in ("wrong_grad", "renamed")}
    assert lost == {"wrong_grad": {"test_nll_grad"}, "renamed": {"test_nll"}}


def test_the_run_reports_progress_failures_and_a_summary(default_run):
    _, _, proc, _, _ = default_run
    assert proc.returncode == 1, "a submission that could not be graded must make the run fail"
    assert "grading ps1" in proc.stderr and ("submission/s" in proc.stderr or "s/submission" in proc.stderr)
    assert "failed=1" in proc.stderr and "<" in proc.stderr  # the running failure count and tqdm's ETA
    assert "graded 7, failed 1, skipped 0" in proc.stdout
    assert "could not grade broken: ps1.ipynb is not a valid notebook" in proc.stdout


def test_the_journal_records_every_submission_and_nothing_submitted_changed(default_run):
    course, _, _, _, before = default_run
    entries = {e["student"]: e for e in journal(course)}
    assert set(entries) == set(STUDENTS) | {"broken"}
    for student, entry in entries.items():
        folder = course / "grading" / "submitted" / student / "ps1"
        from dlcourse.grading.queue import submission_sha

        assert entry["sha256"] == submission_sha(folder)
        assert entry["status"] == ("failed" if student == "broken" else "graded")
    assert len({e["worker"] for e in entries.values()}) == 2, "both workers should have graded"
    assert tree_digest(course / "grading" / "submitted") == before


def test_rerunning_skips_what_is_graded_and_regrades_what_changed(default_run, submissions):
    course = default_run[0]
    again = dlcourse(course, "ps1", "--workers", "1", "--student", "[acd]*", "--student", "bob", "--no-progress")
    assert "graded 0, failed 0, skipped 4" in again.stdout
    # bob fixes nothing but resubmits the wrong gradient: only bob is regraded, and loses that question
    release = nbformat.read(course / "grading" / "release" / "ps1" / "ps1.ipynb", as_version=4)
    solutions = nbformat.read(course / "solutions" / "ps1" / "ps1.ipynb", as_version=4)
    submissions.submit(course / "grading" / "submitted", "ps1", "bob",
                       submissions.fill_answers(release, solutions, MISTAKES["wrong_grad"]))
    changed = dlcourse(course, "ps1", "--workers", "1", "--student", "[acd]*", "--student", "bob", "--no-progress")
    assert "graded 1, failed 0, skipped 3" in changed.stdout
    got = scores(sqlite(course))
    assert got["bob"] == got["wrong_grad"]
    forced = dlcourse(course, "ps1", "--workers", "2", "--student", "alice", "--student", "carol", "--force",
                      "--no-progress")
    assert "graded 2, failed 0, skipped 0" in forced.stdout


def test_nothing_to_grade_and_an_unknown_assignment_are_said_plainly(default_run):
    course = default_run[0]
    nobody = dlcourse(course, "ps1", "--student", "nobody*", "--no-progress")
    assert "no submissions to grade" in nobody.stdout and "grading/submitted" in nobody.stdout
    unknown = dlcourse(course, "ps9", "--no-progress", check=False)
    assert unknown.returncode == 2 and "ps9 is not in the gradebook" in unknown.stderr
    assert "nbgrader generate_assignment ps9" in unknown.stderr


def test_a_run_killed_half_way_resumes_and_loses_nothing(tmp_path, submissions):
    students = [f"s{i}" for i in range(6)]
    course = make_course(tmp_path / "course", submissions, students=students)
    before = tree_digest(course / "grading" / "submitted")
    proc = subprocess.Popen([str(BIN / "dlcourse"), "grade", "ps1", "--workers", "2", "--no-progress"], cwd=course,
                            env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 300
    while len(journal(course)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the command, its Dask workers and their kernels, all at once
    proc.wait()
    done = {e["student"] for e in journal(course)}
    assert 2 <= len(done) < len(students), f"the run was not stopped half-way ({len(done)} graded)"
    resumed = dlcourse(course, "ps1", "--workers", "2", "--no-progress")
    assert f"graded {len(students) - len(done)}, failed 0, skipped {len(done)}" in resumed.stdout
    got = scores(sqlite(course))
    assert set(got) == set(students) and all(got[s] == got["s0"] for s in students)
    assert all(v is not None for k, v in got["s0"].items() if k.startswith("test_"))
    assert tree_digest(course / "grading" / "submitted") == before
    assert nbgrader(course, "generate_feedback", "ps1")  # plain nbgrader goes on from the same gradebook


# --- the lost wake-up under load ---------------------------------------------------------------------------

WIDGET_CELL = '''import ipywidgets as widgets
from IPython.display import display
log = widgets.Output()
display(log)
for step in range(3):
    with log:
        print("step", step)
'''


def _widget_assignment(folder: Path) -> None:
    """A small assignment whose manually graded answer and the cells around it write into Output widgets."""
    def cell(source, grade_id=None, **flags):
        c = nbformat.v4.new_code_cell(source)
        if grade_id:
            c.metadata["nbgrader"] = {"grade_id": grade_id, "schema_version": 3, "solution": False, "grade": False,
                                      "locked": False, "task": False, **flags}
        return c

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [cell("import numpy as np", "setup", locked=True),
                cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * np.asarray(x)\n    ### END SOLUTION",
                     "double", solution=True)]
    for i in range(4):
        nb.cells.append(cell(WIDGET_CELL))
    nb.cells += [cell(f"### BEGIN SOLUTION\n{WIDGET_CELL}### END SOLUTION", "explore", solution=True, grade=True,
                      points=1),
                 cell("assert double(3) == 6", "test_double", grade=True, locked=True, points=1)]
    (folder / "solutions" / "widgets").mkdir(parents=True)
    nbformat.write(nb, folder / "solutions" / "widgets" / "widgets.ipynb")


def test_output_widgets_cost_no_cell_timeout_while_every_core_is_busy(tmp_path, submissions):
    course = tmp_path / "course"
    course.mkdir()
    # a long cell timeout: one lost wake-up would cost 60 s, far above what the whole run may take
    (course / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text() + "\nc.Execute.timeout = 60\n")
    _widget_assignment(course)
    nbgrader(course, "generate_assignment", "widgets")
    release = nbformat.read(course / "grading" / "release" / "widgets" / "widgets.ipynb", as_version=4)
    solutions = nbformat.read(course / "solutions" / "widgets" / "widgets.ipynb", as_version=4)
    for i in range(4):
        submissions.submit(course / "grading" / "submitted", "widgets", f"w{i}",
                           submissions.fill_answers(release, solutions))
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        start = time.perf_counter()
        proc = dlcourse(course, "widgets", "--workers", str(os.cpu_count() or 2), "--no-progress")
        seconds = time.perf_counter() - start
    finally:
        for b in burners:
            b.kill()
    assert "graded 4, failed 0" in proc.stdout
    assert seconds < 55, f"grading took {seconds:.0f} s: a cell waited for its timeout"
    got = scores(sqlite(course), "widgets")
    assert all(g == {"test_double": 1.0, "explore": None} for g in got.values()), got
    for i in range(4):
        nb = nbformat.read(course / "grading" / "autograded" / f"w{i}" / "widgets" / "widgets.ipynb", as_version=4)
        assert nb.metadata["dlcourse_grading"]["seconds"] < 30
        assert not nb.metadata["dlcourse_grading"]["events"]


# --- PostgreSQL and a Dask cluster -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(found[-1]).parent if found else None


@pytest.fixture
def postgres():
    """A PostgreSQL server of its own on 127.0.0.1 (a temporary data folder), with an empty database; yields the
    SQLAlchemy URL of that database."""
    pg = postgres_bin()
    if pg is None:
        if REQUIRED:
            raise RuntimeError("DLCOURSE_REQUIRE_SYSTEM is set but PostgreSQL is missing (apt-get install postgresql)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    import psycopg2

    folder = Path(tempfile.mkdtemp(prefix="dlcourse-test-pg-"))  # not under pytest's 0700 folder: the server's
    as_user = []                                                     # user must reach it
    if os.getuid() == 0:  # the server refuses to run as root
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(as_user + [str(pg / "initdb"), "-D", str(folder / "data"), "-U", "grader", "--auth=trust",
                              "-E", "UTF8", "--no-sync"], check=True, capture_output=True, timeout=120)
    subprocess.run(as_user + [str(pg / "pg_ctl"), "-D", str(folder / "data"), "-l", str(folder / "log"), "-w", "-o",
                              f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off", "start"],
                   check=True, capture_output=True, timeout=120)
    try:
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="grader", dbname="postgres")
        conn.autocommit = True
        conn.cursor().execute("CREATE DATABASE gradebook")
        conn.close()
        yield f"postgresql+psycopg2://grader@127.0.0.1:{port}/gradebook"
    finally:
        subprocess.run(as_user + [str(pg / "pg_ctl"), "-D", str(folder / "data"), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def dask_cluster(tmp_path):
    """A Dask scheduler and two worker processes (no nanny: a killed worker stays dead), on 127.0.0.1."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = {"scheduler": subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                                            str(port), "--no-dashboard"], env=env(), cwd=tmp_path,
                                           stdout=subprocess.DEVNULL, stderr=open(tmp_path / "scheduler.log", "w"))}
    time.sleep(1.0)
    for name in ("worker-a", "worker-b"):
        procs[name] = subprocess.Popen([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--no-nanny",
                                        "--name", name, "--no-dashboard"], env=env(), cwd=tmp_path,
                                       stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"{name}.log", "w"))
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=120)
    try:
        yield address, procs
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()
        # the killed worker could not stop its fork server: its kernels died with it, its empty cgroups and
        # session folder stay until the next `dlcourse grade` (after 10 minutes); remove them now, so that the
        # next run on this machine (the attack suite's machine-wide check) starts clean
        from dlcourse.grading.sandbox import remove_stale_sandboxes

        time.sleep(1.0)
        remove_stale_sandboxes(older_than_s=0)


def test_postgres_gradebook_and_two_dask_workers_one_killed_give_the_default_scores(
        default_run, postgres, dask_cluster, tmp_path, submissions):
    address, procs = dask_cluster
    course = make_course(tmp_path / "course", submissions, students=STUDENTS + ["broken"],
                         extra_config=f"\nc.CourseDirectory.db_url = {postgres!r}\n")
    assert not (course / "grading" / "gradebook.db").exists()  # nbgrader itself used PostgreSQL
    grading = subprocess.Popen([str(BIN / "dlcourse"), "grade", "ps1", "--scheduler", address, "--no-progress"],
                               cwd=course, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    from distributed import Client

    killed, seen = None, {}  # seen: the task worker-a is on -> when it was first seen there
    with Client(address, timeout=30) as client:
        deadline = time.monotonic() + 120
        while killed is None and time.monotonic() < deadline:
            names = {addr: w["name"] for addr, w in client.scheduler_info(n_workers=-1)["workers"].items()}
            addr = next((a for a, name in names.items() if name == "worker-a"), None)
            keys = client.processing().get(addr, ()) if addr else ()
            # a task that worker-a has been running for a second (its kernel is running), not the broken
            # notebook (it fails at once, and by design): kill the worker in the middle of it
            # (Dask may queue a second task on it: every task it holds is regraded elsewhere once it dies)
            current = sorted(str(k).split("-")[2] for k in keys if "-broken-" not in str(k))
            if not current:
                seen = {}
            else:
                since = seen.get(current[0], time.monotonic())
                seen = {current[0]: since}
                if time.monotonic() - since >= 1.0:
                    procs["worker-a"].send_signal(signal.SIGKILL)
                    killed, victim = addr, current[0]
            time.sleep(0.1)
    assert killed, "worker-a never got a submission to grade"
    out, err = grading.communicate(timeout=600)
    assert grading.returncode == 1, err[-3000:]  # the broken notebook
    assert "graded 7, failed 1" in out
    entries = {e["student"]: e for e in journal(course)}
    assert entries[victim]["status"] == "graded" and entries[victim]["worker"] != killed, entries[victim]
    default_course = default_run[0]
    # the default run's bob was resubmitted by another test: compare on the submissions both graded unchanged
    ours, default = scores(postgres), scores(sqlite(default_course))
    assert set(ours) == set(default)
    for student in set(STUDENTS) - {"bob"} | {"broken"}:
        assert ours[student] == default[student], student
    assert ours["bob"] == ours["alice"]
    # plain nbgrader works on the same PostgreSQL gradebook
    nbgrader(course, "generate_feedback", "ps1")
    nbgrader(course, "export")
    assert "alice" in (course / "grading" / "grades.csv").read_text()


def test_the_grading_processes_skip_the_iri_grammar_and_still_validate_notebooks():
    """dlcourse grade's processes go without rfc3987_syntax (1.2 s to import); nbformat still validates."""
    code = ("import sys, dlcourse.grading.queue, nbformat, nbgrader.apps.api\n"
            "assert sys.modules['rfc3987_syntax'] is None\n"
            "nb = nbformat.read(sys.argv[1], as_version=4)\n"
            "nbformat.validate(nb)\n"
            "nb.cells[0]['cell_type'] = 'nonsense'\n"
            "try:\n    nbformat.validate(nb)\nexcept nbformat.ValidationError:\n    print('invalid seen')\n")
    proc = subprocess.run([sys.executable, "-c", code, str(ROOT / "course" / "index.ipynb")], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "invalid seen"
