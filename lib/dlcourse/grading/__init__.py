"""Grading helpers: what the assignments' test cells call. Only the assignments import this package.

* :mod:`dlcourse.grading.core`: :func:`check_function` compares a student's function with the reference;
  :func:`check_behaviour` judges it by a property (a bound); :func:`check_trained_model` by what a trained
  model achieves (an accuracy).
* :mod:`dlcourse.grading.guard`: everything around a student's call (fresh inputs, time limit, the ban on
  calling the course's own code, lent helpers, captured warnings, switch-off after a time-out).
* one module per assignment (:mod:`dlcourse.grading.ps1`, ...) with its ``check_*`` functions.
* :mod:`dlcourse.grading.nbgrader_ext`: nbgrader preprocessors used by ``nbgrader_config.py``.

Which lib code counts as "the course's own code" is registered by the lib itself, in :mod:`dlcourse._reference`.
"""

from .core import Case, CheckFailed, check_behaviour, check_function, check_trained_model
from .guard import TimeLimitExceeded

__all__ = ["Case", "CheckFailed", "check_behaviour", "check_function", "check_trained_model", "TimeLimitExceeded"]
