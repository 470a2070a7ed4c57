"""nbgrader preprocessors that ``nbgrader_config.py`` plugs into the instructor's pipeline.

* :class:`IsolatedExecute` (autograde): the student's notebook runs in a sandboxed kernel, the test cells run
  here, in the grader, against proxies of the student's functions (:mod:`dlcourse.grading.remote`);
* :class:`ResilientExecute`: a dying kernel costs the cells it killed, not the submission;
* :class:`DeduplicateGradeCells` (sanitizing): a copy-pasted graded cell is graded once, first copy first;
* :class:`ForgetForgedCells` (sanitizing): a cell with nbgrader metadata the gradebook does not know is the
  student's, not a test or setup cell of the instructor's;
* :class:`RedactHiddenTests` (feedback): no hidden-test or solution line reaches a student, however disguised;
* :class:`ClearWidgetState` (generate_assignment), :class:`ReliableExecute` (validate).
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import os
import re
import subprocess
import sys
import time
import unicodedata

from jupyter_core.utils import run_sync
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import DeadKernelError
from nbgrader.plugins import CsvExportPlugin
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
import nbformat
from nbformat.v4 import new_output
from nbgrader.utils import is_grade
from traitlets import Any, Bool, Integer, List, Unicode

from .._execution import SlicedReplyPolling
from .zygote import DEFAULT_PRELOAD

REDACTED = "[line of a hidden test or solution removed]"


def normalise(text: str) -> str:
    """Text as compared for leaks: NFKC-normalised, format characters (zero-width spaces, joiners, direction
    marks) and all whitespace removed. A line quoted with a zero-width space between its letters, or with its
    spaces changed, still matches."""
    if not text.isascii():  # ASCII is its own NFKC form and has no format characters
        text = unicodedata.normalize("NFKC", text)
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return "".join(text.split())  # str.split() splits at exactly the characters str.isspace() accepts


class RedactHiddenTests(NbGraderPreprocessor):
    """Remove every trace of hidden tests and solutions from the *outputs* of feedback notebooks.

    nbgrader's ``ClearHiddenTests`` removes the hidden lines from a cell's source, but outputs still show them:
    a traceback quotes the failing test line, a warning quotes its source line, and a student's own output could
    print a line it got hold of. This runs before ``ClearHiddenTests`` (it needs the markers) and

    * in every cell holding a hidden-test region, keeps only ``ename: evalue`` of each error;
    * in every cell, replaces each output line that contains a hidden-test line of this notebook or a
      distinctive solution line of its source notebook (read from the course's source folder), both compared
      after :func:`normalise`.
    """

    begin = Unicode("BEGIN HIDDEN TESTS").tag(config=True)
    end = Unicode("END HIDDEN TESTS").tag(config=True)
    min_length = Integer(8, help="Lines shorter than this (normalised) are not searched for").tag(config=True)

    def hidden_lines(self, source: str) -> list[str]:
        return self._region_lines(source, self.begin, self.end)

    def _region_lines(self, source: str, begin: str, end: str) -> list[str]:
        lines, inside = [], False
        for line in source.splitlines():
            if begin in line:
                inside = True
            elif end in line:
                inside = False
            elif inside:
                text = line.strip()
                if len(normalise(text)) >= self.min_length and re.search(r"\w", text) and not text.startswith("#"):
                    lines.append(text)
        return lines

    def _solution_lines(self, resources) -> list[str]:
        """Distinctive lines of the solution regions of this notebook's source (lines that the release does not
        show elsewhere, such as a ``def`` line, are left out)."""
        try:
            from nbgrader.coursedir import CourseDirectory

            info = resources.get("nbgrader", {})
            coursedir = CourseDirectory(config=self.config)
            path = os.path.join(coursedir.format_path(coursedir.source_directory, ".", info["assignment"]),
                                info["notebook"] + ".ipynb")
            source = nbformat.read(path, as_version=4)
        except Exception:
            return []
        secret, public = [], set()
        for cell in source.cells:
            secret += self._region_lines(cell.source, "BEGIN SOLUTION", "END SOLUTION")
            outside = re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", "", cell.source, flags=re.S)
            public.update(normalise(line) for line in outside.splitlines())
        return [line for line in secret if normalise(line) not in public]

    def preprocess(self, nb, resources):
        hidden = [line for cell in nb.cells if cell.cell_type == "code" for line in self.hidden_lines(cell.source)]
        self._secrets = sorted({normalise(line) for line in hidden + self._solution_lines(resources)})
        return super().preprocess(nb, resources)

    def _scrub(self, text: str) -> str:
        if not self._secrets:
            return text
        return "\n".join(REDACTED if self._leaks(normalise(line)) else line for line in text.split("\n"))

    def _leaks(self, normalised_line: str) -> bool:
        """Normalise a line once (the callers do), not once per secret."""
        return any(secret in normalised_line for secret in self._secrets)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        has_hidden = self.begin in cell.source
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                out.evalue = self._scrub(out.evalue)
                out.traceback = [f"{out.ename}: {out.evalue}"] if has_hidden else \
                    [self._scrub(line) for line in out.traceback]
            elif out.output_type == "stream":
                out.text = self._scrub(out.text)
            elif out.output_type in ("execute_result", "display_data"):
                for mime in list(out.data):
                    if isinstance(out.data[mime], str) and (mime.startswith("text/") or mime.endswith("json")):
                        out.data[mime] = self._scrub(out.data[mime])
        return cell, resources


class ClearWidgetState(NbGraderPreprocessor):
    """Drop the ipywidgets state that an executed source notebook carries in its metadata.

    A solution notebook run by ``make notebooks`` stores the state of its widgets (a progress display's last
    text: "epoch 30/30 ... test_acc 0.962") in ``metadata.widgets``; nbgrader's ``ClearOutput`` leaves it, so a
    release would give away the solution's settings and results. Runs in ``GenerateAssignment``.
    """

    def preprocess(self, nb, resources):
        nb.metadata.pop("widgets", None)
        for cell in nb.cells:
            cell.metadata.pop("widgets", None)
        return nb, resources


class ReliableExecute(SlicedReplyPolling, Execute):
    """nbgrader's ``Execute`` waiting for each cell's reply in short slices (:mod:`dlcourse._execution`): a lost
    wake-up of the jupyter client costs a quarter of a second, not the cell timeout. Used by ``nbgrader validate``.

    A test cell gets ``test_timeout`` seconds instead of ``timeout``: its checks stop every call of the student's
    code at their own limits (ps4 allows 60 s per training and trains twice in one cell, which takes 29 s on an idle
    2-core machine), so the cell timeout there is only the backstop. With ``timeout`` (30 s) Validate interrupted
    correct answers on a busy or slow machine.
    """

    test_timeout = Integer(300, help="Seconds a test cell (a grade cell without a solution) may run; the checks "
                                     "in it limit each call of the student's code themselves").tag(config=True)

    def runs_tests(self, cell) -> bool:
        """Whether this kernel runs ``cell`` as a test cell, which gets ``test_timeout``."""
        return cell_role(cell) == "test"

    def _get_timeout(self, cell):
        timeout = super()._get_timeout(cell)
        if cell is not None and timeout is not None and self.runs_tests(cell):
            return max(timeout, self.test_timeout)
        return timeout


def validate_with_reliable_execute() -> None:
    """Make nbgrader's ``Validator`` (``nbgrader validate`` and the Validate button) execute with ReliableExecute.

    In nbgrader 0.9.6 ``Validator.preprocessors`` is not a configurable trait: ``c.Validator.preprocessors`` is
    ignored with a warning, and Validate sat out the whole cell timeout after each cell with a progress widget
    (ps4: over 3 minutes in JupyterLab instead of about 25 s). Its default list is the only way in; called from
    ``nbgrader_config.py``, which both the command and the Validate button's server handler load.
    """
    from nbgrader.validator import Validator

    trait = Validator.class_traits()["preprocessors"]
    trait.default_args = ([ReliableExecute if pp is Execute else pp for pp in trait.default()],)
    if ReliableExecute not in Validator().preprocessors:
        raise RuntimeError("nbgrader's Validator no longer takes its preprocessors from the trait's default")


class ResilientExecute(ReliableExecute):
    """nbgrader's ``Execute``, except that a dying kernel does not drop the whole submission.

    When student code kills the kernel (``os._exit``, a segfault, the memory limit), nbclient raises
    ``DeadKernelError`` and nbgrader discards the submission: the gradebook then shows 0 as if it were a real
    score. Here the cell that killed the kernel gets an error output (so a test cell scores 0), the kernel is
    restarted, the earlier non-test code cells are replayed silently to rebuild the student's state, and grading
    goes on. After ``max_restarts`` restarts, every remaining cell is marked as not run, so that no test cell is
    left without output (nbgrader would give an empty test cell full points).
    """

    max_restarts = Integer(3, help="Kernel restarts allowed per notebook before giving up").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._restarts = 0
        self._killers: set[int] = set()
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if self._restarts > self.max_restarts:
            if cell.cell_type == "code":
                cell.outputs = [_error("NotRun", f"not run: the kernel died {self._restarts} times "
                                                 f"while grading this notebook")]
            return cell, self.resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError as err:
            self._killers.add(index)
            self._restarts += 1
            if isinstance(err, CellTimedOut):
                cell.outputs.append(_error("CellTimeoutError", str(err)))
            else:
                cell.outputs.append(_error("KernelDied", "the kernel died while running this cell (os._exit, a crash "
                                                         "or running out of memory); grading went on in a new kernel"))
            self.log.warning("Kernel died in cell %d; restart %d of %d", index, self._restarts, self.max_restarts)
            if not isinstance(err, CellTimedOut) and hasattr(self, "_events"):
                self._events.append({"cell": index, "what": "the kernel died (os._exit, a crash, the memory limit)"})
            if self._restarts <= self.max_restarts:
                self._restart_and_replay(index)
            return cell, self.resources

    def _restart_and_replay(self, index: int) -> None:
        self._before_restart()
        run_sync(self.km.restart_kernel)(now=True)
        self.kc.stop_channels()
        self.kc = self.km.client()
        self.kc.start_channels()
        run_sync(self.kc.wait_for_ready)(timeout=self.startup_timeout)
        for i, earlier in enumerate(self.nb.cells[:index]):
            if earlier.cell_type != "code" or i in self._killers or is_grade(earlier):
                continue
            try:
                self.execute_cell(copy.deepcopy(earlier), i, store_history=False)
            except DeadKernelError:  # it did not kill the kernel the first time: give up on replaying
                self._killers.add(i)
                self._restarts += 1
                return

    def _before_restart(self) -> None:
        """Hook: what to clean up before the kernel is restarted."""


class CellTimedOut(DeadKernelError):
    """A cell ran past its timeout and its kernel was stopped (the interrupt may be swallowed by the code)."""


def cell_role(cell) -> str:
    """``"test"`` for a graded test cell, ``"setup"`` for a locked cell of the instructor's that is not an answer
    (imports), ``"student"`` for everything a student may write. A cell without a ``grade_id`` is never the
    instructor's (:class:`ForgetForgedCells` removes the metadata of cells the gradebook does not know)."""
    meta = cell.metadata.get("nbgrader", {})
    if cell.cell_type != "code":
        return "text"
    if not meta.get("grade_id"):
        return "student"
    if meta.get("grade") and not meta.get("solution"):
        return "test"
    if meta.get("locked") and not meta.get("solution"):
        return "setup"
    return "student"


