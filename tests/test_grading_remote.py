"""The grader's proxies against a real worker process: plain data, handles, operators, callbacks, time limits.

The worker here is a plain Python process (no kernel, no sandbox): it runs the same worker source as the
student's kernel does in grading, with a student's code defined in its ``__main__``.
"""

import inspect
import textwrap
import time

import numpy as np
import pytest

from dlcourse.grading import Case, CheckFailed, check_function, guard
from dlcourse.grading import ps3

import test_grading_ps3
from dlcourse.grading.remote import RemoteError, RemoteObject, RemoteTimeout, SessionBroken, TrustedNamespace

STUDENT = textwrap.dedent('''
    import numpy as np, warnings, sys

    LR = 0.5
    SHAPE = (2, 3)

    def double(x):
        return 2 * np.asarray(x, float)

    def noisy(x):
        warnings.warn("debug message")
        print("hello from the student")
        print("to stderr", file=sys.stderr)
        return np.exp(np.asarray(x, float) * 1000.0)

    def uses_helper(x):
        return helper(x) + 1.0

    def helper(x):
        return -999.0

    def broken(x):
        return [][1]

    def forever(x):
        while True:
            pass

    def stubborn(x):
        import signal
        signal.signal(signal.SIGALRM, signal.SIG_IGN)  # no interrupt can stop it from inside
        while True:
            try:
                pass
            except BaseException:
                pass

    def course_code(x):
        class CourseCodeNotAvailable(RuntimeError):
            course_name = "dlcourse.linear.sigmoid"
        raise CourseCodeNotAvailable("not available")

    def tensor(x):
        import torch
        return torch.tensor([1.0, 2.0], requires_grad=True) * 1.0

    class Box:
        def __init__(self, v):
            self.v = v
        def __add__(self, other):
            return Box(self.v + (other.v if isinstance(other, Box) else other))
        __radd__ = __add__
        def value(self):
            return self.v
''')


@pytest.fixture
def session(student_process):
    return student_process(STUDENT)


def test_names_come_back_as_copies_or_handles(session):
    assert session.get("LR") == 0.5 and session.get("SHAPE") == (2, 3)
    double = session.get("double")
    assert isinstance(double, RemoteObject) and double.__name__ == "double"
    np.testing.assert_array_equal(double([1, 2]), [2.0, 4.0])
    assert list(double.signature().parameters) == ["x"]
    with pytest.raises(KeyError):
        session.get("undefined_name")
    ns = TrustedNamespace(session)
    exec("result = double(3) + LR\nlength = len([1, 2])", ns)  # builtins stay builtins
    assert ns["result"] == 6.5 and ns["length"] == 2


def test_objects_stay_remote_and_operators_are_forwarded(session):
    Box = session.get("Box")
    a, b = Box(1.0), Box(2.5)
    assert isinstance(a, RemoteObject) and a._type == "Box"
    total = 3 + a + b  # __radd__ and __add__, evaluated in the worker
    assert total.value() == 6.5 and total.v == 6.5
    with pytest.raises(AttributeError):
        a.missing
    with pytest.raises(AttributeError, match="read-only"):
        a.v = 3


def test_a_guarded_call_reports_warnings_output_and_errors(session, capsys):
    run = guard.run_student(session.get("noisy"), (np.array([1.0]),), {}, {}, 5.0)
    assert np.isinf(run.result).all()
    assert run.numerical_warnings == ["RuntimeWarning: overflow encountered in exp"]
    assert "UserWarning: debug message" in run.notes and "to stderr" in run.stderr
    assert "hello from the student" in capsys.readouterr().out
    run = guard.run_student(session.get("broken"), (1,), {}, {}, 5.0)
    assert isinstance(run.error, RemoteError) and run.error.ename == "IndexError"
    assert "in broken, line 23" in run.error.student_traceback()
    run = guard.run_student(session.get("course_code"), (1,), {}, {}, 5.0)
    assert run.reference_calls == ["dlcourse.linear.sigmoid"] and run.error is None


