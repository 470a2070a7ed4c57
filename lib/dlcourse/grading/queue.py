"""``dlcourse grade ASSIGNMENT``: autograde a whole class on a work queue, resumably, with progress.

    dlcourse grade ps3                                   # every submission not graded yet, on this machine's cores
    dlcourse grade ps3 --workers 2 --student 'a*'        # some students, two worker processes
    dlcourse grade ps3 --force                           # regrade everything
    dlcourse grade ps3 --scheduler tcp://10.0.0.5:8786   # on a Dask cluster (workers on other machines)
    dlcourse grade ps3 --db postgresql://grader@db/ps    # another gradebook than nbgrader_config.py's

Each submission is one task of a `Dask distributed <https://distributed.dask.org>`_ queue: by default a
``LocalCluster`` of one single-threaded worker *process* per core (nbgrader changes the working directory of
the process that grades, so threads cannot share one), or the workers of an existing scheduler. A task runs
nbgrader's own ``autograde`` for one student with the course's ``nbgrader_config.py`` (sandboxed kernels,
:class:`~dlcourse.grading.nbgrader_ext.IsolatedExecute`), so the gradebook, the autograded notebooks and every
plain ``nbgrader`` command (``generate_feedback``, ``export``, the formgrader) see exactly what
``nbgrader autograde`` would have produced. A worker that dies mid-task (killed, out of memory, its machine
gone) has its task rescheduled by Dask on another worker.

**Resumable.** Every finished task is appended (and flushed to disk) to a journal,
``<grading folder>/dlcourse-grade/ASSIGNMENT.jsonl``: student, a SHA-256 of the submitted files, the score,
the time. A later run skips each submission whose journal entry says graded, whose files have not changed
since, and whose autograded notebooks exist; ``--force`` regrades them all. A run stopped half-way (Ctrl-C, a
killed terminal, a reboot) therefore resumes where it stopped; nothing in ``submitted/`` is ever written.

**Progress.** A progress bar with the ETA and the running count of failed submissions; at the end a summary,
and the exit status is 1 if any submission could not be graded (each is listed with the reason).
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

JOURNAL_FOLDER = "dlcourse-grade"


def _skip_iri_syntax() -> None:
    """jsonschema (imported with nbformat and nbgrader) loads ``rfc3987_syntax`` when it is installed, to check the
    "iri" string format, and that module builds a grammar on import: 1.2 s measured, in the command and again in
    every worker. Neither nbformat nor nbgrader checks formats, so the grading processes go without it: marked
    missing before jsonschema first loads (jsonschema then leaves that one format unchecked)."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)


_skip_iri_syntax()  # this module is what the command and each Dask worker import first


# --- the course and its submissions ----------------------------------------------------------------------


def course_config(root: str | os.PathLike, db_url: str | None = None):
    """``(config, CourseDirectory)`` of the course at ``root`` (its ``nbgrader_config.py``), with the gradebook
    replaced by ``db_url`` when given."""
    from nbgrader.coursedir import CourseDirectory

    from .results import load_course

    config, _ = load_course(root)
    if db_url:
        config.CourseDirectory.db_url = db_url
    return config, CourseDirectory(config=config)


def submission_folder(coursedir, assignment: str, student: str) -> Path:
    return Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))


def submitted_students(coursedir, assignment: str, patterns: list[str] | None = None) -> list[str]:
    """The students with a submission of ``assignment``, sorted; only those matching one of the glob
    ``patterns`` when given."""
    base = Path(coursedir.root) / coursedir.submitted_directory
    students = sorted(p.name for p in base.iterdir() if (p / assignment).is_dir()) if base.is_dir() else []
    if patterns:
        students = [s for s in students if any(fnmatch.fnmatchcase(s, pat) for pat in patterns)]
    return students


