"""Regenerate the student versions in course/assignments/ from solutions/ with nbgrader (`make release`).

nbgrader runs in a scratch copy of the course (this repository's nbgrader_config.py and solutions/), so the
instructor's gradebook is not touched; its output (grading/release/ there) is copied into course/assignments/. An assignment folder in course/assignments/ is replaced only when git
says it has no uncommitted changes: a student's or an instructor's edits there are never overwritten.

    python tools/release.py                 # regenerate every assignment in place
    python tools/release.py --into DIR      # write DIR/<assignment>/... only (used by the tests)
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def assignments() -> list[str]:
    """Every folder of solutions/ that holds a notebook."""
    return sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def generate(into: Path, names: list[str]) -> None:
    """Run `nbgrader generate_assignment` for ``names`` in a scratch course; copy the results to ``into``."""
    with tempfile.TemporaryDirectory(prefix="dlcourse-release-") as tmp:
        scratch = Path(tmp)
        shutil.copy(ROOT / "nbgrader_config.py", scratch)
        shutil.copytree(ROOT / "solutions", scratch / "solutions",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        bin_dir = Path(sys.executable).parent
        for name in names:
            proc = subprocess.run([str(bin_dir / "nbgrader"), "generate_assignment", name, "--force"],
                                  cwd=scratch, capture_output=True, text=True,
                                  env={**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"})
            if proc.returncode != 0:
                raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n{proc.stdout}\n{proc.stderr}")
            target = into / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(scratch / "grading" / "release" / name, target)


def has_local_changes(path: Path) -> bool:
    """True when git reports uncommitted changes (or untracked files) under ``path``."""
    out = subprocess.run(["git", "status", "--porcelain", "--", str(path)], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return bool(out.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="assignments to generate (default: all in solutions/)")
    parser.add_argument("--into", type=Path, help="write the generated folders here instead of course/assignments/")
    args = parser.parse_args()
    names = args.names or assignments()
    if args.into:
        args.into.mkdir(parents=True, exist_ok=True)
        generate(args.into, names)
        return 0
    release_dir = ROOT / "course" / "assignments"
    blocked = [n for n in names if (release_dir / n).exists() and has_local_changes(release_dir / n)]
    if blocked:
        print("refusing to overwrite assignments with uncommitted changes (commit or move them first): "
              + ", ".join(f"course/assignments/{n}" for n in blocked))
        return 1
    generate(release_dir, names)
    for name in names:
        print(f"course/assignments/{name}: regenerated from solutions/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
