"""Compare what a student's function returns with what it should, and explain any difference.

An assignment's test cell calls one ``check_*`` function of its assignment module (e.g.
:mod:`dlcourse.grading.ps1`), which builds :class:`Case` objects and hands them to one of three checks:

* :func:`check_behaviour`: the student's function runs on every case (through :func:`guard.run_student`:
  fresh inputs, time limit, ban on the course's code, lent helpers, captured warnings) and a ``judge`` says
  whether each result is acceptable. The other two are built on it:
* :func:`check_function`: the judge compares the result with the reference's on the same inputs, output by
  output (tuples element by element, dicts key by key), whatever the type handed in: numbers, numpy arrays,
  lists, torch tensors (detached and moved to the CPU);
* :func:`check_trained_model`: the judge trains nothing itself; it measures what the student's training
  function produced (a test accuracy) against a threshold, and runs the first case twice to check that the
  same seed gives the same result.

A failure raises :class:`CheckFailed`, whose message names the case, the inputs, what was expected and what
came back, where they differ and by how much. It never shows the reference's code, and in a notebook it is
displayed without a traceback (the lines of a hidden test must never reach a student).

Warnings are not mistakes: they are reported on stdout ("note: ..."), except that ``forbid_warnings=True``
fails an answer on a *numerical* warning (numpy's overflow, invalid value or division by zero), the sign of an
unstable formula. A debug message (``warnings.warn("...")``, a print to stderr) never costs points.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import gradcheck
from . import guard
from .remote import RemoteError, RemoteObject

DEFAULT_TIME_LIMIT = 10.0


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


# --- what students hand in: numbers, arrays, lists, torch tensors ---------------------------------------


def _is_tensor(value) -> bool:
    return type(value).__module__.split(".")[0] == "torch" and hasattr(value, "detach")


def as_plain(value):
    """A torch tensor as a numpy array (detached, on the CPU; low-precision floats widened to float32), any
    other value unchanged."""
    if not _is_tensor(value):
        return value
    t = value.detach().cpu()
    if t.is_floating_point() and t.element_size() < 4:  # float16 / bfloat16: numpy has no bfloat16
        t = t.float()
    return t.numpy()


def _tensor_words(value) -> str:
    """"a torch tensor of shape (2, 3) (torch.float32, on cuda:0, requires_grad)"."""
    extras = [str(value.dtype)]
    if value.device.type != "cpu":
        extras.append(f"on {value.device}")
    if value.requires_grad:
        extras.append("requires_grad")
    return f"a torch tensor of shape {tuple(value.shape)} ({', '.join(extras)})"


def describe(value, limit: int = 12) -> str:
    """A short, rounded description of a value for a feedback message."""
    if _is_tensor(value):
        return _tensor_words(value) + (f": {describe(as_plain(value), limit)}" if value.numel() <= limit else "")
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:37] + "...")
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
    if isinstance(value, RemoteObject):
        return f"a {value._type} object"
    if isinstance(value, tuple):
        return "(" + ", ".join(describe(v, limit) for v in value) + ")"
    if isinstance(value, list):
        return f"list of length {len(value)}"
    return f"a {type(value).__name__}"


def _describe_args(fn: Callable, case: Case) -> str:
    try:
        signature = fn.signature() if isinstance(fn, RemoteObject) else inspect.signature(fn)
        names = list(signature.parameters)
    except (TypeError, ValueError):
        names = []
    parts = []
    for i, arg in enumerate(case.args):
        name = names[i] if i < len(names) else f"arg{i}"
        parts.append(f"{name} = {describe(arg)}")
    parts += [f"{k} = {describe(v)}" for k, v in case.kwargs.items()]
    return "\n".join(f"      {p}" for p in parts)


# --- comparing values ------------------------------------------------------------------------------------

LOW_PRECISION = ("float32", "float16", "bfloat16")


def _to_array(got, name: str, exp: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    """``got`` as a numeric numpy array, or (None, the sentence that says why it is not one)."""
    kind = _kind(exp)
    if _is_tensor(got):
        arr = as_plain(got)
    elif isinstance(got, (list, tuple)) and any(_is_tensor(v) for v in got):
        return None, (f"{name}: expected {kind}, got a {type(got).__name__} of torch tensors: "
                      f"stack them into one tensor (torch.stack) or one array")
    else:
        try:
            arr = np.asarray(got)
        except Exception:  # e.g. ragged lists
            return None, f"{name}: expected {kind}, got {describe(got)} that numpy cannot turn into an array"
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        return None, f"{name}: expected {kind} of numbers, got {describe(got)}"
    if np.issubdtype(arr.dtype, np.complexfloating):
        return None, f"{name}: expected real numbers, got complex values ({arr.dtype})"
    return arr, None


def compare_value(expected, got, name: str, rtol: float, atol: float) -> str | None:
    """None if ``got`` matches ``expected``; otherwise one sentence saying what is wrong with ``name``."""
    exp = np.asarray(as_plain(expected))
    if got is None:
        return f"{name}: got None. Did you forget a `return`?"
    arr, problem = _to_array(got, name, exp)
    if problem:
        return problem
    what = _tensor_words(got) if _is_tensor(got) else None
    if exp.ndim == 0 and arr.ndim != 0:
        if arr.size == 1 and what:  # a one-element tensor: .item() is what they meant
            return f"{name}: expected a single number, got {what}; return a float (tensor.item())"
        return f"{name}: expected a single number (a float), got an array of shape {arr.shape}"
    if arr.shape != exp.shape:
        return f"{name}: expected shape {exp.shape}, got " + (what or f"shape {arr.shape}")
    low = str(getattr(got, "dtype", arr.dtype)).replace("torch.", "") in LOW_PRECISION
    arr = arr.astype(np.float64)
    if np.isnan(arr).any() and not np.isnan(exp).any():
        return f"{name}: contains nan (expected {describe(expected)}, got {describe(arr)})"
    if np.isinf(arr).any() and not np.isinf(exp).any():
        return f"{name}: contains inf (expected {describe(expected)}, got {describe(arr)})"
    if np.allclose(arr, exp, rtol=rtol, atol=atol, equal_nan=True):
        return None
    err = np.abs(np.nan_to_num(arr - exp, nan=np.inf))
    bad = ~np.isclose(arr, exp, rtol=rtol, atol=atol, equal_nan=True)
    at = ""
    if err.ndim:
        where = [tuple(int(i) for i in idx) for idx in np.argwhere(bad)[:4]]
        listing = ", ".join(str(w[0]) if len(w) == 1 else str(w) for w in where)
        more = f" (and {int(bad.sum()) - len(where)} more)" if bad.sum() > len(where) else ""
        at = f"; wrong at {int(bad.sum())} of {bad.size} entries, index {listing}{more}"
    finite = np.isfinite(arr) & np.isfinite(exp)
    rel = gradcheck.relative_error(arr[finite], exp[finite]) if finite.any() else float("inf")
    message = (f"{name} is wrong: expected {describe(expected)}, got {describe(as_plain(got))}; "
               f"max abs error {float(err.max()):.3g}{at}; largest relative error {rel:.2g}")
    if low and np.allclose(arr, exp, rtol=1e-4, atol=1e-6):
        message += (f". Your result is {str(getattr(got, 'dtype', arr.dtype))}: its rounding error alone is this "
                    f"large; compute in float64 (torch: dtype=torch.float64 or .double())")
    return message


def _kind(exp: np.ndarray) -> str:
    return "a single number" if exp.ndim == 0 else f"an array of shape {exp.shape}"


def compare_outputs(expected, got, names: Sequence[str] | None, rtol: float, atol: float) -> list[str]:
    """Problems with each output; an empty list means a match. Tuples are compared element by element, dicts
    key by key (``names`` lists the elements or keys, for the feedback)."""
    if names is None:
        problem = compare_value(expected, got, "the result", rtol, atol)
        return [problem] if problem else []
    if isinstance(expected, dict):  # e.g. gradients {"W1": ..., "b1": ...}: compared key by key
        if not isinstance(got, dict) or set(got) != set(expected):
            keys = "a dict with the keys " + ", ".join(repr(k) for k in names)
            found = f"keys {sorted(map(str, got))}" if isinstance(got, dict) else describe(got)
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


# --- the checks ------------------------------------------------------------------------------------------

Judge = Callable[[Case, object], "str | list[str] | None"]


def check_behaviour(
    student: Callable,
    cases: Sequence[Case],
    judge: Judge,
    *,
    name: str,
    lend: dict[str, Callable] | None = None,
    forbid_warnings: bool = False,
    seconds: float = DEFAULT_TIME_LIMIT,
    unchanged: Sequence[str] = (),
) -> None:
    """Run ``student`` on every case; raise :class:`CheckFailed` at the first unacceptable result.

    ``judge(case, result)`` returns None when the result is acceptable, otherwise a sentence (or a list of
    them) that says what is wrong. ``forbid_warnings`` makes a numerical warning a failure. ``unchanged`` names
    the leading positional arguments that the function must leave as they were (looked at where it ran: in the
    student's kernel under isolated grading). Prints one line on
    success and returns None (a test cell must not produce a value: nbgrader would read it as partial credit).
    """
    if not cases:
        raise ValueError(f"{name}: a check needs at least one Case")
    lend = dict(lend or {})
    _check_callable(student, name, seconds)
    verified = _verified_names(student)
    verified.discard(getattr(student, "_name", None))
    notes: list[str] = []
    for i, case in enumerate(cases, 1):
        run = guard.run_student(student, case.args, case.kwargs, lend, seconds, keep_args=bool(unchanged))
        where = f"on {case.label} (case {i} of {len(cases)}) with\n{_describe_args(student, case)}"
        _raise_if_it_failed(run, student, name, where, seconds, forbid_warnings)
        problems = judge(case, run.result)
        problems = [problems] if isinstance(problems, str) else list(problems or [])
        if unchanged:
            problems += _changed_in_place(name, unchanged, case.args, run.args_after)
        if problems:
            listing = "\n".join(f"  - {p}" for p in problems)
            raise CheckFailed(f"{name} is not correct {where}\n{listing}")
        notes += [n for n in run.notes if n not in notes]
    if getattr(student, "_name", None):
        verified.add(student._name)
    _passed(name, len(cases), notes)


def _changed_in_place(name: str, names: Sequence[str], before: tuple, after: list | None) -> list[str]:
    """A sentence for the arguments named in ``names`` that the call changed (``after`` as the call left them)."""

    def same(old, new) -> bool:
        try:
            return np.shape(new) == np.shape(old) and bool(np.array_equal(new, old, equal_nan=True))
        except (TypeError, ValueError):
            return False

    changed = [n for n, old, new in zip(names, before, list(after or [])) if not same(old, new)]
    if not changed:
        return []
    return [f"{name} changed its argument{'s' if len(changed) > 1 else ''} {' and '.join(changed)} in place: the "
            f"caller's arrays must stay as they were (it may still need them). `{changed[0]} -= ...` or "
            f"`{changed[0]}[...] = ...` writes into the caller's array; compute new arrays instead "
            f"(`new_{changed[0]} = {changed[0]} - ...`)"]


def _verified_names(student) -> set:
    """Under isolated grading, the names of the student's functions that passed their latest check (see
    :func:`dlcourse.grading.guard.run_student`: those need no correct stand-in lent); otherwise an empty set."""
    return student._session.verified if isinstance(student, RemoteObject) else set()


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
    hint: Callable[[Case, object, object], str | None] | None = None,
    unchanged: Sequence[str] = (),
) -> None:
    """:func:`check_behaviour` whose judge compares the student's result with ``reference``'s on the case.

    ``outputs`` names the elements of a tuple result (e.g. ``("w", "b")``), or the keys of a dict result, so
    that feedback says which one is wrong. ``hint(case, expected, got)``, if given, may add one sentence to a
    failure (e.g. what the inputs are at the wrong entries).
    """

    def judge(case: Case, got):
        args, kwargs = guard.fresh_inputs(case.args, case.kwargs)
        expected = reference(*args, **kwargs)
        problems = compare_outputs(expected, got, outputs, rtol, atol)
        if problems and hint is not None:
            extra = hint(case, expected, got)
            problems += [extra] if extra else []
        return problems

    check_behaviour(student, cases, judge, name=name, lend=lend, forbid_warnings=forbid_warnings, seconds=seconds,
                    unchanged=unchanged)


def check_trained_model(
    student: Callable,
    cases: Sequence[Case],
    *,
    name: str,
    problem: Callable[[object], str | None],
    score: Callable[[object], float],
    threshold: float,
    what: str,
    settings: str,
    advice: str,
    same: Callable[[object, object], bool],
    lend: dict[str, Callable] | None = None,
    seconds: float = DEFAULT_TIME_LIMIT,
) -> None:
    """The one "trained model reaches X" check: judged by what the student's training function produced.

    For each case (one per seed), ``problem(result)`` first rejects a result of the wrong kind or shape (a
    sentence, or None), then ``score(result)`` (e.g. the accuracy on held-out data) must reach ``threshold``;
    a miss is reported as "``what`` 0.873 is below 0.95 with ``settings``: ``advice``". The first case is run a
    second time at the end, and ``same(first, second)`` must hold: the same seed must give the same model.
    """
    results: dict[int, object] = {}

    def judge(case: Case, result):
        wrong = problem(result)
        if wrong:
            return wrong
        value = float(score(result))
        if not value >= threshold:
            return f"{what} {value:.3f} is below {threshold:.2f} with {settings}: {advice}"
        key = id(case)
        if key in results and not same(results[key], result):
            return ("two runs with the same seed gave different results: draw every random number from "
                    "np.random.default_rng(seed)")
        results.setdefault(key, result)
        return None

    check_behaviour(student, list(cases) + list(cases[:1]), judge, name=name, lend=lend, seconds=seconds)


def _check_callable(student: Callable, name: str, seconds: float) -> None:
    if not callable(student) or (isinstance(student, RemoteObject) and not student._callable):
        raise CheckFailed(f"{name} should be a function, but it is {describe(student)}")
    if guard.is_switched_off(student):
        raise CheckFailed(f"{name} is not checked again: it already ran past the {seconds:g} s time limit "
                          f"in an earlier check. Fix the loop and re-run the cell that defines {name}.")


def _student_traceback(exc: BaseException, fn: Callable) -> str:
    """The frames of the student's code only (from the function under check downwards)."""
    if isinstance(exc, RemoteError):  # formatted in the student's kernel, where it happened
        return exc.student_traceback()
    frames = traceback.extract_tb(exc.__traceback__)
    start = next((i for i, f in enumerate(frames) if f.name == getattr(fn, "__name__", None)), 0)
    return "\n".join(f"      in {f.name}, line {f.lineno}: {(f.line or '').strip()}" for f in frames[start:])


