"""check_function: what a student sees when their function is right, wrong, slow, noisy or calls the solution."""

import sys
import time
import warnings

import numpy as np
import pytest

from dlcourse import _reference, data, linear
from dlcourse.grading import Case, CheckFailed, check_behaviour, check_function, guard
from dlcourse.grading.core import compare_value, describe


def ref_affine(x, a):
    return a * np.asarray(x, float) + 1.0


def ref_pair(x):
    x = np.asarray(x, float)
    return x * 2.0, float(x.sum())


CASES = [Case((np.arange(3.0), 2.0), "a small vector"), Case((np.ones((2, 2)), -1.0), "a matrix")]
PAIR_CASES = [Case((np.arange(3.0),), "a small vector")]


def check(student, **kw):
    return check_function(student, kw.pop("reference", ref_affine), kw.pop("cases", CASES), name="f", **kw)


def test_a_correct_function_passes_quietly(capsys):
    assert check(lambda x, a: a * x + 1) is None  # a test cell must not produce a value (partial credit)
    captured = capsys.readouterr()
    assert captured.out == "✓ f: all 2 checks passed\n" and captured.err == ""


def test_a_wrong_value_names_the_case_the_inputs_and_the_error():
    with pytest.raises(CheckFailed) as err:
        check(lambda x, a: a * x + 1.5)
    msg = str(err.value)
    assert "f is not correct on a small vector (case 1 of 2)" in msg
    assert "x = array([0., 1., 2.])" in msg and "a = 2" in msg
    assert "expected array([1., 3., 5.]), got array([1.5, 3.5, 5.5])" in msg
    assert "max abs error 0.5" in msg


def test_shape_none_and_type_problems():
    with pytest.raises(CheckFailed, match=r"expected shape \(3,\), got shape \(1, 3\)"):
        check(lambda x, a: (a * x + 1)[None, :])
    with pytest.raises(CheckFailed, match="got None. Did you forget a `return`"):
        check(lambda x, a: None)
    with pytest.raises(CheckFailed, match="of numbers, got '1, 3, 5'"):
        check(lambda x, a: "1, 3, 5")
    with pytest.raises(CheckFailed, match="contains nan"):
        check(lambda x, a: np.full_like(np.asarray(x, float), np.nan))


def test_tuple_outputs_say_which_part_is_wrong():
    with pytest.raises(CheckFailed) as err:
        check_function(lambda x: (np.asarray(x) * 2.0, float(np.sum(x)) + 1), ref_pair, PAIR_CASES, name="g",
                       outputs=("dx", "total"))
    msg = str(err.value)
    assert "total is wrong" in msg and "dx is right." in msg
    with pytest.raises(CheckFailed, match=r"expected a tuple \(dx, total\) of 2 values"):
        check_function(lambda x: np.asarray(x) * 2.0, ref_pair, PAIR_CASES, name="g", outputs=("dx", "total"))
    with pytest.raises(CheckFailed, match=r"total: expected a single number \(a float\), got an array of shape \(1,\)"):
        check_function(lambda x: (np.asarray(x) * 2.0, np.array([np.sum(x)])), ref_pair, PAIR_CASES, name="g",
                       outputs=("dx", "total"))


def test_an_exception_shows_the_students_line_not_the_libs():
    def f(x, a):
        scale = a / 0 if a < 0 else a
        return scale * x + 1

    with pytest.raises(CheckFailed) as err:
        check(f)
    msg = str(err.value)
    assert "f raised ZeroDivisionError: float division by zero" in msg and "a matrix (case 2 of 2)" in msg
    assert "in f, line" in msg and "scale = a / 0 if a < 0 else a" in msg
    assert "dlcourse" not in msg


def test_a_never_ending_function_fails_once_then_is_skipped():
    def f(x, a):
        while True:
            pass

    start = time.perf_counter()
    with pytest.raises(CheckFailed, match="did not finish within 0.3 s"):
        check(f, seconds=0.3)
    assert time.perf_counter() - start < 2.0
    start = time.perf_counter()
    with pytest.raises(CheckFailed, match="is not checked again"):
        check(f, seconds=0.3)
    assert time.perf_counter() - start < 0.1


def test_a_timed_out_function_is_switched_off_in_the_students_namespace():
    namespace = {}
    exec("def slow(x, a):\n    while True:\n        pass\n", namespace)
    with pytest.raises(CheckFailed, match="did not finish"):
        check(namespace["slow"], seconds=0.2)
    start = time.perf_counter()
    with pytest.raises(CheckFailed, match="f was switched off.*re-run the cell that defines f"):
        namespace["slow"](1.0, 2.0)  # e.g. a later, ungraded cell of the notebook
    assert time.perf_counter() - start < 0.1
    with pytest.raises(CheckFailed, match="is not checked again"):
        check(namespace["slow"])
    namespace["np"] = np
    exec("def slow(x, a):\n    return a * np.asarray(x, float) + 1\n", namespace)  # fixed and re-run
    check(namespace["slow"])


