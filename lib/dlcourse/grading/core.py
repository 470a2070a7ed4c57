"""Compare a student's function with the reference solution, and explain any difference.

An assignment's test cell calls one ``check_*`` function of its assignment module (e.g.
:mod:`dlcourse.grading.ps1`), which builds :class:`Case` objects and hands them to :func:`check_function`.
For each case the reference runs first on a copy of the inputs, then the student's function runs on
another copy, with

* a time limit: a never-ending loop fails the check instead of hanging the notebook. A function that timed
  out is then switched off in the student's notebook (its name is bound to a stub that fails at once, until
  the student re-runs the cell that defines it), so it costs the time limit once per notebook, not once per
  later cell that calls it,
* a ban on calling the reference solution (see :mod:`dlcourse.grading.guard`),
* warnings and stderr captured: they are reported on stdout (a warning must not cost points under
  nbgrader, which scores any stderr output in a test cell as 0) unless the check forbids them,
* correct versions of the student's *other* functions lent by name (``lend``), so that one mistake costs
  points in one question only.

A failure raises :class:`CheckFailed`, whose message names the case, the inputs, what was expected and what
came back, and the largest error. It never shows the reference's code, and in a notebook it is displayed
without a traceback (the lines of a hidden test must never reach a student).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import traceback
import warnings
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .guard import TimeLimitExceeded, reference_calls, time_limit

DEFAULT_TIME_LIMIT = 10.0
_timed_out: weakref.WeakSet = weakref.WeakSet()


class CheckFailed(AssertionError):
    """A student's function disagrees with the reference; the message says how."""

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of formatting frames: the student sees the message only.
        lines = str(self).splitlines() or [""]
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {lines[0]}", *lines[1:]]


@dataclass
class Case:
    """One call to check: positional ``args`` and a human description (``"random input 3 (d = 2)"``)."""

    args: tuple
    label: str
    kwargs: dict = field(default_factory=dict)


# --- describing values -----------------------------------------------------------------------------------


def describe(value, limit: int = 12) -> str:
    """A short, rounded description of a value for a feedback message."""
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return f"{float(value):.6g}" if isinstance(value, (float, np.floating)) else str(int(value))
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fiub" and value.size <= limit:
            body = np.array2string(np.asarray(value, dtype=float) if value.dtype.kind == "b" else value,
                                   precision=5, separator=", ", suppress_small=False)
            body = " ".join(body.split())  # one line, whatever the number of dimensions
            return f"array({body})" + (f" of shape {value.shape}" if value.ndim != 1 else "")
        if value.dtype.kind in "fiu" and value.size:
            return f"array of shape {value.shape} ({value.dtype}), values in [{value.min():.4g}, {value.max():.4g}]"
        return f"array of shape {value.shape} ({value.dtype})"
    if isinstance(value, tuple):
        return "(" + ", ".join(describe(v, limit) for v in value) + ")"
    if isinstance(value, list):
        return f"list of length {len(value)}"
    return f"a {type(value).__name__}"


def _describe_args(fn: Callable, case: Case) -> str:
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        names = []
    parts = []
    for i, arg in enumerate(case.args):
        name = names[i] if i < len(names) else f"arg{i}"
        parts.append(f"{name} = {describe(arg)}")
    parts += [f"{k} = {describe(v)}" for k, v in case.kwargs.items()]
    return "\n".join(f"      {p}" for p in parts)


# --- comparing values ------------------------------------------------------------------------------------


def compare_value(expected, got, name: str, rtol: float, atol: float) -> str | None:
    """None if ``got`` matches ``expected``; otherwise one sentence saying what is wrong with ``name``."""
    exp = np.asarray(expected)
    if got is None:
        return f"{name}: got None. Did you forget a `return`?"
    try:
        arr = np.asarray(got)
    except Exception:  # e.g. ragged lists
        return f"{name}: expected {_kind(exp)}, got {describe(got)} that numpy cannot turn into an array"
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        return f"{name}: expected {_kind(exp)} of numbers, got {describe(got)}"
    if exp.ndim == 0 and arr.ndim != 0:
        return f"{name}: expected a single number (a float), got an array of shape {arr.shape}"
    if arr.shape != exp.shape:
        return f"{name}: expected shape {exp.shape}, got shape {arr.shape}"
    arr = arr.astype(np.float64)
    if np.isnan(arr).any() and not np.isnan(exp).any():
        return f"{name}: contains nan (expected {describe(expected)}, got {describe(got)})"
    if np.isinf(arr).any() and not np.isinf(exp).any():
        return f"{name}: contains inf (expected {describe(expected)}, got {describe(got)})"
    if np.allclose(arr, exp, rtol=rtol, atol=atol, equal_nan=True):
        return None
    err = np.abs(np.nan_to_num(arr - exp, nan=np.inf))
    where = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
    at = f" at index {tuple(int(i) for i in where)}" if err.ndim else ""
    with np.errstate(invalid="ignore"):
        rel = float(np.max(err / np.maximum(np.abs(arr) + np.abs(exp), 1e-12)))
    return (f"{name} is wrong: expected {describe(expected)}, got {describe(got)}; "
            f"max abs error {float(err.max()):.3g}{at}, largest relative error {rel:.2g}")


