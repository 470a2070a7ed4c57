"""Sparse coding and learning to optimise (lecture 10): ISTA, FISTA, and LISTA (Gregor & LeCun 2010).

A dictionary W_d (n, k) with k >= n unit-norm columns (atoms) explains a signal y (n,) by a sparse code z (k,):
the code that minimises the energy

    E(z) = 1/2 ||y - W_d z||^2 + lam ||z||_1                                          (:func:`sparse_energy`)

(a lasso problem). The issue writes the energy without the 1/2; the two have the same minimiser once lam is
halved (||.||^2 + lam ||.||_1 = 2 (1/2 ||.||^2 + lam/2 ||.||_1)): here lam always means the lam of E above.

ISTA (iterative shrinkage-thresholding) alternates a gradient step on the smooth part with the proximal step of
the l1 part, soft thresholding shrink_t(x) = sign(x) max(|x| - t, 0) (:func:`shrink`):

    z <- shrink_{lam/L}(z - (1/L) W_d^T (W_d z - y))                                  (:func:`ista_step`)

with L >= the largest eigenvalue of W_d^T W_d, the Lipschitz constant of the gradient (:func:`lipschitz`). From
any start E decreases at every step and z converges to a minimiser, but slowly: E - E* = O(1/t). FISTA
(Beck & Teboulle 2009) adds Nesterov momentum and gets O(1/t^2) (:func:`fista`).

Rewritten, the ISTA step is z <- shrink_theta(W_e y + S z) with W_e = W_d^T / L (k, n), S = I - W_d^T W_d / L
(k, k) and theta = lam/L: a recurrent layer with a shrinkage non-linearity. Unrolled K times from z = 0 it is a
K-layer network that shares its weights between layers. LISTA (:func:`build_lista`) makes W_e, S and theta
learnable, starts them at ISTA's values (so untrained, it *is* K steps of ISTA) and trains them by backprop
through the K steps to output the optimal codes z* of the signals (:func:`train_lista`). On signals like those
it was trained on, a few LISTA steps get as close to z* as many steps of ISTA (:func:`code_error_curves`).

Arrays: a single signal y (n,) and code z (k,), or a batch Y (N, n) and codes Z (N, k), one per row. torch is
imported by the functions that need it; :func:`sparse_problem` makes a synthetic problem.
"""

from __future__ import annotations

import numpy as np

from . import _reference, _validate, runtime, torch_training
from ._reference import reference

_reference.reference_module(__name__)


def _shrink(x: np.ndarray, t) -> np.ndarray:
    """The soft-thresholding kernel, without checks (``t`` a scalar or an array broadcasting with ``x``)."""
    return np.sign(x) * np.maximum(np.abs(x) - t, 0.0)


@reference
def shrink(x, t) -> np.ndarray:
    """Soft thresholding sign(x) max(|x| - t, 0), elementwise: ``x`` of any shape (0-d too) -> float64, same shape.

    ``t`` >= 0 is a scalar: entries with |x| <= t become 0, the others move t towards 0. It is the proximal
    operator of t ||.||_1: shrink_t(x) = argmin_z 1/2 ||z - x||^2 + t ||z||_1.
    """
    x = _validate.as_float_array(x, "x")
    t = _validate.as_nonnegative_float(t, "t")
    return _shrink(x, t)


def _problem(Y, W_d, Z=None):
    """``W_d`` (n, k); ``Y`` (n,) or (N, n) -> (Y as (N, n), W_d, Z as (N, k) or None, whether Y was a vector)."""
    W_d = _validate.as_matrix(W_d, "W_d")
    n, k = W_d.shape
    Y = _validate.as_float_array(Y, "Y")
    single = Y.ndim == 1
    if Y.ndim not in (1, 2) or Y.shape[-1] != n or Y.size == 0:
        raise ValueError(f"Y must be a signal of shape ({n},) or a batch of shape (N, {n}) (n = {n} rows of W_d), "
                         f"got {Y.shape}")
    Y = np.atleast_2d(Y)
    if Z is not None:
        Z = _validate.as_float_array(Z, "Z")
        want = (k,) if single else (Y.shape[0], k)
        if Z.shape != want:
            raise ValueError(f"Z must have shape {want} (one code of k = {k} entries, a column of W_d each, per "
                             f"signal of Y {Y.shape if not single else (n,)}), got {Z.shape}")
        Z = np.atleast_2d(Z)
    return Y, W_d, Z, single


