"""benchmarks/RESULTS.md: written from the figures (:func:`render`), and read back and checked (:func:`parse`).

The file has a "Machine" section and five numbered sections, one per benchmark, each holding one or two Markdown
tables whose columns are fixed here (``SECTIONS``): the writer and the parser share them, so a table that loses a
column, a row or a number fails :func:`parse` with a message that says where.
"""

from __future__ import annotations

import re
import shlex
import statistics
from dataclasses import dataclass

import numpy as np

from .common import FULL_SIZES, sig

NOT_MEASURED_PREFIX = "not measured"
NOT_MEASURED_TEXT = "not measured (no GPU on this machine)"
DASH = "—"


class ResultsError(ValueError):
    """RESULTS.md is missing a section or a table, or a cell does not hold what its column promises."""


@dataclass(frozen=True)
class Table:
    """A table's columns: (header, kind); kind is "text", "number" (> 0), "yesno", "signed_or_dash" (a number of
    either sign, a difference that noise can make negative, or — where there is none) or "number_or_not_measured"
    (a number > 0, or a text starting "not measured")."""

    name: str
    columns: tuple[tuple[str, str], ...]

    def headers(self) -> list[str]:
        return [header for header, _ in self.columns]


NOTEBOOKS = Table("notebooks", (("notebook", "text"), ("wall time (s)", "number"), ("peak RSS (MB)", "number"),
                                ("≤ 60 s (total: ≤ 8 min)", "yesno"), ("≤ 1 GB", "yesno")))
GRADING = Table("grading", (("assignment", "text"), ("submissions", "number"),
                            ("plain `nbgrader autograde` (s / submission)", "number"),
                            ("`dlcourse grade` (s / submission)", "number"), ("speed-up (×)", "number"),
                            ("honest submissions: identical scores", "yesno"),
                            ("infinite loop: score plain / dlcourse", "text"), ("measured", "text")))
SCALING = Table("scaling", (("submissions", "number"), ("`dlcourse grade` (s)", "number"),
                            ("fastest – slowest run (s)", "text"), ("s / submission", "number"),
                            ("s / submission since the previous row", "signed_or_dash")))
VS_TORCH = Table("vs torch", (("operation", "text"), ("numpy float64 (ms)", "number"),
                              ("torch float64 (ms)", "number"), ("torch float32 (ms)", "number"),
                              ("numpy / torch float64 (×)", "number"), ("numpy / torch float32 (×)", "number")))
GEMM = Table("gemm", (("operation (numpy, float64)", "text"), ("matrix products", "text"), ("GFLOP/s", "number"),
                      ("% of peak", "number")))
ENGINE = Table("autodiff", (("implementation", "text"), ("forward + backward (ms)", "number"),
                            ("time / Value engine's (×)", "number")))
GPU = Table("gpu", (("model", "text"), ("batches per epoch", "number"), ("CPU (s / epoch)", "number"),
                    ("GPU (s / epoch)", "number_or_not_measured"), ("GPU speed-up (×)", "number_or_not_measured"),
                    ("how", "text")))

# number, key, title, tables
SECTIONS = (
    (1, "notebooks", "Every notebook, from a fresh kernel, default size", (NOTEBOOKS,)),
    (2, "grading", "Grading throughput", (GRADING, SCALING)),
    (3, "reference", "Reference implementations vs torch (CPU)", (VS_TORCH, GEMM)),
    (4, "autodiff", "Autodiff engine: the bookkeeping of scalar nodes", (ENGINE,)),
    (5, "gpu", "GPU vs CPU, DLCOURSE_FULL=1", (GPU,)),
)
KEYS = tuple(key for _, key, _, _ in SECTIONS)


def num(v: float) -> str:
    """A number as written in the tables: positional, no exponent, no trailing zeros."""
    return np.format_float_positional(float(v), trim="-")


def yes(flag: bool) -> str:
    return "yes" if flag else "no"


def table(schema: Table, rows: list[list[str]]) -> list[str]:
    """The Markdown lines of a table with ``schema``'s headers."""
    lines = ["| " + " | ".join(schema.headers()) + " |", "|" + "---|" * len(schema.columns)]
    for row in rows:
        if len(row) != len(schema.columns):
            raise ValueError(f"a row of table {schema.name!r} has {len(row)} cells, not {len(schema.columns)}")
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return lines


# --- one renderer per section: figures (as the benchmark returns them) -> Markdown lines ------------------------