def _kind(exp: np.ndarray) -> str:
    return "a single number" if exp.ndim == 0 else f"an array of shape {exp.shape}"


def _compare_outputs(expected, got, names: Sequence[str] | None, rtol: float, atol: float) -> list[str]:
    """Problems with each output; an empty list means a match. Tuples are compared element by element."""
    if names is None:
        problem = compare_value(expected, got, "the result", rtol, atol)
        return [problem] if problem else []
    if isinstance(expected, dict):  # e.g. gradients {"W1": ..., "b1": ...}: compared key by key
        if not isinstance(got, dict) or set(got) != set(expected):
            keys = "a dict with the keys " + ", ".join(repr(k) for k in names)
            found = f"keys {sorted(got)}" if isinstance(got, dict) else describe(got)
            return [f"expected {keys}, got {found}"]
        expected, got = tuple(expected[k] for k in names), tuple(got[k] for k in names)
    if not isinstance(got, (tuple, list)) or len(got) != len(names):
        want = ", ".join(names)
        return [f"expected a tuple ({want}) of {len(names)} values, got {describe(got)}"]
    problems, right = [], []
    for name, e, g in zip(names, expected, got):
        problem = compare_value(e, g, name, rtol, atol)
        (problems.append(problem) if problem else right.append(name))
    if problems and right:
        problems.append(f"{' and '.join(right)} {'is' if len(right) == 1 else 'are'} right.")
    return problems


# --- running the student's function ----------------------------------------------------------------------


@dataclass
class _Run:
    result: object = None
    error: BaseException | None = None
    timed_out: bool = False
    reference_calls: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stderr: str = ""


@contextlib.contextmanager
def _lent(fn: Callable, lend: dict[str, Callable]):
    """Temporarily replace names in ``fn``'s globals (the student's notebook) with correct functions."""
    namespace = getattr(fn, "__globals__", {})
    saved = {name: namespace[name] for name in lend if name in namespace}
    namespace.update({name: lend[name] for name in saved})
    try:
        yield
    finally:
        namespace.update(saved)


def _run_student(fn: Callable, case: Case, lend: dict[str, Callable], seconds: float) -> _Run:
    run = _Run()
    args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
    err = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        with np.errstate(over="warn", divide="warn", invalid="warn", under="ignore"), _lent(fn, lend):
            try:
                with reference_calls(allowed=lend.values()) as calls, time_limit(seconds):
                    run.result = fn(*args, **kwargs)
            except TimeLimitExceeded:
                run.timed_out = True
            except Exception as exc:  # the student's bug, reported below
                run.error = exc
    run.reference_calls = calls
    run.warnings = [f"{w.category.__name__}: {w.message}" for w in caught]
    run.stderr = err.getvalue()
    return run


def _switch_off(fn: Callable, name: str, seconds: float) -> None:
    """After a time-out: make every later call of ``fn`` (by its name in the student's notebook) fail at once."""
    _timed_out.add(fn)
    namespace = getattr(fn, "__globals__", None)
    fn_name = getattr(fn, "__name__", None)
    if namespace is None or namespace.get(fn_name) is not fn:
        return

    def switched_off(*args, **kwargs):
        raise CheckFailed(f"{name} was switched off because it ran past the {seconds:g} s time limit in its tests. "
                          f"Fix the loop and re-run the cell that defines {name}.")

    switched_off.__name__ = fn_name
    _timed_out.add(switched_off)
    namespace[fn_name] = switched_off


def _student_traceback(exc: BaseException, fn: Callable) -> str:
    """The frames of the student's code only (from the function under check downwards)."""
    frames = traceback.extract_tb(exc.__traceback__)
    start = next((i for i, f in enumerate(frames) if f.name == getattr(fn, "__name__", None)), 0)
    lines = []
    for f in frames[start:]:
        lines.append(f"      in {f.name}, line {f.lineno}: {(f.line or '').strip()}")
    return "\n".join(lines)


