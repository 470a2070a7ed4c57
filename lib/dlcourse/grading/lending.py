"""Lent helpers that run inside the student's kernel: the source of a lib function and of what it calls.

A check lends correct versions of the student's earlier answers (``mlp_gradients`` while ``train_mlp`` is
checked) so that one mistake costs one question. Under isolated grading the course library is absent from the
kernel, and a lent helper used to run in the grader, called back across the wire at every use: thousands of
round trips for a training loop. :func:`bundle` instead collects the helper's *dependency closure* — the lib
functions it calls, transitively, the modules and constants they use — as source, which the kernel executes in
private namespaces (:mod:`dlcourse.grading.worker`).

What the kernel receives is exactly that closure and nothing else: a module the helpers use (``layers``) arrives
as a namespace holding only the attributes they read, so ``helper.__globals__`` leads nowhere else. A closure
that would contain a graded reference function (``@reference``) that the check did not lend itself is refused,
as is anything that cannot be proven complete (a module passed around as a value, ``global`` statements, closures,
classes of the lib, relative imports, non-literal constants); the caller then falls back to callbacks, which
are always correct. The source of the lib is public; what matters is that a check hands out no more of it than
the answers it lends.
"""

from __future__ import annotations

import ast
import builtins
import dis
import functools
import importlib
import inspect
import math
import textwrap
import types
from collections.abc import Callable

from .. import _reference

LIB = "dlcourse"
_LITERALS = (bool, int, float, complex, str, bytes, type(None))


class NotShippable(Exception):
    """The helper's closure cannot be shipped (see the module docstring); callbacks are used instead."""


def _is_lib_name(module: str) -> bool:
    return module == LIB or module.startswith(LIB + ".")


def _is_lib(obj) -> bool:
    return _is_lib_name(obj.__name__ if isinstance(obj, types.ModuleType) else getattr(obj, "__module__", None) or "")


def _literal_source(value) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({repr(value)!r})"
    if isinstance(value, _LITERALS):
        return repr(value)
    if isinstance(value, (tuple, frozenset)):
        items = ", ".join(_literal_source(v) for v in value)
        return f"({items},)" if isinstance(value, tuple) else f"frozenset(({items},))"
    raise NotShippable(f"a constant of type {type(value).__name__}")


def _importable(owner: str, qualname: str, value) -> bool:
    try:
        obj = importlib.import_module(owner)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return False
    return obj is value