def render_notebooks(fig: dict) -> list[str]:
    rows = [[f"`{r['notebook']}`", num(r["seconds"]), num(r["peak_mb"]), yes(r["within_time"]),
             yes(r["within_memory"])] for r in fig["rows"]]
    n = len(fig["rows"])
    rows.append([f"**total, {n} notebook{'s' if n > 1 else ''}** (memory: the largest)", num(fig["total_seconds"]),
                 num(fig["max_peak_mb"]), yes(fig["within_total"]),
                 yes(all(r["within_memory"] for r in fig["rows"]))])
    runs = fig["repeat"]
    lines = table(NOTEBOOKS, rows)
    lines += ["", f"Median of {runs} run{'s' if runs > 1 else ''} per notebook. Goals: ≤ 60 s and ≤ 1 GB each, the "
              f"whole course ≤ 8 min on 2 cores: the whole course took {num(fig['total_seconds'])} s "
              f"({fig['total_seconds'] / 60:.1f} min); every notebook within both goals: {yes(fig['all_within'])}."]
    if not fig.get("complete", True):
        lines += ["", "Only the notebooks listed were run (not the whole course): the total is theirs."]
    return lines


def _loop_cell(row: dict) -> str:
    loop = row.get("infinite_loop_scores")
    if not loop:
        return "(none in this run)"
    show = [DASH if loop[k] is None else num(loop[k]) for k in ("plain", "dlcourse")]
    correct = next((plain for student, (plain, _, _) in row.get("totals", {}).items()
                    if student.endswith("_solution") and plain is not None), None)
    return (f"{show[0]} / {show[1]} (a correct one: {DASH if correct is None else num(correct)}; "
            f"max {num(loop['max']) if loop.get('max') else DASH}, manual points included)")


def _measured_cell(row: dict) -> str:
    repeat = row["repeat"]
    m = row.get("measured")
    when = f"{m['date']}, {m['cpu'] + ', ' if m.get('cpu') else ''}load {num(m['load'])}, " if m else ""
    return f"{when}{repeat} pair{'s' if repeat > 1 else ''}"


def _correct_share(rows: list[dict]) -> str:
    """How many of each 10 submissions are correct, by assignment: "6 in 10 for ps1, ps2 and ps7; 8 in 10 for ps4"."""
    by_count: dict[int, list[str]] = {}
    for r in rows:
        by_count.setdefault(r["kinds"][:10].count("solution"), []).append(r["assignment"])
    return "; ".join(f"{n} in 10 for {_and(names)}" for n, names in sorted(by_count.items()))


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _measured_note(m: dict | None) -> str:
    return f", measured {m['date']} (load {num(m['load'])}) by `{m['command']}`" if m else ""


def _spread(row: dict) -> str:
    runs = row.get("runs")
    return f"{num(min(runs))} – {num(max(runs))}" if runs and len(runs) > 1 else "one run"


def linear_fit(rows: list[dict]) -> dict | None:
    """The least-squares line seconds = start-up + per_submission * n through every run of the scaling rows, and how
    far the farthest median lies from it (percent of the line's value); None with fewer than two sizes."""
    if len(rows) < 2:
        return None
    n = [r["submissions"] for r in rows for _ in r.get("runs") or [r["seconds"]]]
    t = [s for r in rows for s in r.get("runs") or [r["seconds"]]]
    slope, intercept = statistics.linear_regression(n, t)
    off = max(abs(r["seconds"] - (intercept + slope * r["submissions"])) / (intercept + slope * r["submissions"])
              for r in rows)
    return {"per_submission": sig(slope), "start_up": sig(intercept), "worst_pct": sig(100 * off, 2), "runs": len(t)}


