"""Softmax regression: the sigmoid generalised to K classes, trained by mini-batch SGD on the cross-entropy.

Reference implementations for lecture 03 and ps2. Notation: ``X`` (n, d) without a bias column; the model's
weights ``W`` have shape (d + 1, K), the last row being the biases, so the logits are ``np.c_[X, 1] @ W``
(n, K). Labels ``y`` are integers in 0..K-1.
"""

from __future__ import annotations

import numpy as np

from . import _numerics, _reference, _validate
from ._reference import reference

_reference.reference_module(__name__)


def _as_logits(Z) -> np.ndarray:
    Z = _validate.as_float_array(Z, "Z")
    if Z.ndim not in (1, 2) or Z.shape[-1] == 0:
        raise ValueError(f"Z must be a row (K,) or a matrix (n, K) of logits with K >= 1, got shape {Z.shape}")
    return Z


@reference
def softmax(Z) -> np.ndarray:
    """Row-wise softmax exp(z_k) / sum_j exp(z_j) of ``Z`` (n, K) (or a single row (K,)); same shape out.

    Subtracting each row's maximum first changes nothing mathematically and keeps every exponent <= 0, so
    logits of +-1000 give exact probabilities with no overflow.
    """
    return _numerics.softmax(_as_logits(Z))


def log_softmax(Z) -> np.ndarray:
    """log(softmax(Z)) computed as z_k - logsumexp(z), never log(0); same shape as ``Z``."""
    return _numerics.log_softmax(_as_logits(Z))


@reference
def cross_entropy(P, y) -> float:
    """Mean of -log P[i, y_i] over the rows of the probabilities ``P`` (n, K); ``y`` (n,) integer labels.

    The same as -(1/n) sum_i sum_k Y_ik log P_ik with Y the one-hot labels and the convention 0 log 0 = 0
    (a zero probability for a wrong class costs nothing). A zero probability for the true label gives ``inf``
    (the model was certain and wrong).
    """
    P = _validate.as_matrix(P, "P")
    y = _validate.as_class_labels(y, "y", P.shape[0], P.shape[1])
    Y = np.eye(P.shape[1])[y]
    return float(-np.mean(_numerics.xlogy(Y, P).sum(axis=1)))


def logits(W, X) -> np.ndarray:
    """``np.c_[X, 1] @ W``: (n, d) and (d + 1, K) -> (n, K)."""
    X = _validate.as_matrix(X, "X")
    W = _validate.as_matrix(W, "W")
    if W.shape[0] != X.shape[1] + 1:
        raise ValueError(f"W must have shape ({X.shape[1] + 1}, K) for X with {X.shape[1]} columns "
                         f"(the last row holds the biases), got {W.shape}")
    return X @ W[:-1] + W[-1]


def predict(W, X) -> np.ndarray:
    """The most probable class of each row of ``X``: argmax of the logits, shape (n,) int64."""
    return np.argmax(logits(W, X), axis=1)


def loss_and_grad(W, X, y) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax regression and its gradient (d + 1, K).

    With P = softmax(logits) and Y the one-hot labels, dL/dlogits = (P - Y) / n, so
    dL/dW = [X, 1]^T (P - Y) / n: the K-class version of the logistic gradient X^T (s - y) / n.
    """
    X = _validate.as_matrix(X, "X")
    A = logits(W, X)
    y = _validate.as_class_labels(y, "y", X.shape[0], A.shape[1])
    loss, dA = _numerics.softmax_cross_entropy(A, y)
    return loss, np.c_[X, np.ones(len(X))].T @ dA


@reference
def sgd_softmax_regression(X, y, n_classes: int, lr: float, batch_size: int, epochs: int, seed: int,
                           callback=None) -> np.ndarray:
    """Mini-batch SGD on the mean cross-entropy of softmax regression; returns W of shape (d + 1, K).

    W starts at 0. Each epoch visits the rows in the order ``rng.permutation(n)``, with one
    ``rng = np.random.default_rng(seed)`` for the whole run, in batches of ``batch_size`` (the last one may be
    smaller); each batch takes one step W <- W - lr * (gradient of the batch's mean loss).
    ``callback(step, W)``, if given, is called after every step (for plots; the lib never prints); W is then
    updated in place, so a callback that keeps it must store ``W.copy()``.
    With ``batch_size >= n`` every step sees all the data: plain gradient descent, whatever the order.
    """
    X = _validate.as_matrix(X, "X")
    n_classes = _validate.as_int(n_classes, "n_classes", minimum=2)
    y = _validate.as_class_labels(y, "y", X.shape[0], n_classes)
    lr = _validate.as_positive_float(lr, "lr")
    batch_size = _validate.as_int(batch_size, "batch_size")
    epochs = _validate.as_int(epochs, "epochs", minimum=0)
    rng = np.random.default_rng(_validate.as_int(seed, "seed", minimum=0))
    W = np.zeros((X.shape[1] + 1, n_classes))
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), batch_size):
            batch = order[start:start + batch_size]
            _, dW = loss_and_grad(W, X[batch], y[batch])
            W -= lr * dW
            step += 1
            if callback is not None:
                callback(step, W)
    return W


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """C[i, j] = number of examples of true class i predicted as class j; shape (K, K), int64."""
    n_classes = _validate.as_int(n_classes, "n_classes", minimum=1)
    y_true = _validate.as_class_labels(y_true, "y_true", len(np.asarray(y_true)), n_classes)
    y_pred = _validate.as_class_labels(y_pred, "y_pred", len(y_true), n_classes)
    C = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(C, (y_true, y_pred), 1)
    return C
