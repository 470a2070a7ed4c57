"""One sandbox per submission: what the student's kernel can see, reach and use while it is graded.

With Debian's ``bubblewrap`` (what Flatpak uses) the kernel runs as uid 65534 in its own user, pid, network,
IPC and UTS namespaces, and

* sees the machine read-only, except a private ``/tmp`` (a size-limited tmpfs: its HOME, TMPDIR, IPYTHONDIR and
  MPLCONFIGDIR, and its working directory, all thrown away) and the session folder with its sockets;
* does not see the course at all (gradebook, ``solutions/``, source, release and submission folders, other
  students' work), nor the grader's home, nor ``/tmp``: those are hidden under empty tmpfs mounts; the Python
  installation and the virtual environment are mounted back, read-only;
* imports a *student view* of the course library (:func:`student_lib`), in which every module registered as
  course code (:mod:`dlcourse._reference`) and the grading package are stubs that raise: a graded answer cannot
  call the reference solution under any name, from any thread, through any copy of its code — it is not there;
* has no network (a new network namespace with only loopback), and dies with the grader (``--die-with-parent``).

Resource limits: a cgroup (v1, ``pids`` and ``memory``) per sandbox when the grader may create one, which also
finds every process the submission started so that :meth:`Sandbox.kill` leaves none behind; CPU time and file
size by ``prlimit``. Where a mechanism is missing (no bubblewrap, no cgroups, not root) grading still works and
:meth:`Protections.summary` says which protections were off.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SANDBOX_UID = 65534
# numerical libraries' thread pools (OpenBLAS, MKL, OpenMP: numpy, scipy, torch); their threads spin while they
# wait, so kernels graded side by side must not each start one per core
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
CGROUP_ROOT = Path("/sys/fs/cgroup")
STUDENT_LIB_PREFIX = "dlcourse-student-lib-"  # then the pid of the grading process that built it


# --- the student's view of the course library ------------------------------------------------------------

_STUB = '''"""{module} is the course's own code: it is not available while answers are graded."""


class CourseCodeNotAvailable(RuntimeError):
    """Raised by every function of this module while a submission is graded."""

    def __init__(self, name):
        super().__init__(f"{{name}} is the course library's own code, which is not available while your answers "
                         f"are graded: write it yourself")
        self.course_name = name


class _Unavailable:
    def __init__(self, name):
        self._name = name

    def __call__(self, *args, **kwargs):
        raise CourseCodeNotAvailable(self._name)

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Unavailable(self._name + "." + attr)

    def __repr__(self):
        return f"<{{self._name}}: not available while grading>"


{constants}

