"""The sandbox of one submission: what a process inside sees, reaches and may use."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dlcourse.grading import sandbox as S

NEEDS = S._bwrap_works() or S._cgroups_work()
REQUIRED = os.environ.get("DLCOURSE_REQUIRE_SYSTEM") == "1"
needs_system = pytest.mark.skipif(bool(NEEDS) and not REQUIRED, reason=f"needs bubblewrap and cgroups: {NEEDS}")


def run_inside(box: S.Sandbox, code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    cmd = box.wrap([sys.executable, "-c", textwrap.dedent(code)])
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=box.environment(),
                          cwd=box.dir)


def test_the_student_view_of_the_lib_has_no_course_code(tmp_path):
    lib = S.student_lib(str(tmp_path))
    code = f"""
import sys
sys.path.insert(0, {str(lib.parent)!r})
import dlcourse, dlcourse.linear as linear, dlcourse.layers as layers, dlcourse.data as data
from dlcourse.grading import ps1 as checks
from dlcourse.gradcheck import gradient_check
print(dlcourse.__file__)
print(data.digits_split()[0].shape)                      # data is not course code: the real thing
print(layers.INIT_SCHEMES)                               # constants are kept
for call in (lambda: linear.sigmoid(0.0), lambda: layers.Sigmoid(), lambda: gradient_check(1, 2, 3),
             lambda: checks.check_sigmoid(None)):
    try:
        call()
    except Exception as err:
        print(type(err).__name__, err.course_name)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0].startswith(str(lib)) and out[1] == "(1347, 64)" and out[2].startswith("('he'")
    assert out[3:] == ["CourseCodeNotAvailable dlcourse.linear.sigmoid", "CourseCodeNotAvailable dlcourse.layers.Sigmoid",
                       "CourseCodeNotAvailable dlcourse.gradcheck.gradient_check",
                       "CourseCodeNotAvailable dlcourse.grading.ps1.check_sigmoid"]
    assert "def sigmoid" not in (lib / "linear.py").read_text()


def test_a_graders_student_view_of_the_lib_goes_with_it_and_a_killed_ones_is_swept(tmp_path, monkeypatch):
    env = dict(os.environ, TMPDIR=str(tmp_path))
    build = "from dlcourse.grading import sandbox as S; print(S.student_lib(), flush=True)"
    # a grading process that exits: its copy is removed at exit
    done = subprocess.run([sys.executable, "-c", build], capture_output=True, text=True, env=env, check=True)
    made = Path(done.stdout.strip())
    assert made.parent.parent == tmp_path and made.parent.name.startswith(f"{S.STUDENT_LIB_PREFIX}")
    assert not made.parent.exists()
    # one that is killed leaves it; one still alive keeps it while the next grader sweeps
    killed = subprocess.Popen([sys.executable, "-c", build + "; import time; time.sleep(60)"], stdout=subprocess.PIPE,
                              text=True, env=env)
    alive = subprocess.Popen([sys.executable, "-c", build + "; import time; time.sleep(60)"], stdout=subprocess.PIPE,
                             text=True, env=env)
    try:
        left, live = Path(killed.stdout.readline().strip()).parent, Path(alive.stdout.readline().strip()).parent
        killed.kill()
        killed.wait()
        mine = tmp_path / "dlcourse-student-lib-not-a-pid"  # not named after a process: not ours to remove
        mine.mkdir()
        monkeypatch.setattr(S.tempfile, "gettempdir", lambda: str(tmp_path))
        monkeypatch.setattr(S, "_cgroups_work", lambda: "not this test's business")  # leave sandboxes alone
        assert S.remove_stale_sandboxes() == 1
        assert not left.exists() and live.exists() and (live / "dlcourse" / "linear.py").exists() and mine.exists()
    finally:
        alive.kill()
        alive.wait()


@needs_system
def test_inside_the_sandbox_the_course_is_invisible_the_system_read_only_and_the_network_gone(tmp_path):
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    (course / "solutions" / "secret.txt").write_text("the hidden tests")
    box = S.Sandbox(hidden=[course], keep=[sys.prefix])
    try:
        assert box.protections.bubblewrap and box.protections.cgroups and not box.protections.missing
        proc = run_inside(box, f"""
import os, socket, numpy, dlcourse, dlcourse.linear
print(os.getuid(), os.getcwd(), os.environ["HOME"])
print(os.path.exists({str(course / "solutions" / "secret.txt")!r}), os.listdir({str(course)!r}))
for path in ("/usr/planted", "/etc/planted", os.path.dirname(os.__file__) + "/planted"):
    try:
        open(path, "w").write("x")
        print("wrote", path)
    except OSError:
        pass
try:
    open({str(course / "planted")!r}, "w").write("x")  # lands in the throw-away tmpfs that hides the course
except OSError:
    pass
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    print("network")
except OSError:
    print("no network")
print(dlcourse.__file__, hasattr(dlcourse.linear, "CourseCodeNotAvailable"))
print(os.path.exists(os.path.expanduser("~root/.bash_history")))
""")
        lines = proc.stdout.splitlines()
        assert proc.returncode == 0, proc.stderr
        assert lines[0] == "65534 /tmp/home /tmp/home"
        assert lines[1] == "False []"  # the course is an empty folder inside
        assert lines[2] == "no network"  # and nothing was written: the system is read-only
        assert lines[3].endswith("True") and lines[4] == "False"
        assert not (course / "planted").exists() and not Path("/usr/planted").exists()
    finally:
        box.close()


