"""The instructor's command, ``dlcourse``:

    dlcourse grade ps3          # autograde every submission on a parallel, resumable queue (dlcourse.grading.queue)
    dlcourse results ps3        # Gradescope results.json per submission (dlcourse.grading.results)
    dlcourse report ps3         # the HTML report with figures (dlcourse.grading.report)

Every other step of the course's grading is a plain nbgrader command on the same gradebook
(``nbgrader generate_assignment``, ``generate_feedback``, ``export``, the formgrader).
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from . import queue, report, results

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="dlcourse", description=__doc__.split("\n\n")[0].rstrip(":"),
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    grade = commands.add_parser("grade", help="autograde an assignment on a parallel, resumable queue",
                                description=queue.__doc__.split("\n\n")[0])
    queue.add_arguments(grade)
    commands.add_parser("results", help="write Gradescope results.json files", add_help=False)
    commands.add_parser("report", help="write the instructor's HTML report", add_help=False)
    if argv and argv[0] in ("results", "report"):
        return (results if argv[0] == "results" else report).main(argv[1:])
    args = parser.parse_args(argv)
    return queue.run(args)


if __name__ == "__main__":
    sys.exit(main())