def render_grading(fig: dict) -> list[str]:
    rows = [[r["assignment"], num(r["submissions"]), num(r["plain_s_per_sub"]), num(r["dlcourse_s_per_sub"]),
             f"**{num(r['speedup'])}**", yes(r["identical_scores"]), _loop_cell(r), _measured_cell(r)]
            for r in fig["rows"]]
    lines = table(GRADING, rows)
    workers = f"{fig['workers']} worker{'s' if fig['workers'] > 1 else ''}"
    lines += ["", f"Each row: the same submissions graded by plain `nbgrader autograde` (nbgrader's defaults: a "
              f"fresh kernel per submission, the tests in the student's kernel, 30 s per cell) and by `dlcourse "
              f"grade` ({workers} on {fig['cores']} cores: sandboxed kernels, tests in the grader, 30 s per cell), "
              f"in turn, the median of the pairs counted in the last column (rows measured at different times "
              f"say when, and the load average at the start of that run); wall time including each "
              f"command's start-up, divided by the submissions. The mix repeats every 10 submissions: each mistake "
              f"written for the assignment once (a wrong formula, or a NameError that fails every test using the "
              f"function), the others correct ({_correct_share(fig['rows'])}); the last one, when there is one, "
              f"starts an answer cell with `while True: pass`. Scores of the honest submissions (all but the "
              f"infinite loop) compared test by test."]
    if fig["scaling"]:
        rounds = len(fig["scaling"][0].get("runs") or [0])
        each = "one run each" if rounds == 1 else f"the median of {rounds} rounds through the sizes"
        lines += ["", f"`dlcourse grade` alone on generated honest submissions of {fig['scale_assignment']} (the same "
                  f"mix, no infinite loop), {each}{_measured_note(fig.get('scaling_measured'))}:", ""]
        lines += table(SCALING, [[num(r["submissions"]), num(r["seconds"]), _spread(r), num(r["s_per_sub"]),
                                  DASH if r["marginal"] is None else num(r["marginal"])] for r in fig["scaling"]])
        lines += ["", "The last column is the cost of the submissions added since the previous row: the start-up "
                  "(workers importing nbgrader, starting their fork servers) is paid once, so the time grows "
                  "linearly when that column stays level (with few submissions between two rows, the machine's "
                  "noise can outweigh them, even make it negative)."]
        fit = linear_fit(fig["scaling"]) if all(r.get("runs") for r in fig["scaling"]) else None
        if fit:
            lines[-1] += (f" A straight line through all {fit['runs']} runs (least squares): "
                          f"{num(fit['start_up'])} s + {num(fit['per_submission'])} s per submission; the median of "
                          f"every size lies within {num(fit['worst_pct'])} % of it.")
    return lines


def render_reference(fig: dict) -> list[str]:
    conv, mlp = fig["conv"], fig["mlp"]
    rows = [[f"conv2d forward + backward, x = {tuple(conv['x'])}, w = {tuple(conv['w'])}, stride "
             f"{conv['stride']}, padding {conv['padding']}", num(conv["numpy_ms"]), num(conv["torch_ms"]),
             num(conv["torch_float32_ms"]), f"**{num(conv['ratio'])}**", num(conv["ratio_float32"])],
            [f"MLP training step, batch {tuple(mlp['x'])} -> {mlp['hidden']} (ReLU) -> {mlp['classes']}, "
             f"cross-entropy, SGD", num(mlp["numpy_ms"]), num(mlp["torch_ms"]), num(mlp["torch_float32_ms"]),
             f"**{num(mlp['ratio'])}**", num(mlp["ratio_float32"])]]
    lines = table(VS_TORCH, rows)
    lines += ["", f"numpy: `dlcourse.convolution.conv2d_forward` + `conv2d_backward` and `dlcourse.mlp.mlp_gradients` "
              f"+ a gradient step; torch: `F.conv2d` + autograd and the same MLP (`mlp.params_to_torch`: the same "
              f"weights) with `torch.optim.SGD`. Same inputs, gradients checked equal (float64) before timing. "
              f"Medians of {conv['repeat']} interleaved rounds; torch with {conv['torch_threads']} threads, numpy's "
              f"BLAS with {conv['blas_threads']}. Ratios per round: conv {num(conv['ratio_range'][0])}–"
              f"{num(conv['ratio_range'][1])}×, MLP {num(mlp['ratio_min'])}–{num(mlp['ratio_max'])}× (float64)."]
    peak = fig["peak"]
    rows = [[f"peak: `a @ b`, {peak['n']} × {peak['n']}", f"({peak['n']} × {peak['n']}) @ ({peak['n']} × "
             f"{peak['n']})", num(peak["gflops"]), "100"]]
    rows += [[r["op"], r["shape"], num(r["gflops"]), num(r["percent_of_peak"])] for r in fig["gemm"]]
    lines += ["", "GEMM-bound numpy operations as a fraction of the machine's measured matmul peak (float64, "
              "numpy's BLAS): the whole operations (from the timings above) and their bare matrix products:", ""]
    lines += table(GEMM, rows)
    return lines


ENGINE_NAMES = {"value": "`dlcourse.autodiff.Value`, one node per number",
                "torch_scalars": "torch 0-d float64 tensors (requires_grad), one per number, same graph",
                "torch_tensors": "torch tensors: two matrix products (for context)",
                "numpy": "numpy arrays: `mlp.mlp_gradients` (for context)"}


