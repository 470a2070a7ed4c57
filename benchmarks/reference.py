"""Table 3: the course's numpy reference implementations against torch on the CPU, and against the machine's peak.

* the numpy MLP training step (``dlcourse.mlp.mlp_gradients`` and a gradient step, float64) against the same
  MLP in torch (``mlp.params_to_torch``: the same weights; forward, cross-entropy, backward, ``torch.optim.SGD``),
  in float64 and float32; the conv2d comparison comes from :mod:`benchmarks.conv`;
* the GEMM-bound numpy operations in GFLOP/s, as a fraction of the peak that numpy's BLAS reaches on a large
  float64 matrix product on this machine (one figure: the same BLAS, its own thread count).

    .venv/bin/python -m benchmarks --only reference
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np

from . import conv
from .common import agree, median_ms, progress, ratio, sig, time_rounds


@dataclass(frozen=True)
class MLPSize:
    """A batch (batch, d_in) through Linear(d_in, hidden), ReLU, Linear(hidden, classes): a Fashion-MNIST MLP."""

    batch: int = 128
    d_in: int = 784
    hidden: int = 256
    classes: int = 10

    def flops(self) -> int:
        """2 x multiply-adds of one step: forward (X W1, h W2) and backward (dX and dW of each layer)."""
        return 3 * 2 * self.batch * (self.d_in * self.hidden + self.hidden * self.classes)


TINY_MLP = MLPSize(batch=8, d_in=16, hidden=8, classes=3)
LR = 1e-3


def mlp_runners(size: MLPSize, seed: int = 0) -> dict:
    """``{"numpy", "torch64", "torch32"}``: callables making one training step of the same MLP on the same batch."""
    import torch
    import torch.nn.functional as F

    from dlcourse import mlp

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(size.batch, size.d_in))
    y = rng.integers(0, size.classes, size.batch)
    params = mlp.init_mlp(size.d_in, size.hidden, size.classes, seed=seed)

    def run_numpy():
        grads = mlp.mlp_gradients(params, X, y)
        for name, g in grads.items():
            params[name] -= LR * g
        return grads

    def torch_runner(dtype):
        model = mlp.params_to_torch(params, dtype=dtype)
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        Xt, yt = torch.tensor(X, dtype=dtype), torch.tensor(y)

        def run():
            loss = F.cross_entropy(model(Xt), yt)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grads = {"W1": model[0].weight.grad.T, "b1": model[0].bias.grad,
                     "W2": model[2].weight.grad.T, "b2": model[2].bias.grad}
            opt.step()
            return grads

        return run

    return {"torch64": torch_runner(torch.float64), "torch32": torch_runner(torch.float32), "numpy": run_numpy}


def check_mlp_gradients(run: dict) -> float:
    """The largest relative difference between numpy's and torch's float64 gradients of the first step (both
    start from the same weights); ValueError above 1e-10. Makes one step of each."""
    theirs = run["torch64"]()
    mine = run["numpy"]()
    return agree({name: (g, theirs[name]) for name, g in mine.items()}, "MLP gradients")


def measure_mlp(size: MLPSize = MLPSize(), repeat: int = 30, warmup: int = 3, seed: int = 0) -> dict:
    """Medians (ms) of one training step each way, and the ratios numpy / torch with their per-round range."""
    run = mlp_runners(size, seed)
    max_error = check_mlp_gradients(run)
    times = time_rounds(run, repeat, warmup)
    return {"x": [size.batch, size.d_in], "hidden": size.hidden, "classes": size.classes, "repeat": repeat,
            "numpy_ms": median_ms(times["numpy"]), "torch_ms": median_ms(times["torch64"]),
            "torch_float32_ms": median_ms(times["torch32"]),
            **{k: v for k, v in ratio(times["numpy"], times["torch64"]).items()},
            **{f"{k}_float32": v for k, v in ratio(times["numpy"], times["torch32"]).items()},
            "max_relative_error": max_error, "flops": size.flops()}


def _gflops(flops: float, seconds: list[float]) -> float:
    return sig(flops / statistics.median(seconds) / 1e9)


def matmul_peak(n: int = 2048, repeat: int = 10) -> dict:
    """GFLOP/s of numpy's float64 ``a @ b`` for (n, n) matrices: the median of ``repeat`` products."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(n, n)), rng.normal(size=(n, n))
    times = time_rounds({"matmul": lambda: a @ b}, repeat, warmup=1)["matmul"]
    return {"n": n, "gflops": _gflops(2 * n ** 3, times), "ms": median_ms(times)}


