"""Which code of the lib computes graded quantities: the registry that the grading guard consults.

A student's function under check must not call the course's own code under any name. Two kinds of entries:

* ``reference_module(__name__)``, at the top of a module, makes *every* function and method defined in that
  module's file count: public or private, a layer's ``forward`` as much as the graded function itself. This is
  where one kernel per concept pays off: whatever route a student takes into the lib (``layers.Sigmoid``,
  ``layers.sigmoid_forward``, the private ``_numerics.sigmoid``), it ends in a registered file.
* ``@reference`` marks the reference implementation of one graded function (``linear.sigmoid``): it gives the
  registry the name that feedback shows, and the list of graded functions the tests iterate over.

Neither wraps anything (no overhead, nothing to unwrap). This module imports nothing from the lib, and nothing
from :mod:`dlcourse.grading`: the reference modules are lower than the grading package.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import CodeType

_GRADED: dict[CodeType, str] = {}
_FILES: dict[str, str] = {}


def reference(fn: Callable) -> Callable:
    """Mark ``fn`` as the reference implementation of a graded function; returns ``fn`` unchanged."""
    _GRADED[fn.__code__] = f"{fn.__module__}.{fn.__qualname__}"
    return fn


def reference_module(module_name: str) -> None:
    """Register every function defined in the file of module ``module_name`` (call it with ``__name__``)."""
    path = getattr(sys.modules.get(module_name), "__file__", None)
    if path is None:
        raise ValueError(f"module {module_name!r} is not imported or has no file")
    _FILES[path] = module_name


def code_name(code: CodeType) -> str | None:
    """``"dlcourse.layers.Sigmoid.forward"`` when ``code`` belongs to registered lib code, else None."""
    name = _GRADED.get(code)
    if name is not None:
        return name
    module = _FILES.get(code.co_filename)
    return None if module is None else f"{module}.{code.co_qualname}"


def reference_name(fn: Callable) -> str | None:
    """The registered name of a function (see :func:`code_name`), None for code outside the registry."""
    code = getattr(fn, "__code__", None)
    return None if code is None else code_name(code)


def registered_files() -> dict[str, str]:
    """``{file path: module name}`` of every registered module (for tests and diagnostics)."""
    return dict(_FILES)
