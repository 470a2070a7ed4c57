"""Everything around one call of a student's function while a check runs it.

:func:`run_student` makes the call and returns a :class:`Run`, with

* fresh copies of the inputs: the student's function may modify its arguments in place without touching the
  case (which the reference, the feedback and later cases still read);
* a time limit (:func:`time_limit`): a never-ending loop fails the check instead of hanging the notebook;
* a ban on calling the course's own code (:func:`reference_calls`): every call that enters a function of a
  module registered in :mod:`dlcourse._reference` is recorded, however it was reached (module attribute,
  alias, closure, a layer class, a private kernel);
* correct functions lent by name (``lend``): while one answer is checked, the student's *other* answers are
  replaced in the notebook's namespace by the reference, so that one mistake costs points in one question;
* warnings and stderr captured, so that the check can report them on stdout (nbgrader scores any stderr
  output in a test cell as 0).

A function that ran out of time is switched off (:func:`switch_off`): its name in the student's notebook is
bound to a stub that fails at once until the student re-runs the cell that defines it, so a loop costs the time
limit once per notebook, not once per later cell that calls it.
"""

from __future__ import annotations

import contextlib
import copy
import io
import signal
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from .. import _reference

_timed_out: weakref.WeakSet = weakref.WeakSet()
_remote = None  # the RemoteSession while test cells run on the grader's side (isolated grading), else None


@contextlib.contextmanager
def remote_mode(session) -> Iterator[None]:
    """Isolated grading: the student's functions are proxies into a sandboxed kernel (see
    :mod:`dlcourse.grading.remote`). Time limits become deadlines that the kernel enforces, and the ban on
    calling the course's code is structural (the sandbox has none of it)."""
    global _remote
    previous, _remote = _remote, session
    try:
        yield
    finally:
        _remote = previous


# --- the ban on calling the course's own code ------------------------------------------------------------


@contextlib.contextmanager
def reference_calls(allowed: Iterable[Callable] = ()) -> Iterator[list[str]]:
    """Record, in the yielded list, the course functions (see :mod:`dlcourse._reference`) called in the block.

    Functions in ``allowed`` (and whatever they call) are not recorded: a check uses this to lend a student
    a correct helper, e.g. a correct ``nll_grad`` while it grades their ``fit_logistic``.
    """
    allowed_codes = {fn.__code__ for fn in allowed}
    calls: list[str] = []
    lent_depth = 0  # > 0 while inside an allowed function
    course_depth = 0  # > 0 while inside course code: only the outermost entry is recorded

    def profiler(frame, event, arg):
        nonlocal lent_depth, course_depth
        code = frame.f_code
        if event == "call":
            if code in allowed_codes:
                lent_depth += 1
            elif lent_depth == 0:
                name = _reference.code_name(code)
                if name is not None:
                    if course_depth == 0:
                        calls.append(name)
                    course_depth += 1
        elif event == "return":
            if code in allowed_codes:
                lent_depth -= 1
            elif lent_depth == 0 and course_depth and _reference.code_name(code) is not None:
                course_depth -= 1

    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        yield calls
    finally:
        sys.setprofile(previous)


# --- the time limit --------------------------------------------------------------------------------------


class TimeLimitExceeded(BaseException):
    """Raised inside a student's function that runs past its time limit.

    A ``BaseException`` (like ``KeyboardInterrupt``) so that ``except Exception:`` in student code does not
    swallow it.
    """


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`TimeLimitExceeded` in the block after ``seconds`` (main thread on POSIX only).

    If the student's code swallows the exception (a bare ``except:`` in a loop), it is raised again every
    half second; nbgrader's per-cell timeout is the last resort.
    """
    if _remote is not None:  # isolated grading: every request to the kernel gets what is left of this deadline
        previous, _remote.deadline = _remote.deadline, time.monotonic() + (seconds or 0.0)
        try:
            yield
        finally:
            _remote.deadline = previous
        return
    if seconds is None or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise TimeLimitExceeded(f"time limit of {seconds:g} s exceeded")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- lending correct functions ---------------------------------------------------------------------------


@contextlib.contextmanager
def lent(fn: Callable, lend: dict[str, Callable]) -> Iterator[None]:
    """Temporarily replace names in ``fn``'s globals (the student's notebook) with the functions of ``lend``."""
    namespace = getattr(fn, "__globals__", {})
    saved = {name: namespace[name] for name in lend if name in namespace}
    namespace.update({name: lend[name] for name in saved})
    try:
        yield
    finally:
        namespace.update(saved)


# --- one call --------------------------------------------------------------------------------------------

NUMERICAL_WARNINGS = ("overflow", "invalid value", "divide by zero")
"""Words in a numpy ``RuntimeWarning`` that mark a numerically unstable computation."""


@dataclass
class Run:
    """What happened in one call of a student's function."""

    result: object = None
    error: BaseException | None = None
    timed_out: bool = False
    reference_calls: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str, bool]] = field(default_factory=list)  # (category, message, numerical)
    stderr: str = ""
    args_after: list | None = None  # the positional arguments as the call left them (when asked for)

    @property
    def numerical_warnings(self) -> list[str]:
        """The RuntimeWarnings numpy raises on overflow, invalid values and division by zero."""
        return [f"{category}: {message}" for category, message, numerical in self.warnings if numerical]

    @property
    def notes(self) -> list[str]:
        """Every warning and stderr line, as text, once each."""
        found: list[str] = []
        for text in [f"{c}: {m}" for c, m, _ in self.warnings] + self.stderr.strip().splitlines():
            if text and text not in found:
                found.append(text)
        return found


