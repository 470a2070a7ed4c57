"""Lent helpers shipped into the student's kernel: complete, no larger than what was lent, same results."""

import ast
import importlib
import textwrap
from pathlib import Path

import numpy as np
import pytest

from dlcourse import convolution, layers, linear, mlp, softmax
from dlcourse.grading import guard, lending, ps3
from dlcourse.grading.remote import worker_source

GRADING = Path(lending.__file__).parent


def _every_lend() -> list[tuple[str, dict]]:
    """Every ``lend=`` of the assignments' checks, evaluated in its module (ps1, ps2, ...)."""
    found = []
    for path in sorted(GRADING.glob("ps*.py")):
        module = importlib.import_module(f"dlcourse.grading.{path.stem}")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "lend":
                found.append((f"{path.stem}:{node.lineno}", eval(ast.unparse(node.value), vars(module))))
    return found


def _worker_session():
    ns = {"__name__": "dlcourse_worker"}
    exec(compile(worker_source(), "<dlcourse_worker>", "exec"), ns)
    return ns["_Session"](None, {})


def _kernel_side(bundle: dict) -> dict:
    """The worker's own ``install`` on ``bundle``, in this process: {lent name: the function the kernel gets}."""
    session = _worker_session()
    session.install(1, bundle)
    return session.installed[1]


def test_every_lend_of_the_checks_can_be_shipped():
    lends = _every_lend()
    assert len(lends) >= 10
    for where, lend in lends:
        assert lending.why_not(lend) is None, where


def test_the_closure_holds_only_what_was_lent():
    shipped = _kernel_side(lending.bundle({"mlp_gradients": mlp.mlp_gradients, **ps3.LAYER_HELPERS}))
    gradients = shipped["mlp_gradients"]
    assert "train_mlp" not in gradients.__globals__ and "mlp_loss" not in gradients.__globals__
    assert sorted(vars(gradients.__globals__["layers"])) == sorted(ps3.LAYER_HELPERS)
    assert gradients is not mlp.mlp_gradients and gradients.__code__.co_filename == "<dlcourse_worker lent dlcourse.mlp>"
    # every function the kernel can reach: the lent ones and unregistered private helpers, nothing graded
    reachable = {fn.__name__ for fn in shipped.values()}
    for fn in shipped.values():
        reachable |= {name for name, value in fn.__globals__.items() if callable(value)}
    assert "train_mlp" not in reachable and "check_train_mlp" not in reachable


def test_a_kept_copy_of_a_lent_helper_fails_once_the_test_cell_is_over():
    session = _worker_session()
    session.install(1, lending.bundle({"mlp_gradients": mlp.mlp_gradients, **ps3.LAYER_HELPERS}))
    kept = dict(session.installed[1])
    np.testing.assert_array_equal(kept["relu_forward"](np.array([-1.0, 2.0])), [0.0, 2.0])
    inner = kept["mlp_gradients"].__globals__["_check_data"]
    session.disarm()  # what the worker does when the grader ends the cell
    for fn in [*kept.values(), inner]:
        with pytest.raises(RuntimeError, match="only be used while a test cell runs"):
            fn(np.ones((1, 1)), np.ones((1, 1)), np.ones(1))


def test_a_graded_function_that_was_not_lent_is_never_shipped():
    assert "linear_forward is graded and was not lent" in lending.why_not({"mlp_gradients": mlp.mlp_gradients})
    assert lending.bundle({"mlp_gradients": mlp.mlp_gradients}) is None


def test_grading_code_and_closures_are_not_shipped():
    def local(x):
        return x

    assert "not a function of the course library" in lending.why_not({"local": local})
    assert lending.why_not({"check": ps3.check_train_mlp}) is not None
    counter = [0]

    def closure(x):
        counter[0] += 1
        return x

    assert lending.bundle({"closure": closure}) is None


