"""Autoencoders: the linear autoencoder and its gradient, and the corruption of a denoising autoencoder (lecture 08, ps5).

An autoencoder encodes x (d,) into a code h = phi(x W_enc + b) (k,) and decodes it back, x_hat = h W_dec + b'.
With phi the identity, no biases and centred data, the squared reconstruction loss over n rows of X (n, d) is

    L(W_enc, W_dec) = 1/(2n) * sum_i || x_i W_enc W_dec - x_i ||^2,

whose minima span PCA's top-k subspace (:mod:`dlcourse.subspaces`): the linear autoencoder is PCA in disguise.
A denoising autoencoder reconstructs the clean x from a corrupted copy (:func:`corrupt`), which stops even an
overcomplete one from learning the identity.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import _reference, _validate
from ._reference import reference

_reference.reference_module(__name__)

CORRUPTIONS = ("gaussian", "mask")


def _check_ae(X, W_enc, W_dec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = _validate.as_matrix(X, "X")
    d = X.shape[1]
    W_enc = _validate.as_float_array(W_enc, "W_enc", ndim=2)
    if W_enc.shape[0] != d:
        raise ValueError(f"W_enc must have shape ({d}, k) for X with {d} columns, got {W_enc.shape}")
    k = W_enc.shape[1]
    W_dec = _validate.as_float_array(W_dec, "W_dec", ndim=2)
    if W_dec.shape != (k, d):
        raise ValueError(f"W_dec must have shape ({k}, {d}) to match W_enc {W_enc.shape}, got {W_dec.shape}")
    return X, W_enc, W_dec


@reference
def linear_ae_loss_and_grads(X, W_enc, W_dec) -> tuple[float, np.ndarray, np.ndarray]:
    """Loss 1/(2n) sum_i ||x_i W_enc W_dec - x_i||^2 and its gradients ``(loss, dW_enc, dW_dec)``.

    X (n, d) already centred, W_enc (d, k), W_dec (k, d). With the code H = X W_enc (n, k) and the residual
    R = H W_dec - X (n, d): dW_dec = H' R / n (k, d) and dW_enc = X' (R W_dec') / n (d, k).
    """
    X, W_enc, W_dec = _check_ae(X, W_enc, W_dec)
    n = X.shape[0]
    H = X @ W_enc
    R = H @ W_dec - X
    loss = 0.5 * float(np.sum(R * R)) / n
    return loss, X.T @ (R @ W_dec.T) / n, H.T @ R / n


def init_linear_ae(d: int, k: int, scale: float = 0.1, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Small random weights ``(W_enc (d, k), W_dec (k, d))`` with entries N(0, scale^2 / d)."""
    d, k = _validate.as_int(d, "d"), _validate.as_int(k, "k")
    rng = _validate.as_rng(seed, "seed")
    return (rng.normal(0.0, scale / np.sqrt(d), size=(d, k)), rng.normal(0.0, scale / np.sqrt(d), size=(k, d)))


@reference
def train_linear_ae(X, k: int, lr: float, epochs: int, seed=0,
                    on_epoch: Callable[[int, np.ndarray, np.ndarray, float], None] | None = None):
    """Full-batch gradient descent on the linear autoencoder loss; returns ``(W_enc (d, k), W_dec (k, d))``.

    X (n, d) is centred here. ``lr`` multiplies the gradient of :func:`linear_ae_loss_and_grads`; a rate of
    about 0.5 / (the largest variance of the data) is safe. ``on_epoch(epoch, W_enc, W_dec, loss)``, if given,
    sees the weights after each epoch (e.g. to record the principal angles to PCA's subspace).
    """
    X = _validate.as_matrix(X, "X")
    X = X - X.mean(axis=0)
    lr = _validate.as_positive_float(lr, "lr")
    epochs = _validate.as_int(epochs, "epochs", minimum=0)
    W_enc, W_dec = init_linear_ae(X.shape[1], k, seed=seed)
    for epoch in range(epochs):
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is reported below, once
            loss, dW_enc, dW_dec = linear_ae_loss_and_grads(X, W_enc, W_dec)
        if not (np.isfinite(loss) and np.all(np.isfinite(dW_enc)) and np.all(np.isfinite(dW_dec))):
            raise FloatingPointError(f"the loss diverged at epoch {epoch} with lr = {lr:g}: use a smaller rate")
        W_enc -= lr * dW_enc
        W_dec -= lr * dW_dec
        if on_epoch is not None:
            on_epoch(epoch, W_enc, W_dec, loss)
    return W_enc, W_dec


@reference
def corrupt(X, kind: str, level: float, seed=0) -> np.ndarray:
    """A corrupted copy of X (any shape): ``"gaussian"`` adds level * N(0, 1) noise to every entry; ``"mask"``
    sets each entry to 0 independently with probability ``level`` (masking noise, Vincent et al. 2008)."""
    X = _validate.as_float_array(X, "X")
    level = _validate.as_nonnegative_float(level, "level")
    rng = _validate.as_rng(seed, "seed")
    if kind == "gaussian":
        return X + level * rng.standard_normal(X.shape)
    if kind == "mask":
        if level > 1.0:
            raise ValueError(f"a masking level is a probability in [0, 1], got {level}")
        return np.where(rng.random(X.shape) < level, 0.0, X)
    raise ValueError(f"kind must be one of {CORRUPTIONS}, got {kind!r}")
