"""The grader's side of isolated grading: proxies for what the student defined, and the session that serves them.

While a test cell runs on the trusted side, every name it needs from the student's notebook (``sigmoid``,
``Value``, ``LR``) is fetched through a :class:`RemoteSession`: plain data (numbers, arrays, tuples, dicts)
arrives as a copy, anything else as a :class:`RemoteObject`, a handle whose calls, attributes and operators are
forwarded to the student's kernel. The checks use these like the real thing; :func:`dlcourse.grading.guard.run_student`
recognises a remote function and asks the kernel to run it under the time limit, with lent helpers (built in
the kernel from their source, :mod:`dlcourse.grading.lending`, or calling back into the grader), and with its
warnings and output captured.

The verdict never leaves this process: results come back through :mod:`dlcourse.grading.wire` (plain data only)
and are compared here. The kernel enforces each call's time limit itself; if it does not answer within the limit
plus :data:`GRACE` seconds (a loop that swallows the interrupt, a kernel that hangs), the session kills the
sandbox and the executor restarts the kernel.
"""

from __future__ import annotations

import builtins
import itertools
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import wire

GRACE = 5.0  # seconds the grader waits beyond a call's time limit before it kills the kernel
DEFAULT_SECONDS = 10.0
CONNECT_SECONDS = 30.0

_WORKER_SOURCE: str | None = None


def worker_source() -> str:
    """The code the student's kernel runs to serve the grader: :mod:`wire`, then :mod:`worker`."""
    global _WORKER_SOURCE
    if _WORKER_SOURCE is None:
        here = Path(__file__).parent
        _WORKER_SOURCE = (here / "wire.py").read_text() + "\n\n" + (here / "worker.py").read_text()
    return _WORKER_SOURCE


class SessionBroken(Exception):
    """The student's kernel died or was killed during this test cell; it is restarted before the next cell."""


@dataclass
class RemoteError(Exception):
    """An exception raised by the student's code in the kernel: its type name, message and the student's frames."""

    ename: str
    evalue: str
    frames: list = field(default_factory=list)
    course: str | None = None

    def __str__(self) -> str:
        return self.evalue

    def student_traceback(self) -> str:
        return "\n".join(f"      in {name}, line {line}: {text.strip()}" for name, line, text in self.frames)


class RemoteTimeout(Exception):
    """The student's code ran past its time limit in the kernel (or the kernel stopped answering)."""


@dataclass
class Notes:
    """What a call printed or warned: ``warnings`` as (category, message, numerical) triples."""

    warnings: list = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""