def test_shipped_helpers_compute_what_the_library_computes():
    rng = np.random.default_rng(0)
    lend = {"mlp_gradients": mlp.mlp_gradients, **ps3.LAYER_HELPERS}
    shipped = _kernel_side(lending.bundle(lend))
    params = mlp.init_mlp(5, 4, 3, rng)
    X, y = rng.normal(size=(7, 5)), rng.integers(0, 3, 7)
    got, want = shipped["mlp_gradients"](params, X, y), mlp.mlp_gradients(params, X, y)
    assert got.keys() == want.keys() and all(np.array_equal(got[k], want[k]) for k in want)
    with pytest.raises(ValueError) as shipped_error:
        shipped["mlp_gradients"](params, X[:, :4], y)
    with pytest.raises(ValueError) as lib_error:
        mlp.mlp_gradients(params, X[:, :4], y)
    assert str(shipped_error.value) == str(lib_error.value)  # the same message for a student's bad arguments

    conv = _kernel_side(lending.bundle({"conv2d_forward": convolution.conv2d_forward,
                                        "conv_output_size": convolution.conv_output_size}))
    x, w, b = rng.normal(size=(2, 3, 6, 6)), rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4)
    for got, want in zip(conv["conv2d_forward"](x, w, b, stride=2, padding=1),
                         convolution.conv2d_forward(x, w, b, stride=2, padding=1)):
        np.testing.assert_array_equal(got, want)
    soft = _kernel_side(lending.bundle({"softmax": softmax.softmax, "cross_entropy": softmax.cross_entropy}))
    z = rng.normal(size=(4, 3)) * 500
    np.testing.assert_array_equal(soft["softmax"](z), softmax.softmax(z))


STUDENT = textwrap.dedent('''
    import numpy as np

    def sigmoid(z):
        return np.zeros_like(np.asarray(z, float))  # a broken earlier answer

    def uses_sigmoid(z):
        return 2 * sigmoid(z)

    def misuses_sigmoid(z):
        return sigmoid(z, "extra")

    def nll(w, b, X, y):
        return 0.0  # broken too

    def uses_nll(w, b, X, y):
        return nll(w, b, X, y)

    def reaches_for_more(z):
        return sorted(name for name in sigmoid.__globals__ if not name.startswith("__"))
''')


@pytest.fixture
def session(student_process):
    return student_process(STUDENT)


def test_a_lent_helper_runs_in_the_kernel_without_calling_back(session):
    lend = {"sigmoid": linear.sigmoid}
    z = np.array([-1000.0, 0.0, 3.0])
    run = guard.run_student(session.get("uses_sigmoid"), (z,), {}, lend, 5.0)
    np.testing.assert_array_equal(run.result, 2 * linear.sigmoid(z))
    assert session._callbacks == {}  # nothing to call back: it ran over there
    run = guard.run_student(session.get("reaches_for_more"), (z,), {}, lend, 5.0)
    assert "sigmoid" in run.result and not {"nll", "nll_grad", "logistic_regression"} & set(run.result)
    run = guard.run_student(session.get("misuses_sigmoid"), (z,), {}, lend, 5.0)
    assert run.error.ename == "TypeError"
    assert "misuses_sigmoid" in run.error.student_traceback() and "lent" not in run.error.student_traceback()
    # after the call the student's own (broken) sigmoid is back
    np.testing.assert_array_equal(guard.run_student(session.get("uses_sigmoid"), (z,), {}, {}, 5.0).result, 0 * z)


def test_a_helper_the_kernel_cannot_build_is_lent_by_callback(session, monkeypatch):
    monkeypatch.setattr(lending, "bundle", lambda lend: {"modules": {"x": {"source": "raise SystemError"}},
                                                         "lent": {}})
    run = guard.run_student(session.get("uses_sigmoid"), (np.array([0.0]),), {}, {"sigmoid": linear.sigmoid}, 5.0)
    np.testing.assert_array_equal(run.result, [1.0])
    assert len(session._callbacks) == 1


def test_a_helper_that_passed_its_check_stays_the_students_and_the_rest_is_still_built_in_the_kernel(session):
    session.verified.add("sigmoid")  # as if the student's sigmoid had passed its check
    rng = np.random.default_rng(1)
    w, b, X, y = rng.normal(size=3), 0.5, rng.normal(size=(6, 3)), rng.integers(0, 2, 6)
    lend = {"sigmoid": linear.sigmoid, "nll": linear.nll}
    run = guard.run_student(session.get("uses_nll"), (w, b, X, y), {}, lend, 5.0)
    assert run.result == pytest.approx(linear.nll(w, b, X, y), rel=1e-12)
    assert session._callbacks == {}
    np.testing.assert_array_equal(guard.run_student(session.get("uses_sigmoid"), (X,), {}, lend, 5.0).result, 0 * X)
