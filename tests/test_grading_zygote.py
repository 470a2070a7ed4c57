"""Pre-imported kernels forked from a server in the sandbox: as isolated as a fresh sandboxed kernel, and fast."""

import os
import sys
import time
from pathlib import Path

import pytest

from dlcourse.grading import sandbox as S
from dlcourse.grading import zygote as Z

NEEDS = S._bwrap_works() or S._cgroups_work()
REQUIRED = os.environ.get("DLCOURSE_REQUIRE_SYSTEM") == "1"
needs_system = pytest.mark.skipif(bool(NEEDS) and not REQUIRED, reason=f"needs bubblewrap and cgroups: {NEEDS}")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    folder = tmp_path_factory.mktemp("course")
    (folder / "gradebook.db").write_text("the gradebook")
    return folder


@pytest.fixture(scope="module")
def server(course):
    s = Z.server_for([str(course)], [sys.prefix], memory_bytes=2**30, max_processes=64, cpu_seconds=60, threads=1,
                     preload=("numpy", "matplotlib", "IPython", "ipykernel.kernelapp"))
    assert s is not None, "the fork server failed its own check"
    yield s


def kernel(server):
    """A kernel forked from the server, through jupyter_client like nbgrader's; returns (manager, client, sandbox)."""
    from jupyter_client import KernelManager

    box = Z.ForkedSandbox(server, memory_bytes=2**30, cpu_seconds=60)
    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(box.dir / "kernel"))
    km.connection_file = str(box.dir / "kernel.json")
    km.kernel_cmd = None
    km.format_kernel_cmd = lambda extra_arguments=None, _f=km.format_kernel_cmd: box.wrap(_f(extra_arguments))
    km.start_kernel(env=box.environment(), cwd=str(box.dir))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc, box


def run(kc, code: str, timeout: float = 60) -> str:
    out = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("ERROR " + msg["content"]["ename"] + ": " + msg["content"]["evalue"])

    kc.execute_interactive(code, output_hook=hook, timeout=timeout)
    return "".join(out)


def stop(km, kc, box):
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    box.close()


@needs_system
def test_a_forked_kernel_has_the_imports_and_none_of_the_privileges(server, course):
    km, kc, box = kernel(server)
    try:
        out = run(kc, f"""
import os, sys, socket
print("preloaded", "numpy" in sys.modules and "matplotlib" in sys.modules)
print("pid", os.getpid(), "uid", os.getuid())
print("caps", [l.split()[1] for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapPrm', 'CapBnd'))])
print("course", os.path.exists({str(course / 'gradebook.db')!r}))
print("server socket", os.path.exists({server.socket!r}))
print("tmp", sorted(os.listdir('/tmp')))
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    print("network yes")
except OSError:
    print("network no")
try:
    open('/usr/lib/dlcourse-write-test', 'w')
    print("system writable")
except OSError:
    print("system read-only")
import numpy as np
print("numpy works", np.arange(4).sum())
""")
        assert "preloaded True" in out and "pid 1 uid 65534" in out
        assert "caps ['0000000000000000', '0000000000000000', '0000000000000000']" in out
        assert "course False" in out and "server socket False" in out
        assert "network no" in out and "system read-only" in out and "numpy works 6" in out
        # its own /tmp: its session's folder, its HOME, and the (empty) mount that hides the course if under /tmp
        expected = {Path(box.dir).relative_to("/tmp").parts[0], "home"}
        import dlcourse

        for carried in (course, Path(sys.prefix), Path(dlcourse.__file__).parent):  # hidden or mounted back
            if carried.resolve().is_relative_to("/tmp"):
                expected.add(carried.resolve().relative_to("/tmp").parts[0])
        assert f"tmp {sorted(expected)}" in out
    finally:
        stop(km, kc, box)


@needs_system
def test_nothing_a_kernel_leaves_reaches_the_next_and_each_gets_fresh_random_numbers(server):
    km, kc, box = kernel(server)
    try:
        first = run(kc, """
import subprocess, numpy as np
open('/tmp/answers.txt', 'w').write('copy me'); open('/dev/shm/answers', 'w').write('copy me')
open('/tmp/home/answers', 'w').write('copy me')
subprocess.Popen(['sleep', '300'])
print(np.random.rand())
""")
    finally:
        stop(km, kc, box)
    assert not server.kernel_processes(), "a process of the first kernel survived it"
    km, kc, box = kernel(server)
    try:
        second = run(kc, """
import os, numpy as np
print([os.path.exists(p) for p in ('/tmp/answers.txt', '/dev/shm/answers', '/tmp/home/answers')])
print(np.random.rand())
""")
    finally:
        stop(km, kc, box)
    assert second.splitlines()[0] == "[False, False, False]"
    assert first.strip() != second.splitlines()[1].strip()


@needs_system
def test_interrupt_reaches_the_kernel_and_a_killed_kernel_takes_its_processes(server):
    km, kc, box = kernel(server)
    try:
        msg_id = kc.execute("import time\ntry:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    print('interrupted')")
        time.sleep(1.0)
        km.interrupt_kernel()
        deadline = time.monotonic() + 20
        text = ""
        while time.monotonic() < deadline and "interrupted" not in text:
            msg = kc.get_iopub_msg(timeout=20)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
                text += msg["content"]["text"]
        assert "interrupted" in text
        run(kc, "import subprocess\nsubprocess.Popen(['sleep', '300'])")
        assert len(server.kernel_processes()) >= 2
        box.kill()
        assert not server.kernel_processes()
        deadline = time.monotonic() + 10
        while km.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not km.is_alive(), "the launcher did not notice its kernel died"
    finally:
        stop(km, kc, box)
    assert server.alive()


@needs_system
def test_figures_still_show_inline_in_a_forked_kernel(server):
    km, kc, box = kernel(server)
    try:
        kinds = []
        kc.execute_interactive("import matplotlib.pyplot as plt\n_ = plt.plot([1, 2, 3])",
                               output_hook=lambda m: kinds.extend(m["content"].get("data", {})), timeout=60)
        assert "image/png" in kinds
    finally:
        stop(km, kc, box)


def test_the_setup_cells_imports_are_preloaded_but_never_pyplot_or_the_checks():
    cells = ["import math\nimport numpy as np\nimport matplotlib.pyplot as plt\nfrom dlcourse import data, progress",
             "from dlcourse.grading import ps3 as checks\nimport torch.nn as nn\nfrom . import local\nfrom x import *",
             "def not python("]
    assert Z.setup_imports(cells) == ["math", "numpy", "dlcourse", "dlcourse.data", "dlcourse.progress", "torch.nn",
                                      "x"]