def test_lent_helpers_run_in_the_grader(session):
    calls = []

    def correct_helper(x):
        calls.append(x)
        return float(x) * 10

    run = guard.run_student(session.get("uses_helper"), (2.0,), {}, {"helper": correct_helper}, 5.0)
    assert run.result == 21.0 and calls == [2.0]
    assert guard.run_student(session.get("uses_helper"), (2.0,), {}, {}, 5.0).result == -998.0  # restored


def test_torch_results_arrive_as_tensors_with_their_description(session):
    t = session.get("tensor")(0)
    assert type(t).__module__.startswith("torch") and t.requires_grad and t.remote_device == "cpu"
    np.testing.assert_array_equal(t.detach().numpy(), [1.0, 2.0])


def test_a_loop_is_stopped_by_the_worker_and_switched_off(session):
    start = time.monotonic()
    with pytest.raises(CheckFailed, match="did not finish within 0.5 s"):
        check_function(session.get("forever"), lambda x: x, [Case((1,), "one")], name="forever", seconds=0.5)
    assert time.monotonic() - start < 3
    assert "forever" in session.switched_off
    with pytest.raises(CheckFailed, match="not checked again"):
        check_function(session.get("forever"), lambda x: x, [Case((1,), "one")], name="forever", seconds=0.5)


def test_a_loop_that_swallows_the_interrupt_is_killed_from_outside(session, monkeypatch):
    from dlcourse.grading import remote

    monkeypatch.setattr(remote, "GRACE", 1.0)
    start = time.monotonic()
    run = guard.run_student(session.get("stubborn"), (1,), {}, {}, 0.5)
    assert run.timed_out and time.monotonic() - start < 4
    assert session.broken
    with pytest.raises(SessionBroken):
        session.get("LR")


def test_the_value_check_drives_a_remote_engine_through_the_proxies(session_with_value, capsys):
    """ps3's check_value, unchanged, on a student's Value that lives in another process."""
    with guard.remote_mode(session_with_value):
        ps3.check_value(session_with_value.get("Value"), n_random=1)
    assert capsys.readouterr().out.startswith("✓ Value: all")


# the independent engine of the ps3 tests, defined again in the worker process
VALUE = "import math\n\n" + inspect.getsource(test_grading_ps3.Value)


@pytest.fixture
def session_with_value(student_process):
    return student_process(VALUE)


def test_a_helper_that_passed_its_check_is_not_lent_one_that_failed_is(session):
    calls = []

    def correct_helper(x):
        calls.append(x)
        return float(x) * 10

    helper = session.get("helper")
    with pytest.raises(CheckFailed):
        check_function(helper, correct_helper, [Case((1.0,), "one")], name="helper")
    assert guard.run_student(session.get("uses_helper"), (2.0,), {}, {"helper": correct_helper}, 5.0).result == 21.0
    assert calls == [1.0, 2.0]  # the check called it once, then the failed helper was replaced by it (a call back)
    check_function(helper, lambda x: -999.0, [Case((1.0,), "one")], name="helper")  # now it "passes"
    assert "helper" in session.verified
    assert guard.run_student(session.get("uses_helper"), (2.0,), {}, {"helper": correct_helper}, 5.0).result == -998.0
    assert calls == [1.0, 2.0]  # verified: the student's own ran in the kernel, no call back


def test_a_program_runs_recorded_operations_in_one_request_in_order(session, monkeypatch):
    from dlcourse.grading.remote import Program

    requests = []
    real = session.request
    monkeypatch.setattr(session, "request", lambda message, seconds=None: requests.append(message["op"])
                        or real(message, seconds))
    program = Program(session)
    Box = program.value(session.get("Box"))
    requests.clear()
    a = Box(1.0)
    total = 3 + a + (Box(2.5) + 2)  # __radd__ and __add__ of the student's class, in the kernel
    b = Box(4.0)
    assert requests == []  # nothing sent while recording
    got = program.run([total.value(), a.v, b.v])
    assert requests == ["program"] and got == [8.5, 1.0, 4.0]
    with pytest.raises(TypeError, match="values it recorded"):
        program.run([7])
    program = Program(session)
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        program.run([program.value(session.get("Box"))(1.0).missing])
    program = Program(session)
    with pytest.raises(RemoteError) as err:
        program.run([program.value(session.get("broken"))(1)])
    assert err.value.ename == "IndexError"
    with pytest.raises(TypeError):
        float(program.value(1.0))
