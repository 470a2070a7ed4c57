"""nbgrader preprocessors that ``nbgrader_config.py`` plugs into the instructor's pipeline."""

from __future__ import annotations

import copy
import re

from jupyter_core.utils import run_sync
from nbclient.exceptions import DeadKernelError
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from nbformat.v4 import new_output
from nbgrader.utils import is_grade
from traitlets import Integer, Unicode

from .._execution import SlicedReplyPolling

REDACTED = "[line of a hidden test removed]"


class RedactHiddenTests(NbGraderPreprocessor):
    """Remove every trace of hidden tests from the *outputs* of feedback notebooks.

    nbgrader's ``ClearHiddenTests`` removes the hidden lines from a cell's source, but the cell's outputs
    still show them: a traceback quotes the failing test line, a warning quotes its source line. This runs
    before ``ClearHiddenTests`` (it needs the markers to find the hidden lines) and, in every cell holding a
    hidden-test region, keeps only ``ename: evalue`` of each error and replaces any output line that contains
    a line of the hidden region.
    """

    begin = Unicode("BEGIN HIDDEN TESTS").tag(config=True)
    end = Unicode("END HIDDEN TESTS").tag(config=True)
    min_length = Integer(4, help="Hidden lines shorter than this (after stripping) are not searched for").tag(config=True)

    def hidden_lines(self, source: str) -> list[str]:
        lines, inside = [], False
        for line in source.splitlines():
            if self.begin in line:
                inside = True
            elif self.end in line:
                inside = False
            elif inside:
                text = line.strip()
                if len(text) >= self.min_length and re.search(r"\w", text) and not text.startswith("#"):
                    lines.append(text)
        return lines

    def _scrub(self, text: str, hidden: list[str]) -> str:
        return "\n".join(REDACTED if any(h in line for h in hidden) else line for line in text.split("\n"))

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code" or self.begin not in cell.source:
            return cell, resources
        hidden = self.hidden_lines(cell.source)
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                out.evalue = self._scrub(out.evalue, hidden)
                out.traceback = [f"{out.ename}: {out.evalue}"]
            elif out.output_type == "stream":
                out.text = self._scrub(out.text, hidden)
            elif out.output_type in ("execute_result", "display_data"):
                for mime in list(out.data):
                    if isinstance(out.data[mime], str) and (mime.startswith("text/") or mime.endswith("json")):
                        out.data[mime] = self._scrub(out.data[mime], hidden)
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
    wake-up of the jupyter client costs a quarter of a second, not the cell timeout. Used by ``nbgrader validate``."""


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
        except DeadKernelError:
            self._killers.add(index)
            self._restarts += 1
            cell.outputs.append(_error("KernelDied", "the kernel died while running this cell (os._exit, a crash or "
                                                     "running out of memory); grading went on in a new kernel"))
            self.log.warning("Kernel died in cell %d; restart %d of %d", index, self._restarts, self.max_restarts)
            if self._restarts <= self.max_restarts:
                self._restart_and_replay(index)
            return cell, self.resources

    def _restart_and_replay(self, index: int) -> None:
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


def _error(ename: str, evalue: str):
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])