def _raise_if_it_failed(run: guard.Run, student: Callable, name: str, where: str, seconds: float,
                        forbid_warnings: bool) -> None:
    """Raise CheckFailed for a run that timed out, called the course's code, raised, or (when forbidden)
    emitted a numerical warning."""
    if run.timed_out:
        guard.switch_off(student, f"{name} was switched off because it ran past the {seconds:g} s time limit in "
                                  f"its tests. Fix the loop and re-run the cell that defines {name}.")
        raise CheckFailed(f"{name} did not finish within {seconds:g} s {where}\n"
                          f"  Is there a loop that never ends (a `while` whose condition stays true)?")
    if run.reference_calls:
        called = ", ".join(sorted(set(run.reference_calls)))
        raise CheckFailed(f"{name} calls {called}: the course library's reference solution, or code built on it. "
                          f"Write {name} yourself: answers that call the solution get no points.")
    if run.error is not None:
        exc = run.error
        ename = exc.ename if isinstance(exc, RemoteError) else type(exc).__name__
        if ename == "KernelDied":
            raise CheckFailed(f"{name}: {exc}\n  {where}")
        raise CheckFailed(f"{name} raised {ename}: {exc}\n  {where}\n"
                          f"  where it happened:\n{_student_traceback(exc, student)}")
    if forbid_warnings and run.numerical_warnings:
        raise CheckFailed(f"{name} emitted a warning ({run.numerical_warnings[0]}) {where}\n"
                          f"  A numerically stable {name} computes this without overflow or invalid values.")


def _passed(name: str, n_cases: int, notes: list[str]) -> None:
    print(f"✓ {name}: all {n_cases} checks passed")
    for note in notes[:3]:
        print(f"  note: {name} emitted '{note}' (not penalised, but worth a look)")