def submission_sha(folder: Path) -> str:
    """SHA-256 over the relative paths and contents of every file of a submission folder."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def autograded_notebooks_exist(coursedir, assignment: str, student: str, notebooks: list[str]) -> bool:
    folder = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
    return all((folder / f"{name}.ipynb").exists() for name in notebooks)


# --- the journal -----------------------------------------------------------------------------------------


class Journal:
    """An append-only JSON-lines record of finished grading tasks; the last line per student counts."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.entries: dict[str, dict] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:  # a line cut short when a run was killed while writing it
                    continue
                if isinstance(entry, dict) and "student" in entry:
                    self.entries[entry["student"]] = entry

    def is_graded(self, student: str, sha: str) -> bool:
        entry = self.entries.get(student)
        return entry is not None and entry.get("status") == "graded" and entry.get("sha256") == sha

    def append(self, entry: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.entries[entry["student"]] = entry


def journal_path(coursedir, assignment: str) -> Path:
    """``<grading folder>/dlcourse-grade/<assignment>.jsonl``, next to the autograded folder."""
    autograded = Path(coursedir.root) / coursedir.autograded_directory
    return autograded.parent / JOURNAL_FOLDER / f"{assignment}.jsonl"


# --- one task: runs in a worker process --------------------------------------------------------------------


def grade_submission(root: str, assignment: str, student: str, db_url: str | None = None) -> dict:
    """Autograde one submission with nbgrader (the course's configuration); returns its journal entry.

    Runs in a Dask worker process. Never raises for a submission that cannot be graded: the entry's
    ``status`` is then ``"failed"`` and ``error`` says why.
    """
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.apps import NbGraderAPI

    start = time.monotonic()
    _pin_to_one_core()
    config, coursedir = course_config(root, db_url)
    folder = submission_folder(coursedir, assignment, student)
    sha = submission_sha(folder)
    entry = {"student": student, "sha256": sha, "worker": _worker_name()}
    result = NbGraderAPI(config=config).autograde(assignment, student, force=True, create=True)
    entry["seconds"] = round(time.monotonic() - start, 2)
    with Gradebook(coursedir.db_url) as gradebook:
        notebooks = [nb.name for nb in gradebook.find_assignment(assignment).notebooks]
        try:
            submission = gradebook.find_submission(assignment, student)
            entry.update(score=submission.score, max_score=submission.max_score,
                         needs_manual_grade=bool(submission.needs_manual_grade))
        except MissingEntry:
            pass
    if result.get("success") and autograded_notebooks_exist(coursedir, assignment, student, notebooks):
        entry["status"] = "graded"
    else:
        from .nbgrader_ext import ungradable_reason

        entry["status"] = "failed"
        reason = ungradable_reason(coursedir, assignment, student, notebooks)
        entry["error"] = reason or _last_error(result.get("log", "") + "\n" + result.get("error", ""))
    entry["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return entry


def _pin_to_one_core() -> None:
    """Keep this worker's grading thread, and the kernels it starts, on one core of its own (worker ``i`` of a
    LocalCluster on the ``i``-th core it may use). The grader and its kernel take turns — a test cell's every
    call into the student's code is a round trip — and a wake-up on another core costs about 0.2 ms on a virtual
    machine, against 0.015 ms on the same core: pinned, a submission is graded in about three quarters of the
    time (measured on ps3). Workers started by hand (``dask worker``, named otherwise) are left alone."""
    try:
        from distributed import get_worker

        name = get_worker().name
    except (ImportError, ValueError):
        return
    if isinstance(name, int) or str(name).isdigit():
        cpus = sorted(os.sched_getaffinity(0))
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {cpus[int(name) % len(cpus)]})


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def _last_error(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if "[ERROR]" in line or "Error" in line]
    return (errors or lines or ["nbgrader failed without a message"])[-1][:300]


# --- the run ---------------------------------------------------------------------------------------------


@dataclass
class Summary:
    """What one run did."""

    assignment: str
    graded: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 0
    folder: str = ""

    def text(self) -> str:
        done = len(self.graded) + len(self.failed)
        if not done and not self.skipped:
            return f"{self.assignment}: no submissions to grade (none found in {self.folder})"
        lines = [f"{self.assignment}: graded {len(self.graded)}, failed {len(self.failed)}, skipped {len(self.skipped)} "
                 f"(already graded, unchanged) in {self.seconds:.1f} s on {self.workers} worker(s)"
                 + (f", {self.seconds / done:.2f} s per submission" if done else "")]
        for entry in self.failed:
            lines.append(f"  could not grade {entry['student']}: {entry.get('error', '?')}")
        return "\n".join(lines)


class GradingError(RuntimeError):
    """The run cannot start (no such assignment in the gradebook, no submissions folder, ...)."""


def grade(assignment: str, root: str | os.PathLike = ".", *, workers: int | None = None,
          scheduler: str | None = None, force: bool = False, students: list[str] | None = None,
          db_url: str | None = None, progress: bool = True) -> Summary:
    """Autograde every submission of ``assignment`` that needs it; see the module's docstring."""
    from nbgrader.api import Gradebook, MissingEntry
    from tqdm.auto import tqdm

    root = str(Path(root).resolve())
    if not (Path(root) / "nbgrader_config.py").exists():
        raise GradingError(f"{root} has no nbgrader_config.py: run dlcourse grade from the course folder or "
                           f"give --course")
    config, coursedir = course_config(root, db_url)
    # Opening the gradebook here, before any worker does, creates or upgrades it once (nbgrader runs alembic).
    with Gradebook(coursedir.db_url) as gradebook:
        try:
            notebooks = [nb.name for nb in gradebook.find_assignment(assignment).notebooks]
        except MissingEntry:
            raise GradingError(f"{assignment} is not in the gradebook {coursedir.db_url}: run "
                               f"`nbgrader generate_assignment {assignment}` first") from None
    from .sandbox import remove_stale_sandboxes

    remove_stale_sandboxes()  # what an earlier run that was killed left behind
    summary = Summary(assignment, folder=str(Path(coursedir.root) / coursedir.submitted_directory))
    journal = Journal(journal_path(coursedir, assignment))
    todo = []
    for student in submitted_students(coursedir, assignment, students):
        sha = submission_sha(submission_folder(coursedir, assignment, student))
        if not force and journal.is_graded(student, sha) and \
                autograded_notebooks_exist(coursedir, assignment, student, notebooks):
            summary.skipped.append(student)
        else:
            todo.append(student)
    start = time.monotonic()
    if todo:
        with _client(scheduler, workers) as client:
            summary.workers = len(client.scheduler_info(n_workers=-1)["workers"])
            _run(client, todo, root, assignment, db_url, journal, summary, tqdm, progress)
    summary.seconds = time.monotonic() - start
    return summary


def _run(client, todo, root, assignment, db_url, journal, summary, tqdm, progress) -> None:
    from distributed import as_completed

    futures = {client.submit(grade_submission, root, assignment, student, db_url, pure=False,
                             key=f"grade-{assignment}-{student}-{time.time_ns()}"): student for student in todo}
    bar = tqdm(total=len(todo), unit="submission", desc=f"grading {assignment}", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    bar.set_postfix(failed=0)
    try:
        for future in as_completed(futures):
            student = futures[future]
            try:
                entry = future.result()
            except Exception as err:  # the task itself broke (e.g. its worker died too often): not graded
                entry = {"student": student, "status": "failed", "error": f"{type(err).__name__}: {err}"[:300],
                         "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            journal.append(entry)
            (summary.graded if entry["status"] == "graded" else summary.failed).append(entry)
            bar.update(1)
            bar.set_postfix(failed=len(summary.failed))
    finally:
        bar.close()
        for future in futures:
            future.cancel()
        from .zygote import close_servers

        with contextlib.suppress(Exception):
            client.run(close_servers)  # no fork server outlives the run


class _client:
    """A Dask client: on ``scheduler`` if given, else on a new LocalCluster of ``workers`` processes."""

    def __init__(self, scheduler: str | None, workers: int | None):
        self.scheduler, self.workers = scheduler, workers
        self.cluster = None

    def __enter__(self):
        import logging

        from distributed import Client, LocalCluster

        if self.scheduler:
            self.client = Client(self.scheduler, timeout=30)
            if not self.client.scheduler_info(n_workers=-1)["workers"]:
                self.client.wait_for_workers(1, timeout=60)
            return self.client
        n = self.workers or os.cpu_count() or 1
        self.cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                    silence_logs=logging.ERROR)
        self.client = Client(self.cluster)
        return self.client

    def __exit__(self, *exc):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


# --- the command -----------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", help="the assignment to grade (its name in the gradebook)")
    parser.add_argument("--course", default=".", help="the course folder, with nbgrader_config.py (default: here)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes on this machine (default: the number of cores)")
    parser.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                        help="use the workers of this Dask scheduler instead of starting local ones")
    parser.add_argument("--force", action="store_true", help="regrade submissions that are already graded")
    parser.add_argument("--student", action="append", default=None, metavar="GLOB",
                        help="only these students (a glob; may be repeated)")
    parser.add_argument("--db", default=None, metavar="URL",
                        help="the gradebook's SQLAlchemy URL (default: nbgrader_config.py's)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        raise SystemExit("--workers must be at least 1")
    try:
        summary = grade(args.assignment, args.course, workers=args.workers, scheduler=args.scheduler,
                        force=args.force, students=args.student, db_url=args.db, progress=not args.no_progress)
    except GradingError as err:
        print(f"dlcourse grade: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ndlcourse grade: stopped; what was graded is kept: run the same command again to go on",
              file=sys.stderr)
        return 130
    print(summary.text())
    return 1 if summary.failed else 0
