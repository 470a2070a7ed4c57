"""Checks for assignment ps5 (autoencoders: PCA in disguise, and denoising).

Subspaces are compared as subspaces, never basis by basis: where singular values repeat, any basis of the right
subspace is right. ``pca_subspace`` and the linear autoencoder are judged by the principal angles to PCA's
top-k subspace (:mod:`dlcourse.subspaces`); ``principal_angles`` and ``linear_ae_loss_and_grads`` are compared
with the reference (the feedback names the wrong output); ``corrupt`` is judged by the statistics of the noise
it adds; ``train_denoising_ae`` by what its reconstructions achieve on held-out images.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import autoencoders, data, subspaces
from .core import Case, as_plain, check_behaviour, check_function, check_trained_model, describe

ANGLE_TOL = 1e-6  # radians: what a correct float64 computation reaches, with any basis
TRAINED_DEGREES = 5.0  # the linear autoencoder's largest principal angle to PCA's subspace
DENOISE_RATIO = 0.5  # reconstructions' squared error / the noisy images' own, on held-out images


def _spectrum_data(rng: np.random.Generator, n: int, d: int, stds, mean_scale: float = 3.0) -> np.ndarray:
    """n > d rows in d dimensions whose centred singular values are exactly sqrt(n) * ``stds``, along random
    orthogonal directions, around a random mean far from 0 (so that forgetting to centre shows)."""
    basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
    Z = rng.normal(size=(n, d))
    Q, _ = np.linalg.qr(Z - Z.mean(axis=0))  # orthonormal columns of mean 0
    return np.sqrt(n) * Q * np.asarray(stds) @ basis.T + mean_scale * rng.normal(size=d)


def _basis_problem(got, d: int, k: int) -> tuple[np.ndarray | None, str | None]:
    arr = np.asarray(as_plain(got)) if got is not None else None
    if arr is None or arr.dtype == object or arr.ndim != 2:
        return None, f"expected an array of shape ({d}, {k}), got {describe(got)}"
    if arr.shape != (d, k):
        hint = ": the basis vectors must be the columns (you returned the transpose?)" if arr.shape == (k, d) else ""
        return None, f"expected shape ({d}, {k}), one basis vector per column; got shape {arr.shape}{hint}"
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        return None, "the basis contains nan or inf"
    gram_err = float(np.max(np.abs(arr.T @ arr - np.eye(k))))
    if gram_err > 1e-6:
        return None, (f"the columns are not orthonormal: max |V'V - I| = {gram_err:.3g} (each column must have "
                      f"norm 1 and be orthogonal to the others)")
    return arr, None


# --- Question 1: pca_subspace --------------------------------------------------------------------------------


def check_pca_subspace(pca_subspace, seed: int = 0, n_random: int = 4) -> None:
    """An orthonormal (d, k) basis of the top-k principal subspace of the centred data (any basis of it)."""
    rng = np.random.default_rng(seed)
    cases = [
        Case((_spectrum_data(rng, 200, 3, [3.0, 1.0, 0.3]), 1), "3-D data far from the origin, k = 1"),
        Case((_spectrum_data(rng, 300, 5, [4.0, 2.0, 1.0, 0.5, 0.2]), 5), "k = d (the whole space)"),
        Case((_spectrum_data(rng, 300, 6, [3.0, 3.0 * (1 + 1e-9), 3.0, 0.5, 0.2, 0.1]), 3),
             "three equal variances at the top (only the subspace is defined, not the basis)"),
    ]
    for i in range(n_random):
        d = int(rng.integers(2, 9))
        k = int(rng.integers(1, d + 1))
        stds = np.sort(rng.uniform(0.1, 3.0, size=d))[::-1]
        stds[k - 1:] *= np.r_[1.0, np.full(d - k, 0.5)]  # a clear gap at the cut, so the subspace is defined
        cases.append(Case((_spectrum_data(rng, int(rng.integers(d + 5, 200)), d, stds), k),
                          f"random data {i + 1}: d = {d}, k = {k}"))

    def judge(case: Case, got):
        X, k = case.args
        basis, problem = _basis_problem(got, X.shape[1], k)
        if problem:
            return problem
        worst = float(np.max(subspaces.principal_angles(basis, subspaces.pca_subspace(X, k))))
        if worst > ANGLE_TOL:
            centred = float(np.max(subspaces.principal_angles(basis, _uncentred_top(X, k))))
            hint = " (it is the top subspace of the data *before* centring: subtract the mean first)" \
                if centred < ANGLE_TOL < worst else ""
            return (f"the columns span another subspace: the largest principal angle to the top-{k} principal "
                    f"subspace is {np.degrees(worst):.3g} degrees{hint}")
        return None

    check_behaviour(pca_subspace, cases, judge, name="pca_subspace")


def _uncentred_top(X: np.ndarray, k: int) -> np.ndarray:
    return np.linalg.svd(np.asarray(X, float), full_matrices=False)[2][:k].T


# --- Question 2: principal_angles ----------------------------------------------------------------------------


def check_principal_angles(principal_angles, seed: int = 0, n_random: int = 6) -> None:
    """Angles in radians, ascending, between the column spaces of A (d, a) and B (d, b): min(a, b) of them."""
    rng = np.random.default_rng(seed)
    t = 0.3
    cases = [
        Case((np.array([[1.0], [0.0]]), np.array([[np.cos(t)], [np.sin(t)]])), "two lines in the plane, 0.3 rad apart"),
        Case((np.eye(3)[:, :2], np.array([[0.0], [0.0], [5.0]])), "a plane and a line orthogonal to it"),
        Case((np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]), np.eye(3)[:, :2] * 3.0),
             "the same plane, spanned by bases that are neither orthonormal nor equal"),
    ]
    for i in range(n_random):
        d = int(rng.integers(2, 8))
        a, b = int(rng.integers(1, d + 1)), int(rng.integers(1, d + 1))
        cases.append(Case((rng.normal(size=(d, a)), rng.normal(size=(d, b))),
                          f"random subspaces {i + 1}: d = {d}, a = {a}, b = {b}"))

    def hint(case, expected, got):
        arr = np.asarray(as_plain(got), dtype=float) if np.shape(as_plain(got)) == np.shape(expected) else None
        if arr is not None and np.allclose(arr, np.degrees(expected), atol=1e-6):
            return "these are degrees: return radians"
        if arr is not None and np.allclose(np.sort(arr), expected, atol=ANGLE_TOL):
            return "the right angles in the wrong order: sort them ascending"
        return None

    check_function(principal_angles, subspaces.principal_angles, cases, name="principal_angles", rtol=0,
                   atol=ANGLE_TOL, hint=hint)


# --- Question 3: the linear autoencoder's loss and gradients -------------------------------------------------


def check_linear_ae_loss_and_grads(linear_ae_loss_and_grads, seed: int = 0, n_random: int = 6) -> None:
    """(loss, dW_enc, dW_dec) of 1/(2n) sum_i ||x_i W_enc W_dec - x_i||^2 for centred X (n, d)."""
    rng = np.random.default_rng(seed)
    cases = [Case((np.array([[1.0, -1.0]]), np.array([[1.0], [0.0]]), np.array([[2.0, 0.0]])),
                  "n = 1, d = 2, k = 1 (by hand: loss 2.5)")]
    for i in range(n_random):
        n, d = int(rng.integers(1, 12)), int(rng.integers(1, 7))
        k = int(rng.integers(1, d + 2))  # k > d too: an overcomplete code
        X = subspaces.centre(rng.normal(size=(n, d))) if n > 1 else rng.normal(size=(1, d))
        cases.append(Case((X, rng.normal(size=(d, k)), rng.normal(size=(k, d))),
                          f"random shapes {i + 1}: n = {n}, d = {d}, k = {k}"))
    check_function(linear_ae_loss_and_grads, autoencoders.linear_ae_loss_and_grads, cases,
                   name="linear_ae_loss_and_grads", outputs=("loss", "dW_enc", "dW_dec"), rtol=1e-7, atol=1e-10)


# --- Question 4: train it, and find PCA ----------------------------------------------------------------------


def check_train_linear_ae(train_linear_ae, lr: float, epochs: int, ks=(4,), seeds=(0,)) -> None:
    """On the digits' training split with the student's lr and epochs: the column space of W_dec' within
    5 degrees of PCA's top-k subspace; the same seed gives the same weights."""
    X = data.digits_split()[0]
    d = X.shape[1]
    cases = [Case((X, k, lr, epochs, s), f"the digits training split, k = {k}, seed {s}") for k in ks for s in seeds]
    first: dict[int, tuple] = {}

    def judge(case: Case, result):
        k = case.args[1]
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            return f"expected a tuple (W_enc, W_dec), got {describe(result)}"
        W_enc, W_dec = (np.asarray(as_plain(w)) for w in result)
        if W_enc.dtype == object or W_dec.dtype == object or W_enc.shape != (d, k) or W_dec.shape != (k, d):
            return (f"expected W_enc of shape ({d}, {k}) and W_dec of shape ({k}, {d}), got "
                    f"{describe(result[0])} and {describe(result[1])}")
        W_enc, W_dec = W_enc.astype(np.float64), W_dec.astype(np.float64)
        if not (np.all(np.isfinite(W_enc)) and np.all(np.isfinite(W_dec))):
            return "the weights contain nan or inf: is the learning rate too large?"
        if not np.any(W_dec):
            return "W_dec is all zeros: it spans nothing (start from small random weights, not zeros)"
        worst = float(np.degrees(np.max(subspaces.principal_angles(W_dec.T, subspaces.pca_subspace(X, k)))))
        if not worst <= TRAINED_DEGREES:
            return (f"the rows of W_dec span a subspace {worst:.3g} degrees away from PCA's top-{k} subspace (at "
                    f"most {TRAINED_DEGREES:g} allowed) with lr = {lr}, epochs = {epochs}: check the update and "
                    f"that X is centred, or train longer / with another lr")
        key = id(case)
        if key in first and not (np.array_equal(first[key][0], W_enc) and np.array_equal(first[key][1], W_dec)):
            return ("two runs with the same seed gave different weights: draw every random number from "
                    "np.random.default_rng(seed)")
        first.setdefault(key, (W_enc, W_dec))
        return None

    check_behaviour(train_linear_ae, list(cases) + list(cases[:1]), judge, name="train_linear_ae (finds PCA)",
                    lend={"linear_ae_loss_and_grads": autoencoders.linear_ae_loss_and_grads}, seconds=30)


