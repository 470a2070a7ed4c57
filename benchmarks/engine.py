"""Table 4: what the bookkeeping of a scalar autodiff engine costs.

Forward + backward of the 2-layer MLP of lecture 05 (``mlp.init_mlp(2, 16, 2)``, one sample) built one number
at a time, as ``dlcourse.autodiff`` builds it: with the course's ``Value`` (``autodiff.mlp_logits`` and
``autodiff.softmax_cross_entropy``), and with torch 0-d float64 tensors requiring gradients in the same object
arrays, put together by the same operations; for context, the same MLP with torch tensors (two matrix products)
and numpy's ``mlp.mlp_gradients``. Every way must give the same gradients (checked first).

    .venv/bin/python -m benchmarks --only autodiff
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import median_ms, progress, ratio, time_rounds


@dataclass(frozen=True)
class EngineSize:
    """One sample through Linear(d_in, hidden), ReLU, Linear(hidden, classes): lecture 05's moons network."""

    d_in: int = 2
    hidden: int = 16
    classes: int = 2


TINY_ENGINE = EngineSize(d_in=2, hidden=3, classes=2)


def _scalar_params(params: dict[str, np.ndarray], make) -> dict[str, np.ndarray]:
    """Object arrays shaped like ``params`` holding ``make(number)`` for each entry."""
    out = {}
    for name, array in params.items():
        out[name] = np.empty(array.shape, dtype=object)
        for index in np.ndindex(array.shape):
            out[name][index] = make(float(array[index]))
    return out


def _torch_scalar_loss(P: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray):
    """``autodiff.softmax_cross_entropy(autodiff.mlp_logits(P, X), y)`` for 0-d torch tensors, step by step."""
    import torch

    relu = np.vectorize(torch.relu, otypes=[object])
    Z = relu(X @ P["W1"] + P["b1"]) @ P["W2"] + P["b2"]
    total = torch.zeros((), dtype=torch.float64)
    for z, label in zip(Z, y):
        m = max(float(v.detach()) for v in z)
        shifted = [v - m for v in z]
        total = total + sum(s.exp() for s in shifted).log() - shifted[label]
    return total * (1.0 / Z.shape[0])


def runners(size: EngineSize, seed: int = 0) -> dict:
    """``{"value", "torch_scalars", "torch_tensors", "numpy"}``: one forward + backward each, returning the
    gradients as a dict of float arrays shaped like the parameters."""
    import torch
    import torch.nn.functional as F

    from dlcourse import autodiff, mlp

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(1, size.d_in))
    y = rng.integers(0, size.classes, 1)
    params = mlp.init_mlp(size.d_in, size.hidden, size.classes, seed=seed)

    def value():
        P = autodiff.value_params(params)
        autodiff.softmax_cross_entropy(autodiff.mlp_logits(P, X), y).backward()
        return autodiff.param_grads(P)

    def torch_scalars():
        P = _scalar_params(params, lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True))
        _torch_scalar_loss(P, X, y).backward()
        return {name: np.vectorize(lambda t: float(t.grad), otypes=[float])(A) for name, A in P.items()}

    def torch_tensors():
        P = {name: torch.tensor(a, requires_grad=True) for name, a in params.items()}
        logits = torch.relu(torch.tensor(X) @ P["W1"] + P["b1"]) @ P["W2"] + P["b2"]
        F.cross_entropy(logits, torch.tensor(y)).backward()
        return {name: t.grad.numpy() for name, t in P.items()}

    def numpy_arrays():
        return mlp.mlp_gradients(params, X, y)

    return {"value": value, "torch_scalars": torch_scalars, "torch_tensors": torch_tensors, "numpy": numpy_arrays}


def check_gradients(run: dict) -> float:
    """The largest difference between the Value engine's gradients and every other way's; ValueError above 1e-10."""
    reference = run["value"]()
    worst = 0.0
    for name, fn in run.items():
        grads = fn()
        for key, g in reference.items():
            worst = max(worst, float(np.max(np.abs(np.asarray(grads[key]) - g))))
        if worst > 1e-10:
            raise ValueError(f"{name}'s gradients differ from the Value engine's by {worst:.3g}")
    return worst


def count_nodes(size: EngineSize, seed: int = 0) -> int:
    """Nodes of the Value graph of one forward pass (parameters and constants included)."""
    from dlcourse import autodiff, mlp

    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(1, size.d_in)), rng.integers(0, size.classes, 1)
    P = autodiff.value_params(mlp.init_mlp(size.d_in, size.hidden, size.classes, seed=seed))
    return len(autodiff.trace(autodiff.softmax_cross_entropy(autodiff.mlp_logits(P, X), y))[0])


def measure(tiny: bool = False, repeat: int = 30) -> dict:
    """Table 4's figures: median ms of each way and its ratio to the Value engine (same rounds)."""
    import torch

    size, repeat = (TINY_ENGINE, 3) if tiny else (EngineSize(), repeat)
    progress(f"autodiff engine: {repeat} rounds")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a scalar graph: threads only add overhead (and the Value engine has one)
    try:
        run = runners(size)
        max_error = check_gradients(run)
        times = time_rounds(run, repeat, warmup=1 if tiny else 3)
    finally:
        torch.set_num_threads(threads)
    rows = {name: {"ms": median_ms(t), **ratio(t, times["value"])} for name, t in times.items()}
    return {"size": [size.d_in, size.hidden, size.classes], "nodes": count_nodes(size), "repeat": repeat,
            "torch_threads": 1, "max_abs_difference": max_error, "rows": rows}