class RemoteSession:
    """The connection to one student kernel while test cells run.

    ``start_kernel_serving(code)`` must run ``code`` in the kernel without waiting (the executor provides it),
    ``kill()`` must kill the sandbox. :meth:`open` starts serving, :meth:`close` ends it; in between,
    :meth:`get` fetches names and :class:`RemoteObject` forwards operations.
    """

    def __init__(self, directory: str | os.PathLike, run_in_kernel: Callable[[str], object],
                 kill: Callable[[], None]):
        self.directory = Path(directory)
        self.run_in_kernel = run_in_kernel
        self.kill_kernel = kill
        self.sock: socket.socket | None = None
        self.pending = None  # what run_in_kernel returned (to wait for its reply after "bye")
        self.broken = False
        self.deadline: float | None = None
        self.switched_off: dict[str, str] = {}  # student name -> message
        self.verified: set[str] = set()  # student functions that passed their latest check
        self._ids = itertools.count(1)
        self._callbacks: dict[int, Callable] = {}
        self._installed: dict[tuple, int | None] = {}  # lent helpers built in the kernel: their bundle's key

    # --- serving ---

    def open(self) -> None:
        """Ask the kernel to serve, and accept its connection (which must present the token)."""
        if self.sock is not None:
            return
        path = self.directory / f"rpc-{secrets.token_hex(6)}.sock"
        token = secrets.token_hex(16)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        os.chmod(path, 0o777)  # the sandbox runs as another uid
        listener.listen(4)
        listener.settimeout(CONNECT_SECONDS)
        # an expression, evaluated as a user expression of an empty cell: no input transformer (which the
        # student's code may have installed) ever sees it, and nothing is added to the student's namespace
        code = (f"(lambda ns: (exec(compile({worker_source()!r}, '<dlcourse_worker>', 'exec'), ns), "
                f"ns['serve']({str(path)!r}, {token!r})))"
                f"({{'__name__': 'dlcourse_worker', '__file__': '<dlcourse_worker>'}})")
        self.pending = self.run_in_kernel(code)
        try:
            deadline = time.monotonic() + CONNECT_SECONDS
            while True:
                listener.settimeout(max(deadline - time.monotonic(), 0.01))
                conn, _ = listener.accept()
                conn.settimeout(CONNECT_SECONDS)
                try:
                    hello = wire.recv_frame(conn)
                except (OSError, EOFError, wire.WireError):
                    conn.close()
                    continue
                if hello.get("hello") == token:
                    self.sock = conn
                    break
                conn.close()  # someone else (student code) connected first: not our kernel's serve loop
        except (OSError, socket.timeout) as err:
            self.broken = True
            raise SessionBroken(f"the kernel did not start serving the grader ({err})") from None
        finally:
            listener.close()
            path.unlink(missing_ok=True)

    def close(self) -> object:
        """Tell the kernel to stop serving; returns what ``run_in_kernel`` returned, to wait for its reply."""
        pending, self.pending = self.pending, None
        if self.sock is not None:
            try:
                if not self.broken:
                    wire.send_frame(self.sock, {"op": "bye"})
            except OSError:
                pass
            self.sock.close()
            self.sock = None
        self._callbacks.clear()
        self._installed.clear()
        return pending

    def kill(self, reason: str) -> None:
        self.broken = True
        self.kill_kernel()
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    # --- time ---

    def remaining(self) -> float:
        return DEFAULT_SECONDS if self.deadline is None else max(self.deadline - time.monotonic(), 0.0)

    # --- requests ---

    def request(self, message: dict, seconds: float | None = None) -> dict:
        """Send one request and return its reply, answering the kernel's callbacks meanwhile."""
        if self.broken:
            raise SessionBroken("the kernel was restarted after an earlier failure in this cell")
        self.open()
        seconds = self.remaining() if seconds is None else seconds
        message = dict(message, id=next(self._ids), seconds=seconds)
        backstop = time.monotonic() + seconds + GRACE
        try:
            wire.send_frame(self.sock, message)
            while True:
                self.sock.settimeout(max(backstop - time.monotonic(), 0.01))
                reply = wire.recv_frame(self.sock)
                if "callback" in reply:
                    self._answer_callback(reply)
                    continue
                if reply.get("id") != message["id"]:
                    raise wire.WireError("a reply to another request")
                return reply
        except socket.timeout:
            self.kill("no answer within the time limit")
            raise RemoteTimeout(f"no answer within {seconds + GRACE:g} s") from None
        except (EOFError, OSError, wire.WireError) as err:
            self.kill(f"connection lost: {err}")
            raise SessionBroken("the kernel died (os._exit, a crash, or the memory limit) "
                                f"or stopped answering ({type(err).__name__})") from None

    def _answer_callback(self, request: dict) -> None:
        fn = self._callbacks.get(request.get("callback"))
        try:
            if fn is None:
                raise KeyError("no such helper")
            args = wire.decode(request.get("args", {"l": []}), self._resolve)
            kwargs = wire.decode(request.get("kwargs", {"d": []}), self._resolve)
            reply = {"cid": request.get("cid"), "ok": wire.encode(fn(*args, **kwargs), self._encode_handle)}
        except Exception as exc:  # the lent function rejected the student's arguments: their error, in their kernel
            reply = {"cid": request.get("cid"), "error": f"{type(exc).__name__}: {exc}"}
        wire.send_frame(self.sock, reply)

    def _resolve(self, tag: str, payload) -> RemoteObject:
        if tag != "obj" or not (isinstance(payload, list) and len(payload) == 3):
            raise wire.WireError(f"unexpected {tag} from the kernel")
        key, type_name, is_callable = payload
        if not (isinstance(key, int) and isinstance(type_name, str) and isinstance(is_callable, bool)):
            raise wire.WireError("malformed handle")
        return RemoteObject(self, key, type_name[:80], is_callable)

    def _encode_handle(self, value):
        if isinstance(value, RemoteObject) and value._session is self:
            return {"obj": [value._key, value._type, value._callable]}
        if callable(value):
            key = next(self._ids)
            self._callbacks[key] = value
            return {"fn": key}
        raise wire.WireError(f"cannot send a {type(value).__name__} to the student's kernel")

    def encode(self, value):
        return wire.encode(value, self._encode_handle)

    def decode(self, node):
        return wire.decode(node, self._resolve)

    def result(self, reply: dict):
        """The value of a reply, or the student's exception / a time-out raised here."""
        if reply.get("timeout"):
            raise RemoteTimeout("time limit exceeded in the kernel")
        if "error" in reply:
            raise remote_error(reply["error"])
        if "ok" not in reply:
            raise wire.WireError("a reply without a result")
        return self.decode(reply["ok"])

    def get(self, name: str):
        """The student's ``name``: plain data copied, anything else as a handle; KeyError if undefined."""
        if name in self.switched_off:
            return switched_off_stub(name, self.switched_off[name])
        reply = self.request({"op": "get", "name": name}, seconds=max(self.remaining(), 5.0))
        if reply.get("missing"):
            raise KeyError(name)
        value = self.result(reply)
        if isinstance(value, RemoteObject):
            object.__setattr__(value, "_name", name)
        return value

    def switch_off(self, name: str, message: str) -> None:
        """``name`` ran out of time: it fails at once from now on, here and in the student's later cells."""
        self.switched_off[name] = message
        self.reapply_switch_offs()

    def reapply_switch_offs(self) -> None:
        """Bind every switched-off name to a failing stub in the kernel (again, after a restart)."""
        if not self.switched_off or self.broken:
            return
        try:
            self.request({"op": "switch_off", "names": self.switched_off}, seconds=5.0)
        except (SessionBroken, RemoteTimeout):
            pass

    def call(self, target: RemoteObject, args: tuple, kwargs: dict, lend: dict[str, Callable] | None = None,
             seconds: float | None = None, ship: dict[str, Callable] | None = None, keep_args: bool = False):
        """Call a remote callable; returns ``(reply, Notes)`` (the reply not yet turned into a value).

        ``lend``: the names bound to correct helpers for the call; ``ship``: what the check lends in all (a
        superset of ``lend``), which the helpers built in the kernel may use (``mlp_gradients`` calls
        ``linear_forward`` even when the student's own passed its check and is not replaced). ``keep_args``: the
        reply's value is ``[result, the positional arguments as the call left them]``."""
        lent = {}
        installed = self.install(ship or lend) if lend else None
        for name, fn in (lend or {}).items():
            if installed is not None:
                lent[name] = [installed, name]
                continue
            key = next(self._ids)
            self._callbacks[key] = fn
            lent[name] = key
        reply = self.request({"op": "call", "target": self.encode(target), "args": self.encode(list(args)),
                              "kwargs": self.encode(dict(kwargs)), "lend": lent, "keep_args": keep_args}, seconds)
        return reply, notes_of(reply)

    def install(self, lend: dict[str, Callable]) -> int | None:
        """Build ``lend``'s helpers in the kernel once per serving (:mod:`dlcourse.grading.lending`); returns the
        key to lend them by, or None when they cannot be shipped or the kernel failed to build them: then they
        are lent by callback."""
        from . import lending

        items = tuple(sorted((name, id(fn)) for name, fn in lend.items()))
        if items in self._installed:
            return self._installed[items]
        key = None
        shipped = lending.bundle(lend)
        if shipped is not None:
            key = next(self._ids)
            reply = self.request({"op": "install", "key": key, "bundle": shipped}, seconds=10.0)
            if "ok" not in reply:
                key = None
        self._installed[items] = key
        return key


