"""Argument validation shared by the public functions of the lib.

Every public function checks its arguments with these helpers, so that bad input fails early with a
``ValueError`` that says what was expected (not a numpy broadcasting error three calls deeper). Also the one
place where a seed becomes a random generator (:func:`as_rng`).
"""

from __future__ import annotations

import numpy as np


def as_float_array(x, name: str, ndim: int | None = None) -> np.ndarray:
    """Return ``x`` as a float64 array; raise ``ValueError`` for non-numeric input or a wrong ``ndim``."""
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must be numeric (int or float), got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        kind = {0: "a scalar", 1: "a 1-D array (vector)", 2: "a 2-D array (matrix)"}.get(ndim, f"{ndim}-D")
        raise ValueError(f"{name} must be {kind}, got an array of shape {arr.shape}")
    return arr.astype(np.float64, copy=False)


def as_vector(x, name: str, length: int | None = None) -> np.ndarray:
    """A float vector of shape ``(length,)``."""
    v = as_float_array(x, name, ndim=1)
    if length is not None and v.shape[0] != length:
        raise ValueError(f"{name} must have shape ({length},), got {v.shape}")
    return v


def as_matrix(x, name: str, cols: int | None = None) -> np.ndarray:
    """A float matrix of shape ``(n, cols)`` with at least one row."""
    m = as_float_array(x, name, ndim=2)
    if m.shape[0] == 0:
        raise ValueError(f"{name} must have at least one row, got shape {m.shape}")
    if cols is not None and m.shape[1] != cols:
        raise ValueError(f"{name} must have {cols} columns (one per feature), got shape {m.shape}")
    return m


def _labels(y, name: str, n: int, allowed: tuple[int, int], words: str) -> np.ndarray:
    v = as_float_array(y, name, ndim=1)
    if v.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match the {n} rows of X, got {v.shape}")
    if not np.all(np.isin(v, allowed)):
        raise ValueError(f"{name} must contain only the labels {words}")
    return v


def as_labels01(y, name: str, n: int) -> np.ndarray:
    """Binary labels of shape ``(n,)`` with values in {0, 1}, returned as float64."""
    return _labels(y, name, n, (0, 1), "0 and 1")


def as_labels_pm1(y, name: str, n: int) -> np.ndarray:
    """Labels of shape ``(n,)`` with values in {-1, +1}, returned as float64."""
    return _labels(y, name, n, (-1, 1), "-1 and +1 (convert 0/1 labels with 2 * y - 1)")


def as_scalar(x, name: str) -> float:
    """A finite real number."""
    arr = as_float_array(x, name)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar (a float), got an array of shape {arr.shape}")
    value = float(arr)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def as_probability(p, name: str) -> float:
    """A probability strictly between 0 and 1."""
    value = as_scalar(p, name)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}")
    return value


def as_covariance(S, name: str, d: int) -> np.ndarray:
    """A symmetric positive-definite ``(d, d)`` matrix."""
    S = as_float_array(S, name, ndim=2)
    if S.shape != (d, d):
        raise ValueError(f"{name} must have shape ({d}, {d}), got {S.shape}")
    if not np.allclose(S, S.T, rtol=1e-10, atol=1e-12):
        raise ValueError(f"{name} must be symmetric")
    try:
        np.linalg.cholesky(S)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} must be positive definite (all eigenvalues > 0)") from None
    return S


def as_int(n, name: str, minimum: int = 1) -> int:
    """An integer ``>= minimum`` (bools are refused)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {type(n).__name__}")
    if n < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {n}")
    return int(n)


def as_nonnegative_float(x, name: str) -> float:
    """A finite number >= 0."""
    value = as_scalar(x, name)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def as_positive_float(x, name: str) -> float:
    """A finite number > 0."""
    value = as_scalar(x, name)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def as_class_labels(y, name: str, n: int, k: int | None = None) -> np.ndarray:
    """Integer class labels of shape ``(n,)`` in 0..k-1 (integral floats accepted), returned as int64."""
    arr = np.asarray(y)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one label per row, got {arr.shape}")
    if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
        raise ValueError(f"{name} must hold integer class labels (0, 1, 2, ...), got non-integer values")
    labels = arr.astype(np.int64)
    if n and labels.min() < 0:
        raise ValueError(f"{name} must hold class labels >= 0, got {labels.min()}")
    if k is not None and n and labels.max() >= k:
        raise ValueError(f"{name} must hold class labels in 0..{k - 1}, got {labels.max()}: there are only {k} "
                         f"classes (one per column of the scores)")
    return labels


def as_rng(rng, name: str = "rng") -> np.random.Generator:
    """A numpy Generator as is, or a non-negative integer seed turned into ``np.random.default_rng(seed)``."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (bool, np.bool_)) or not isinstance(rng, (int, np.integer)) or rng < 0:
        raise ValueError(f"{name} must be a numpy Generator or a non-negative integer seed, got {rng!r}")
    return np.random.default_rng(int(rng))


MLP_PARAM_NAMES = ("W1", "b1", "W2", "b2")
"""The parameters of the one-hidden-layer network relu(X W1 + b1) W2 + b2 (``mlp``, ``autodiff``, ps3)."""


def as_mlp_params(params) -> dict[str, np.ndarray]:
    """The float64 arrays W1 (D, H), b1 (H,), W2 (H, K), b2 (K,) of a params dict, with consistent shapes."""
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict with keys {', '.join(MLP_PARAM_NAMES)}, got {type(params).__name__}")
    missing = [name for name in MLP_PARAM_NAMES if name not in params]
    if missing:
        raise ValueError(f"params must have the keys {', '.join(MLP_PARAM_NAMES)}; missing {', '.join(missing)}")
    W1 = as_float_array(params["W1"], "W1", ndim=2)
    D, H = W1.shape
    b1 = as_vector(params["b1"], "b1", H)
    W2 = as_float_array(params["W2"], "W2", ndim=2)
    if W2.shape[0] != H:
        raise ValueError(f"W2 must have shape (H, K) with H = {H} (the columns of W1), got {W2.shape}")
    b2 = as_vector(params["b2"], "b2", W2.shape[1])
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