def _step(Z: np.ndarray, Y: np.ndarray, W_d: np.ndarray, lam: float, L: float) -> np.ndarray:
    """One ISTA step on a batch (rows): Z (N, k), Y (N, n) -> shrink_{lam/L}(Z - (1/L)(Z W_d^T - Y) W_d)."""
    return _shrink(Z - (Z @ W_d.T - Y) @ W_d / L, lam / L)


@reference
def ista_step(Z, Y, W_d, lam, L) -> np.ndarray:
    """One ISTA step: Z (k,), Y (n,), W_d (n, k) -> shrink_{lam/L}(Z - (1/L) W_d^T (W_d Z - Y)), shape (k,).

    ``lam`` >= 0 is the weight of the l1 penalty, ``L`` > 0 the inverse step size (ISTA decreases the energy
    when L >= :func:`lipschitz` (W_d)).
    """
    W_d = _validate.as_matrix(W_d, "W_d")
    n, k = W_d.shape
    Z, Y = _validate.as_vector(Z, "Z", k), _validate.as_vector(Y, "Y", n)
    lam, L = _validate.as_nonnegative_float(lam, "lam"), _validate.as_positive_float(L, "L")
    return _step(Z[None], Y[None], W_d, lam, L)[0]


def sparse_energy(Z, Y, W_d, lam):
    """E(Z) = 1/2 ||Y - W_d Z||^2 + lam ||Z||_1: a float for Z (k,), Y (n,); an array (N,) for Z (N, k), Y (N, n)."""
    Y, W_d, Z, single = _problem(Y, W_d, Z)
    lam = _validate.as_nonnegative_float(lam, "lam")
    energy = 0.5 * np.sum((Y - Z @ W_d.T) ** 2, axis=1) + lam * np.sum(np.abs(Z), axis=1)
    return float(energy[0]) if single else energy


def lipschitz(W_d) -> float:
    """The largest eigenvalue of W_d^T W_d (the squared largest singular value of W_d (n, k)): the Lipschitz
    constant of the gradient W_d^T (W_d z - y) of the smooth part of the energy."""
    W_d = _validate.as_matrix(W_d, "W_d")
    return float(np.linalg.norm(W_d, 2) ** 2)


def _iterate(Y, W_d, lam, steps, L, history: bool, momentum: bool):
    """ISTA (or, with ``momentum``, FISTA) on every row of Y at once, through the one batched step :func:`_step`."""
    Y, W_d, _, single = _problem(Y, W_d)
    lam, steps = _validate.as_nonnegative_float(lam, "lam"), _validate.as_int(steps, "steps", minimum=0)
    L = lipschitz(W_d) if L is None else _validate.as_positive_float(L, "L")
    Z = np.zeros((Y.shape[0], W_d.shape[1]))
    V, t = Z, 1.0                       # FISTA's extrapolated point and its momentum counter
    path = [Z]
    for _ in range(steps):
        Z_new = _step(V, Y, W_d, lam, L)
        if momentum:
            t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
            V, t = Z_new + (t - 1) / t_new * (Z_new - Z), t_new
        else:
            V = Z_new
        Z = Z_new
        if history:
            path.append(Z)
    out = np.stack(path) if history else Z
    return out[..., 0, :] if single else out


def ista(Y, W_d, lam, steps: int, L=None, history: bool = False) -> np.ndarray:
    """``steps`` ISTA steps from Z = 0 on a signal Y (n,) or on each row of Y (N, n) at once.

    ``L`` defaults to :func:`lipschitz` (W_d). Returns the final code(s), (k,) or (N, k); with ``history=True``
    every iterate, Z_0 = 0 included: (steps + 1, k) or (steps + 1, N, k).
    """
    return _iterate(Y, W_d, lam, steps, L, history, momentum=False)