def remote_error(error) -> RemoteError:
    if not isinstance(error, dict):
        return RemoteError("Error", str(error)[:2000])
    frames = [f for f in error.get("frames", []) if isinstance(f, list) and len(f) == 3]
    course = error.get("course")
    return RemoteError(str(error.get("ename", "Error"))[:80], str(error.get("evalue", ""))[:20_000],
                       [[str(a)[:80], int(b) if isinstance(b, int) else 0, str(c)[:200]] for a, b, c in frames[:12]],
                       str(course)[:200] if course else None)


def notes_of(reply: dict) -> Notes:
    raw = reply.get("notes") if isinstance(reply.get("notes"), dict) else {}
    ws = [(str(w[0])[:80], str(w[1])[:500], bool(w[2])) for w in raw.get("warnings", [])
          if isinstance(w, list) and len(w) == 3][:20]
    return Notes(ws, str(raw.get("stdout", ""))[:20_000], str(raw.get("stderr", ""))[:20_000])


def switched_off_stub(name: str, message: str):
    from .core import CheckFailed

    def switched_off(*args, **kwargs):
        raise CheckFailed(message)

    switched_off.__name__ = name
    switched_off.__dlcourse_switched_off__ = True
    return switched_off


class RemoteObject:
    """A function, class or object that lives in the student's kernel; every use is forwarded there."""

    __slots__ = ("_session", "_key", "_type", "_callable", "_name", "__signature__")

    def __init__(self, session: RemoteSession, key: int, type_name: str, is_callable: bool):
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_callable", is_callable)
        object.__setattr__(self, "_name", None)
        object.__setattr__(self, "__signature__", None)

    @property
    def __name__(self) -> str:
        return self._name or self._type

    def signature(self):
        """The parameters of a remote function, as an ``inspect.Signature`` (for the feedback's argument names)."""
        import inspect

        if self.__signature__ is None:
            try:
                names = self._session.result(self._session.request({"op": "signature", "target": self._ref()}, 5.0))
                params = [inspect.Parameter(str(n), inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names
                          if isinstance(n, str) and n.isidentifier()]
                object.__setattr__(self, "__signature__", inspect.Signature(params))
            except Exception:
                object.__setattr__(self, "__signature__", inspect.Signature())
        return self.__signature__

    def _ref(self) -> dict:
        return {"obj": [self._key, self._type, self._callable]}

    def _op(self, name: str, *args):
        reply = self._session.request({"op": "op", "name": name, "args": self._session.encode(list(args))})
        return self._session.result(reply)

    def __call__(self, *args, **kwargs):
        reply, notes = self._session.call(self, args, kwargs)
        if notes.stdout:
            print(notes.stdout, end="")
        return self._session.result(reply)

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):  # numpy's and Python's probes stay local
            raise AttributeError(name)
        reply = self._session.request({"op": "getattr", "target": self._ref(), "name": name})
        try:
            return self._session.result(reply)
        except RemoteError as err:
            if err.ename == "AttributeError":
                raise AttributeError(str(err)) from None
            raise

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError("the student's objects are read-only for the grader")

    def __repr__(self) -> str:
        return f"<{self._type} in the student's kernel>"

    def __float__(self) -> float:
        value = self._op("float_", self)
        if not isinstance(value, (int, float)):
            raise TypeError(f"float() of a {self._type} did not give a number")
        return float(value)

    def __bool__(self) -> bool:
        value = self._op("truth", self)
        if not isinstance(value, bool):
            raise TypeError(f"bool() of a {self._type} did not give a bool")
        return value

    def __hash__(self) -> int:
        return hash((id(self._session), self._key))


