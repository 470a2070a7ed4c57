"""The feedback preprocessor removes every trace of hidden tests from outputs."""

import json
import os

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from dlcourse.grading.nbgrader_ext import (REDACTED, DeduplicateGradeCells, RedactHiddenTests, _cap_outputs, normalise,
                                           ungradable_reason)
from dlcourse.grading.sandbox import _bwrap_works

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


# --- feedback: disguised copies and solution lines ---------------------------------------------------------------


def test_a_disguised_copy_of_a_hidden_line_is_redacted_in_any_cell():
    zw, nbsp = "\u200b", "\u00a0"
    line = HIDDEN[0]
    student = new_code_cell("print(...)", outputs=[new_output("stream", name="stdout", text=(
        f"{zw.join(line)}\n{line.replace(' ', nbsp)}\n  {line}  \nan honest line\n"))])
    nb = new_notebook(cells=[new_code_cell(SOURCE), student])
    nb, _ = RedactHiddenTests().preprocess(nb, {})
    assert nb.cells[1].outputs[0].text == f"{REDACTED}\n{REDACTED}\n{REDACTED}\nan honest line\n"
    assert normalise(f"ch{zw}ecks .check") == "checks.check"


def test_solution_lines_of_the_source_notebook_are_redacted_too(tmp_path):
    from traitlets.config import Config

    source = new_notebook(cells=[new_code_cell(
        "def sigmoid(z):\n    ### BEGIN SOLUTION\n    return 0.5 * (1 + np.tanh(z / 2))  # the trick\n    ### END SOLUTION")])
    folder = tmp_path / "solutions" / "ps1"
    folder.mkdir(parents=True)
    nbformat.write(source, folder / "ps1.ipynb")
    config = Config()
    config.CourseDirectory.root = str(tmp_path)
    config.CourseDirectory.source_directory = "solutions"
    leak = new_code_cell("", outputs=[new_output("stream", name="stdout", text=(
        "return 0.5*(1+np.tanh(z/2))  # the trick\ndef sigmoid(z):\n"))])
    nb = new_notebook(cells=[leak])
    nb, _ = RedactHiddenTests(config=config).preprocess(nb, {"nbgrader": {"assignment": "ps1", "notebook": "ps1"}})
    assert nb.cells[0].outputs[0].text == f"{REDACTED}\ndef sigmoid(z):\n"  # the def line is public: kept


# --- a graded cell pasted twice, outputs capped, grades that could not be computed ------------------------------


def test_a_duplicated_graded_cell_counts_once_first_copy_first():
    nb = graded_notebook("TEST:assert True", "x = 1")
    copy = nbformat.from_dict(nb.cells[0])
    copy.source = "assert False"
    nb.cells.append(copy)
    nb, _ = DeduplicateGradeCells().preprocess(nb, {})
    assert nb.cells[0].metadata["nbgrader"]["grade_id"] == "test_0" and nb.cells[0].cell_type == "code"
    assert nb.cells[2].cell_type == "raw" and "nbgrader" not in nb.cells[2].metadata
    assert "the first copy counts" in nb.cells[2].source


def test_outputs_are_capped_in_bytes():
    cell = new_code_cell("", outputs=[new_output("stream", name="stdout", text="é" * 100_000),
                                      new_output("display_data", data={"image/png": "A" * 50_000, "text/plain": "fig"})])
    _cap_outputs(cell, 1000)
    assert len(cell.outputs[0].text.encode()) < 1100 and "output truncated: 200000 bytes" in cell.outputs[0].text
    assert "image/png" not in cell.outputs[1].data and cell.outputs[1].data["text/plain"] == "fig"


