"""Execute notebooks in place so that their committed outputs are fresh (`make notebooks`).

Runs each notebook top to bottom in a fresh kernel from its own folder, in fast mode on the CPU (the Makefile
unsets DLCOURSE_FULL and DLCOURSE_DEVICE), and rewrites it only if every cell succeeded. Prints the time
each one took: the README's timing figures come from here and from the nbval run. Uses
dlcourse._execution.ReliableNotebookClient: plain nbclient can sit out the whole cell timeout after a cell
with an ipywidgets Output widget (NOTES.md, "The jupyter client's lost wake-up").
"""

import argparse
import os
import sys
import time

import nbformat
from nbclient.exceptions import CellExecutionError

from dlcourse import runtime
from dlcourse._execution import ReliableNotebookClient


def execute(path: str, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = ReliableNotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                    resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
    client.execute()
    elapsed = time.perf_counter() - start
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    if errors:  # e.g. raised in a display hook rather than by the cell itself
        raise CellExecutionError("", errors[0].ename, errors[0].evalue)
    nbformat.write(nb, path)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per cell (default 300)")
    args = parser.parse_args()
    if os.environ.get("DLCOURSE_FULL") or os.environ.get("DLCOURSE_DEVICE"):
        print("refusing: committed outputs are fast-mode CPU outputs; unset DLCOURSE_FULL and DLCOURSE_DEVICE")
        return 2
    runtime.pin_cpu_kernels()  # the kernels compute as in CI, whatever the CPU (solutions do not call setup)
    failed = []
    for path in args.notebooks:
        try:
            print(f"{path}: {execute(path, args.timeout):.1f} s", flush=True)
        except CellExecutionError as err:
            failed.append(path)
            print(f"{path}: FAILED, left unchanged\n{err}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