def render_autodiff(fig: dict) -> list[str]:
    rows = [[ENGINE_NAMES[name], num(r["ms"]), f"**{num(r['ratio'])}**" if name == "torch_scalars" else num(r["ratio"])]
            for name, r in fig["rows"].items()]
    d, h, k = fig["size"]
    lines = table(ENGINE, rows)
    lines += ["", f"Forward + backward of the MLP {d} -> {h} (ReLU) -> {k} with softmax cross-entropy on one sample "
              f"(lecture 05's moons network; its Value graph has {fig['nodes']} nodes), the parameters wrapped "
              f"afresh each time. Medians of {fig['repeat']} interleaved rounds, torch on 1 thread; every way gives "
              f"the same gradients (largest difference {fig['max_abs_difference']:.1g})."]
    return lines


def render_gpu(fig: dict) -> list[str]:
    rows = []
    for r in fig["rows"]:
        how = (f"CPU: {r['cpu_batches_timed']} batches of {r['batch']} timed, x {r['batches_per_epoch']}"
               if r["cpu_extrapolated"] else f"CPU: a whole epoch of batches of {r['batch']}")
        if r["gpu_s_per_epoch"] is not None:
            how += "; GPU: a whole epoch"
        gpu = [num(r["gpu_s_per_epoch"]), f"**{num(r['speedup'])}**"] if r["gpu_s_per_epoch"] is not None else \
            [NOT_MEASURED_TEXT, NOT_MEASURED_TEXT]
        rows.append([f"{r['model']}: {r['what']}", num(r["batches_per_epoch"]), num(r["cpu_s_per_epoch"]), *gpu, how])
    lines = table(GPU, rows)
    where = f"GPU: {fig['gpu']}" if fig["gpu"] else "torch sees no CUDA GPU on this machine: the GPU columns are empty"
    lines += ["", f"Same code on both (`torch_training.fit`, `gans.train_gan`) at the lectures' full sizes, on "
              f"random data of Fashion-MNIST's shapes (60,000 rows); the training loop only, no validation pass. "
              f"Medians of {fig['rounds']} round{'s' if fig['rounds'] > 1 else ''}; torch on "
              f"{fig['torch_threads']} CPU threads. {where}."]
    return lines


RENDERERS = {"notebooks": render_notebooks, "grading": render_grading, "reference": render_reference,
             "autodiff": render_autodiff, "gpu": render_gpu}


def _machine_lines(m: dict) -> list[str]:
    load = ", ".join(num(x) for x in m["load_average"])
    return [f"- CPU: {m['cpu']}, {m['cores']} cores; RAM {num(m['ram_gb'])} GiB; GPU: {m['gpu']}",
            f"- Python {m['python']}, torch {m['torch']} ({m['torch_threads']} threads), numpy {m['numpy']} (BLAS "
            f"threads: {m['blas_threads']})",
            f"- load average at the start (1, 5, 15 min): {load}",
            f"- date: {m['date']}; commit {m['commit']}"]


def reduced(command: str) -> bool:
    """Whether ``command`` measured less than `make bench` does: fewer submissions or rounds, some notebooks only, or
    fewer workers. Choosing tables or assignments, or more rounds, is not reducing (table 2's rows say themselves
    which run measured them, over how many pairs)."""
    words = shlex.split(command)
    for option, value in zip(words, words[1:] + [""]):
        if option in ("--notebooks", "--workers") or (option in FULL_SIZES and int(value) < FULL_SIZES[option]):
            return True
    return False


def render(doc: dict) -> str:
    """RESULTS.md from the JSON document: ``{"machine", "tables": {key: {"figures", "machine", "command"}}}``."""
    lines = ["# Benchmarks", "",
             "Written by `make bench` (`python -m benchmarks`; `benchmarks/results.json` holds the same figures for "
             "machines). Each figure is a median over repeated runs; a ratio compares runs made in turn in the same "
             "process, so that a drift of the machine's speed hits both sides. Regenerate with `make bench`; one "
             "table with `python -m benchmarks --only <table>`.", ""]
    commands = {entry["command"] for entry in doc["tables"].values()}
    if any("--tiny" in c for c in commands):
        lines += ["**Smoke-size figures (`--tiny`): they show that the suite runs, not how fast anything is.**", ""]
    elif any(reduced(c) for c in commands):
        lines += ["**Some tables come from a reduced run (the options are in each section's first line): `make "
                  "bench` measures them at the sizes of the issue.**", ""]
    busy = [key for key, entry in doc["tables"].items()
            if entry["machine"]["load_average"][0] > 0.5 * (entry["machine"]["cores"] or 1)]
    if busy:
        lines += [f"**The machine was busy when {', '.join(busy)} started (load average above half its cores, "
                  "in each section's first line): those figures are slower and noisier than on an idle machine; "
                  "torch's two threads suffer most when another process holds a core.**", ""]
    lines += ["## Machine", ""] + _machine_lines(doc["machine"]) + [""]
    for number, key, title, _ in SECTIONS:
        lines += [f"## {number}. {title}", ""]
        entry = doc["tables"].get(key)
        if entry is None:
            lines += ["Not run yet.", ""]
            continue
        m = entry["machine"]
        lines += [f"_Measured {m['date']} by `{entry['command']}`, load average at its start "
                  f"{num(m['load_average'][0])}{'' if m['cpu'] == doc['machine']['cpu'] else ' on ' + m['cpu']}._", ""]
        lines += RENDERERS[key](entry["figures"]) + [""]
    return "\n".join(lines)


