"""Grading helpers: what the assignments' test cells call.

* :mod:`dlcourse.grading.core`: :func:`check_function` compares a student's function with the reference;
  :func:`check_behaviour` judges it by a property (a bound, an accuracy).
* :mod:`dlcourse.grading.guard`: the time limit and the ban on calling reference solutions.
* one module per assignment (:mod:`dlcourse.grading.ps1`, ...) with its ``check_*`` functions.
* :mod:`dlcourse.grading.nbgrader_ext`: nbgrader preprocessors used by ``nbgrader_config.py``.
"""

from .core import Case, CheckFailed, check_behaviour, check_function
from .guard import TimeLimitExceeded, reference

__all__ = ["Case", "CheckFailed", "check_behaviour", "check_function", "reference", "TimeLimitExceeded"]
