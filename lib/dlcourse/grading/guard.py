"""What surrounds a student's function while a check runs it: a time limit and a ban on calling the solution.

* ``@reference`` marks a lib function as a reference solution. It does not wrap the function (no overhead,
  no ``__wrapped__`` to unwrap): it only records its code object.
* ``reference_calls()`` watches, with ``sys.setprofile``, every Python call made inside the block and records
  those that enter a reference solution, however it was reached (module attribute, alias, closure, reload
  of the same file).
* ``time_limit()`` raises :class:`TimeLimitExceeded` in the main thread after a number of seconds.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import CodeType

_REFERENCES: dict[CodeType, str] = {}


def reference(fn: Callable) -> Callable:
    """Mark ``fn`` as a reference solution that a student's function under check must not call."""
    _REFERENCES[fn.__code__] = f"{fn.__module__}.{fn.__qualname__}"
    return fn


def reference_name(fn: Callable) -> str | None:
    """``"dlcourse.linear.sigmoid"`` for a reference solution, None for any other function."""
    return _REFERENCES.get(getattr(fn, "__code__", None))


@contextmanager
def reference_calls(allowed: Iterable[Callable] = ()) -> Iterator[list[str]]:
    """Record, in the yielded list, the reference solutions called inside the block.

    Functions in ``allowed`` (and whatever they call) are not recorded: a check uses this to lend a student
    a correct helper, e.g. a correct ``nll_grad`` while it grades their ``fit_logistic``.
    """
    allowed_codes = {fn.__code__ for fn in allowed}
    calls: list[str] = []
    depth = 0  # > 0 while inside an allowed function

    def profiler(frame, event, arg):
        nonlocal depth
        code = frame.f_code
        if event == "call":
            if code in allowed_codes:
                depth += 1
            elif depth == 0 and code in _REFERENCES:
                calls.append(_REFERENCES[code])
        elif event == "return" and code in allowed_codes:
            depth -= 1

    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        yield calls
    finally:
        sys.setprofile(previous)


class TimeLimitExceeded(BaseException):
    """Raised inside a student's function that runs past its time limit.

    A ``BaseException`` (like ``KeyboardInterrupt``) so that ``except Exception:`` in student code does not
    swallow it.
    """


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`TimeLimitExceeded` in the block after ``seconds`` (main thread on POSIX only).

    If the student's code swallows the exception (a bare ``except:`` in a loop), it is raised again every
    half second; nbgrader's per-cell timeout is the last resort.
    """
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
