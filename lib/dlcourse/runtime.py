"""The course prologue: seed, device and size — the only knobs a notebook has.

Three environment variables, read when a function is called (never at import time):

``DLCOURSE_FULL``
    unset/``0`` (default): every notebook is sized to run in about a minute on a 2-core CPU — what students
    on a laptop or Binder get, what CI runs and what the committed outputs show. ``1``: real data sizes,
    epochs and models, meant for a GPU.
``DLCOURSE_DEVICE``
    ``cpu``, ``cuda`` or ``mps`` to override the automatic choice (cuda, then mps, then cpu).
``DLCOURSE_DATA``
    a folder holding data sets (see :mod:`dlcourse.data`).

A lecture starts with ``cfg = runtime.setup(seed=0)``.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}
DEVICES = ("cpu", "cuda", "mps")


def is_full() -> bool:
    """True when ``DLCOURSE_FULL`` asks for the full-size (GPU) version of the notebooks."""
    value = os.environ.get("DLCOURSE_FULL", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"DLCOURSE_FULL must be 0 or 1, got {os.environ['DLCOURSE_FULL']!r}")


def pick(fast: T, full: T) -> T:
    """The one size switch: ``fast`` by default, ``full`` when ``DLCOURSE_FULL=1``.

    >>> n_epochs = pick(fast=3, full=30)
    """
    return full if is_full() else fast


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python's ``random``, numpy's global state and (if imported) torch; return a fresh numpy Generator.

    torch is seeded only when it has been imported, so numpy-only notebooks stay fast to start;
    import torch before calling this in a torch notebook (``setup`` does).
    """
    seed = _check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
    return np.random.default_rng(seed)


@contextlib.contextmanager
def torch_seeded(seed: int, device=None) -> Iterator[None]:
    """Run the block with torch's global generator seeded from ``seed`` (and the GPU's, when ``device`` is a CUDA
    device), inside a fork of it: what the block draws (initial weights, dropout, noise) depends on ``seed``
    only, and the caller's random state is as it was afterwards."""
    import torch

    seed = _check_seed(seed)
    devices = [device.index or 0] if device is not None and torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def device_name() -> str:
    """``"cuda"``, ``"mps"`` or ``"cpu"``: ``DLCOURSE_DEVICE`` if set, else the best one available."""
    import torch

    wanted = os.environ.get("DLCOURSE_DEVICE", "").strip().lower()
    if wanted:
        if wanted not in DEVICES:
            raise ValueError(f"DLCOURSE_DEVICE must be one of {', '.join(DEVICES)}; got {wanted!r}")
        if wanted == "cuda" and not torch.cuda.is_available():
            raise ValueError("DLCOURSE_DEVICE=cuda, but torch sees no CUDA GPU on this machine")
        if wanted == "mps" and not torch.backends.mps.is_available():
            raise ValueError("DLCOURSE_DEVICE=mps, but the Apple-silicon (MPS) backend is not available")
        return wanted
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def device():
    """The ``torch.device`` that models and tensors should live on."""
    import torch

    return torch.device(device_name())


@dataclass(frozen=True)
class Settings:
    """What ``setup`` chose; notebooks read sizes through :func:`pick` and the device through ``device``."""

    seed: int
    full: bool
    device: str
    rng: np.random.Generator

    def summary(self) -> str:
        size = "full size" if self.full else "fast mode (DLCOURSE_FULL=1 for full size)"
        return f"dlcourse | {size} | device: {self.device} | seed: {self.seed}"


# torch picks its CPU kernels by instruction set (AVX2, AVX-512) when it first computes; different kernels sum in a
# different order, and a training run amplifies the last-digit difference into a different printed accuracy.
_AVX2_KERNELS = {"ATEN_CPU_CAPABILITY": "avx2", "DNNL_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}


def pin_cpu_kernels() -> None:
    """On an x86 CPU with AVX2, make torch (its own kernels, oneDNN's and MKL's) compute with the AVX2 kernels even
    on an AVX-512 machine, so that fast-mode outputs are the same on every such machine. Effective only before
    torch's first computation in the process, and in the processes it starts (the test run and ``make notebooks``
    call it, so that the solution notebooks' kernels compute like the lectures'); a variable the user set is kept."""
    import torch

    if torch.cpu._is_avx2_supported():
        for name, value in _AVX2_KERNELS.items():
            os.environ.setdefault(name, value)


def setup(seed: int = 0) -> Settings:
    """The first call of every lecture: import torch, seed everything, print what was chosen.

    In fast mode torch computes on one CPU thread: the course's small models train as fast on one thread of a
    2-core laptop as on two, several times faster when the other core is busy (two threads then wait on each
    other), and the printed numbers do not depend on the number of cores nor on whether the CPU has AVX-512.
    ``DLCOURSE_FULL=1`` keeps torch's defaults.
    """
    import torch

    if not is_full():
        pin_cpu_kernels()
        torch.set_num_threads(1)
    rng = seed_everything(seed)
    settings = Settings(seed=seed, full=is_full(), device=device_name(), rng=rng)
    print(settings.summary())
    return settings


def data_dir() -> Path | None:
    """The folder named by ``DLCOURSE_DATA``, or None when it is unset."""
    value = os.environ.get("DLCOURSE_DATA", "").strip()
    return Path(value).expanduser() if value else None
