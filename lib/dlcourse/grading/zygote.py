"""Pre-imported kernels: a fork server inside the grading sandbox.

A fresh kernel pays about a second of CPU before the first cell runs (the interpreter, IPython and ipykernel,
numpy, matplotlib's font list; torch two more seconds) — for every submission, and again after each restart. A
:class:`ForkServer` pays it once per grading worker: a long-lived process, itself inside a
:class:`~dlcourse.grading.sandbox.Sandbox` (uid 65534, no network, the system read-only, the course hidden, course
code replaced by stubs), that has *only imported* those modules and forks one child per kernel. It never runs
student code.

Each kernel is isolated from the server and from every other kernel by the child, before any student code runs:

* a user namespace nested in the server's, and new mount, pid, network, IPC and UTS namespaces;
* a fresh tmpfs on ``/tmp``, ``/var/tmp`` and ``/dev/shm`` (its HOME, TMPDIR, IPYTHONDIR, MPLCONFIGDIR) with only
  its own session folder (connection file and sockets) mounted back: nothing a kernel writes reaches the next;
* the kernel is pid 1 of its pid namespace, so every process it starts dies with it;
* all capabilities dropped (bounding, ambient, effective, permitted), ``no_new_privs``, CPU-time / file-size / core
  limits, the random generators of Python, numpy and torch reseeded (a fork would share their state);
* the server is not dumpable (no ptrace, no ``/proc/PID/mem``) and its socket and folder are hidden from kernels.

The memory and process limits are the server's cgroup, which holds one kernel at a time (a worker grades one
submission at a time).

jupyter_client starts a *launcher* (``python -m dlcourse.grading.zygote launch SOCKET SESSION -- ARGV``) as the
kernel process: it asks the server for a kernel, forwards the signals it receives (interrupts) and exits with the
kernel's exit status; when it is killed, the connection closes and the kernel is killed.

Protocol (a unix socket, one JSON object per line): launcher → server ``{"argv": [...], "session": DIR}`` (or
``{"probe": true, ...}``); keeper → launcher ``{"started": pid}`` or ``{"error": text}``, later ``{"exit": code}``;
launcher → keeper ``{"signal": n}``.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import dataclasses
import importlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# modules worth importing once for every kernel (sklearn.datasets: the digits, imported when a notebook first loads
# them); IsolatedExecute adds those the notebook's setup cells import.
# Never matplotlib.pyplot: imported before the kernel exists, it would pick a backend that shows no figures.
DEFAULT_PRELOAD = ("IPython", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "comm", "ipywidgets",
                   "numpy", "numpy.linalg", "numpy.random", "matplotlib", "matplotlib.font_manager",
                   "matplotlib.figure", "matplotlib.colors", "tqdm", "sklearn.datasets")
NEVER_PRELOAD = ("matplotlib.pyplot", "pylab", "matplotlib_inline", "dlcourse.grading")


def setup_imports(sources) -> list[str]:
    """The modules that these (instructor's) code cells import, minus those that must not be preloaded."""
    import ast

    names = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.append(node.module)  # and the names it takes, when they are submodules (from x import y)
                names += [f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*"]
    return [n for n in dict.fromkeys(names) if not any(n == x or n.startswith(x + ".") for x in NEVER_PRELOAD)]


_CLONE_NEWNS, _CLONE_NEWUTS, _CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
_CLONE_NEWUSER, _CLONE_NEWPID, _CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
_MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_REC, _MS_PRIVATE = 2, 4, 4096, 16384, 1 << 18
_PR_SET_DUMPABLE, _PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS, _PR_CAP_AMBIENT = 4, 24, 38, 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_O_PATH = getattr(os, "O_PATH", 0o10000000)
_MARKER = "/tmp/home/.dlcourse-fork-server"


# --- system calls Python 3.11 does not wrap ----------------------------------------------------------------

_libc = None


def _call(name: str, *args) -> int:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    result = getattr(_libc, name)(*args)
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")
    return result


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _call("mount", source and source.encode(), target.encode(), fstype and fstype.encode(), ctypes.c_ulong(flags),
          data and data.encode())


def _prctl(option: int, arg: int = 0) -> None:
    _call("prctl", ctypes.c_int(option), ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """No capability left in any set, and no way to gain one (``no_new_privs``)."""
    _prctl(_PR_SET_NO_NEW_PRIVS, 1)
    for cap in range(64):
        try:
            _prctl(_PR_CAPBSET_DROP, cap)
        except OSError:  # EINVAL past the last capability this kernel knows
            break
    with contextlib.suppress(OSError):
        _prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3: two data structs
    data = (_CapData * 2)()
    _call("capset", ctypes.byref(header), ctypes.byref(data))


def capabilities() -> dict[str, int]:
    """This process's capability sets, from ``/proc/self/status`` (for tests)."""
    sets = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")):
            key, value = line.split(":")
            sets[key] = int(value.strip(), 16)
    return sets


# --- line-delimited JSON over a socket ---------------------------------------------------------------------


def _send(sock: socket.socket, message: dict) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


class _Lines:
    def __init__(self, sock: socket.socket):
        self.sock, self.buffer, self.closed = sock, b"", False

    def read(self, timeout: float | None = None) -> dict | None:
        """The next message; None when the peer closed the connection (``closed``) or ``timeout`` passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self.buffer:
            if deadline is not None:
                left = max(0.0, deadline - time.monotonic())
                if not select.select([self.sock], [], [], left)[0]:
                    return None
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                self.closed = True
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)


# --- inside the sandbox: the server, the keeper of one kernel, the kernel ----------------------------------


def serve(socket_path: str, preload: list[str]) -> None:
    """The fork server: import ``preload``, then fork one keeper per connection, forever."""
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing optional module is not an error
            pass
    import gc

    gc.collect()
    gc.freeze()  # what the imports built is never collected: kernels neither scan it nor copy its pages when they do
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:  # a fork copies one thread: locks held by the others would stay locked in every kernel
        print(f"error: {threads} threads after the imports", flush=True)
        sys.exit(3)
    _prctl(_PR_SET_DUMPABLE, 0)
    Path(_MARKER).parent.mkdir(parents=True, exist_ok=True)
    Path(_MARKER).write_text("the fork server's /tmp: a kernel must not see this\n")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(socket_path)
    server.listen(16)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # keepers are reaped automatically
    print(f"ready {os.getpid()}", flush=True)
    while True:
        conn, _ = server.accept()
        if os.fork() == 0:
            server.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            code = 1
            try:
                code = _keep(conn)
            except BaseException as err:  # noqa: BLE001 - report, never return into the server loop
                with contextlib.suppress(Exception):
                    _send(conn, {"error": f"{type(err).__name__}: {err}"})
            finally:
                os._exit(code)
        conn.close()


def _isolate(session: str, tmp_bytes: int) -> None:
    """New namespaces for one kernel and a fresh /tmp with only ``session`` in it (runs in the keeper)."""
    uid, gid = os.getuid(), os.getgid()
    _call("unshare", _CLONE_NEWUSER)
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    _call("unshare", _CLONE_NEWNS | _CLONE_NEWPID | _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWUTS)
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    # what the sandbox mounted under /tmp (a virtual environment, the course library) goes back on the new /tmp;
    # the server's own folder does not, except this kernel's session
    server_dir = os.path.dirname(session.rstrip("/"))
    carried = _mounts_under("/tmp", exclude=server_dir) + [session]
    fds = [os.open(path, _O_PATH) for path in carried]
    for folder, size in (("/tmp", tmp_bytes), ("/var/tmp", 16 * 2**20), ("/dev/shm", 64 * 2**20)):
        if os.path.isdir(folder):
            _mount("tmpfs", folder, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={size},mode=1777")
    for path, fd in zip(carried, fds):
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "a").close()
        _mount(f"/proc/self/fd/{fd}", path, None, _MS_BIND | _MS_REC)
        os.close(fd)


def _mounts_under(top: str, exclude: str) -> list[str]:
    """The outermost mount points strictly below ``top`` (from /proc/self/mountinfo), none at or below
    ``exclude``."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if point.startswith(top + "/") and not (point == exclude or point.startswith(exclude + "/")):
            points.append(point)
    outermost = []
    for point in sorted(set(points), key=len):
        if not any(point.startswith(p + "/") for p in outermost):
            outermost.append(point)
    return outermost


def _keep(conn: socket.socket) -> int:
    """The keeper of one kernel: isolate, fork the kernel, relay signals, report its exit."""
    lines = _Lines(conn)
    request = lines.read(timeout=30)
    if request is None:
        return 1
    _isolate(request["session"], int(request.get("tmp_bytes", 512 * 2**20)))
    kid = os.fork()
    if kid == 0:
        code = 1
        try:
            conn.close()
            code = _become_kernel(request)
        finally:
            os._exit(code)
    _send(conn, {"started": kid})
    pidfd = os.pidfd_open(kid)
    while True:
        ready = select.select([conn, pidfd], [], [])[0]
        if pidfd in ready:
            _, status = os.waitpid(kid, 0)
            with contextlib.suppress(OSError):
                _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
            return 0
        message = lines.read(timeout=0)
        if lines.closed:  # the launcher is gone: so is the kernel
            with contextlib.suppress(ProcessLookupError):
                os.kill(kid, signal.SIGKILL)
            os.waitpid(kid, 0)
            return 0
        if message and "signal" in message:
            with contextlib.suppress(ProcessLookupError):
                os.kill(kid, int(message["signal"]))


def _become_kernel(request: dict) -> int:
    """In the kernel's namespaces (pid 1): limits, no capabilities, fresh RNGs, then ipykernel."""
    import resource

    home = os.environ.get("HOME", "/tmp/home")
    for var in ("HOME", "IPYTHONDIR", "MPLCONFIGDIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR"):
        if os.environ.get(var, "").startswith("/tmp/"):
            os.makedirs(os.environ[var], exist_ok=True)
    os.chdir(home)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, 65536)
    for name, value in request.get("limits", {}).items():
        limit = getattr(resource, name)
        resource.setrlimit(limit, (int(value), int(value)))
    drop_capabilities()
    import random

    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    if "torch" in sys.modules:
        sys.modules["torch"].seed()
    if request.get("probe"):
        probe = {"pid": os.getpid(), "caps": capabilities(), "server_tmp_visible": os.path.exists(_MARKER),
                 "session_siblings": sorted(os.listdir(os.path.dirname(request["session"].rstrip("/")))),
                 "python_visible": os.path.exists(os.__file__) and os.path.isdir(sys.prefix),
                 "uid": os.getuid(), "imported": sorted(m for m in ("numpy", "torch", "matplotlib") if m in sys.modules)}
        Path(request["session"], "probe.json").write_text(json.dumps(probe))
        return 0
    argv = list(request["argv"])
    start = next((i + 1 for i, a in enumerate(argv) if a in ("ipykernel_launcher", "ipykernel")), None)
    if start is None:
        raise ValueError(f"not an ipykernel command line: {argv}")
    from ipykernel.kernelapp import IPKernelApp

    sys.argv = ["ipykernel_launcher"] + argv[start:]
    app = IPKernelApp.instance()
    app.initialize(argv[start:])
    app.start()
    return 0


# --- outside: the launcher that jupyter_client starts as the kernel process --------------------------------


def launch(socket_path: str, session: str, argv: list[str], limits: dict | None = None,
           tmp_bytes: int = 512 * 2**20) -> int:
    """Ask the server for a kernel running ``argv``; relay signals to it; return its exit status."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(socket_path)
    except OSError as err:
        print(f"dlcourse fork server unreachable at {socket_path}: {err}", file=sys.stderr)
        return 1
    _send(sock, {"argv": argv, "session": session, "limits": limits or {}, "tmp_bytes": tmp_bytes})

    def forward(signum, _frame):
        with contextlib.suppress(OSError):
            _send(sock, {"signal": signum})

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, forward)
    lines = _Lines(sock)
    while True:
        message = lines.read()
        if message is None:
            return 1  # the server or the keeper died
        if "error" in message:
            print(f"dlcourse fork server: {message['error']}", file=sys.stderr)
            return 1
        if "exit" in message:
            return int(message["exit"])


def _main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        serve(argv[1], argv[2:])
        return 0
    if argv[:1] == ["launch"]:
        split = argv.index("--")
        options = json.loads(argv[3]) if split > 3 else {}
        return launch(argv[1], argv[2], argv[split + 1:], options.get("limits"), options.get("tmp_bytes", 512 * 2**20))
    print("usage: python -m dlcourse.grading.zygote serve SOCKET [MODULE...] | launch SOCKET SESSION [OPTIONS] -- ARGV",
          file=sys.stderr)
    return 2


# --- the grader's side -------------------------------------------------------------------------------------


class ForkServer:
    """One fork server in its own sandbox (``box``, a :class:`~dlcourse.grading.sandbox.Sandbox`)."""

    def __init__(self, box, preload=DEFAULT_PRELOAD, start_timeout: float = 120.0):
        self.box = box
        self.socket = str(box.dir / "zygote.sock")
        # inside the sandbox the grading package is a stub: the server runs a copy of this file, as a script
        # (-P: its folder is not put on sys.path)
        script = box.dir / "dlcourse_fork_server.py"
        shutil.copyfile(__file__, script)
        script.chmod(0o644)
        cmd = box.wrap([sys.executable, "-P", str(script), "serve", self.socket, *preload])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=box.environment(),
                                     cwd=box.dir, text=True)
        line = _readline(self.proc.stdout, start_timeout)
        if not line.startswith("ready "):
            self.close()
            raise RuntimeError(f"the fork server did not start ({line.strip() or 'no answer'})")
        self.ns_pid = int(line.split()[1])

    def alive(self) -> bool:
        return self.proc.poll() is None and os.path.exists(self.socket)

    def kernel_processes(self) -> list[int]:
        """Host pids of the kernels and whatever they started (three pid namespaces deep or more)."""
        pids = []
        for pid in self.box.processes():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("NSpid:") and len(line.split()) >= 4:
                        pids.append(pid)
            except OSError:
                continue
        return pids

    def kill_kernels(self) -> None:
        """Kill every kernel of this server and what it started; the server stays."""
        from .sandbox import kill_all

        kill_all(self.kernel_processes)

    def probe(self, session: str, limits: dict | None = None) -> dict:
        """Fork one child that isolates itself like a kernel and reports what it sees instead of starting one."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.socket)
        with sock:
            _send(sock, {"probe": True, "argv": [], "session": session, "limits": limits or {}})
            lines = _Lines(sock)
            while True:
                message = lines.read(timeout=60)
                if message is None or "error" in message:
                    raise RuntimeError(f"fork server probe failed: {message}")
                if "exit" in message:
                    break
        return json.loads(Path(session, "probe.json").read_text())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.box.close()


class ForkedSandbox:
    """The sandbox of one submission whose kernels are forked from ``server``: a session folder inside the
    server's, and the launcher command. Same interface as :class:`~dlcourse.grading.sandbox.Sandbox`."""

    def __init__(self, server: ForkServer, memory_bytes: int = 4 * 2**30, cpu_seconds: int = 900,
                 tmp_bytes: int = 512 * 2**20, file_bytes: int = 256 * 2**20):
        self.server = server
        self.dir = Path(tempfile.mkdtemp(dir=server.box.dir, prefix="kernel-"))
        self.dir.chmod(0o777)
        self.protections = dataclasses.replace(server.box.protections, fork_server=True, memory_bytes=memory_bytes,
                                               cpu_seconds=cpu_seconds)
        self.options = {"limits": {"RLIMIT_CPU": cpu_seconds, "RLIMIT_FSIZE": file_bytes, "RLIMIT_CORE": 0},
                        "tmp_bytes": tmp_bytes}

    def wrap(self, argv: list[str]) -> list[str]:
        return [sys.executable, "-m", "dlcourse.grading.zygote", "launch", self.server.socket, str(self.dir),
                json.dumps(self.options), "--", *argv]

    def environment(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith("DLCOURSE_")}

    def processes(self) -> list[int]:
        return self.server.kernel_processes()

    def kill(self) -> None:
        self.server.kill_kernels()

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


_SERVERS: dict[tuple, ForkServer | None] = {}


def server_for(hidden, keep, *, memory_bytes: int, max_processes: int, cpu_seconds: int, threads: int,
               preload=DEFAULT_PRELOAD, log=None) -> ForkServer | None:
    """This process's fork server for sandboxes of this shape, started (and checked) on first use, restarted if it
    died; None where it cannot work here (no bubblewrap or cgroups, or its check failed: then every kernel is
    started afresh, as without it)."""
    from .sandbox import Sandbox

    key = (tuple(map(str, hidden)), tuple(map(str, keep)), memory_bytes, max_processes, cpu_seconds, threads,
           tuple(preload))
    if key in _SERVERS:
        server = _SERVERS[key]
        if server is None or server.alive():
            return server
        server.close()
    # the server's own memory (its imports) counts in the cgroup too
    box = Sandbox(hidden=hidden, keep=keep, memory_bytes=memory_bytes + 2**30, max_processes=max_processes,
                  cpu_seconds=10**7, threads=threads)
    if not (box.protections.bubblewrap and box.protections.cgroups):
        box.close()
        _SERVERS[key] = None
        return None
    try:
        server = ForkServer(box, preload)
        session = tempfile.mkdtemp(dir=box.dir, prefix="probe-")
        os.chmod(session, 0o777)
        seen = server.probe(session, {"RLIMIT_CORE": 0})
        problems = [what for what, ok in (
            ("the kernel is not pid 1 of its namespace", seen["pid"] == 1),
            ("capabilities left", not any(seen["caps"].get(k) for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb"))),
            ("not the sandbox user", seen["uid"] == 65534),
            ("/tmp is shared with the server", not seen["server_tmp_visible"]),
            ("other sessions are visible", seen["session_siblings"] == [Path(session).name]),
            ("the Python installation is not visible", seen["python_visible"])) if not ok]
        if problems:
            raise RuntimeError("; ".join(problems) + f" (the probe saw {seen})")
    except Exception as err:  # noqa: BLE001 - fall back to fresh kernels, and say so
        if log is not None:
            log.warning("No pre-imported kernels (the fork server failed its check: %s); kernels start afresh", err)
        with contextlib.suppress(Exception):
            server.close() if "server" in locals() else box.close()
        _SERVERS[key] = None
        return None
    atexit.register(server.close)
    _SERVERS[key] = server
    return server


def close_servers() -> None:
    """Stop this process's fork servers and remove their sandboxes (``dlcourse grade`` calls it on every worker
    before the cluster closes: a worker that is simply terminated would leave their cgroups behind)."""
    for server in list(_SERVERS.values()):
        if server is not None:
            server.close()
    _SERVERS.clear()


def _readline(stream, timeout: float) -> str:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0] if result else ""


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