def gradebook_cells(resources) -> dict[str, dict] | None:
    """The instructor's cells of this notebook as the gradebook knows them: ``{grade_id: {"locked", "grade",
    "solution", "source"}}``; None when ``resources`` do not say which gradebook and notebook (not autograding)."""
    from nbgrader.api import Gradebook, MissingEntry

    info = (resources or {}).get("nbgrader", {})
    if not all(key in info for key in ("db_url", "notebook", "assignment")):
        return None
    try:
        with Gradebook(info["db_url"]) as gradebook:
            notebook = gradebook.find_notebook(info["notebook"], info["assignment"])
            graded = {c.name for c in notebook.grade_cells}
            answers = {c.name for c in notebook.solution_cells}
            return {c.name: {"locked": bool(c.locked), "grade": c.name in graded, "solution": c.name in answers,
                             "source": c.source} for c in notebook.source_cells}
    except MissingEntry:
        return {}


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels start inside a :class:`dlcourse.grading.sandbox.Sandbox`."""

    sandbox = Any(help="the Sandbox the kernel runs in")

    def format_kernel_cmd(self, extra_arguments=None):
        return self.sandbox.wrap(super().format_kernel_cmd(extra_arguments))

    async def _async_start_kernel(self, **kw):
        kw["env"] = self.sandbox.environment()
        kw["cwd"] = str(self.sandbox.dir)
        # the kernel's own terminal output (its banner; whatever student code writes to file descriptors 1 and 2
        # directly) must not flood the grader's terminal or log: cell outputs travel over the kernel's sockets
        kw["stdout"] = kw["stderr"] = subprocess.DEVNULL
        return await super()._async_start_kernel(**kw)

    start_kernel = _async_start_kernel


_LOGGED_PROTECTIONS: set[str] = set()


class IsolatedExecute(ResilientExecute):
    """Autograding in which the verdict is decided where no student code ever ran.

    The student's cells run in a kernel inside a :class:`~dlcourse.grading.sandbox.Sandbox` (one per
    submission, thrown away afterwards, every process it started killed). The instructor's setup cells run
    there too and, again, here; the test cells run only here, in a namespace where each name the student
    defined is fetched from the kernel as plain data or as a proxy (:mod:`dlcourse.grading.remote`). The test
    cell's output and error are written by this process, so nbgrader's scoring, feedback and formgrader see
    ordinary results. A cell that runs past ``timeout`` (even one that swallows the interrupt) stops the
    kernel, which is restarted with the earlier cells replayed: it costs that cell, not every cell after it.
    """

    max_restarts = Integer(10, help="Kernel restarts allowed per notebook before giving up (a function that kills "
                                    "the kernel does so in every cell that calls it)").tag(config=True)
    use_bubblewrap = Bool(True, help="Run kernels inside bubblewrap when it works here").tag(config=True)
    memory_limit = Integer(4 * 2**30, help="Bytes of memory per submission (cgroup)").tag(config=True)
    max_processes = Integer(256, help="Processes per submission (cgroup)").tag(config=True)
    cpu_seconds = Integer(900, help="CPU seconds per process of a submission").tag(config=True)
    output_limit = Integer(200_000, help="Bytes of text output kept per cell").tag(config=True)
    fork_server = Bool(True, help="Fork each kernel from a server that has already imported the usual modules "
                                  "(dlcourse.grading.zygote); needs bubblewrap and cgroups").tag(config=True)
    preload = List(Unicode(), default_value=list(DEFAULT_PRELOAD),
                   help="Modules the fork server imports once, besides those the notebook's setup cells import "
                        "(those missing are skipped)").tag(config=True)
    kernel_threads = Integer(1, min=1, help="Threads of the numerical libraries in each kernel (OMP_NUM_THREADS, ...): "
                                            "1 suits one grading worker per core").tag(config=True)

    def runs_tests(self, cell) -> bool:
        """Never: confirmed test cells run here, so every cell the kernel runs is the student's (the plain timeout)."""
        return False

    def preprocess(self, nb, resources=None, km=None):
        from nbgrader.coursedir import CourseDirectory

        from .remote import RemoteSession, TrustedNamespace
        from .sandbox import Sandbox

        self._instructor = gradebook_cells(resources)
        coursedir = CourseDirectory(config=self.config)
        hidden = {coursedir.root}
        for sub in (coursedir.source_directory, coursedir.release_directory, coursedir.submitted_directory,
                    coursedir.autograded_directory, coursedir.feedback_directory, coursedir.solution_directory):
            hidden.add(os.path.join(coursedir.root, sub))
        db = coursedir.db_url
        if db.startswith("sqlite:///"):
            hidden.add(os.path.dirname(os.path.abspath(db[len("sqlite:///"):])))
        server = None
        if self.fork_server and self.use_bubblewrap:
            from .zygote import server_for

            from IPython.core.inputtransformer2 import TransformerManager

            from .zygote import setup_imports

            setup = [TransformerManager().transform_cell(c.source) for c in nb.cells if self._role(c) == "setup"]
            preload = list(dict.fromkeys(list(self.preload) + setup_imports(setup)))
            server = server_for(sorted(hidden), [sys.prefix], memory_bytes=self.memory_limit,
                                max_processes=self.max_processes, cpu_seconds=self.cpu_seconds,
                                threads=self.kernel_threads, preload=preload, log=self.log)
        if server is not None:
            from .zygote import ForkedSandbox

            sandbox = ForkedSandbox(server, memory_bytes=self.memory_limit, cpu_seconds=self.cpu_seconds)
        else:
            sandbox = Sandbox(hidden=sorted(hidden), keep=[sys.prefix], memory_bytes=self.memory_limit,
                              max_processes=self.max_processes, cpu_seconds=self.cpu_seconds,
                              use_bubblewrap=self.use_bubblewrap, threads=self.kernel_threads)
        summary = sandbox.protections.summary()
        if summary not in _LOGGED_PROTECTIONS:
            _LOGGED_PROTECTIONS.add(summary)
            (self.log.warning if sandbox.protections.missing else self.log.info)(summary)
        kernel_name = self.kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
        manager = SandboxedKernelManager(sandbox=sandbox, kernel_name=kernel_name, config=self.config,
                                         transport="ipc", ip=str(sandbox.dir / "kernel"))
        manager.connection_file = str(sandbox.dir / "kernel.json")
        self._sandbox = sandbox
        self._session = RemoteSession(sandbox.dir, self._start_serving, self._stop_kernel)
        self._trusted = TrustedNamespace(self._session)
        self._count = 0
        self._events: list[dict] = []
        start = time.monotonic()
        try:
            nb, resources = super().preprocess(nb, resources, km=manager)
            # what happened, for the instructor's report (not shown in feedback)
            nb.metadata["dlcourse_grading"] = {
                "seconds": round(time.monotonic() - start, 2), "restarts": self._restarts, "events": self._events,
                "switched_off": sorted(self._session.switched_off), "protections_off": sandbox.protections.missing}
            return nb, resources
        finally:
            with contextlib.suppress(Exception):
                self._session.close()
            with contextlib.suppress(Exception):
                if self.kc is not None:
                    self.kc.stop_channels()
            with contextlib.suppress(Exception):
                run_sync(manager.shutdown_kernel)(now=True)
            sandbox.close()
            self.km = self.kc = None

    # --- cells ---

    def _role(self, cell) -> str:
        """:func:`cell_role`, confirmed by the gradebook when autograding: a test or setup cell runs here only if
        the gradebook has a cell of that kind under its ``grade_id`` with this source (nbgrader's notice on a
        restored cell, comment lines, may come first). Whatever else claims to be one runs in the sandbox. The
        pipeline's :class:`ForgetForgedCells` already removes forged metadata; this holds even without it."""
        role = cell_role(cell)
        if role not in ("test", "setup") or self._instructor is None:
            return role
        known = self._instructor.get(cell.metadata["nbgrader"]["grade_id"])
        if known is None or known["solution"]:
            expected = None
        else:
            expected = "test" if known["grade"] else "setup" if known["locked"] else None
        prefix = cell.source[:len(cell.source) - len(known["source"])] if known else ""
        if (expected != role or not cell.source.endswith(known["source"])
                or any(line.strip() and not line.lstrip().startswith("#") for line in prefix.splitlines())):
            self.log.warning("Cell %s claims to be the instructor's %s cell but the gradebook disagrees: it runs as "
                             "the student's", cell.metadata["nbgrader"].get("grade_id"), role)
            return "student"
        return role

    def preprocess_cell(self, cell, resources, index):
        self._index = index
        role = self._role(cell)
        if role == "test":
            if self._restarts > self.max_restarts:
                cell.outputs = [_error("NotRun", f"not run: the kernel died {self._restarts} times while grading "
                                                 f"this notebook")]
            else:
                self._run_test(cell, index)
            return cell, self.resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except Exception as err:  # garbage on the kernel's channels (e.g. from a forked child): this cell, not all
            self.log.warning("Cell %d broke the kernel connection (%s); restarting", index, err)
            self._killers.add(index)
            self._restarts += 1
            cell.outputs.append(_error("KernelDied", f"the kernel stopped responding properly while running this cell "
                                                     f"({type(err).__name__}); grading went on in a new kernel"))
            self._stop_kernel()
            if self._restarts <= self.max_restarts:
                self._restart_and_replay(index)
        if role == "setup":
            self._run_here(cell.source, f"<setup cell {index}>")
        _cap_outputs(cell, self.output_limit)
        return cell, resources

    def _run_here(self, source: str, filename: str) -> tuple[str, str, BaseException | None]:
        """Execute instructor code in the trusted namespace; returns (stdout, stderr, exception)."""
        from IPython.core.inputtransformer2 import TransformerManager

        from . import guard

        out, err = io.StringIO(), io.StringIO()
        failure = None
        try:
            code = compile(TransformerManager().transform_cell(source), filename, "exec")
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), guard.remote_mode(self._session):
                exec(code, self._trusted)
        except Exception as exc:
            failure = exc
        finally:
            self._end_serving()
        return out.getvalue(), err.getvalue(), failure

    def _run_test(self, cell, index: int) -> None:
        stdout, stderr, failure = self._run_here(cell.source, f"<test cell {index}>")
        outputs = []
        if stdout:
            outputs.append(new_output("stream", name="stdout", text=stdout))
        if stderr:
            outputs.append(new_output("stream", name="stderr", text=stderr))
        if failure is not None:
            render = getattr(failure, "_render_traceback_", None)
            lines = render() if render else [f"{type(failure).__name__}: {failure}"]
            outputs.append(new_output("error", ename=type(failure).__name__, evalue=str(failure), traceback=lines))
        self._count += 1
        cell.outputs = outputs
        cell.execution_count = self._count
        _cap_outputs(cell, self.output_limit)

    # --- the kernel's side of a test cell ---

    def _start_serving(self, expression: str) -> str:
        return self.kc.execute("", silent=True, store_history=False, allow_stdin=False,
                               user_expressions={"dlcourse_grader": expression})

    def _end_serving(self) -> None:
        msg_id = self._session.close()
        if self._session.broken:
            self._session.broken = False
            self._restarts += 1
            self.log.warning("Kernel stopped during a test cell; restart %d of %d", self._restarts, self.max_restarts)
            self._events.append({"cell": self._index, "what": "kernel stopped during a test (time limit or crash)"})
            if self._restarts <= self.max_restarts:
                self._restart_and_replay(self._index)
            return
        if msg_id is None:
            return
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            try:
                msg = run_sync(self.kc.shell_channel.get_msg)(timeout=1.0)
            except Exception:
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return
        self._stop_kernel()  # the serve loop did not end: start afresh
        self._restarts += 1
        if self._restarts <= self.max_restarts:
            self._restart_and_replay(self._index)

    def _stop_kernel(self) -> None:
        """Kill the kernel and everything it started; the manager stays usable for a restart."""
        self._sandbox.kill()
        with contextlib.suppress(Exception):
            run_sync(self.km._async_kill_kernel)(restart=True)

    def _before_restart(self) -> None:
        self._session.close()
        self._session.broken = False
        self._sandbox.kill()

    def _restart_and_replay(self, index: int) -> None:
        super()._restart_and_replay(index)
        if self._session.switched_off:  # functions that ran out of time stay switched off in the new kernel
            self._session.reapply_switch_offs()
            self._end_serving()

    async def _async_handle_timeout(self, timeout, cell=None):
        self.log.error("Cell timed out after %s s: stopping the kernel", timeout)
        self._events.append({"cell": getattr(self, "_index", None), "what": f"cell timed out ({timeout} s)"})
        self._stop_kernel()
        raise CellTimedOut(f"the cell ran past its {timeout} s time limit (a loop that never ends?); the kernel was "
                           f"stopped and grading went on in a new one")