def _codes(code: types.CodeType):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def _function_source(fn: types.FunctionType) -> tuple[str, set[str]]:
    """The ``def`` of ``fn`` without decorators and annotations, and the global names its defaults read."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    node = tree.body[0]
    if not isinstance(node, ast.FunctionDef) or node.name != fn.__name__:
        raise NotShippable(f"{fn.__qualname__} is not a plain def")
    node.decorator_list = []
    node.returns = None
    args = node.args
    for arg in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
        if arg is not None:
            arg.annotation = None
    names = {n.id for d in args.defaults + [d for d in args.kw_defaults if d is not None]
             for n in ast.walk(d) if isinstance(n, ast.Name)}
    return ast.unparse(node), names


class _Closure:
    def __init__(self, lent: set[types.FunctionType]):
        self.lent = lent
        self.functions: dict[str, dict[str, str]] = {}  # module -> {name: source}
        self.imports: dict[str, dict[str, str]] = {}  # module -> {alias: "numpy"}
        self.objects: dict[str, dict[str, tuple[str, str]]] = {}  # module -> {alias: (module, qualname)}
        self.literals: dict[str, dict[str, str]] = {}  # module -> {name: source}
        self.proxies: dict[str, dict[str, tuple[str, set[str]]]] = {}  # module -> {alias: (lib module, attrs)}
        self.seen: set[types.FunctionType] = set()

    def add_function(self, fn) -> str:
        """Ship ``fn``; returns its module's name."""
        if not isinstance(fn, types.FunctionType):
            raise NotShippable(f"{fn!r} is not a Python function")
        module = fn.__module__ or ""
        if not _is_lib(fn) or module.startswith(f"{LIB}.grading"):
            raise NotShippable(f"{fn.__qualname__} is not a function of the course library")
        if fn in self.seen:
            return module
        self.seen.add(fn)
        graded = _reference.code_name(fn.__code__) if fn.__code__ in _reference._GRADED else None
        if graded is not None and fn not in self.lent:
            raise NotShippable(f"{graded} is graded and was not lent")
        if fn.__closure__ or fn.__qualname__ != fn.__name__:
            raise NotShippable(f"{fn.__qualname__} is not a module-level function")
        source, default_names = _function_source(fn)
        self.functions.setdefault(module, {})[fn.__name__] = source
        for name in default_names:
            self.add_global(module, fn.__globals__, name, attrs=set())
        for code in _codes(fn.__code__):
            self._scan(module, fn.__globals__, code)
        return module

    def _scan(self, module: str, namespace: dict, code: types.CodeType) -> None:
        instructions = list(dis.get_instructions(code))
        for i, ins in enumerate(instructions):
            if ins.opname in ("STORE_GLOBAL", "DELETE_GLOBAL"):
                raise NotShippable("a global statement")
            if ins.opname == "IMPORT_NAME":
                level = instructions[i - 2].argval if i >= 2 else 0
                if level or ins.argval == LIB or ins.argval.startswith(LIB + "."):
                    raise NotShippable(f"an import of the lib inside {code.co_qualname}")
            if ins.opname != "LOAD_GLOBAL":
                continue
            value = namespace.get(ins.argval, None)
            if isinstance(value, types.ModuleType) and _is_lib(value):
                following = instructions[i + 1] if i + 1 < len(instructions) else None
                if following is None or following.opname not in ("LOAD_ATTR", "LOAD_METHOD"):
                    raise NotShippable(f"the lib module {value.__name__} used as a value")
                self.add_global(module, namespace, ins.argval, attrs={following.argval})
            else:
                self.add_global(module, namespace, ins.argval, attrs=set())

    def add_global(self, module: str, namespace: dict, name: str, attrs: set[str]) -> None:
        if name not in namespace:
            if hasattr(builtins, name):
                return
            raise NotShippable(f"{module} reads {name}, which is not defined")
        value = namespace[name]
        if isinstance(value, types.ModuleType):
            if not _is_lib(value):
                self.imports.setdefault(module, {})[name] = value.__name__
                return
            target, wanted = self.proxies.setdefault(module, {}).setdefault(name, (value.__name__, set()))
            for attr in attrs - wanted:
                wanted.add(attr)
                self.add_global(target, vars(value), attr, attrs=set())
            return
        if isinstance(value, types.FunctionType) and _is_lib(value):
            self.add_function(value)
            if value.__module__ != module:  # imported by name from another lib module: alias it
                self.objects.setdefault(module, {})[name] = (value.__module__, value.__name__)
            return
        if _is_lib(value):
            raise NotShippable(f"{module}.{name} is a {type(value).__name__} of the lib")
        if callable(value) or isinstance(value, type):
            owner, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
            if not (owner and qualname and _importable(owner, qualname, value)):
                raise NotShippable(f"{module}.{name} cannot be imported by the kernel")
            self.objects.setdefault(module, {})[name] = (owner, qualname)
            return
        self.literals.setdefault(module, {})[name] = _literal_source(value)


@functools.lru_cache(maxsize=256)
def _bundle(items: tuple[tuple[str, Callable], ...]) -> dict:
    closure = _Closure({fn for _, fn in items})
    lent = {name: [closure.add_function(fn), fn.__name__] for name, fn in items}
    modules = sorted(set(closure.functions) | set(closure.proxies) | set(closure.literals) | set(closure.imports)
                     | set(closure.objects))
    out = {}
    for module in modules:
        lines = [f"import {target} as {alias}" for alias, target in sorted(closure.imports.get(module, {}).items())]
        lines += [f"{name} = {source}" for name, source in sorted(closure.literals.get(module, {}).items())]
        lines += list(closure.functions.get(module, {}).values())
        external, lib_objects = {}, {}  # names bound to objects of other libraries / of other lib modules
        for alias, (owner, qualname) in closure.objects.get(module, {}).items():
            (lib_objects if _is_lib_name(owner) else external)[alias] = [owner, qualname]
        out[module] = {"source": "\n\n".join(lines) + "\n", "external": external, "objects": lib_objects,
                       "proxies": {alias: [target, sorted(attrs)]
                                   for alias, (target, attrs) in closure.proxies.get(module, {}).items()}}
    return {"modules": out, "lent": lent}


_REFUSED = (NotShippable, OSError, TypeError, SyntaxError)  # OSError, TypeError: no source; SyntaxError: unparsable


def _items(lend: dict[str, Callable]) -> tuple:
    return tuple(sorted(lend.items(), key=lambda item: item[0]))


def bundle(lend: dict[str, Callable]) -> dict | None:
    """What the kernel needs to run ``lend``'s functions itself (plain data: source text and names), or None
    when one of them cannot be shipped (see :class:`NotShippable`): the caller lends by callback then."""
    try:
        return _bundle(_items(lend))
    except _REFUSED:
        return None


def why_not(lend: dict[str, Callable]) -> str | None:
    """Why :func:`bundle` refuses ``lend`` (None when it does not): for tests and diagnostics."""
    try:
        _bundle(_items(lend))
    except _REFUSED as err:
        return f"{type(err).__name__}: {err}"
    return None