def _warning_record(w: warnings.WarningMessage) -> tuple[str, str, bool]:
    numerical = issubclass(w.category, RuntimeWarning) and any(word in str(w.message) for word in NUMERICAL_WARNINGS)
    return w.category.__name__, str(w.message), numerical


def fresh_inputs(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Deep copies of a call's arguments: what each call (the reference's, the student's) gets."""
    return copy.deepcopy(args), copy.deepcopy(kwargs)


def run_student(fn: Callable, args: tuple, kwargs: dict, lend: dict[str, Callable], seconds: float,
                keep_args: bool = False) -> Run:
    """Call ``fn`` on fresh copies of the arguments under the time limit, the ban and the lending;
    ``keep_args``: also return the positional arguments as the call left them (where it ran)."""
    from .remote import RemoteObject

    if isinstance(fn, RemoteObject):
        return _run_remote(fn, args, kwargs, lend, seconds, keep_args)
    run = Run()
    args, kwargs = fresh_inputs(args, kwargs)
    err = io.StringIO()
    calls: list[str] = []
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        with np.errstate(over="warn", divide="warn", invalid="warn", under="ignore"), lent(fn, lend):
            try:
                # under isolated grading no student code runs here (a local wrapper only drives proxies): the ban
                # is the sandbox's, and profiling every call of the wrapper would only slow it down
                ban = contextlib.nullcontext(calls) if _remote is not None else reference_calls(allowed=lend.values())
                with ban as calls, time_limit(seconds):
                    run.result = fn(*args, **kwargs)
            except TimeLimitExceeded:
                run.timed_out = True
            except Exception as exc:  # the student's bug, reported by the check
                run.error = exc
    run.reference_calls = calls
    run.args_after = list(args) if keep_args else None
    run.warnings = [_warning_record(w) for w in caught]
    run.stderr = err.getvalue()
    return run


def _run_remote(fn, args: tuple, kwargs: dict, lend: dict[str, Callable], seconds: float,
                keep_args: bool = False) -> Run:
    """The same call in the student's sandboxed kernel: the kernel applies the time limit and captures the
    output; lent helpers run there too, built from their source and that of what they call
    (:mod:`dlcourse.grading.lending`), or, when that cannot be done safely, here, called back from the kernel;
    calling course code fails there (it is absent)."""
    from .remote import RemoteError, RemoteTimeout, SessionBroken

    run = Run()
    session = fn._session
    # a helper of the student's that passed its own check needs no stand-in: it runs where it is, in the kernel,
    # instead of calling back into the grader for every use (thousands of times in a training loop)
    bind = {name: helper for name, helper in lend.items() if name not in session.verified}
    try:
        reply, notes = session.call(fn, args, kwargs, bind, seconds, ship=lend, keep_args=keep_args)
        run.warnings, run.stderr = notes.warnings, notes.stderr
        if notes.stdout:
            print(notes.stdout, end="" if notes.stdout.endswith("\n") else "\n")
        run.result = session.result(reply)
        if keep_args:
            if not (isinstance(run.result, list) and len(run.result) == 2 and isinstance(run.result[1], list)):
                raise RemoteError("ProtocolError", "a call's arguments did not come back")
            run.result, run.args_after = run.result
    except RemoteTimeout:
        run.timed_out = True
    except RemoteError as err:
        if err.course:
            run.reference_calls = [err.course]
        else:
            run.error = err
    except SessionBroken as err:
        run.error = RemoteError("KernelDied", str(err))
    return run


# --- switching off a function that ran out of time -------------------------------------------------------


def switch_off(fn: Callable, message: str) -> None:
    """Make every later call of ``fn`` (by its name in the student's notebook) raise ``message`` at once."""
    from .core import CheckFailed
    from .remote import RemoteObject

    if isinstance(fn, RemoteObject):
        if fn._name:
            fn._session.switch_off(fn._name, message)
        return
    _timed_out.add(fn)
    namespace = getattr(fn, "__globals__", None)
    fn_name = getattr(fn, "__name__", None)
    if namespace is None or namespace.get(fn_name) is not fn:
        return

    def switched_off(*args, **kwargs):
        raise CheckFailed(message)

    switched_off.__name__ = fn_name
    _timed_out.add(switched_off)
    namespace[fn_name] = switched_off


def is_switched_off(fn: Callable) -> bool:
    """True for a function that already ran out of time (or the stub that replaced it)."""
    from .remote import RemoteObject

    if getattr(fn, "__dlcourse_switched_off__", False):
        return True
    if isinstance(fn, RemoteObject):
        return fn._name in fn._session.switched_off
    try:
        return fn in _timed_out
    except TypeError:  # not weak-referenceable: never switched off
        return False
