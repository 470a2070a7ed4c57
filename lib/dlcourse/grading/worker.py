"""The student's side of isolated grading: runs inside the sandboxed kernel, serves the trusted grader.

This file is never imported by the grader. :mod:`dlcourse.grading.remote` sends its source (after the source of
:mod:`dlcourse.grading.wire`) to the student's kernel as one cell and calls ``serve(path, token)``; the kernel's
main thread then answers the grader's requests over the Unix socket ``path`` until told ``bye``:

* ``get``: a name of the student's notebook, as plain data or as a handle;
* ``call``: call a function or object with arguments, with names of the notebook lent to callbacks into the
  grader, under a time limit, with warnings, stderr and stdout captured;
* ``getattr``, ``op`` (an operator such as ``add`` or ``neg`` on handles and values), and ``program``: a
  sequence of those, recorded by the grader (:class:`dlcourse.grading.remote.Program`), run in one request;
* ``install``: the source of lent lib helpers and of what they call (:mod:`dlcourse.grading.lending`), run here
  in private namespaces so that a ``call`` can lend them without a round trip per use.

Everything here runs with the student's code and can be tampered with by it. That is fine: the grader decodes
only plain data (:mod:`dlcourse.grading.wire`) and decides every verdict itself, so tampering can only change
what this side answers, as a wrong answer would.
"""

import contextlib
import io
import operator
import signal
import socket
import sys
import traceback
import warnings

NUMERICAL_WARNINGS = ("overflow", "invalid value", "divide by zero")
MAX_TEXT = 20_000  # characters of captured stdout / stderr / repr sent back per request
OPERATORS = {name: getattr(operator, name) for name in (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "neg", "pos", "abs",
    "eq", "ne", "lt", "le", "gt", "ge", "getitem", "contains", "truth")}
OPERATORS.update(float_=float, int_=int, len_=len, list_=list)


class _TimeLimit(BaseException):
    """Raised in the student's code when its time is up (a BaseException: ``except Exception`` won't catch it)."""