def test_the_time_limit_survives_except_exception():
    def f(x, a):
        while True:
            try:
                time.sleep(0.01)
            except Exception:
                pass

    with pytest.raises(CheckFailed, match="did not finish"):
        check(f, seconds=0.3)


def test_calling_the_reference_solution_fails_however_it_is_reached():
    import importlib

    from dlcourse.linear import sigmoid as aliased

    cases = [Case((np.array([0.0, 1.0]),), "two values")]
    students = [
        lambda z: linear.sigmoid(z),
        lambda z: aliased(z),
        lambda z: importlib.import_module("dlcourse.linear").sigmoid(z),
        lambda z: linear.sigmoid.__call__(z),
    ]
    for student in students:
        with pytest.raises(CheckFailed, match="calls dlcourse.linear.sigmoid: the course library's reference solution"):
            check_function(student, linear.sigmoid, cases, name="sigmoid")
    assert _reference.reference_name(linear.sigmoid) == "dlcourse.linear.sigmoid"
    assert _reference.reference_name(linear.log_sigmoid) == "dlcourse.linear.log_sigmoid"  # the whole module
    assert _reference.reference_name(data.moons) is None  # data sets are not answers


def test_lent_functions_replace_the_students_own_and_are_restored():
    namespace = {"np": np}
    exec(
        "def helper(x):\n    return x * 100.0  # wrong: should return x unchanged\n"
        "def f(x, a):\n    return a * helper(np.asarray(x, float)) + 1.0\n",
        namespace,
    )
    wrong_helper = namespace["helper"]
    with pytest.raises(CheckFailed):
        check(namespace["f"])
    check(namespace["f"], lend={"helper": lambda x: x})
    assert namespace["helper"] is wrong_helper


def test_a_lent_reference_may_call_other_references():
    # the student's fit calls their unfinished nll_grad; the check lends the reference nll_grad, which itself
    # calls the reference sigmoid: neither call is the student's, so the check passes
    namespace = {"np": np}
    exec("def nll_grad(w, b, X, y):\n    raise RuntimeError('unfinished')\n"
         "def fit(X, y):\n    dw, db = nll_grad(np.zeros(X.shape[1]), 0.0, X, y)\n    return -dw, -db\n", namespace)

    def reference_fit(X, y):
        dw, db = linear.nll_grad(np.zeros(X.shape[1]), 0.0, X, y)
        return -dw, -db

    X, y = np.array([[1.0], [2.0]]), np.array([0.0, 1.0])
    check_function(namespace["fit"], reference_fit, [Case((X, y), "two points")], name="fit", outputs=("w", "b"),
                   lend={"nll_grad": linear.nll_grad})
    with pytest.raises(CheckFailed, match="fit raised RuntimeError: unfinished"):
        check_function(namespace["fit"], reference_fit, [Case((X, y), "two points")], name="fit", outputs=("w", "b"))


def test_warnings_are_noted_on_stdout_not_stderr(capsys):
    def f(x, a):
        warnings.warn("deprecated thing", DeprecationWarning)
        print("debug output", file=sys.stderr)
        return a * np.asarray(x, float) + 1

    check(f)
    captured = capsys.readouterr()
    assert captured.err == ""  # nbgrader would give 0 points for any stderr output
    assert "note: f emitted 'DeprecationWarning: deprecated thing'" in captured.out
    assert "debug output" in captured.out


def test_forbidden_warnings_fail():
    def f(x, a):
        return np.exp(np.asarray(x, float) * 1000.0) * 0 + a * np.asarray(x, float) + 1

    with pytest.raises(CheckFailed, match="emitted a warning \\(RuntimeWarning: overflow encountered in exp\\)"):
        check(f, forbid_warnings=True)


def test_the_student_cannot_corrupt_the_reference_inputs():
    cases = [Case((np.arange(3.0), 2.0), "a small vector"), Case((np.arange(3.0), 2.0), "the same vector again")]
    seen_by_judge = []

    def f(x, a):
        x *= 0  # mutates its argument in place
        return a * x + 1

    with pytest.raises(CheckFailed) as err:
        check(f, cases=cases)
    assert "x = array([0., 1., 2.])" in str(err.value)  # the feedback shows the inputs as they were
    assert "expected array([1., 3., 5.])" in str(err.value)  # the reference saw the original input
    np.testing.assert_array_equal(cases[0].args[0], [0.0, 1.0, 2.0])  # the case itself is untouched

    def g(x, a):
        x *= 0
        return 0.0

    check_behaviour(g, cases, lambda case, result: seen_by_judge.append(case.args[0].copy()), name="g")
    assert all(np.array_equal(x, [0.0, 1.0, 2.0]) for x in seen_by_judge)  # so does a behaviour judge