def _binary(name: str, reflected: bool = False):
    def method(self, other):
        return self._op(name, other, self) if reflected else self._op(name, self, other)

    method.__name__ = f"__{'r' if reflected else ''}{name}__"
    return method


def _forward_operators(cls, comparisons: bool) -> None:
    """Give ``cls`` the arithmetic (and, if asked, comparison) operators, each sent through ``self._op``."""
    for name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul"):
        setattr(cls, f"__{name}__", _binary(name))
        setattr(cls, f"__r{name}__", _binary(name, reflected=True))
    for name in ("eq", "ne", "lt", "le", "gt", "ge") if comparisons else ():
        setattr(cls, f"__{name}__", _binary(name))
    for name in ("neg", "pos", "abs"):
        setattr(cls, f"__{name}__", lambda self, _n=name: self._op(_n, self))


_forward_operators(RemoteObject, comparisons=True)


class Program:
    """Operations on the student's objects recorded here and run in the kernel in one request.

    A check that builds an expression from many small operations (ps3's ``Value`` engine: a 30-step chain is
    120 operators) would otherwise pay one round trip per operator. :meth:`value` wraps a remote object or a
    plain value in a :class:`Traced`; operators, attribute reads and calls on it are appended to the program, in
    the order the check makes them, and :meth:`run` executes them all in the kernel under one time limit and
    returns the requested results, as the same operations on :class:`RemoteObject` would have (the student's
    code sees the same calls in the same order).
    """

    def __init__(self, session: RemoteSession):
        self.session = session
        self.steps: list[list] = []

    def _arg(self, value) -> list:
        if isinstance(value, Traced):
            if value._program is not self:
                raise ValueError("a value of another program")
            return ["s", value._index]
        return ["v", self.session.encode(value)]

    def record(self, step: list) -> Traced:
        self.steps.append(step)
        return Traced(self, len(self.steps) - 1)

    def value(self, value) -> Traced:
        return self.record(["value", self._arg(value)])

    def run(self, outputs: list[Traced], seconds: float | None = None) -> list:
        """Run every recorded step; the values of ``outputs``. The student's errors are raised as a single
        operation's would be (an attribute the student's class lacks as AttributeError)."""
        if not all(isinstance(t, Traced) and t._program is self for t in outputs):
            raise TypeError("the outputs of a program are values it recorded")
        reply = self.session.request({"op": "program", "steps": self.steps,
                                      "outputs": [t._index for t in outputs]}, seconds)
        try:
            return list(self.session.result(reply))
        except RemoteError as err:
            if err.ename == "AttributeError":
                raise AttributeError(str(err)) from None
            raise