class ForgetForgedCells(NbGraderPreprocessor):
    """A cell whose nbgrader metadata the gradebook does not know is a student's cell, whatever it claims.

    Test and setup cells run in the grader (:class:`IsolatedExecute`), so a submitted cell that *claims* to be
    one ("locked", "grade", an invented ``grade_id``) must not be taken at its word. nbgrader's ``OverwriteCells``
    only deletes the unknown ``grade_id`` and keeps the rest. This runs before it (sanitizing) and removes the
    whole nbgrader metadata of every cell whose ``grade_id`` is missing or is not a cell of this notebook in the
    gradebook: the cell then runs, like any student cell, in the sandboxed kernel. A known cell gets its kind
    back from the gradebook (locked, graded, answer): an answer cell relabelled as a test stays an answer.
    """

    def preprocess(self, nb, resources):
        known = gradebook_cells(resources) or {}
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader")
            if meta is None:
                continue
            grade_id = meta.get("grade_id")
            if grade_id not in known:
                self.log.warning("A cell claims nbgrader metadata the gradebook does not know (%s): graded as the "
                                 "student's own cell", grade_id)
                del cell.metadata["nbgrader"]
                continue
            # nbgrader restores a known cell's source and points, not what kind of cell it is: do that too
            meta["locked"], meta["grade"], meta["solution"] = (known[grade_id][k] for k in ("locked", "grade",
                                                                                             "solution"))
        return nb, resources


