"""Run the benchmark suite and write benchmarks/RESULTS.md and benchmarks/results.json (`make bench`).

    .venv/bin/python -m benchmarks                      # everything, about 27 minutes on 2 idle cores
    .venv/bin/python -m benchmarks --tiny --out /tmp/r.md   # every table on a smoke size, one or two minutes
    .venv/bin/python -m benchmarks --only gpu           # one table (or several); the others are kept from results.json

The figures go to ``--json`` (default: results.json next to ``--out``), written after each table, and RESULTS.md is
rendered from it: with ``--only``, the tables not run are taken from that JSON when it exists (after a failure,
``--only`` the tables left); ``--render`` rewrites RESULTS.md from it. Progress goes to stderr.

Table 2 (grading) accumulates: a run keeps from results.json the rows of the assignments it did not grade and the
scaling rows when it ran none, each row saying when it was measured and over how many pairs. Every assignment,
3 pairs each, would take hours on 2 cores, so the rows beyond `make bench`'s ps1 and ps3 are filled in one run at a
time, e.g. ``python -m benchmarks --only grading --assignments ps6 --grading-repeat 3 --scale``, and the scaling
run alone with ``--only grading --assignments --scale 20 50 100 200 --grading-repeat 3``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

from . import common, grading, report
from .common import progress

DEFAULT_OUT = common.ROOT / "benchmarks" / "RESULTS.md"
FULL_GRADING = ("ps1", "ps3")  # ps7 fits too on an idle machine (--assignments ps1 ps3 ps7); ps2, ps4-ps6 do not
FULL_SCALE = (20, 200)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="smoke sizes: every table in one or two minutes")
    parser.add_argument("--only", nargs="+", choices=report.KEYS, metavar="TABLE",
                        help=f"run only these tables ({', '.join(report.KEYS)})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="the Markdown file (default benchmarks/RESULTS.md)")
    parser.add_argument("--json", type=Path, help="the JSON file (default: results.json next to --out)")
    parser.add_argument("--render", action="store_true", help="run nothing: rewrite --out from the JSON file")
    parser.add_argument("--notebooks", nargs="+", help="notebooks for table 1 (default: every lecture and solution)")
    parser.add_argument("--notebook-repeat", type=int, default=1, help="runs per notebook (default 1)")
    parser.add_argument("--assignments", nargs="*", choices=grading.ASSIGNMENTS, metavar="PS",
                        help=f"table 2's assignments (default {' '.join(FULL_GRADING)}; none: the scaling run only)")
    parser.add_argument("--submissions", type=int, help="submissions per assignment (default 20)")
    parser.add_argument("--scale", type=int, nargs="*", help=f"table 2's scaling sizes (default "
                                                            f"{' '.join(map(str, FULL_SCALE))}; none: skip)")
    parser.add_argument("--scale-assignment", choices=grading.ASSIGNMENTS, metavar="PS",
                        help="the scaling run's assignment (default ps3)")
    parser.add_argument("--grading-repeat", type=int, default=1,
                        help="pairs of grading runs, and rounds of the scaling run (default 1)")
    parser.add_argument("--workers", type=int, help="dlcourse grade's workers (default: one per core)")
    parser.add_argument("--repeat", type=int, default=common.FULL_SIZES["--repeat"],
                        help=f"rounds of tables 3 and 4 (default {common.FULL_SIZES['--repeat']})")
    parser.add_argument("--gpu-rounds", type=int, default=common.FULL_SIZES["--gpu-rounds"],
                        help=f"rounds of table 5 (default {common.FULL_SIZES['--gpu-rounds']})")
    args = parser.parse_args(argv)
    for name in ("notebook_repeat", "grading_repeat", "repeat", "gpu_rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def run_table(key: str, args: argparse.Namespace) -> dict:
    """The figures of one table, with the options of ``args``."""
    if key == "notebooks":
        from . import notebooks

        return notebooks.measure(args.notebooks, args.notebook_repeat, args.tiny)
    if key == "grading":
        tiny = args.tiny
        assignments = args.assignments if args.assignments is not None else ["ps7"] if tiny else list(FULL_GRADING)
        return grading.measure(assignments,
                               args.submissions or (1 if tiny else common.FULL_SIZES["--submissions"]),
                               args.scale if args.scale is not None else ([1] if tiny else list(FULL_SCALE)),
                               args.workers or (1 if tiny else None), args.grading_repeat,
                               scale_assignment=args.scale_assignment or ("ps7" if tiny else grading.SCALE_ASSIGNMENT))
    if key == "reference":
        from . import reference

        return reference.measure(args.tiny, args.repeat)
    if key == "autodiff":
        from . import engine

        return engine.measure(args.tiny, args.repeat)
    from . import gpu

    return gpu.measure(args.tiny, args.gpu_rounds)


def measured_by(entry: dict) -> dict:
    """When, how and under what load a table's figures were measured (kept with each grading row)."""
    m = entry["machine"]
    return {"date": m["date"], "cpu": m["cpu"], "load": m["load_average"][0], "commit": m["commit"],
            "command": entry["command"]}


