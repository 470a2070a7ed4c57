"""nbval really compares the committed outputs: a changed key number fails, round-off noise does not."""

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"


def sanitizers() -> list[tuple[str, str]]:
    cfg = configparser.ConfigParser()
    cfg.read(SANITIZE)
    return [(cfg[s]["regex"], cfg[s]["replace"]) for s in cfg.sections()]


def sanitize(text: str) -> str:
    for regex, replace in sanitizers():
        text = re.sub(regex, replace, text)
    return text


def test_roundoff_is_sanitized_but_real_numbers_are_not():
    assert sanitize("max |diff| = 3.1e-15, rel 1.6e-10") == "max |diff| = <1e-6, rel <1e-6"
    for kept in ("1.0e-03", "2.5e-06", "0.854", "1.6e+10", "1.979"):
        assert sanitize(f"value {kept}") == f"value {kept}"
    assert sanitize("<object at 0x7f27cfe7c040>") == "<object at 0xADDRESS>"


def test_a_changed_key_number_fails_nbval(tmp_path):
    source = ROOT / "solutions" / "ps1" / "ps1.ipynb"
    nb = nbformat.read(source, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "fitted w, b:" in "".join(
        o.get("text", "") for o in c.get("outputs", [])))
    out = next(o for o in cell.outputs if "fitted w, b:" in o.get("text", ""))
    out.text = out.text.replace("NLL fitted: 0.336", "NLL fitted: 0.337")
    assert "0.337" in out.text
    nbformat.write(nb, tmp_path / "tampered.ipynb")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
                           "--nbval-sanitize-with", str(SANITIZE), "-q", "-o", "addopts=", str(tmp_path / "tampered.ipynb")],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1 and "1 failed" in proc.stdout, proc.stdout[-2000:]
    assert "0.337" in proc.stdout and "0.336" in proc.stdout


def test_a_notebook_over_its_time_budget_fails_the_run(tmp_path):
    shutil.copy(ROOT / "solutions" / "ps1" / "ps1.ipynb", tmp_path / "ps1.ipynb")
    cmd = [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
           "--nbval-sanitize-with", str(SANITIZE), "-q", "-o", "addopts=", str(tmp_path / "ps1.ipynb")]
    slow = subprocess.run(cmd + ["--notebook-budget", "0.5"], cwd=ROOT, capture_output=True, text=True)
    assert slow.returncode == 1 and "OVER BUDGET" in slow.stdout, slow.stdout[-2000:]
    ok = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0 and "OVER BUDGET" not in ok.stdout