# --- Question 5: corrupt -------------------------------------------------------------------------------------


def check_corrupt(corrupt, seed: int = 0) -> None:
    """"gaussian": X + level * N(0, 1) noise; "mask": each entry set to 0 independently with probability level.
    Judged by the statistics of what it returns (any random draws will do), and the same seed, the same result."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.5, 1.5, size=(400, 50))  # no zeros: a masked entry is one that became 0
    cases = [Case((X, "gaussian", 0.3, 1), "Gaussian noise of level 0.3 on a (400, 50) array"),
             Case((X, "mask", 0.25, 2), "masking with probability 0.25"),
             Case((X[:7, :3], "mask", 0.0, 3), "masking with probability 0 (nothing changes)"),
             Case((X[:7, :3], "mask", 1.0, 4), "masking with probability 1 (everything is 0)"),
             Case((X, "gaussian", 2.0, 5), "Gaussian noise of level 2"),
             Case((X[0], "mask", 0.5, 6), "a 1-D array")]
    first: dict[int, np.ndarray] = {}

    def judge(case: Case, got):
        X_in, kind, level, s = case.args
        arr = np.asarray(as_plain(got)) if got is not None else None
        if arr is None or arr.dtype == object or arr.shape != X_in.shape:
            return f"expected an array of shape {X_in.shape}, got {describe(got)}"
        arr = arr.astype(np.float64)
        noise = arr - X_in
        n = noise.size
        if kind == "gaussian":
            sd = float(noise.std())
            if abs(float(noise.mean())) > 5 * sd / np.sqrt(n) + 1e-12:
                return f"the noise has mean {noise.mean():.3g}; Gaussian noise has mean 0"
            if abs(sd - level) > 0.05 * level:
                factor = "" if level == 0 else f" ({sd / level:.3g} times the level)"
                return f"the noise has standard deviation {sd:.4g}, expected level = {level}{factor}"
            if level > 0 and np.corrcoef(np.abs(noise).ravel(), np.abs(X_in).ravel())[0, 1] > 0.1:
                return "the noise grows with the entries of X: it must be added, level * N(0, 1), not multiplied"
        else:
            zero = arr == 0
            if not np.all(zero | (arr == X_in)):
                return "masking must leave each entry either unchanged or 0; some entries changed otherwise"
            frac = float(zero.mean())
            if abs(frac - level) > 4 * np.sqrt(level * (1 - level) / n) + 1e-12:
                flipped = " (1 - level: is the mask inverted?)" if abs(frac - (1 - level)) < 0.05 else ""
                return f"{frac:.1%} of the entries were zeroed, expected about {level:.0%}{flipped}"
        key = id(case)
        if key in first and not np.array_equal(first[key], arr):
            return "two calls with the same seed gave different results: draw the noise from np.random.default_rng(seed)"
        first.setdefault(key, arr)
        return None

    check_behaviour(corrupt, cases + [cases[0], cases[1]], judge, name="corrupt")


# --- Question 6: a denoising autoencoder in torch ------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def denoising_data(n_train: int = 3000, n_test: int = 500):
    """The images ps5 trains and judges on: ``X_train`` (n_train, 784) from Fashion-MNIST's training set and
    ``X_test`` (n_test, 784) from its test set, float32 in [0, 1]. Read once per grading process (the visible and
    the hidden test share them; the student's function gets copies)."""
    X_train, _ = data.load_fashion_mnist("train")
    X_test, _ = data.load_fashion_mnist("test")
    return X_train[:n_train].reshape(n_train, -1), X_test[:n_test].reshape(n_test, -1)


def check_train_denoising_ae(train_denoising_ae, level: float, epochs: int, seeds=(0,), X_train=None,
                             X_test=None) -> None:
    """Trained on ``X_train`` with Gaussian corruption of ``level``: on held-out images, the squared error of the
    reconstructions of their corrupted copies against the clean ones is at most half the corrupted copies' own."""
    if X_train is None or X_test is None:
        X_train, X_test = denoising_data()
    noisy = autoencoders.corrupt(X_test, "gaussian", level, seed=12345).astype(np.float32)
    clean = np.asarray(X_test, dtype=np.float64)
    own = float(np.mean((noisy - clean) ** 2))
    cases = [Case((X_train, level, epochs, s), f"{len(X_train)} Fashion-MNIST images, seed {s}") for s in seeds]

    def reconstruct(model) -> np.ndarray | str:
        import torch

        try:
            out = model(torch.from_numpy(noisy))
        except Exception as err:  # noqa: BLE001 - the student's module failed: say so
            return f"calling the returned module on a (N, {noisy.shape[1]}) float tensor failed: {err}"
        arr = np.asarray(as_plain(out)) if out is not None else None
        if arr is None or arr.dtype == object or arr.shape != noisy.shape:
            return f"the returned module must map (N, {noisy.shape[1]}) to (N, {noisy.shape[1]}), got {describe(out)}"
        return arr.astype(np.float64)

    last: list[np.ndarray] = []

    def problem(result):
        if not callable(result):
            return f"expected a torch module (callable), got {describe(result)}"
        arr = reconstruct(result)
        if isinstance(arr, str):
            return arr
        last[:] = [arr]
        return None

    def score(result) -> float:  # higher is better: the threshold is 1 / DENOISE_RATIO
        return own / max(float(np.mean((last[0] - clean) ** 2)), 1e-12)

    check_trained_model(train_denoising_ae, cases, name="train_denoising_ae on Fashion-MNIST", problem=problem,
                        score=score, threshold=1.0 / DENOISE_RATIO,
                        what="the noisy images' error divided by the reconstructions' error",
                        settings=f"level = {level}, epochs = {epochs}",
                        advice="the reconstructions must remove at least half of the noise's squared error: train "
                               "longer, or check that the noisy copy goes in and the clean image is the target",
                        same=lambda a, b: np.array_equal(reconstruct(a), reconstruct(b)),
                        seconds=90)