def fista(Y, W_d, lam, steps: int, L=None, history: bool = False) -> np.ndarray:
    """As :func:`ista`, with FISTA's momentum (Beck & Teboulle 2009): Z_t = ista_step(V_t), then
    V_{t+1} = Z_t + (s_t - 1)/s_{t+1} (Z_t - Z_{t-1}), s_1 = 1, s_{t+1} = (1 + sqrt(1 + 4 s_t^2))/2, V_1 = Z_0 = 0."""
    return _iterate(Y, W_d, lam, steps, L, history, momentum=True)


def sparse_problem(n: int = 16, k: int = 32, n_signals: int = 500, sparsity: int = 3, noise: float = 0.01,
                   seed=0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A synthetic sparse-coding problem: (W_d (n, k), Y (n_signals, n), Z_true (n_signals, k)).

    The k atoms (columns of W_d) are independent standard Gaussian vectors scaled to unit length; each code of
    Z_true has ``sparsity`` non-zero entries at distinct random positions, with standard Gaussian values; each
    signal is Y = W_d Z_true + ``noise`` times standard Gaussian noise. ``seed``: an integer or a numpy Generator.
    """
    n, k, n_signals = (_validate.as_int(v, name) for v, name in ((n, "n"), (k, "k"), (n_signals, "n_signals")))
    sparsity = _validate.as_int(sparsity, "sparsity")
    if sparsity > k:
        raise ValueError(f"sparsity must be at most k = {k} (non-zero entries per code), got {sparsity}")
    noise, rng = _validate.as_nonnegative_float(noise, "noise"), _validate.as_rng(seed, "seed")
    W_d = rng.standard_normal((n, k))
    W_d /= np.linalg.norm(W_d, axis=0)
    Z = np.zeros((n_signals, k))
    support = np.argsort(rng.random((n_signals, k)), axis=1)[:, :sparsity]
    np.put_along_axis(Z, support, rng.standard_normal((n_signals, sparsity)), axis=1)
    return W_d, Z @ W_d.T + noise * rng.standard_normal((n_signals, n)), Z


def _shrink_torch(x, theta):
    """Soft thresholding of a torch tensor, ``theta`` a scalar or a tensor broadcasting with ``x`` (one threshold per
    unit): relu(x - theta) - relu(-x - theta), the same function as :func:`shrink` for theta >= 0."""
    import torch

    return torch.relu(x - theta) - torch.relu(-x - theta)


def build_lista(W_d, lam, steps: int, L=None):
    """LISTA, a torch ``nn.Module`` (float64) computing ``steps`` steps Z <- shrink_theta(Y W_e^T + Z S^T) from
    Z = 0 on a batch Y (N, n) (a tensor or an array) -> Z (N, k).

    Learnable: ``W_e`` (k, n), ``S`` (k, k) and ``theta`` (k,), one threshold per code unit as in Gregor & LeCun,
    started at ISTA's W_d^T / L, I - W_d^T W_d / L and lam / L (``L`` defaults to :func:`lipschitz` (W_d)): the
    untrained model computes exactly ``steps`` ISTA steps. Training leaves the three free (theta is not kept >= 0,
    S not kept symmetric). ``model(Y, steps=j)`` stops after j <= steps steps.
    """
    import torch
    from torch import nn

    W_d = _validate.as_matrix(W_d, "W_d")
    lam, steps = _validate.as_nonnegative_float(lam, "lam"), _validate.as_int(steps, "steps")
    L = lipschitz(W_d) if L is None else _validate.as_positive_float(L, "L")

    class LISTA(nn.Module):
        def __init__(self):
            super().__init__()
            k = W_d.shape[1]
            self.steps, self.n, self.k = steps, W_d.shape[0], k
            self.W_e = nn.Parameter(torch.tensor(W_d.T / L))
            self.S = nn.Parameter(torch.tensor(np.eye(k) - W_d.T @ W_d / L))
            self.theta = nn.Parameter(torch.full((k,), lam / L, dtype=torch.float64))

        def forward(self, Y, steps: int | None = None):
            depth = self.steps if steps is None else _validate.as_int(steps, "steps", minimum=0)
            if depth > self.steps:
                raise ValueError(f"steps must be at most the model's {self.steps} steps, got {depth}")
            B = torch.as_tensor(Y, dtype=self.W_e.dtype) @ self.W_e.T
            Z = torch.zeros_like(B)
            for _ in range(depth):
                Z = _shrink_torch(B + Z @ self.S.T, self.theta)
            return Z

    return LISTA()


def _tensor(a, name: str, cols: int):
    import torch

    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a
    return torch.from_numpy(np.ascontiguousarray(_validate.as_matrix(a, name, cols)))


def train_lista(model, Y, Z_target, epochs: int = 100, lr: float = 3e-3, batch_size: int = 100,
                seed: int = 0) -> list[float]:
    """Train a :func:`build_lista` model in place with Adam to map the signals Y (N, n) to the codes Z_target
    (N, k) (the optimal codes, e.g. :func:`fista` after many steps), minimising the mean over signals of
    ||model(y) - z*||^2 on shuffled batches of ``batch_size``. Returns that loss on all of Y after each epoch."""
    import torch

    Y, Z_target = _tensor(Y, "Y", model.n), _tensor(Z_target, "Z_target", model.k)
    if len(Y) != len(Z_target):
        raise ValueError(f"Y and Z_target must have one row per signal each, got {len(Y)} and {len(Z_target)}")
    epochs, batch_size = _validate.as_int(epochs, "epochs"), _validate.as_int(batch_size, "batch_size")
    optimizer = torch_training.make_optimizer(model, "adam", lr=lr)
    losses = []
    with runtime.torch_seeded(seed):
        for _ in range(epochs):
            for idx in torch.randperm(len(Y)).split(batch_size):
                optimizer.zero_grad()
                ((model(Y[idx]) - Z_target[idx]) ** 2).sum(1).mean().backward()
                optimizer.step()
            with torch.no_grad():
                losses.append(float(((model(Y) - Z_target) ** 2).sum(1).mean()))
    return losses


def code_error_curves(W_d, Y_train, Y_test, lam, max_steps: int = 20, lista_depths=(1, 2, 3, 5),
                      epochs: int = 100, lr: float = 3e-3, optimum_steps: int = 2000, seed: int = 0) -> dict:
    """How close each method's codes of Y_test get to the optimal codes z* after t steps, as the relative error
    sum_i ||z_t(y_i) - z*(y_i)||^2 / sum_i ||z*(y_i)||^2 (1 at Z = 0).

    z* is FISTA after ``optimum_steps`` steps. ISTA and FISTA: t = 0..max_steps. LISTA: one model per depth in
    ``lista_depths``, trained with :func:`train_lista` (``epochs``, ``lr``, ``seed``) on Y_train and its z*.
    Returns {"steps", "ista", "fista"} (arrays of max_steps + 1) and {"lista_depths", "lista"} (arrays).
    """
    import torch

    Y_train, W_d, _, _ = _problem(Y_train, W_d)
    Y_test, _, _, _ = _problem(Y_test, W_d)
    depths = [_validate.as_int(d, "lista_depths entry") for d in lista_depths]
    Z_train, Z_test = fista(Y_train, W_d, lam, optimum_steps), fista(Y_test, W_d, lam, optimum_steps)
    scale = np.sum(Z_test ** 2)
    if scale == 0:
        raise ValueError(f"lam = {lam} is so large that every optimal code of Y_test is 0: take a smaller lam")

    def error(Z):
        return np.sum((Z - Z_test) ** 2, axis=(-2, -1)) / scale

    curves = {"steps": np.arange(max_steps + 1),
              "ista": error(ista(Y_test, W_d, lam, max_steps, history=True)),
              "fista": error(fista(Y_test, W_d, lam, max_steps, history=True)),
              "lista_depths": np.array(depths), "lista": []}
    for depth in depths:
        model = build_lista(W_d, lam, depth)
        train_lista(model, Y_train, Z_train, epochs=epochs, lr=lr, seed=seed)
        with torch.no_grad():
            curves["lista"].append(error(model(torch.from_numpy(Y_test)).numpy()))
    curves["lista"] = np.array(curves["lista"])
    return curves