class Traced:
    """A value of a :class:`Program` (a step's result, known only once the program has run)."""

    __slots__ = ("_program", "_index")

    def __init__(self, program: Program, index: int):
        object.__setattr__(self, "_program", program)
        object.__setattr__(self, "_index", index)

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._program.record(["getattr", self._program._arg(self), name])

    def __call__(self, *args, **kwargs):
        p = self._program
        return p.record(["call", p._arg(self), [p._arg(a) for a in args], {k: p._arg(v) for k, v in kwargs.items()}])

    def _op(self, name: str, *args):
        return self._program.record(["op", name, [self._program._arg(a) for a in args]])

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError("a recorded value is read-only")

    def __float__(self):
        raise TypeError("a recorded value has no value before Program.run")

    __bool__ = __index__ = __float__


_forward_operators(Traced, comparisons=False)


class TrustedNamespace(dict):
    """The namespace test cells run in on the grader's side: the instructor's setup cells fill it; a name it
    lacks is looked up in the student's kernel (a fresh copy each time, never stored here)."""

    def __init__(self, session: RemoteSession):
        super().__init__(__builtins__=builtins, __name__="__main__")
        self.session = session

    def __missing__(self, name: str):
        if hasattr(builtins, name):
            raise KeyError(name)  # let Python find the builtin
        return self.session.get(name)
