"""The numerically stable kernels that the reference functions, the layers and the lectures share.

Each kernel exists once, here, and takes arrays that the caller has already validated (the public functions
validate with :mod:`dlcourse._validate` and then call these). Stability comes from one idea used three times:
only ever exponentiate numbers <= 0.

* :func:`sigmoid`, :func:`log_sigmoid`, :func:`bce_with_logits`: the two-class case (logits ``a``);
* :func:`log_softmax`, :func:`softmax`, :func:`softmax_cross_entropy`: K classes (logits ``Z`` of shape (..., K));
* :func:`xlogy`: x log y with the convention 0 log 0 = 0 (entropies and cross-entropies of distributions).
"""

from __future__ import annotations

import numpy as np

from . import _reference

_reference.reference_module(__name__)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z) elementwise, any shape: e^z / (1 + e^z) for z < 0, so exp only sees -|z| (no overflow)."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def log_sigmoid(z: np.ndarray) -> np.ndarray:
    """log sigmoid(z) = -log(1 + e^-z), elementwise, never log(0)."""
    return -np.logaddexp(0.0, -z)


def bce_with_logits(a: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mean binary cross-entropy over ``axis`` of labels ``y`` in {0, 1} under sigmoid(``a``).

    -[y log s + (1 - y) log(1 - s)] with s = sigmoid(a) equals log(1 + e^a) - y a, which is evaluated with
    ``logaddexp`` and never takes the log of 0. ``a`` and ``y`` broadcast together.
    """
    return np.mean(np.logaddexp(0.0, a) - y * a, axis=axis)


def log_softmax(Z: np.ndarray, axis: int = -1) -> np.ndarray:
    """log softmax over ``axis``: z_k - max(z) - log sum_j exp(z_j - max(z)); same shape as ``Z``."""
    shifted = Z - Z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(Z: np.ndarray, axis: int = -1) -> np.ndarray:
    """exp(z_k) / sum_j exp(z_j) over ``axis``, computed after subtracting the maximum; same shape as ``Z``."""
    E = np.exp(Z - Z.max(axis=axis, keepdims=True))
    return E / E.sum(axis=axis, keepdims=True)


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of integer labels ``y`` (N,) under softmax(``logits``) (N, K), and its gradient.

    Returns ``(loss, dlogits)`` with loss = -1/N sum_i log softmax(logits_i)[y_i] and
    dlogits = (softmax(logits) - onehot(y)) / N of shape (N, K).
    """
    n = logits.shape[0]
    log_p = log_softmax(logits, axis=1)
    rows = np.arange(n)
    dlogits = np.exp(log_p)
    dlogits[rows, y] -= 1.0
    return float(-np.mean(log_p[rows, y])), dlogits / n


def xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y) elementwise with the convention 0 * log(anything) = 0 (and -inf where x > 0 = y)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(np.where(x > 0, y, 1.0)), 0.0)