class DeduplicateGradeCells(NbGraderPreprocessor):
    """A graded cell pasted twice (the same grade_id) is graded once: the first copy counts, later copies become
    raw cells that do not run. Without this, nbgrader fails the whole submission (``KeyError: 'grade_id'``)."""

    def preprocess(self, nb, resources):
        seen = set()
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id is None:
                continue
            if grade_id in seen:
                cell.metadata.pop("nbgrader", None)
                cell.cell_type = "raw"
                cell.pop("outputs", None)
                cell.pop("execution_count", None)
                cell.source = f"# [a second copy of the graded cell {grade_id!r}: not run, the first copy counts]\n" \
                              + cell.source
            seen.add(grade_id)
        return nb, resources


def _cap_outputs(cell, limit: int) -> None:
    """Keep at most ``limit`` bytes of text per output and drop images larger than that."""
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            out.text = _cap_text(out.text, limit)
        elif out.output_type == "error":
            out.evalue = _cap_text(out.evalue, limit)
            out.traceback = [_cap_text(line, limit) for line in out.traceback[:200]]
        elif out.output_type in ("execute_result", "display_data"):
            for mime in list(out.get("data", {})):
                value = out.data[mime]
                if isinstance(value, str) and len(value.encode()) > limit:
                    if mime.startswith("text/"):
                        out.data[mime] = _cap_text(value, limit)
                    else:
                        del out.data[mime]
                        out.data.setdefault("text/plain", f"[{mime} output of {len(value)} bytes removed: too large]")