def check_function(
    student: Callable,
    reference: Callable,
    cases: Sequence[Case],
    *,
    name: str,
    outputs: Sequence[str] | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    lend: dict[str, Callable] | None = None,
    forbid_warnings: bool = False,
    seconds: float = DEFAULT_TIME_LIMIT,
) -> None:
    """Run ``student`` and ``reference`` on every case; raise :class:`CheckFailed` at the first difference.

    ``outputs`` names the elements of a tuple result (e.g. ``("w", "b")``), or the keys of a dict result, so
    that feedback says which one is wrong. Prints one line on success and returns None (a test cell must not produce a value: nbgrader
    would read it as partial credit).
    """
    if not cases:
        raise ValueError("check_function needs at least one Case")
    lend = dict(lend or {})
    _check_callable(student, name, seconds)
    notes: list[str] = []
    for i, case in enumerate(cases, 1):
        expected = reference(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        run = _run_student(student, case, lend, seconds)
        where = f"on {case.label} (case {i} of {len(cases)}) with\n{_describe_args(reference, case)}"
        _raise_if_it_failed(run, student, name, where, seconds, forbid_warnings)
        problems = _compare_outputs(expected, run.result, outputs, rtol, atol)
        if problems:
            listing = "\n".join(f"  - {p}" for p in problems)
            raise CheckFailed(f"{name} is not correct {where}\n{listing}")
        notes += [w for w in run.warnings + run.stderr.strip().splitlines() if w and w not in notes]
    _passed(name, len(cases), notes)


def check_behaviour(
    student: Callable,
    cases: Sequence[Case],
    judge: Callable[[Case, object], str | None],
    *,
    name: str,
    lend: dict[str, Callable] | None = None,
    seconds: float = DEFAULT_TIME_LIMIT,
) -> None:
    """Like :func:`check_function`, for answers that are judged by a property rather than compared with the
    reference (e.g. "makes at most R^2 / gamma^2 updates", "reaches 90 % test accuracy").

    ``judge(case, result)`` returns None when the student's ``result`` is acceptable, otherwise one sentence
    that says what is wrong. The same time limit, ban on calling the reference and warning capture apply.
    """
    if not cases:
        raise ValueError("check_behaviour needs at least one Case")
    lend = dict(lend or {})
    _check_callable(student, name, seconds)
    notes: list[str] = []
    for i, case in enumerate(cases, 1):
        run = _run_student(student, case, lend, seconds)
        where = f"on {case.label} (case {i} of {len(cases)}) with\n{_describe_args(student, case)}"
        _raise_if_it_failed(run, student, name, where, seconds, forbid_warnings=False)
        problem = judge(case, run.result)
        if problem:
            raise CheckFailed(f"{name} is not correct {where}\n  - {problem}")
        notes += [w for w in run.warnings + run.stderr.strip().splitlines() if w and w not in notes]
    _passed(name, len(cases), notes)


def _check_callable(student: Callable, name: str, seconds: float) -> None:
    if not callable(student):
        raise CheckFailed(f"{name} should be a function, but it is {describe(student)}")
    if student in _timed_out:
        raise CheckFailed(f"{name} is not checked again: it already ran past the {seconds:g} s time limit "
                          f"in an earlier check. Fix the loop and re-run the cell that defines {name}.")


def _raise_if_it_failed(run: _Run, student: Callable, name: str, where: str, seconds: float,
                        forbid_warnings: bool) -> None:
    """Raise CheckFailed for a run that timed out, called the reference, raised, or warned when forbidden."""
    if run.timed_out:
        _switch_off(student, name, seconds)
        raise CheckFailed(f"{name} did not finish within {seconds:g} s {where}\n"
                          f"  Is there a loop that never ends (a `while` whose condition stays true)?")
    if run.reference_calls:
        called = ", ".join(sorted(set(run.reference_calls)))
        raise CheckFailed(f"{name} calls {called}, the course library's reference solution. "
                          f"Write {name} yourself: answers that call the solution get no points.")
    if run.error is not None:
        exc = run.error
        raise CheckFailed(f"{name} raised {type(exc).__name__}: {exc}\n  {where}\n"
                          f"  where it happened:\n{_student_traceback(exc, student)}")
    if forbid_warnings and (run.warnings or run.stderr.strip()):
        shown = run.warnings[0] if run.warnings else run.stderr.strip().splitlines()[0]
        raise CheckFailed(f"{name} emitted a warning ({shown}) {where}\n"
                          f"  A numerically stable {name} computes this without any warning.")


def _passed(name: str, n_cases: int, notes: list[str]) -> None:
    print(f"✓ {name}: all {n_cases} checks passed")
    for note in notes[:3]:
        print(f"  note: {name} emitted '{note}' (not penalised, but worth a look)")