def accumulate_grading(entry: dict, previous: dict | None) -> None:
    """Table 2 accumulates across runs: the rows of assignments this run did not grade, and the scaling rows when it
    ran none, are kept from ``previous`` (the table in results.json), each still saying when and how it was
    measured. A full comparison of all seven assignments, a median of several pairs each, takes hours, more than
    one sitting on 2 cores: it is measured an assignment or two at a time (``--only grading --assignments ps6
    --grading-repeat 3 --scale``)."""
    figures, now = entry["figures"], measured_by(entry)
    for row in figures["rows"]:
        row["measured"] = now
    if figures["scaling"]:
        figures["scaling_measured"] = now
    if not previous:
        return
    before = previous["figures"]
    done = {row["assignment"] for row in figures["rows"]}
    kept = [{**row, "measured": row.get("measured") or measured_by(previous)} for row in before["rows"]
            if row["assignment"] not in done]
    figures["rows"] = sorted(figures["rows"] + kept, key=lambda row: grading.ASSIGNMENTS.index(row["assignment"]))
    if not figures["scaling"] and before.get("scaling"):
        figures["scaling"], figures["scale_assignment"] = before["scaling"], before["scale_assignment"]
        figures["scaling_measured"] = before.get("scaling_measured") or measured_by(previous)
    figures["identical_scores"] = all(row["identical_scores"] for row in figures["rows"])


def load(path: Path) -> dict:
    """The JSON document at ``path`` (empty if there is none)."""
    if not path.exists():
        return {"tables": {}}
    doc = json.loads(path.read_text())
    if not isinstance(doc.get("tables"), dict):
        raise SystemExit(f"{path} is not a results file of this suite (no 'tables'); move it away or pick --json")
    return doc


def write_markdown(doc: dict, out: Path) -> None:
    """RESULTS.md from the JSON document, after checking that it parses back."""
    text = report.render(doc)
    report.parse(text, required=doc["tables"].keys())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.environ.get("DLCOURSE_FULL") or os.environ.get("DLCOURSE_DEVICE"):
        print("refusing: the notebooks are measured at the default size on the CPU (table 5 sets DLCOURSE_FULL "
              "itself); unset DLCOURSE_FULL and DLCOURSE_DEVICE (make bench does)", file=sys.stderr)
        return 2
    json_path = args.json or args.out.with_name("results.json")
    previous = load(json_path)
    doc = previous if args.only or args.render else {"tables": {}}
    if args.render:
        if not doc["tables"]:
            raise SystemExit(f"--render: {json_path} holds no table")
        write_markdown(doc, args.out)
        return 0
    machine = common.machine()
    command = "python -m benchmarks " + shlex.join(argv if argv is not None else sys.argv[1:])
    started = time.perf_counter()
    for key in args.only or report.KEYS:
        progress(f"table {report.KEYS.index(key) + 1}: {key}")
        t0 = time.perf_counter()
        figures = run_table(key, args)
        entry = {"figures": figures, "machine": machine, "command": command.strip(),
                 "seconds": round(time.perf_counter() - t0, 1)}
        if key == "grading":  # smoke rows never mix with real ones
            accumulate_grading(entry, None if args.tiny else previous["tables"].get("grading"))
        doc["tables"][key] = entry
        doc["machine"] = machine
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(doc, indent=1) + "\n")  # a later table's failure loses nothing
        progress(f"table {report.KEYS.index(key) + 1}: {key} done in {time.perf_counter() - t0:.0f} s")
    write_markdown(doc, args.out)
    progress(f"wrote {args.out} and {json_path} in {time.perf_counter() - started:.0f} s")
    return 0
