"""Grading helpers: what the assignments' test cells call. Only the assignments import this package.

* :mod:`dlcourse.grading.core`: :func:`check_function` compares a student's function with the reference;
  :func:`check_behaviour` judges it by a property (a bound); :func:`check_trained_model` by what a trained
  model achieves (an accuracy).
* :mod:`dlcourse.grading.guard`: everything around a student's call (fresh inputs, time limit, the ban on
  calling the course's own code, lent helpers, captured warnings, switch-off after a time-out).
* one module per assignment (:mod:`dlcourse.grading.ps1`, ...) with its ``check_*`` functions.
* :mod:`dlcourse.grading.nbgrader_ext`: nbgrader preprocessors used by ``nbgrader_config.py``, among them
  ``IsolatedExecute``: autograding with the student's kernel in a :mod:`~dlcourse.grading.sandbox` and the test
  cells run in the grader against :mod:`~dlcourse.grading.remote` proxies, over a plain-data
  :mod:`~dlcourse.grading.wire` (the kernel's side is :mod:`~dlcourse.grading.worker`).

The checks work the same in both places: in a student's kernel (the notebook's own test cells, Validate) they run
the student's functions directly; under ``IsolatedExecute`` the same calls go through the proxies.

Which lib code counts as "the course's own code" is registered by the lib itself, in :mod:`dlcourse._reference`.
"""

from .core import Case, CheckFailed, check_behaviour, check_function, check_trained_model
from .guard import TimeLimitExceeded

__all__ = ["Case", "CheckFailed", "check_behaviour", "check_function", "check_trained_model", "TimeLimitExceeded"]
