"""Numerical gradients: the one finite-difference checker that every exercise reuses."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import _checks


def numerical_gradient(f: Callable[[np.ndarray], float], x, eps: float = 1e-6) -> np.ndarray:
    """Central differences (f(x + eps e_i) - f(x - eps e_i)) / (2 eps) for every entry of ``x``.

    ``f`` maps an array shaped like ``x`` to a scalar; the result has the shape of ``x``. ``x`` is not
    modified. The error is O(eps^2) plus rounding of order (machine epsilon * |f|) / eps.
    """
    x = _checks.as_float_array(x, "x").copy()
    eps = _checks.as_positive_float(eps, "eps")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        f_plus = float(f(x))
        flat[i] = old - eps
        f_minus = float(f(x))
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2.0 * eps)
    return grad


def relative_error(a, b) -> float:
    """max |a - b| / max(|a| + |b|, tiny): ~1e-7 or less means two gradients agree."""
    a = _checks.as_float_array(a, "a")
    b = _checks.as_float_array(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-12)))
