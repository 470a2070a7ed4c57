"""The environment is what the pins say, in every form the course ships: make/pip, conda, Binder."""

import re
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^\s*(?:-\s+)?([A-Za-z0-9_.\-]+)==([^\s#;]+)")


def pins(path: Path) -> dict[str, str]:
    """name -> version for every `name==version` line; local labels (+cpu) dropped, names normalised."""
    found = {}
    for line in path.read_text().splitlines():
        if m := PIN.match(line):
            found[re.sub(r"[-_.]+", "-", m[1]).lower()] = m[2].split("+")[0]
    return found


def test_requirements_environment_and_binder_agree():
    req = pins(ROOT / "requirements.txt")
    assert req["torch"] == "2.13.0" and len(req) >= 10
    assert pins(ROOT / "environment.yml") == req
    assert pins(ROOT / "binder" / "requirements.txt") == req


def test_binder_uses_cpu_torch_and_opens_the_course():
    text = (ROOT / "binder" / "requirements.txt").read_text()
    assert "download.pytorch.org/whl/cpu" in text and "torch==2.13.0+cpu" in text
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    post = ROOT / "binder" / "postBuild"
    assert post.stat().st_mode & 0o111, "postBuild must be executable"
    assert "/lab/tree/course" in post.read_text()
    subprocess.run(["bash", "-n", str(post)], check=True)
    apt = [line.strip() for line in (ROOT / "binder" / "apt.txt").read_text().splitlines()
           if line.strip() and not line.startswith("#")]
    assert apt == ["dataset-fashion-mnist"]  # the lectures' Fashion-MNIST, where data.load_fashion_mnist looks


def test_the_lock_pins_every_direct_dependency_to_the_same_version():
    lock = pins(ROOT / "constraints.txt")
    for name, ver in {**pins(ROOT / "requirements.txt"), **pins(ROOT / "requirements-dev.txt")}.items():
        assert lock.get(name) == ver, f"constraints.txt has {name}=={lock.get(name)}, requirements pin {ver}"


def test_the_installed_environment_is_the_pinned_one():
    for name, ver in {**pins(ROOT / "requirements.txt"), **pins(ROOT / "requirements-dev.txt")}.items():
        assert version(name).split("+")[0] == ver, f"{name} {version(name)} installed, {ver} pinned"


def test_pyproject_ranges_admit_the_pins():
    from packaging.requirements import Requirement

    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    req = pins(ROOT / "requirements.txt")
    for spec in project["dependencies"]:
        r = Requirement(spec)
        assert r.specifier.contains(req[r.name.lower()], prereleases=False), f"{spec} excludes the pin"


def test_readme_leads_with_the_two_commands_and_ci_runs_make_test():
    readme = (ROOT / "README.md").read_text()
    first_code = readme[readme.index("```"):][:400]
    assert "make lab" in first_code and "make test" in first_code
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)


@pytest.mark.parametrize("folder", ["grading", ".venv"])
def test_runtime_folders_are_ignored_by_git(folder):
    proc = subprocess.run(["git", "check-ignore", "-q", f"{folder}/x"], cwd=ROOT)
    assert proc.returncode == 0, f"{folder}/ must be git-ignored"


def test_make_clean_never_touches_grading_data():
    dry = subprocess.run(["make", "-n", "clean"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "rm -rf" in dry and ".venv" in dry
    assert "grading" not in dry.split("rm -rf", 1)[1]