@needs_system
def test_limits_hold_and_nothing_outlives_the_sandbox(tmp_path):
    box = S.Sandbox(memory_bytes=256 * 2**20, max_processes=20)
    try:
        proc = run_inside(box, """
import os, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
children = 0
for _ in range(100):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(300)
        os._exit(0)
    children += 1
print("children", children)
""")
        assert proc.returncode == 0, proc.stderr
        assert int(proc.stdout.split()[1]) < 20  # the pids limit stopped the fork loop
        hog = run_inside(box, "x = bytearray(600 * 2**20)\nprint('allocated')")
        assert hog.returncode != 0 and "allocated" not in hog.stdout  # over the memory limit: killed
        deadline = time.monotonic() + 5  # the kernel reaps a dead pid namespace asynchronously
        while box.processes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not box.processes()  # the sleepers died with the sandbox's pid namespace ...
    finally:
        box.close()
    assert not box.processes() and not any(g.exists() for g in [Path(S.CGROUP_ROOT, c, box.dir.name)
                                                                     for c in ("pids", "memory")])
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "time.sleep(300)" not in ps  # ... even the one in a session of its own


def test_without_bubblewrap_it_still_works_and_says_what_is_off():
    box = S.Sandbox(use_bubblewrap=False)
    try:
        assert not box.protections.bubblewrap
        summary = box.protections.summary()
        assert "OFF: filesystem and network isolation (disabled in the configuration)" in summary
        proc = run_inside(box, "import dlcourse.linear as l\nprint(hasattr(l, 'CourseCodeNotAvailable'))")
        assert proc.stdout.strip() == "True"  # the student view of the lib is still first on the path
    finally:
        box.close()


@needs_system
def test_what_the_kernel_needs_is_mounted_back_even_under_tmp_or_the_course(tmp_path):
    """A virtual environment inside the course folder, or a clone in /tmp: hidden folders, mounted back read-only."""
    course = tmp_path / "course"
    venv = course / ".venv"
    venv.mkdir(parents=True)
    (venv / "marker").write_text("python lives here")
    (course / "gradebook.db").write_text("secret")
    box = S.Sandbox(hidden=[course], keep=[venv])
    try:
        proc = run_inside(box, f"""
import os
print(open({str(venv / "marker")!r}).read(), os.path.exists({str(course / "gradebook.db")!r}))
try:
    open({str(venv / "marker")!r}, "w")
except OSError:
    print("read-only")
""")
        assert proc.stdout.splitlines() == ["python lives here False", "read-only"], proc.stderr
    finally:
        box.close()


@needs_system
def test_what_a_killed_grader_left_behind_is_removed_but_never_a_live_sandbox():
    stale, live = S.Sandbox(), S.Sandbox()
    sleeper = subprocess.Popen(live.wrap([sys.executable, "-c", "import time; time.sleep(60)"]),
                               env=live.environment(), cwd=live.dir)
    try:
        deadline = time.monotonic() + 30
        while not live.processes() and time.monotonic() < deadline:
            time.sleep(0.05)
        old = time.time() - 3600
        for box in (stale, live):
            os.utime(box.dir, (old, old))
        fresh = S.Sandbox()  # being set up: empty cgroup, but just created
        assert S.remove_stale_sandboxes() >= 1
        assert not stale.dir.exists() and not any(g.exists() for g in stale.cgroups)
        assert live.dir.exists() and all(g.exists() for g in live.cgroups) and live.processes()
        assert fresh.dir.exists() and all(g.exists() for g in fresh.cgroups)
        fresh.close()
    finally:
        sleeper.kill()
        live.close()
        stale.cgroups = []


def test_close_waits_for_dying_processes_before_removing_every_cgroup(tmp_path, monkeypatch):
    """A fork bomb on a busy machine takes seconds to die; its cgroups stay busy until then (CI once left two
    pids cgroups behind after a 2.5 s retry). close() keeps killing and retrying, for every cgroup."""
    box = S.Sandbox(use_bubblewrap=False)
    real = list(box.cgroups)
    fake = [tmp_path / "pids" / box.dir.name, tmp_path / "memory" / box.dir.name]
    for group in fake:
        group.mkdir(parents=True)
    busy_until = time.monotonic() + 3.0  # longer than the old 2.5 s of retries
    kills = []
    rmdir = Path.rmdir

    def slow_rmdir(self):
        if self in fake and time.monotonic() < busy_until:
            raise OSError(16, "Device or resource busy")
        rmdir(self)

    monkeypatch.setattr(Path, "rmdir", slow_rmdir)
    monkeypatch.setattr(S, "kill_all", lambda processes: kills.append(processes()))
    box.cgroups = list(fake)
    try:
        box.close()
        assert not any(g.exists() for g in fake)
        assert len(kills) > 10  # killed again on every retry, not once
        assert not box.dir.exists()
    finally:
        monkeypatch.undo()
        for group in real:
            group.rmdir()
