"""nbgrader preprocessors that ``nbgrader_config.py`` plugs into the instructor's pipeline."""

from __future__ import annotations

import re

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer, Unicode

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