def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return _Unavailable("{module}." + name)
'''


def _literal_constants(source: str) -> str:
    """The module-level ``NAME = literal`` assignments of a module (tuples of names, numbers): harmless, and
    notebooks may read them (``mlp.PARAM_NAMES``)."""
    lines = []
    for node in ast.parse(source).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id.isupper()):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue
            lines.append(f"{node.targets[0].id} = {value!r}")
    return "\n".join(lines) + ("\n" if lines else "")


def _stub(module: str, real: Path | None) -> str:
    constants = _literal_constants(real.read_text()) if real is not None and real.suffix == ".py" else ""
    return _STUB.format(module=module, constants=constants)


@functools.lru_cache(maxsize=None)
def student_lib(dest: str | None = None) -> Path:
    """A copy of the ``dlcourse`` package in which course code and grading are stubs; returns its folder.

    Built once per grading process, in a temporary folder unless ``dest`` is given: one named after the process,
    removed when it exits, or by :func:`remove_stale_sandboxes` once that process is gone.
    """
    import importlib
    import multiprocessing.util
    import pkgutil

    import dlcourse
    from dlcourse import _reference

    package = Path(dlcourse.__file__).parent
    for info in pkgutil.iter_modules([str(package)]):  # import every module so that each registers itself
        if not info.ispkg:
            importlib.import_module(f"dlcourse.{info.name}")
    course_files = {Path(p).resolve() for p in _reference.registered_files()}
    if dest is None:
        dest = tempfile.mkdtemp(prefix=f"{STUDENT_LIB_PREFIX}{os.getpid()}-")
        # at exit, in this process only; multiprocessing's finalizers also run where atexit does not (Dask's
        # worker processes)
        multiprocessing.util.Finalize(None, shutil.rmtree, args=(dest,), kwargs={"ignore_errors": True},
                                      exitpriority=0)
    root = Path(dest) / "dlcourse"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for path in package.glob("*.py"):
        module = f"dlcourse.{path.stem}"
        if path.resolve() in course_files:
            (root / path.name).write_text(_stub(module, path))
        else:
            shutil.copy2(path, root / path.name)
    grading = root / "grading"
    grading.mkdir()
    for path in (package / "grading").glob("*.py"):
        module = "dlcourse.grading" if path.stem == "__init__" else f"dlcourse.grading.{path.stem}"
        (grading / path.name).write_text(_stub(module, path))
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    root.parent.chmod(0o755)
    return root


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # PermissionError: alive, someone else's
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


# --- what this machine allows ----------------------------------------------------------------------------


@dataclass
class Protections:
    """Which protections a sandbox has; :meth:`summary` is what the grader logs."""

    bubblewrap: bool
    cgroups: bool
    prlimit: bool
    memory_bytes: int
    max_processes: int
    cpu_seconds: int
    missing: list = field(default_factory=list)
    fork_server: bool = False

    def summary(self) -> str:
        on = []
        if self.bubblewrap:
            on.append("bubblewrap (no network, course and other submissions hidden, read-only system, uid 65534, "
                      "course code absent)")
        if self.cgroups:
            on.append(f"cgroup limits ({self.memory_bytes // 2**20} MiB, {self.max_processes} processes)")
        if self.prlimit:
            on.append(f"CPU time {self.cpu_seconds} s per process")
        if self.fork_server:
            on.append("kernels forked from a pre-imported server, each in namespaces and a /tmp of its own")
        text = "sandbox: " + (", ".join(on) if on else "none")
        if self.missing:
            text += "; OFF: " + "; ".join(self.missing)
        return text


@functools.lru_cache(maxsize=None)
def _bwrap_works() -> str | None:
    """None if bubblewrap can build a sandbox here, otherwise why not."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    proc = subprocess.run([exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all",
                           "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--die-with-parent", "true"],
                          capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        return f"bubblewrap cannot create namespaces here ({proc.stderr.strip()[:200]})"
    return None


@functools.lru_cache(maxsize=None)
def _cgroups_work() -> str | None:
    """None if this process may create v1 pids and memory cgroups, otherwise why not."""
    for controller in ("pids", "memory"):
        base = CGROUP_ROOT / controller
        if not (base / "cgroup.procs").exists():
            return f"no cgroup v1 {controller} controller at {base}"
        probe = base / f"dlcourse-probe-{os.getpid()}"
        try:
            probe.mkdir()
            probe.rmdir()
        except OSError as err:
            return f"cannot create cgroups in {base} ({err.strerror})"
    return None


def remove_stale_sandboxes(older_than_s: float = 600.0) -> int:
    """Remove what graders that were killed left behind: the student views of the lib of processes that are
    gone, the cgroups with no process left in them and the session folders of sandboxes last touched more than
    ``older_than_s`` ago (a sandbox being set up has an empty cgroup for a moment). Returns how many were
    removed. ``dlcourse grade`` calls it when it starts."""
    tmp = Path(tempfile.gettempdir())
    removed = 0
    for folder in tmp.glob(f"{STUDENT_LIB_PREFIX}*"):  # the student view of the lib of a grader that is gone
        owner = re.fullmatch(rf"{STUDENT_LIB_PREFIX}(\d+)-\w+", folder.name)
        if owner and not _alive(int(owner.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    if _cgroups_work() is not None:  # without cgroups a live sandbox cannot be told from a stale one
        return removed
    now = time.time()
    names = {p.name for p in tmp.glob("dlcourse-grade-*")}
    names |= {g.name for c in ("pids", "memory") for g in (CGROUP_ROOT / c).glob("dlcourse-grade-*")}
    for name in sorted(names):
        folder = tmp / name
        try:
            age = now - folder.stat().st_mtime if folder.exists() else float("inf")
        except OSError:
            continue
        groups = [CGROUP_ROOT / c / name for c in ("pids", "memory") if (CGROUP_ROOT / c / name).is_dir()]
        busy = any((g / "cgroup.procs").read_text().strip() for g in groups if (g / "cgroup.procs").exists())
        if age < older_than_s or busy:
            continue
        for group in groups:
            with contextlib.suppress(OSError):
                group.rmdir()
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def kill_all(processes) -> None:
    """SIGKILL every pid that ``processes()`` lists, again until it lists none (forks in flight) or 1 s passed."""
    for _ in range(50):
        pids = processes()
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


# --- one sandbox -----------------------------------------------------------------------------------------


class Sandbox:
    """The sandbox of one submission: a session folder, its cgroups, and the command that runs a kernel in it.

    ``hidden`` are folders the kernel must not see (the course root and wherever the gradebook and the
    submissions live); ``keep`` folders under them that it needs (the virtual environment), mounted back
    read-only.
    """

    def __init__(self, hidden=(), keep=(), memory_bytes: int = 4 * 2**30, max_processes: int = 256,
                 cpu_seconds: int = 900, tmp_bytes: int = 512 * 2**20, use_bubblewrap: bool = True,
                 threads: int = 1):
        self.dir = Path(tempfile.mkdtemp(prefix="dlcourse-grade-"))
        self.dir.chmod(0o777)
        missing = []
        why = _bwrap_works() if use_bubblewrap else "disabled in the configuration"
        if why:
            missing.append(f"filesystem and network isolation ({why})")
        cg = _cgroups_work()
        if cg:
            missing.append(f"memory and process-count limits ({cg})")
        has_prlimit = shutil.which("prlimit") is not None
        if not has_prlimit:
            missing.append("CPU-time limit (no prlimit)")
        self.protections = Protections(why is None, cg is None, has_prlimit, memory_bytes, max_processes,
                                       cpu_seconds, missing)
        self.hidden = [Path(p).resolve() for p in hidden]
        self.keep = [Path(p).resolve() for p in keep]
        self.tmp_bytes = tmp_bytes
        self.threads = threads
        self.cgroups: list[Path] = []
        if self.protections.cgroups:
            name = self.dir.name
            for controller, limits in (("pids", {"pids.max": max_processes}),
                                       ("memory", {"memory.limit_in_bytes": memory_bytes})):
                group = CGROUP_ROOT / controller / name
                group.mkdir()
                for key, value in limits.items():
                    (group / key).write_text(str(value))
                if controller == "memory" and (group / "memory.memsw.limit_in_bytes").exists():
                    (group / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))  # swap counts too
                self.cgroups.append(group)
        self.lib = student_lib()

    # --- the command ---

    def _environment(self) -> dict[str, str]:
        home = "/tmp/home"
        venv_bin = str(Path(sys.executable).parent)
        return {"PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": "/tmp",
                "IPYTHONDIR": f"{home}/.ipython", "MPLCONFIGDIR": f"{home}/.matplotlib",
                "JUPYTER_RUNTIME_DIR": f"{home}/.jupyter", "JUPYTER_CONFIG_DIR": f"{home}/.jupyter",
                "JUPYTER_DATA_DIR": f"{home}/.jupyter", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONNOUSERSITE": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline",
                **{var: str(self.threads) for var in THREAD_VARIABLES}}

    def _bwrap_args(self) -> list[str]:
        import dlcourse

        args = ["bwrap", "--die-with-parent", "--unshare-all", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
                "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                "--size", str(self.tmp_bytes), "--tmpfs", "/tmp", "--tmpfs", "/var/tmp", "--tmpfs", "/dev/shm"]
        hide = list(self.hidden) + [Path.home().resolve()]
        for folder in sorted(set(hide)):
            if folder.exists() and folder != Path("/"):
                args += ["--tmpfs", str(folder)]
        package = Path(dlcourse.__file__).resolve().parent
        needed = list(self.keep) + [Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()]
        emptied = hide + [Path("/tmp"), Path("/var/tmp"), Path("/dev/shm")]
        for folder in sorted(set(needed)):  # e.g. a virtual environment inside the course or in /tmp
            if any(folder.is_relative_to(h) for h in emptied) and folder.exists():
                args += ["--ro-bind", str(folder), str(folder)]
        args += ["--ro-bind", str(self.lib), str(package)]
        args += ["--bind", str(self.dir), str(self.dir), "--dir", "/tmp/home", "--chdir", "/tmp/home", "--clearenv"]
        for key, value in self._environment().items():
            args += ["--setenv", key, value]
        return args + ["--"]

    def wrap(self, argv: list[str]) -> list[str]:
        """The command that runs ``argv`` (a kernel) inside this sandbox."""
        cmd = list(argv)
        if self.protections.prlimit:
            cmd = ["prlimit", f"--cpu={self.protections.cpu_seconds}", f"--fsize={256 * 2**20}",
                   "--core=0", "--"] + cmd
            if not self.protections.cgroups:
                cmd.insert(1, f"--as={2 * self.protections.memory_bytes}")
        if self.protections.bubblewrap:
            cmd = self._bwrap_args() + cmd
        if self.cgroups:
            enter = ("import os, sys; i = sys.argv.index('--'); "
                     "[open(p, 'w').write(str(os.getpid())) for p in sys.argv[1:i]]; "
                     "os.execvp(sys.argv[i + 1], sys.argv[i + 1:])")
            cmd = [sys.executable, "-c", enter] + [str(g / "cgroup.procs") for g in self.cgroups] + ["--"] + cmd
        return cmd

    def environment(self) -> dict[str, str]:
        """Environment for the launcher outside the sandbox (bubblewrap clears it inside); without bubblewrap,
        the kernel's own environment, with the student view of the lib first on the path."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DLCOURSE_")}
        if not self.protections.bubblewrap:
            env.update(self._environment())
            env["HOME"] = env["TMPDIR"] = str(self.dir)
            env["PYTHONPATH"] = str(self.lib.parent)
        return env

    # --- processes ---

    def processes(self) -> list[int]:
        """The pids of every process in the sandbox's cgroups (empty without cgroups)."""
        pids: set[int] = set()
        for group in self.cgroups:
            with contextlib.suppress(OSError, ValueError):
                pids.update(int(p) for p in (group / "cgroup.procs").read_text().split())
        return sorted(pids)

    def kill(self) -> None:
        """Kill every process the submission started (all of its cgroup)."""
        kill_all(self.processes)

    def close(self, timeout: float = 20.0) -> None:
        """Kill what is left, remove the cgroups and the session folder. A cgroup cannot be removed while a
        process is still dying in it (a fork bomb of hundreds on a busy machine takes seconds), so this kills
        and retries until every cgroup is gone or ``timeout`` seconds have passed."""
        deadline = time.monotonic() + timeout
        while self.cgroups:
            self.kill()
            for group in list(self.cgroups):
                try:
                    group.rmdir()
                except FileNotFoundError:
                    pass
                except OSError:
                    continue
                self.cgroups.remove(group)
            if not self.cgroups or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.cgroups = []
        shutil.rmtree(self.dir, ignore_errors=True)
