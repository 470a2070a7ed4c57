"""The feedback preprocessor removes every trace of hidden tests from outputs."""

import json

from nbformat.v4 import new_code_cell, new_notebook, new_output

from dlcourse.grading.nbgrader_ext import REDACTED, RedactHiddenTests

SOURCE = """# Tests for Question 1 (2 points)
checks.check_sigmoid(sigmoid)
### BEGIN HIDDEN TESTS
checks.check_sigmoid(sigmoid, seed=3141, n_random=40)
assert secret_helper(7) == 49
### END HIDDEN TESTS"""
HIDDEN = ["checks.check_sigmoid(sigmoid, seed=3141, n_random=40)", "assert secret_helper(7) == 49"]


def run(cell):
    nb = new_notebook(cells=[cell])
    nb, _ = RedactHiddenTests().preprocess(nb, {})
    return nb.cells[0]


def test_tracebacks_of_hidden_cells_are_reduced_to_the_message():
    traceback = [
        "\x1b[0;31mNameError\x1b[0m  Traceback (most recent call last)",
        "Cell In[5], line 2",
        "----> 2 checks.check_sigmoid(sigmoid)",
        "      4 checks.check_sigmoid(sigmoid, seed=3141, n_random=40)",
        "NameError: name 'sigmoid' is not defined",
    ]
    cell = new_code_cell(SOURCE, outputs=[
        new_output("error", ename="NameError", evalue="name 'sigmoid' is not defined", traceback=traceback),
        new_output("stream", name="stderr", text="x.py:4: UserWarning: hm\n  assert secret_helper(7) == 49\n"),
        new_output("execute_result", data={"text/plain": "checks.check_sigmoid(sigmoid, seed=3141, n_random=40)"},
                   execution_count=1),
    ])
    out = run(cell)
    error, stream, result = out.outputs
    assert error.traceback == ["NameError: name 'sigmoid' is not defined"]
    assert stream.text == f"x.py:4: UserWarning: hm\n{REDACTED}\n"
    assert result.data["text/plain"] == REDACTED
    text = json.dumps(out.outputs)  # the source itself is ClearHiddenTests' job
    for line in HIDDEN:
        assert line not in text


def test_cells_without_hidden_tests_are_untouched():
    tb = ["Traceback", "----> 1 checks.check_nll(nll)", "CheckFailed: nope"]
    cell = new_code_cell("checks.check_nll(nll)", outputs=[
        new_output("error", ename="CheckFailed", evalue="nope", traceback=tb)])
    assert run(cell).outputs[0].traceback == tb


def test_short_and_comment_lines_are_not_searched():
    assert RedactHiddenTests().hidden_lines("### BEGIN HIDDEN TESTS\nx=1\n# a comment\n)\nrun_check(7)\n### END HIDDEN TESTS") \
        == ["run_check(7)"]


def graded_notebook(*sources):
    """Code cells; a source starting with 'TEST:' becomes a locked nbgrader test cell worth 1 point."""
    cells = []
    for i, src in enumerate(sources):
        cell = new_code_cell(src.removeprefix("TEST:"))
        if src.startswith("TEST:"):
            cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 1,
                                         "grade_id": f"test_{i}", "schema_version": 3, "task": False}
        cells.append(cell)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def execute(nb, tmp_path, **config):
    from dlcourse.grading.nbgrader_ext import ResilientExecute

    ResilientExecute(timeout=60, **config).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    return nb


def errors(cell):
    return [o.ename for o in cell.outputs if o.output_type == "error"]


def test_a_dead_kernel_is_restarted_and_the_state_replayed(tmp_path):
    nb = execute(graded_notebook("import os\nx = 41", "TEST:os._exit(1)", "TEST:assert x + 1 == 42",
                                 "y = x * 2", "TEST:assert y == 82"), tmp_path)
    assert errors(nb.cells[1]) == ["KernelDied"]
    assert errors(nb.cells[2]) == [] and errors(nb.cells[4]) == []  # x came back: cell 0 was replayed
    assert "grading went on in a new kernel" in nb.cells[1].outputs[-1].evalue


def test_after_too_many_deaths_every_remaining_test_fails(tmp_path):
    nb = execute(graded_notebook("import os", "os._exit(1)", "os._exit(2)", "TEST:assert True", "z = 1"),
                 tmp_path, max_restarts=1)
    assert errors(nb.cells[1]) == ["KernelDied"] and errors(nb.cells[2]) == ["KernelDied"]
    assert errors(nb.cells[3]) == ["NotRun"]  # an unrun test cell must not score full points
    assert errors(nb.cells[4]) == ["NotRun"]