def test_an_ungradable_submission_has_a_reason(tmp_path):
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(root=str(tmp_path))
    folder = tmp_path / "submitted" / "ann" / "ps1"
    folder.mkdir(parents=True)
    assert ungradable_reason(coursedir, "ps1", "ann", ["ps1"]) == "ps1.ipynb is missing from the submission"
    (folder / "ps1.ipynb").write_text("{ not json")
    assert ungradable_reason(coursedir, "ps1", "ann", ["ps1"]).startswith("ps1.ipynb is not a valid notebook")
    nbformat.write(new_notebook(), folder / "ps1.ipynb")
    assert "nbgrader failed" in ungradable_reason(coursedir, "ps1", "ann", ["ps1"])
    graded = tmp_path / "autograded" / "ann" / "ps1"
    graded.mkdir(parents=True)
    nbformat.write(new_notebook(), graded / "ps1.ipynb")
    assert ungradable_reason(coursedir, "ps1", "ann", ["ps1"]) is None


# --- isolated execution: the test cells run here, the student's code in a sandbox --------------------------------


def isolated(nb, tmp_path, **config):
    from traitlets.config import Config

    from dlcourse.grading.nbgrader_ext import IsolatedExecute

    c = Config()
    c.CourseDirectory.root = str(tmp_path / "course")
    IsolatedExecute(timeout=60, config=c, **config).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    return nb


def locked(source):
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": False, "solution": False, "locked": True, "grade_id": "setup",
                                 "schema_version": 3, "task": False}
    return cell


@pytest.mark.parametrize("bubblewrap", [True, False], ids=["sandboxed", "bubblewrap off"])
def test_the_verdict_is_decided_in_the_grader(tmp_path, bubblewrap):
    if bubblewrap and _bwrap_works() and os.environ.get("DLCOURSE_REQUIRE_SYSTEM") != "1":
        pytest.skip(_bwrap_works())
    nb = graded_notebook(
        "import os\ndef double(x):\n    return 2 * x\ndef sneaky(x):\n    import dlcourse.linear\n"
        "    return dlcourse.linear.sigmoid(x)\nGRADER_PID = os.getpid()",
        "TEST:from dlcourse.grading import Case, check_function\n"
        "check_function(double, lambda x: 2 * x, [Case((3.0,), 'three')], name='double')\n"
        "import os\nassert os.getpid() != GRADER_PID  # this cell does not run in the student's kernel",
        "TEST:check_function(sneaky, lambda x: x, [Case((0.0,), 'zero')], name='sneaky')",
        "TEST:assert double(2) == 5")
    nb.cells.insert(0, locked("import numpy as np"))
    nb = isolated(nb, tmp_path, use_bubblewrap=bubblewrap)
    assert errors(nb.cells[2]) == [] and "✓ double: all 1 checks passed" in nb.cells[2].outputs[0].text
    assert errors(nb.cells[3]) == ["CheckFailed"] and "calls dlcourse.linear.sigmoid" in nb.cells[3].outputs[-1].evalue
    assert errors(nb.cells[4]) == ["AssertionError"]


def test_only_cells_the_gradebook_confirms_run_in_the_grader():
    """Even without ForgetForgedCells in the pipeline, a cell that claims to be a test or setup cell runs in the
    grader only if the gradebook has that kind of cell with that source under its grade_id."""
    from dlcourse.grading.nbgrader_ext import IsolatedExecute

    def cell(grade_id, source, grade=True, solution=False, locked=True):
        c = new_code_cell(source)
        c.metadata["nbgrader"] = {"grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id,
                                  "schema_version": 3, "task": False, "points": 1}
        return c

    ex = IsolatedExecute()
    ex._instructor = {
        "test_f": {"locked": True, "grade": True, "solution": False, "source": "check(f)"},
        "setup": {"locked": True, "grade": False, "solution": False, "source": "import numpy as np"},
        "f": {"locked": False, "grade": False, "solution": True, "source": "def f(): ..."},
    }
    assert ex._role(cell("test_f", "check(f)")) == "test"
    assert ex._role(cell("setup", "import numpy as np", grade=False)) == "setup"
    notice = "# ATTENTION: the cell below was deleted and has been restored.\n"
    assert ex._role(cell("test_f", notice + "check(f)")) == "test"  # nbgrader restored a deleted test cell
    assert ex._role(cell("test_x", "import os; os.system('id')")) == "student"  # unknown grade_id
    assert ex._role(cell("f", "import os", solution=False)) == "student"  # an answer relabelled as a test
    assert ex._role(cell("test_f", "import os\ncheck(f)")) == "student"  # code before the instructor's source
    assert ex._role(cell("test_f", "check(f); import os")) == "student"  # or after it
    assert ex._role(cell("setup", "import numpy as np")) == "student"  # a setup cell is not a test cell
    assert ex._role(cell("test_f", "x = 1", grade=False, solution=True)) == "student"  # its own claim
    ex._instructor = None  # not autograding (no gradebook in the resources): the metadata decides
    assert ex._role(cell("test_x", "check(f)")) == "test"


