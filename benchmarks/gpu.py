"""Table 5: time per epoch of lectures 07-09's CNN, denoising autoencoder and DCGAN at ``DLCOURSE_FULL=1``, on the
CPU and on a CUDA GPU, with the same code (``torch_training.fit``, ``autoencoders.train_denoising_ae``,
``gans.train_gan``) and the sizes the lectures pick at full size:

* CNN: ``convnets.build_lenet`` on 60,000 images (1, 28, 28), batches of 128, Adam (lecture 07);
* denoising autoencoder: 784-256-64 with Gaussian noise 0.4, 60,000 rows, batches of 128 (lecture 08);
* DCGAN: ``gans.build_dcgan_generator`` / ``_discriminator`` with latent 100 and width 64, 60,000 images,
  batches of 128; an epoch is 60,000 // 128 steps (lecture 09).

The data are random arrays of Fashion-MNIST's shapes (the time does not depend on the pixels, and nothing is
downloaded). An epoch's time is the training loop's own (``fit``'s ``hist["seconds"]``, ``train_gan``'s), without
a validation pass. On the CPU a round trains a few batches (as many as take about ``target`` seconds) and the
epoch's time is the time per batch x the batches of an epoch; on a GPU a round is a whole epoch. Figures are
medians over the rounds. Without CUDA the GPU column says "not measured" — never an estimate.

    .venv/bin/python -m benchmarks --only gpu
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from .common import progress, sig
N_TRAIN = 60_000  # Fashion-MNIST's training set: what the lectures train on at full size
BATCH = 128  # the batch size of all three at full size


@contextlib.contextmanager
def full_size() -> Iterator[None]:
    """``DLCOURSE_FULL=1`` inside the block (the lectures' full sizes), as it was afterwards."""
    old = os.environ.get("DLCOURSE_FULL")
    os.environ["DLCOURSE_FULL"] = "1"
    try:
        yield
    finally:
        if old is None:
            del os.environ["DLCOURSE_FULL"]
        else:
            os.environ["DLCOURSE_FULL"] = old


@dataclass(frozen=True)
class Workload:
    """One model of the table: ``train(n_batches, device)`` trains a fresh model on that many batches and returns
    the seconds its training loop took."""

    name: str
    what: str
    batch: int
    train: Callable[[int, str], float]
    drop_last: bool = False  # train_gan drops an epoch's last incomplete batch, fit does not

    def batches_per_epoch(self) -> int:
        """The batches of one pass over the N_TRAIN rows."""
        return N_TRAIN // self.batch if self.drop_last else -(-N_TRAIN // self.batch)


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 1, 28, 28), dtype=np.float32)


def _cnn(n_batches: int, device: str) -> float:
    from dlcourse import convnets, torch_training

    X = _images(n_batches * BATCH)
    y = np.random.default_rng(1).integers(0, 10, len(X))
    model = convnets.build_lenet(in_size=28, n_classes=10, seed=0)
    hist = torch_training.fit(model, X, y, epochs=1, batch_size=BATCH, lr=3e-3, seed=0, device=device, title=None)
    return hist["seconds"][0]


def _dae(n_batches: int, device: str) -> float:
    from dlcourse import autoencoders, torch_training

    X = _images(n_batches * BATCH).reshape(-1, 784)
    model = autoencoders.build_autoencoder(784, 64, hidden=(256,), seed=0)
    hist = torch_training.fit(model, X, epochs=1, batch_size=BATCH, lr=2e-3, loss="mse", seed=0, device=device,
                              corrupt=autoencoders.corruption("gaussian", 0.4), title=None)
    return hist["seconds"][0]


def _dcgan(n_batches: int, device: str) -> float:
    from dlcourse import gans, runtime

    latent, width = runtime.pick(fast=32, full=100), runtime.pick(fast=8, full=64)
    batch, lr = runtime.pick(fast=16, full=BATCH), runtime.pick(fast=5e-4, full=2e-4)
    X = gans.to_tanh_range(_images(n_batches * batch))
    G = gans.build_dcgan_generator(latent_dim=latent, width=width, seed=0)
    D = gans.build_dcgan_discriminator(width=width, seed=1)
    hist = gans.train_gan(G, D, X, steps=n_batches, batch_size=batch, lr_g=lr, lr_d=lr, seed=0, device=device,
                          title=None)
    return hist["seconds"]


WORKLOADS = (
    Workload("CNN", "LeNet (lecture 07), Adam", BATCH, _cnn),
    Workload("denoising autoencoder", "784-256-64, Gaussian noise 0.4 (lecture 08), Adam", BATCH, _dae),
    Workload("DCGAN", "latent 100, width 64 (lecture 09), one D and one G step per batch", BATCH, _dcgan,
             drop_last=True),
)


def _per_batch(work: Workload, n_batches: int, device: str, rounds: int) -> list[float]:
    """Seconds per batch of ``rounds`` runs of ``n_batches`` batches each."""
    return [work.train(n_batches, device) / n_batches for _ in range(rounds)]


def cpu_batches(work: Workload, target: float, limit: int) -> int:
    """How many batches take about ``target`` seconds on the CPU (from a 2-batch warm-up run), at most ``limit``."""
    start = time.perf_counter()
    work.train(2, "cpu")
    per_batch = max((time.perf_counter() - start) / 2, 1e-4)
    return int(min(max(2, round(target / per_batch)), limit))


def measure_one(work: Workload, rounds: int, target: float, gpu: bool) -> dict:
    """One row: s/epoch on the CPU (extrapolated from a few batches unless they make an epoch) and on the GPU."""
    epoch = work.batches_per_epoch()
    n_cpu = cpu_batches(work, target, epoch)
    cpu = statistics.median(_per_batch(work, n_cpu, "cpu", rounds)) * epoch
    row = {"model": work.name, "what": work.what, "batch": work.batch, "batches_per_epoch": epoch,
           "cpu_batches_timed": n_cpu, "cpu_extrapolated": n_cpu < epoch, "cpu_s_per_epoch": sig(cpu),
           "gpu_s_per_epoch": None, "speedup": None}
    progress(f"gpu table: {work.name}: CPU {cpu:.1f} s/epoch ({n_cpu} of {epoch} batches timed)")
    if gpu:
        work.train(2, "cuda")  # warm-up: CUDA context, cuDNN's choice of kernels
        gpu_s = statistics.median(_per_batch(work, epoch, "cuda", rounds)) * epoch
        row.update(gpu_s_per_epoch=sig(gpu_s), speedup=sig(cpu / gpu_s))
        progress(f"gpu table: {work.name}: GPU {gpu_s:.2f} s/epoch")
    return row


def measure(tiny: bool = False, rounds: int = 3, target: float = 3.0) -> dict:
    """Table 5's figures; the GPU columns only when torch sees a CUDA GPU."""
    import torch

    gpu = torch.cuda.is_available()
    rounds, target = (1, 0.05) if tiny else (rounds, target)
    with full_size():
        rows = [measure_one(work, rounds, target, gpu) for work in WORKLOADS]
    return {"rows": rows, "gpu": torch.cuda.get_device_name(0) if gpu else None, "rounds": rounds,
            "torch_threads": torch.get_num_threads()}
