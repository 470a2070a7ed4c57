"""The instructor's report on one graded assignment: an HTML page with figures, from the gradebook and the
autograded notebooks.

    dlcourse report ps1        # grading/reports/ps1.html (or python -m dlcourse.grading.report ps1)

* the distribution of the scores, question by question (one small histogram each);
* the most frequent failure messages of each test, with how many submissions got them;
* the grading time of each submission (from what :class:`~dlcourse.grading.nbgrader_ext.IsolatedExecute` records);
* every submission that needed a kernel restart, timed out, had a function stopped at its time limit, was graded
  with a protection off, or could not be graded at all, with the reason.

Figures are matplotlib PNGs embedded in the page: it is one file, to keep or send, that works offline.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import re
import sys
from collections import Counter
from pathlib import Path

import nbformat


def _figure_png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = re.sub(r"\(case \d+ of \d+\)", "(case …)", line)
    return re.sub(r"-?\d+\.\d+(e-?\d+)?", "…", line)[:160]  # numbers vary between students: group by the words


def collect(course_root: str | Path, assignment: str) -> dict:
    """Everything the report shows, as plain data (the test looks at it too)."""
    from nbgrader.api import Gradebook, MissingEntry

    from .nbgrader_ext import RedactHiddenTests, ungradable_reason
    from .results import load_course

    config, coursedir = load_course(course_root)
    scores: dict[str, dict[str, float]] = {}
    maxima: dict[str, float] = {}
    failures: dict[str, Counter] = {}
    seconds: dict[str, float] = {}
    incidents: list[tuple[str, str]] = []
    with Gradebook(coursedir.db_url) as gradebook:
        notebooks = [nb.name for nb in gradebook.find_assignment(assignment).notebooks]
        for student in sorted(s.id for s in gradebook.students):
            try:
                submission = gradebook.find_submission(assignment, student)
            except MissingEntry:
                continue
            problem = ungradable_reason(coursedir, assignment, student, notebooks)
            if problem:
                incidents.append((student, f"could not be graded: {problem}"))
                continue
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.needs_manual_grade:
                        continue
                    scores.setdefault(grade.name, {})[student] = float(grade.score or 0.0)
                    maxima[grade.name] = float(grade.max_score)
                path = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment)) / \
                    f"{notebook.name}.ipynb"
                nb = nbformat.read(path, as_version=4)
                nb, _ = RedactHiddenTests(config=config).preprocess(
                    nb, {"nbgrader": {"assignment": assignment, "notebook": notebook.name}})
                record = nb.metadata.get("dlcourse_grading", {})
                if "seconds" in record:
                    seconds[student] = float(record["seconds"])
                for event in record.get("events", []):
                    incidents.append((student, f"cell {event.get('cell')}: {event.get('what')}"))
                for name in record.get("switched_off", []):
                    incidents.append((student, f"{name} was stopped at its time limit"))
                for off in record.get("protections_off", []):
                    incidents.append((student, f"graded with a protection off: {off}"))
                for cell in nb.cells:
                    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                    errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
                    if grade_id and errors and cell.cell_type == "code":
                        failures.setdefault(grade_id, Counter())[_first_line(f"{errors[0].ename}: {errors[0].evalue}")] += 1
    return {"assignment": assignment, "scores": scores, "maxima": maxima, "failures": failures, "seconds": seconds,
            "incidents": incidents}


def render(data: dict) -> str:
    """The HTML page of :func:`collect`'s data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tests = sorted(data["scores"])
    parts = [f"<h1>Grading report: {html.escape(data['assignment'])}</h1>"]
    n_students = len({s for by in data["scores"].values() for s in by})
    parts.append(f"<p>{n_students} submissions graded, {len(tests)} automatically graded tests.</p>")
    if tests:
        cols = min(3, len(tests))
        rows = (len(tests) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
        for ax, test in zip(axes.ravel(), tests):
            values = list(data["scores"][test].values())
            top = data["maxima"][test]
            ax.hist(values, bins=[x - 0.25 for x in range(int(top) + 2)], color="tab:blue", rwidth=0.8)
            ax.set(title=test, xlabel=f"points (of {top:g})", ylabel="submissions")
        for ax in axes.ravel()[len(tests):]:
            ax.axis("off")
        fig.tight_layout()
        parts.append(f'<h2>Scores per question</h2><img alt="scores per question" '
                     f'src="data:image/png;base64,{_figure_png(fig)}">')
        plt.close(fig)
    if data["seconds"]:
        fig, ax = plt.subplots(figsize=(8, 3))
        names = sorted(data["seconds"], key=data["seconds"].get)
        ax.barh(range(len(names)), [data["seconds"][n] for n in names], color="tab:gray")
        ax.set(yticks=range(len(names)), yticklabels=names, xlabel="seconds to grade (kernel and tests)",
               title="Grading time per submission")
        ax.tick_params(axis="y", labelsize=6)
        fig.set_size_inches(8, max(3, 0.15 * len(names)))
        fig.tight_layout()
        parts.append(f'<h2>Grading time</h2><img alt="grading time" src="data:image/png;base64,{_figure_png(fig)}">')
        plt.close(fig)
    parts.append("<h2>Most frequent failures</h2>")
    for test in sorted(data["failures"]):
        rows = "".join(f"<tr><td>{count}</td><td><code>{html.escape(message)}</code></td></tr>"
                       for message, count in data["failures"][test].most_common(5))
        parts.append(f"<h3>{html.escape(test)}</h3><table><tr><th>submissions</th><th>message</th></tr>{rows}</table>")
    parts.append("<h2>Submissions that need a look</h2>")
    if data["incidents"]:
        rows = "".join(f"<tr><td>{html.escape(s)}</td><td>{html.escape(w)}</td></tr>" for s, w in data["incidents"])
        parts.append(f'<table id="incidents"><tr><th>student</th><th>what happened</th></tr>{rows}</table>')
    else:
        parts.append("<p>None: every submission was graded without a restart, a time-out or a missing protection.</p>")
    style = ("body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}img{max-width:100%}")
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(data['assignment'])} report</title>" \
           f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n"


def write(course_root: str | Path, assignment: str, out: str | Path | None = None) -> Path:
    """Write the report of ``assignment`` (default ``grading/reports/<assignment>.html``); returns its path."""
    out = Path(out) if out else Path(course_root) / "grading" / "reports" / f"{assignment}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(collect(course_root, assignment)))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="write the instructor's HTML report of a graded assignment")
    parser.add_argument("assignment")
    parser.add_argument("--course", default=".", help="the course folder (with nbgrader_config.py)")
    parser.add_argument("--out", help="the HTML file (default grading/reports/<assignment>.html)")
    args = parser.parse_args(argv)
    print(write(args.course, args.assignment, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