def test_validate_executes_with_reliable_execute_as_the_validate_button_loads_the_config(monkeypatch, caplog):
    """The Validate button's handler loads nbgrader_config.py from the server's cwd and builds a Validator from it;
    `c.Validator.preprocessors` is ignored by nbgrader 0.9.6, so the config must change the default."""
    from jupyter_core.paths import jupyter_config_path
    from nbgrader.apps import NbGrader
    from nbgrader.validator import Validator

    from dlcourse.grading.nbgrader_ext import ReliableExecute

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    monkeypatch.chdir(root)
    app = NbGrader()
    app.config_file_paths.append([os.getcwd(), *jupyter_config_path()])
    app.load_config_file()
    with caplog.at_level("WARNING"):
        validator = Validator(config=app.config)
    assert ReliableExecute in validator.preprocessors
    assert "not recognized" not in caplog.text


def test_a_test_cell_gets_the_longer_test_timeout_and_an_answer_cell_the_cell_timeout(tmp_path):
    """ps4's training test cell takes 29 s on an idle machine; the 30 s cell timeout interrupted correct answers in
    Validate on a busy one. Test cells get ``test_timeout``; any other cell still stops at ``timeout``."""
    from dlcourse.grading.nbgrader_ext import ReliableExecute

    nb = graded_notebook("import time", "TEST:time.sleep(3)\nprint('test done')", "time.sleep(3)\nprint('answer done')")
    ReliableExecute(timeout=1, test_timeout=20, interrupt_on_timeout=True, allow_errors=True).preprocess(
        nb, {"metadata": {"path": str(tmp_path)}})
    test, answer = nb.cells[1], nb.cells[2]
    assert [o.get("text") for o in test.outputs] == ["test done\n"]
    assert "KeyboardInterrupt" in errors(answer)
    assert ReliableExecute().test_timeout >= 120  # twice ps4's 60 s training limit


@pytest.mark.parametrize("text", ["checks.check_nll(nll, seed=3)", "a\tb\x0bc\x0cd\re\x1cf\x1fg", "ｃｈｅｃｋｓ\u3000.check",
                                  "ch\u200becks\u2060.che\ufeffck\xa0(x)\u2028", "\u00bd \u2126 \ufb01le"])
def test_normalise_gives_nfkc_without_format_characters_or_whitespace_on_its_ascii_fast_path_too(text):
    import unicodedata

    expected = "".join(ch for ch in unicodedata.normalize("NFKC", text)
                       if unicodedata.category(ch) != "Cf" and not ch.isspace())
    assert normalise(text) == expected


def test_isolated_grading_keeps_the_cell_timeout_for_cells_that_claim_to_be_tests():
    """In autograding, confirmed test cells run in the grader; whatever reaches the sandboxed kernel is the
    student's, even when its metadata says "test": no 300 s backstop for it."""
    from dlcourse.grading.nbgrader_ext import IsolatedExecute, ReliableExecute

    claims = graded_notebook("TEST:while True: pass").cells[0]
    assert ReliableExecute(timeout=30)._get_timeout(claims) == 300
    assert IsolatedExecute(timeout=30)._get_timeout(claims) == 30
