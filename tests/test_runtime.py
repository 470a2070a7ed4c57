import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from dlcourse import runtime


@pytest.fixture(autouse=True)
def torch_threads_restored():
    """setup() sets torch's thread count; the tests that follow in this process must not inherit it."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("value, expected", [(None, False), ("", False), ("0", False), ("1", True), ("true", True)])
def test_is_full_reads_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("DLCOURSE_FULL", raising=False)
    else:
        monkeypatch.setenv("DLCOURSE_FULL", value)
    assert runtime.is_full() is expected
    assert runtime.pick(fast="small", full="big") == ("big" if expected else "small")


def test_is_full_rejects_garbage(monkeypatch):
    monkeypatch.setenv("DLCOURSE_FULL", "maybe")
    with pytest.raises(ValueError, match="DLCOURSE_FULL"):
        runtime.is_full()


def test_seed_everything_makes_every_generator_repeat():
    def draw():
        rng = runtime.seed_everything(7)
        return random.random(), np.random.rand(), rng.normal(), torch.rand(1).item()

    assert draw() == draw()
    first = draw()
    runtime.seed_everything(8)
    assert np.random.rand() != first[1]


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="seed"):
        runtime.seed_everything(bad)


def test_device_defaults_to_what_is_available(monkeypatch):
    monkeypatch.delenv("DLCOURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert runtime.device_name() == expected
    assert runtime.device() == torch.device(expected)


def test_device_override(monkeypatch):
    monkeypatch.setenv("DLCOURSE_DEVICE", "CPU")
    assert runtime.device() == torch.device("cpu")
    monkeypatch.setenv("DLCOURSE_DEVICE", "tpu")
    with pytest.raises(ValueError, match="one of cpu, cuda, mps"):
        runtime.device_name()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_a_missing_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DLCOURSE_DEVICE", "cuda")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        runtime.device_name()


def test_setup_prints_one_summary_line(monkeypatch, capsys):
    monkeypatch.delenv("DLCOURSE_FULL", raising=False)
    monkeypatch.setenv("DLCOURSE_DEVICE", "cpu")
    cfg = runtime.setup(seed=3)
    out = capsys.readouterr().out.strip()
    assert out == "dlcourse | fast mode (DLCOURSE_FULL=1 for full size) | device: cpu | seed: 3"
    assert (cfg.seed, cfg.full, cfg.device) == (3, False, "cpu")
    assert cfg.rng.integers(1000) == np.random.default_rng(3).integers(1000)


def test_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("DLCOURSE_DATA", raising=False)
    assert runtime.data_dir() is None
    monkeypatch.setenv("DLCOURSE_DATA", str(tmp_path))
    assert runtime.data_dir() == tmp_path


def test_setup_computes_on_one_thread_in_fast_mode_only(monkeypatch):
    import torch

    before = torch.get_num_threads()
    for name in runtime._AVX2_KERNELS:  # setup pins them; this process's later tests must not inherit that
        monkeypatch.delenv(name, raising=False)
    try:
        monkeypatch.delenv("DLCOURSE_FULL", raising=False)
        runtime.setup(seed=0)
        assert torch.get_num_threads() == 1
        torch.set_num_threads(2)
        monkeypatch.setenv("DLCOURSE_FULL", "1")
        runtime.setup(seed=0)
        assert torch.get_num_threads() == 2  # full size keeps what torch chose
    finally:
        torch.set_num_threads(before)


_CAPABILITY = "from dlcourse import runtime; import torch; runtime.setup(0); print(torch.backends.cpu.get_cpu_capability())"


@pytest.mark.skipif(not torch.cpu._is_avx2_supported(), reason="the pin is for x86 CPUs with AVX2")
def test_setup_pins_torch_to_the_avx2_kernels_in_fast_mode_only(monkeypatch):
    """An AVX-512 machine must print what an AVX2 machine prints (CI failed on lecture 07's accuracies before)."""
    for name in runtime._AVX2_KERNELS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DLCOURSE_FULL", raising=False)

    def capability(**env) -> str:
        out = subprocess.run([sys.executable, "-c", _CAPABILITY], capture_output=True, text=True, check=True,
                             env={**os.environ, **env}).stdout
        return out.strip().splitlines()[-1]

    assert capability() == "AVX2"
    assert capability(ATEN_CPU_CAPABILITY="default") == "DEFAULT"  # what the user set is kept
    full = capability(DLCOURSE_FULL="1")
    # full size: torch's own choice, asked in a process that is not pinned (the test run itself is: conftest.py)
    own = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert full == own, (full, own)
    runtime.pin_cpu_kernels()
    assert {name: os.environ[name] for name in runtime._AVX2_KERNELS} == runtime._AVX2_KERNELS


def test_torch_seeded_draws_from_the_seed_and_leaves_the_callers_state():
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    with runtime.torch_seeded(7):
        a = torch.rand(4)
    with runtime.torch_seeded(7, device="cpu"):
        b = torch.rand(4)
    assert torch.equal(a, b)  # the same seed, the same draws
    assert torch.equal(torch.rand(3), expected_next)  # the caller's stream went on as if nothing happened
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        with runtime.torch_seeded(-1):
            pass