def _cap_text(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit].decode(errors="ignore") + f"\n[output truncated: {len(data)} bytes, {limit} kept]\n"


def _error(ename: str, evalue: str):
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class GradesCsvExport(CsvExportPlugin):
    """nbgrader's CSV export with a ``status`` column: a submission that could not be graded is never a 0.

    ``status`` is ``graded``, ``needs manual grading``, ``not submitted`` (score 0, as nbgrader has it) or
    ``could not be graded: <reason>`` — the score is then left empty and the reason says what is wrong with the
    submitted notebook (not valid JSON, not a notebook, ...) or that nbgrader failed on it (see its log).
    """

    def export(self, gradebook) -> None:
        from nbgrader.api import MissingEntry
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=self.config)
        dest = self.to or "grades.csv"
        keys = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email", "raw_score",
                "late_submission_penalty", "score", "max_score", "status"]
        rows = []
        for assignment in gradebook.assignments:
            if self.assignment and assignment.name not in [str(a) for a in self.assignment]:
                continue
            for student in gradebook.students:
                if self.student and student.id not in [str(s) for s in self.student]:
                    continue
                row = {"assignment": assignment.name, "duedate": assignment.duedate, "student_id": student.id,
                       "last_name": student.last_name, "first_name": student.first_name, "email": student.email,
                       "max_score": assignment.max_score}
                try:
                    submission = gradebook.find_submission(assignment.name, student.id)
                except MissingEntry:
                    row.update(timestamp="", raw_score=0.0, late_submission_penalty=0.0, score=0.0,
                               status="not submitted")
                else:
                    problem = ungradable_reason(coursedir, assignment.name, student.id,
                                                [nb.name for nb in assignment.notebooks])
                    if problem:
                        row.update(timestamp=submission.timestamp, raw_score="", late_submission_penalty="",
                                   score="", status=f"could not be graded: {problem}")
                        self.log.warning("%s / %s could not be graded: %s", assignment.name, student.id, problem)
                    else:
                        penalty = submission.late_submission_penalty or 0.0
                        row.update(timestamp=submission.timestamp, raw_score=submission.score,
                                   late_submission_penalty=penalty, score=max(0.0, submission.score - penalty),
                                   status="needs manual grading" if submission.needs_manual_grade else "graded")
                rows.append(row)
        with open(dest, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: "" if row.get(k) is None else row[k] for k in keys})


def ungradable_reason(coursedir, assignment: str, student: str, notebooks: list[str]) -> str | None:
    """Why a submission has no autograded result, or None if every notebook was autograded."""
    for name in notebooks:
        graded = os.path.join(coursedir.format_path(coursedir.autograded_directory, student, assignment), name + ".ipynb")
        if os.path.exists(graded):
            continue
        submitted = os.path.join(coursedir.format_path(coursedir.submitted_directory, student, assignment),
                                 name + ".ipynb")
        if not os.path.exists(submitted):
            return f"{name}.ipynb is missing from the submission"
        try:
            nbformat.read(submitted, as_version=4)
        except Exception as err:  # not JSON, not a notebook, an unknown format
            return f"{name}.ipynb is not a valid notebook ({type(err).__name__}: {str(err)[:120]})"
        return f"nbgrader failed on {name}.ipynb (see the autograde log), or it was not autograded yet"
    return None
