"""Autoencoders: the linear autoencoder and its gradient, and the corruption of a denoising autoencoder (lecture 08, ps5).

An autoencoder encodes x (d,) into a code h = phi(x W_enc + b) (k,) and decodes it back, x_hat = h W_dec + b'.
With phi the identity, no biases and centred data, the squared reconstruction loss over n rows of X (n, d) is

    L(W_enc, W_dec) = 1/(2n) * sum_i || x_i W_enc W_dec - x_i ||^2,

whose minima span PCA's top-k subspace (:mod:`dlcourse.subspaces`): the linear autoencoder is PCA in disguise.
A denoising autoencoder reconstructs the clean x from a corrupted copy (:func:`corrupt`), which stops even an
overcomplete one from learning the identity.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from . import _reference, _validate, runtime
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


# --- torch autoencoders ----------------------------------------------------------------------------------

ACTIVATIONS = ("relu", "tanh", "identity")
OUTPUTS = ("sigmoid", "identity")


def build_autoencoder(d: int, code: int, hidden=(), activation: str = "relu", output: str = "sigmoid",
                      seed: int | None = 0):
    """A fully connected autoencoder in torch: ``model.encoder`` maps (N, d) to codes (N, code), ``model.decoder``
    maps codes back to (N, d), and ``model(x)`` is ``decoder(encoder(x))``.

    ``hidden`` widths sit between the input and the code (mirrored in the decoder), each followed by
    ``activation``; the code layer itself is linear. ``output="sigmoid"`` suits pixels in [0, 1] (train it with
    ``loss="bce"`` or the squared error); ``"identity"`` suits centred data. ``activation="identity"`` with no
    hidden layer and ``output="identity"`` is the linear autoencoder. Initialised from ``seed`` (``None``: from
    torch's generator as it is).
    """
    from torch import nn

    d, code = _validate.as_int(d, "d"), _validate.as_int(code, "code")
    hidden = [_validate.as_int(h, "hidden width") for h in hidden]
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "identity": nn.Identity}[activation]

    def stack(widths, last):
        layers = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(widths) - 2:
                layers.append(act())
        layers.append(last)
        return nn.Sequential(*layers)

    def build():
        widths = [d, *hidden, code]
        return nn.Sequential(OrderedDict([
            ("encoder", stack(widths, nn.Identity())),
            ("decoder", stack(widths[::-1], nn.Sigmoid() if output == "sigmoid" else nn.Identity()))]))

    if seed is None:
        return build()
    with runtime.torch_seeded(seed):
        return build()


def corruption(kind: str, level: float) -> Callable:
    """``corrupt(x)`` for torch tensors, as :func:`corrupt` does for arrays: Gaussian noise of std ``level``, or
    masking with probability ``level``. It draws from torch's generator, which ``torch_training.fit`` seeds."""
    import torch

    level = _validate.as_nonnegative_float(level, "level")
    if kind == "gaussian":
        return lambda x: x + level * torch.randn_like(x)
    if kind == "mask":
        if level > 1.0:
            raise ValueError(f"a masking level is a probability in [0, 1], got {level}")
        return lambda x: x * (torch.rand_like(x) >= level).to(x.dtype)
    raise ValueError(f"kind must be one of {CORRUPTIONS}, got {kind!r}")


def reconstruction_error(model, X, target=None) -> float:
    """Mean squared error between ``model(X)`` and ``target`` (default: X itself), over every entry."""
    from . import torch_training

    X = _validate.as_float_array(X, "X")
    target = X if target is None else _validate.as_float_array(target, "target")
    out = torch_training.outputs(model, X.astype(np.float32))
    if out.shape != target.shape:
        raise ValueError(f"the model's output has shape {out.shape}, the target {target.shape}")
    return float(np.mean((out.astype(np.float64) - target) ** 2))


@reference
def train_denoising_ae(X_train, level: float, epochs: int, seed: int = 0, code: int = 64, hidden=(256,),
                       lr: float = 1e-3, batch_size: int = 64, device=None, title: str | None = None):
    """A denoising autoencoder for the rows of ``X_train`` (N, d), values in [0, 1]: trained with Adam to
    reconstruct each clean row from a copy with Gaussian noise of std ``level`` (fresh noise every batch).
    Returns the trained torch module, mapping (N, d) float tensors to (N, d), on ``device``."""
    from . import torch_training

    X_train = _validate.as_matrix(X_train, "X_train")
    model = build_autoencoder(X_train.shape[1], code, hidden, seed=seed)
    torch_training.fit(model, X_train.astype(np.float32), epochs=epochs, batch_size=batch_size, lr=lr,
                       loss="mse", corrupt=corruption("gaussian", level), seed=seed, device=device, title=title)
    return model


# --- tied weights, and what a denoiser does to one input (lecture 08) ------------------------------------------


def tied_linear_ae_loss_and_grad(X, W) -> tuple[float, np.ndarray]:
    """The linear autoencoder with tied weights W' = W': loss 1/(2n) sum_i ||x_i W W' - x_i||^2 and ``dW``.

    X (n, d) already centred, W (d, k): the encoder is x W and the decoder h W'. With R = X W W' - X (n, d),
    W enters twice, so its gradient has two terms, one from each use: dW = (X' (R W) + R' (X W)) / n (d, k).
    """
    X = _validate.as_matrix(X, "X")
    W = _validate.as_float_array(W, "W", ndim=2)
    if W.shape[0] != X.shape[1]:
        raise ValueError(f"W must have shape ({X.shape[1]}, k) for X with {X.shape[1]} columns, got {W.shape}")
    n = X.shape[0]
    H = X @ W
    R = H @ W.T - X
    loss = 0.5 * float(np.sum(R * R)) / n
    return loss, (X.T @ (R @ W) + R.T @ H) / n


def train_tied_linear_ae(X, k: int, lr: float, epochs: int, seed=0,
                         on_epoch: Callable[[int, np.ndarray, float], None] | None = None) -> np.ndarray:
    """Full-batch gradient descent on :func:`tied_linear_ae_loss_and_grad`; returns W (d, k).

    X (n, d) is centred here; the start is :func:`init_linear_ae`'s encoder for the same seed. Along the top
    principal direction the loss is lambda/2 (s^2 - 1)^2 in the scale s of W, with curvature 4 lambda at s = 1:
    gradient descent settles there only for lr < 0.5 / lambda (lambda the largest variance of the data), half
    the untied bound; 0.25 / lambda is safe. At the minimum,
    W spans PCA's top-k subspace *and* has orthonormal columns (W'W = I): tying removes the freedom of slipping
    an invertible k x k matrix between encoder and decoder, up to a rotation. ``on_epoch(epoch, W, loss)``, if
    given, sees the weights after each epoch.
    """
    X = _validate.as_matrix(X, "X")
    X = X - X.mean(axis=0)
    lr = _validate.as_positive_float(lr, "lr")
    epochs = _validate.as_int(epochs, "epochs", minimum=0)
    W = init_linear_ae(X.shape[1], k, seed=seed)[0]
    for epoch in range(epochs):
        with np.errstate(over="ignore", invalid="ignore"):
            loss, dW = tied_linear_ae_loss_and_grad(X, W)
        if not (np.isfinite(loss) and np.all(np.isfinite(dW))):
            raise FloatingPointError(f"the loss diverged at epoch {epoch} with lr = {lr:g}: use a smaller rate")
        W -= lr * dW
        if on_epoch is not None:
            on_epoch(epoch, W, loss)
    return W


def denoise(model, X, kind: str, level: float, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt the rows of ``X`` (N, d) with :func:`corrupt` (``kind``, ``level``, ``seed``) and pass them through
    ``model``: returns ``(noisy, reconstructed)``, both (N, d) float32 (what a denoising slider shows)."""
    from . import torch_training

    noisy = corrupt(X, kind, level, seed).astype(np.float32)
    return noisy, torch_training.outputs(model, noisy)


def nearest_neighbours(database, queries, k: int = 5, batch: int = 500) -> np.ndarray:
    """The indices (m, k) of the ``k`` rows of ``database`` (n, c) nearest to each row of ``queries`` (m, c) in
    Euclidean distance, nearest first (ties: the lower index first). Works on codes or on raw pixels alike; the
    distances are computed ``batch`` queries at a time, in float64, so memory stays at ``batch`` x n numbers."""
    database = _validate.as_matrix(database, "database")
    queries = _validate.as_matrix(queries, "queries", database.shape[1])
    k = _validate.as_int(k, "k")
    if k > len(database):
        raise ValueError(f"k = {k} neighbours asked for, but the database holds only {len(database)} rows")
    batch = _validate.as_int(batch, "batch")
    sq = np.sum(database**2, axis=1)
    found = np.empty((len(queries), k), dtype=np.int64)
    for i in range(0, len(queries), batch):
        q = queries[i:i + batch]
        dist = sq[None, :] - 2.0 * (q @ database.T)  # + |q|^2, the same along each row
        part = np.argpartition(dist, k - 1, axis=1)[:, :k] if k < len(database) else np.tile(
            np.arange(len(database)), (len(q), 1))
        rows = np.arange(len(q))[:, None]
        order = np.lexsort((part, dist[rows, part]), axis=1)
        found[i:i + batch] = part[rows, order]
    return found