def gemm_rows(conv_size: conv.ConvSize, conv_figures: dict, mlp_size: MLPSize, mlp_figures: dict,
              peak_gflops: float, repeat: int) -> list[dict]:
    """GFLOP/s of the GEMM-bound numpy operations, whole (from the timings above) and their bare matrix products
    (timed here, same shapes), each as a percentage of ``peak_gflops``."""
    rng = np.random.default_rng(0)
    m, k, n_all = conv_size.gemm()
    per_image = n_all // conv_size.batch
    w2d, cols = rng.normal(size=(m, k)), rng.normal(size=(conv_size.batch, k, per_image))
    X, W1 = rng.normal(size=(mlp_size.batch, mlp_size.d_in)), rng.normal(size=(mlp_size.d_in, mlp_size.hidden))
    bare = time_rounds({"conv": lambda: np.matmul(w2d, cols), "mlp": lambda: X @ W1}, repeat, warmup=1)
    rows = [
        {"op": "conv2d forward + backward (whole numpy op)", "shape": f"3 x ({m} x {k}) @ ({k} x {n_all})",
         "gflops": sig(conv_figures["flops"] / conv_figures["numpy_ms"] / 1e6)},
        {"op": "conv2d forward's matmul alone (w @ im2col columns, one per image)",
         "shape": f"{conv_size.batch} x ({m} x {k}) @ ({k} x {per_image})",
         "gflops": _gflops(2 * m * k * n_all, bare["conv"])},
        {"op": "MLP training step (whole numpy step)",
         "shape": f"6 products of ({mlp_size.batch} x {mlp_size.d_in} x {mlp_size.hidden}) + ({mlp_size.batch} x "
                  f"{mlp_size.hidden} x {mlp_size.classes}) size",
         "gflops": sig(mlp_figures["flops"] / mlp_figures["numpy_ms"] / 1e6)},
        {"op": "MLP's first layer matmul alone (X @ W1)",
         "shape": f"({mlp_size.batch} x {mlp_size.d_in}) @ ({mlp_size.d_in} x {mlp_size.hidden})",
         "gflops": _gflops(2 * mlp_size.batch * mlp_size.d_in * mlp_size.hidden, bare["mlp"])},
    ]
    for row in rows:
        row["percent_of_peak"] = sig(100 * row["gflops"] / peak_gflops)
    return rows


def measure(tiny: bool = False, repeat: int = 30) -> dict:
    """Table 3's figures: conv2d and the MLP step each way, the matmul peak, the GEMM rows."""
    conv_size, mlp_size = (conv.TINY, TINY_MLP) if tiny else (conv.ConvSize(), MLPSize())
    repeat = 3 if tiny else repeat
    progress(f"reference vs torch: conv2d, {repeat} rounds")
    conv_figures = conv.measure(conv_size, repeat, warmup=1 if tiny else 3)
    progress(f"reference vs torch: MLP training step, {repeat} rounds")
    mlp_figures = measure_mlp(mlp_size, repeat, warmup=1 if tiny else 3)
    progress("reference vs torch: matmul peak and GEMM-bound ops")
    peak = matmul_peak(256 if tiny else 2048, repeat=3 if tiny else 10)
    rows = gemm_rows(conv_size, conv_figures, mlp_size, mlp_figures, peak["gflops"], repeat)
    return {"conv": conv_figures, "mlp": mlp_figures, "peak": peak, "gemm": rows}