class _Session:
    def __init__(self, sock, namespace):
        self.sock = sock
        self.ns = namespace
        self.handles = {}
        self.next_cid = 0
        self.installed = {}  # bundle key -> {lent name: function}
        self.built = []  # every function built by install

    # --- handles and encoding ---

    def handle(self, obj):
        key = id(obj)
        self.handles[key] = obj
        return {"obj": [key, type(obj).__name__[:80], callable(obj)]}

    def encode(self, value):
        return encode(value, self.handle)  # noqa: F821  (from the wire source, executed before this one)

    def resolve(self, tag, payload):
        if tag == "obj":
            key = payload[0] if isinstance(payload, list) and payload else payload
            if key not in self.handles:
                raise KeyError(f"unknown handle {key}")
            return self.handles[key]
        return self.callback(payload)

    def callback(self, cb_id):
        session = self

        def call_grader(*args, **kwargs):
            session.next_cid += 1
            cid = session.next_cid
            send_frame(session.sock, {"callback": cb_id, "cid": cid,  # noqa: F821
                                      "args": session.encode(list(args)),
                                      "kwargs": session.encode(dict(kwargs))})
            reply = recv_frame(session.sock)  # noqa: F821
            if "error" in reply:
                raise RuntimeError(str(reply["error"])[:MAX_TEXT])
            return decode(reply["ok"], session.resolve)  # noqa: F821

        call_grader.__name__ = f"lent_{cb_id}"
        return call_grader

    def install(self, key, bundle):
        """Build the lent helpers of ``bundle`` (see :mod:`dlcourse.grading.lending`) under ``key``."""
        import builtins
        import importlib
        import types

        modules = dict(bundle["modules"])
        spaces = {name: {"__builtins__": builtins, "__name__": f"{name} (lent)"} for name in modules}
        for name, parts in modules.items():
            for alias, (owner, qualname) in dict(parts.get("external", {})).items():
                obj = importlib.import_module(owner)
                for attr in qualname.split("."):
                    obj = getattr(obj, attr)
                spaces[name][alias] = obj
        for name, parts in modules.items():
            exec(compile(parts["source"], f"<dlcourse_worker lent {name}>", "exec"), spaces[name])
        for name, parts in modules.items():
            for alias, (owner, qualname) in dict(parts.get("objects", {})).items():
                spaces[name][alias] = spaces[owner][qualname]
        for name, parts in modules.items():
            for alias, (target, attrs) in dict(parts.get("proxies", {})).items():
                spaces[name][alias] = types.SimpleNamespace(**{a: spaces[target][a] for a in attrs})
        self.installed[key] = {lent: spaces[module][fn] for lent, (module, fn) in dict(bundle["lent"]).items()}
        self.built += [value for space in spaces.values() for value in space.values()
                       if isinstance(value, types.FunctionType) and value.__module__.endswith(" (lent)")]

    def disarm(self):
        """Lent helpers are lent for the test cell: a copy the student's code kept fails in later cells."""
        def lent_only(*args, **kwargs):
            raise RuntimeError("a correct helper lent by the grader can only be used while a test cell runs")

        for fn in self.built:
            fn.__code__ = lent_only.__code__
        self.built.clear()
        self.installed.clear()

    def lent(self, ref):
        """A lent name's value: a callback into the grader (an id) or an installed helper ([key, name])."""
        if isinstance(ref, list):
            return self.installed[ref[0]][ref[1]]
        return self.callback(ref)

    # --- one request ---

    def run(self, request):
        op = request.get("op")
        seconds = float(request.get("seconds") or 10.0)
        lend = request.get("lend") or {}
        if op == "switch_off":  # a function that ran out of time fails at once in later cells too
            for name, message in dict(request.get("names", {})).items():
                def switched_off(*args, _message=str(message), **kwargs):
                    raise RuntimeError(_message)

                switched_off.__name__ = str(name)
                self.ns[str(name)] = switched_off
            return {"ok": None}
        if op == "install":
            self.install(request["key"], request["bundle"])
            return {"ok": None}
        if op == "get":
            name = request["name"]
            if name not in self.ns:
                return {"missing": True}
            return {"ok": self.encode(self.ns[name])}
        target = decode(request["target"], self.resolve) if "target" in request else None  # noqa: F821
        args = decode(request.get("args", {"l": []}), self.resolve)  # noqa: F821
        kwargs = decode(request.get("kwargs", {"d": []}), self.resolve)  # noqa: F821
        if op == "call":
            keep_args = bool(request.get("keep_args"))

            def action():
                result = target(*args, **kwargs)
                return [result, list(args)] if keep_args else result
        elif op == "getattr":
            name = request["name"]

            def action():
                return getattr(target, name)
        elif op == "op":
            fn = OPERATORS[request["name"]]

            def action():
                return fn(*args)
        elif op == "program":  # recorded operations (remote.Program), run in order under one time limit
            steps, outputs = list(request["steps"]), list(request["outputs"])

            def action():
                values = []

                def arg(ref):
                    return values[ref[1]] if ref[0] == "s" else decode(ref[1], self.resolve)  # noqa: F821

                for step in steps:
                    kind = step[0]
                    if kind == "value":
                        values.append(arg(step[1]))
                    elif kind == "op":
                        values.append(OPERATORS[step[1]](*[arg(a) for a in step[2]]))
                    elif kind == "getattr":
                        values.append(getattr(arg(step[1]), step[2]))
                    elif kind == "call":
                        values.append(arg(step[1])(*[arg(a) for a in step[2]],
                                                   **{k: arg(a) for k, a in dict(step[3]).items()}))
                    else:
                        raise ValueError(f"unknown step {kind!r}")
                return [values[i] for i in outputs]
        elif op == "repr":
            def action():
                return repr(target)[:MAX_TEXT]
        elif op == "signature":
            import inspect

            def action():
                return [p.name for p in inspect.signature(target).parameters.values()]
        else:
            return {"error": {"ename": "ProtocolError", "evalue": f"unknown op {op!r}", "frames": []}}
        return self.guarded(action, seconds, lend)

    def guarded(self, action, seconds, lend):
        """Run ``action`` with the lent names bound, a time limit, and everything it prints captured."""
        saved = {name: self.ns[name] for name in lend if name in self.ns}
        for name in saved:
            self.ns[name] = self.lent(lend[name])
        out, err = io.StringIO(), io.StringIO()
        reply = {}
        caught = []

        def on_alarm(signum, frame):
            raise _TimeLimit()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        try:
            with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out), \
                    contextlib.redirect_stderr(err):
                warnings.simplefilter("always")
                with _errstate():
                    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01), 0.5)
                    try:
                        result = action()
                    finally:
                        signal.setitimer(signal.ITIMER_REAL, 0)
            reply["ok"] = self.encode(result)
        except _TimeLimit:
            reply = {"timeout": True}
        except Exception as exc:
            reply = {"error": _describe_error(exc)}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            self.ns.update(saved)
        reply["notes"] = {
            "warnings": [[w.category.__name__, str(w.message)[:500], issubclass(w.category, RuntimeWarning)
                          and any(word in str(w.message) for word in NUMERICAL_WARNINGS)] for w in caught[:20]],
            "stdout": out.getvalue()[:MAX_TEXT], "stderr": err.getvalue()[:MAX_TEXT]}
        return reply


def _errstate():
    np = sys.modules.get("numpy")
    return np.errstate(over="warn", divide="warn", invalid="warn", under="ignore") if np else contextlib.nullcontext()


def _describe_error(exc):
    """The exception's type and message, and the frames of the student's code (not this file's)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__
              and "dlcourse_worker" not in f.filename]
    if isinstance(exc, ImportError) or type(exc).__name__ == "CourseCodeNotAvailable":
        course = getattr(exc, "course_name", None)
    else:
        course = None
    return {"ename": type(exc).__name__[:80], "evalue": str(exc)[:MAX_TEXT], "course": course,
            "frames": [[f.name[:80], f.lineno or 0, (f.line or "")[:200]] for f in frames[-12:]]}


def serve(path, token):
    """Connect to the grader at ``path`` and answer its requests until ``bye``."""
    try:
        shell = get_ipython()  # noqa: F821  (the kernel's shell)
        namespace = shell.user_ns
    except NameError:
        namespace = sys.modules["__main__"].__dict__
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    send_frame(sock, {"hello": token})  # noqa: F821
    session = _Session(sock, namespace)
    try:
        while True:
            request = recv_frame(sock)  # noqa: F821
            if request.get("op") == "bye":
                break
            try:
                reply = session.run(request)
            except Exception as exc:  # a request the grader could not have meant (a bug, or tampering)
                reply = {"error": {"ename": type(exc).__name__, "evalue": str(exc)[:MAX_TEXT], "frames": []}}
            reply["id"] = request.get("id")
            try:
                send_frame(sock, reply)  # noqa: F821
            except Exception as exc:  # e.g. a result that cannot be encoded
                send_frame(sock, {"id": request.get("id"), "error": {  # noqa: F821
                    "ename": type(exc).__name__, "evalue": str(exc)[:MAX_TEXT], "frames": []}})
    finally:
        session.disarm()
        sock.close()
