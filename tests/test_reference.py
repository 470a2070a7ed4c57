"""The registry of course code (what a graded answer may not call), and the layering of the package.

Layering: a module may import only modules below it, so that the reference implementations never load the
grading package and a newcomer can read the lib from the bottom up.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import dlcourse
from dlcourse import _reference

LIB = Path(dlcourse.__file__).parent

# bottom to top; a module may import from its own level or lower ones
LAYERS = [
    {"_validate", "_reference", "_numerics", "_execution", "runtime", "progress"},
    {"data", "gradcheck", "optim", "information", "torch_training"},
    {"linear", "softmax", "perceptron", "autodiff", "layers", "subspaces", "autoencoders", "convolution",
     "convnets", "gans", "attention", "sparse_coding", "distributed"},
    {"training", "approximation", "landscapes"},
    {"mlp", "plots"},
    {"widgets"},
    {"grading"},
]
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}
COURSE_CODE = {"_numerics", "linear", "softmax", "perceptron", "information", "autodiff", "layers", "gradcheck",
               "optim", "training", "mlp", "landscapes", "approximation", "subspaces", "autoencoders",
               "convolution", "torch_training", "convnets", "gans", "attention", "sparse_coding", "distributed"}


def lib_imports(path: Path) -> set[str]:
    """The dlcourse modules a file imports (relative imports resolved to their top-level lib module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            pkg = path.parent.relative_to(LIB).parts[: len(path.parent.relative_to(LIB).parts) - node.level + 1]
            base = list(pkg) + (node.module.split(".") if node.module else [])
            targets = [base[0]] if base else [alias.name for alias in node.names]
            found.update(t for t in targets if t)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dlcourse."):
            found.add(node.module.split(".")[1])
    return found


def test_every_module_is_placed_in_a_layer():
    modules = {p.stem for p in LIB.glob("*.py") if p.stem != "__init__"} | {"grading"}
    assert modules == set(LEVEL), f"place these in LAYERS: {modules ^ set(LEVEL)}"


@pytest.mark.parametrize("path", sorted(p for p in LIB.rglob("*.py") if p.stem != "__init__"), ids=lambda p: p.stem)
def test_lower_modules_never_import_higher_ones(path):
    me = "grading" if "grading" in path.relative_to(LIB).parts else path.stem
    above = {m for m in lib_imports(path) if m != me and LEVEL.get(m, -1) > LEVEL[me]}
    assert not above, f"{path.relative_to(LIB)} (level {LEVEL[me]}) imports higher modules {above}"


def test_importing_every_module_but_grading_loads_neither_grading_nor_torch():
    code = ("import sys, dlcourse.widgets, dlcourse.mlp, dlcourse.landscapes, dlcourse.approximation; "
            "print(sorted(m for m in sys.modules if m.startswith('dlcourse.grading') or m == 'torch'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_module_of_course_code_is_registered():
    import importlib

    for name in COURSE_CODE:
        importlib.import_module(f"dlcourse.{name}")
    registered = set(_reference.registered_files().values())
    assert registered == {f"dlcourse.{name}" for name in COURSE_CODE}


def test_names_of_course_code():
    from dlcourse import data, layers, linear

    assert _reference.reference_name(linear.sigmoid) == "dlcourse.linear.sigmoid"  # @reference
    assert _reference.reference_name(layers.Sigmoid.forward) == "dlcourse.layers.Sigmoid.forward"  # by module
    assert _reference.reference_name(data.moons) is None
    assert _reference.reference_name(print) is None
    with pytest.raises(ValueError, match="not imported"):
        _reference.reference_module("dlcourse.no_such_module")