def test_the_two_tests_above_fail_on_the_bugs_they_name(monkeypatch):
    """Mutation tests: each guard test must fail when its guard is removed."""
    monkeypatch.setattr(guard, "fresh_inputs", lambda args, kwargs: (args, kwargs))  # no copy of the inputs
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        test_the_student_cannot_corrupt_the_reference_inputs()
    monkeypatch.undo()
    monkeypatch.setitem(globals(), "check_function", lambda *a, **k: "partial credit")  # a check returning a value
    with pytest.raises(AssertionError):
        test_a_correct_function_passes_quietly(_Captured())


class _Captured:
    """A stand-in for pytest's capsys in the mutation test above."""

    def readouterr(self):
        from types import SimpleNamespace

        return SimpleNamespace(out="✓ f: all 2 checks passed\n", err="")


def test_checkfailed_renders_without_frames():
    lines = CheckFailed("line one\nline two")._render_traceback_()
    assert lines[0].endswith("CheckFailed\x1b[0m: line one") and lines[1:] == ["line two"]


def test_non_callables_are_reported():
    with pytest.raises(CheckFailed, match="should be a function"):
        check(42)


def test_describe_and_compare_value():
    assert describe(np.arange(100.0).reshape(10, 10)).startswith("array of shape (10, 10) (float64), values in [0, 99]")
    assert describe(np.eye(2)) == "array([[1., 0.], [0., 1.]]) of shape (2, 2)"
    assert describe(2.5) == "2.5" and describe(True) == "True"
    assert compare_value(1.0, np.float32(1.0), "x", 1e-6, 0) is None
    assert compare_value(1.0, np.array(1.0), "x", 1e-6, 0) is None
    assert "inf" in compare_value(1.0, np.inf, "x", 1e-6, 0)


# --- torch answers (ps5 and later hand in tensors) -------------------------------------------------------------


def test_torch_tensors_are_compared_as_arrays_whatever_their_autograd_state():
    import torch

    x = torch.tensor([1.0, 3.0, 5.0], dtype=torch.float64, requires_grad=True)
    assert compare_value(np.array([1.0, 3.0, 5.0]), x * 1.0, "out", 1e-9, 0) is None  # attached to a graph
    assert compare_value(2.5, torch.tensor(2.5, dtype=torch.float64), "loss", 1e-9, 0) is None  # a 0-d tensor
    check(lambda x, a: torch.as_tensor(a * np.asarray(x, float) + 1).requires_grad_(True))


def test_torch_mistakes_are_reported_in_words():
    import torch

    one = compare_value(2.5, torch.tensor([2.5]), "loss", 1e-9, 0)
    assert "expected a single number" in one and "torch tensor of shape (1,)" in one and ".item()" in one
    shape = compare_value(np.zeros((2, 3)), torch.zeros(3, 2, requires_grad=True), "out", 1e-9, 0)
    assert "expected shape (2, 3), got a torch tensor of shape (3, 2) (torch.float32, requires_grad)" == shape[5:]
    low = compare_value(np.array([1 / 3, 2 / 3]), torch.tensor([1 / 3, 2 / 3], dtype=torch.float32), "p", 1e-9, 0)
    assert "float32" in low and "float64" in low  # the rounding of float32 explains the difference
    wrong = compare_value(np.array([1.0, 2.0]), torch.tensor([1.0, 5.0], dtype=torch.float64), "p", 1e-9, 0)
    assert "p is wrong" in wrong and "wrong at 1 of 2 entries, index 1" in wrong and "float64" not in wrong.split(";")[-1]
    listed = compare_value(np.zeros(2), [torch.tensor(0.0), torch.tensor(0.0)], "p", 1e-9, 0)
    assert "torch.stack" in listed
    assert describe(torch.ones(2, 2)).startswith("a torch tensor of shape (2, 2) (torch.float32): array(")


def test_the_dtype_of_a_wrong_answer_is_named():
    assert "of numbers, got" in compare_value(np.zeros(2), np.array(["a", "b"]), "p", 1e-9, 0)
    assert "complex" in compare_value(np.zeros(2), np.zeros(2, dtype=complex), "p", 1e-9, 0)