# --- reading it back ------------------------------------------------------------------------------------------


def _cell(text: str, kind: str, where: str):
    """The value of one cell of the given kind; ResultsError saying ``where`` if it does not fit."""
    text = text.strip().strip("*").strip()
    if kind == "text":
        if not text:
            raise ResultsError(f"{where}: empty cell")
        return text
    if kind == "yesno":
        if text not in ("yes", "no"):
            raise ResultsError(f"{where}: expected yes or no, got {text!r}")
        return text == "yes"
    if kind == "signed_or_dash" and text == DASH:
        return None
    if kind == "number_or_not_measured" and text.startswith(NOT_MEASURED_PREFIX):
        return None
    try:
        value = float(text)
    except ValueError:
        raise ResultsError(f"{where}: expected a number, got {text!r}") from None
    if kind == "signed_or_dash" and abs(value) < float("inf"):
        return value
    if not value > 0 or value == float("inf"):
        raise ResultsError(f"{where}: expected a positive number, got {text!r}")
    return value


def _tables(body: str) -> list[list[list[str]]]:
    """The Markdown tables of a section, each a list of rows (header row first, separator dropped)."""
    tables, current = [], []
    for line in body.splitlines() + [""]:
        if line.startswith("|"):
            current.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif current:
            tables.append([row for i, row in enumerate(current) if i != 1])
            current = []
    return tables


def _sections(text: str) -> dict[int, str]:
    parts = re.split(r"^## (\d+)\. .*$", text, flags=re.M)
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def parse(text: str, required=KEYS) -> dict[str, list[list[dict]]]:
    """The tables of RESULTS.md: ``{section key: [table rows]}``, each row a dict header -> value (numbers as
    floats, yes/no as bools, — and "not measured" as None). ResultsError if the machine section, a section, a
    table, a column or a row is missing, or a cell does not hold what its column promises; the tables of a section
    not in ``required`` may be missing ("Not run yet.")."""
    problems = []
    if not re.search(r"^## Machine$", text, flags=re.M):
        problems.append("no '## Machine' section")
    else:
        machine = text.split("## Machine", 1)[1].split("\n## ", 1)[0]
        for field in ("CPU:", "cores", "RAM", "Python", "torch", "numpy", "load average", "date:"):
            if field not in machine:
                problems.append(f"the Machine section does not say {field.rstrip(':')}")
    sections = _sections(text)
    out: dict[str, list[list[dict]]] = {}
    for number, key, title, schemas in SECTIONS:
        if number not in sections:
            problems.append(f"no section '## {number}. {title}'")
            continue
        found = _tables(sections[number])
        if not found and key not in required:
            continue
        if len(found) < len(schemas):
            problems.append(f"section {number} ({key}) has {len(found)} table(s), expected {len(schemas)}")
            continue
        out[key] = []
        for schema, rows in zip(schemas, found):
            if rows[0] != schema.headers():
                problems.append(f"table {schema.name!r}: columns {rows[0]}, expected {schema.headers()}")
                continue
            if len(rows) < 2:
                problems.append(f"table {schema.name!r} has no rows")
                continue
            parsed = []
            for i, row in enumerate(rows[1:], 1):
                if len(row) != len(schema.columns):
                    problems.append(f"table {schema.name!r}, row {i}: {len(row)} cells, expected "
                                    f"{len(schema.columns)}")
                    continue
                try:
                    parsed.append({h: _cell(c, kind, f"table {schema.name!r}, row {i}, column {h!r}")
                                   for (h, kind), c in zip(schema.columns, row)})
                except ResultsError as err:
                    problems.append(str(err))
            out[key].append(parsed)
    if problems:
        raise ResultsError("benchmarks/RESULTS.md does not parse:\n  " + "\n  ".join(problems))
    return out
