"""From Bayes' rule to logistic regression: the reference implementations for lecture 01 and ps1.

Notation: ``X`` has shape (n, d), one example per row; ``w`` has shape (d,); ``b`` is a float; labels ``y`` are
in {0, 1}. The logit (log-odds) of an example is ``a = w @ x + b`` and p(y=1 | x) = sigmoid(a).
"""

from __future__ import annotations

import numpy as np

from dataclasses import dataclass

from . import _numerics, _reference, _validate
from ._reference import reference

_reference.reference_module(__name__)


@reference
def sigmoid(z):
    """The logistic sigmoid 1 / (1 + exp(-z)), elementwise, without overflow for any finite z.

    For z >= 0 it evaluates 1 / (1 + e^-z); for z < 0 the algebraically equal e^z / (1 + e^z). Both only
    exponentiate a non-positive number, so e.g. z = ±1000 gives exactly 1 and 0 with no warning.
    A scalar in gives a float out; an array in gives an array of the same shape.
    """
    out = _numerics.sigmoid(_validate.as_float_array(z, "z"))
    return float(out) if out.ndim == 0 else out


def log_sigmoid(z):
    """log(sigmoid(z)) = -log(1 + e^-z), computed stably (no log(0) for very negative z)."""
    out = _numerics.log_sigmoid(_validate.as_float_array(z, "z"))
    return float(out) if out.ndim == 0 else out


# --- generative view: Gaussian class-conditionals and Bayes' rule ---------------------------------------


def gaussian_log_density(X, mu, Sigma) -> np.ndarray:
    """log N(x; mu, Sigma) for each row of ``X`` (n, d); returns shape (n,)."""
    mu = _validate.as_vector(mu, "mu")
    d = mu.shape[0]
    X = _validate.as_matrix(X, "X", d)
    Sigma = _validate.as_covariance(Sigma, "Sigma", d)
    L = np.linalg.cholesky(Sigma)
    z = np.linalg.solve(L, (X - mu).T)  # (d, n); ||z||^2 is the squared Mahalanobis distance
    log_det = 2.0 * np.sum(np.log(np.diag(L)))
    return -0.5 * (np.sum(z**2, axis=0) + log_det + d * np.log(2.0 * np.pi))


def gaussian_posterior(X, mu0, mu1, Sigma0, Sigma1=None, prior1: float = 0.5) -> np.ndarray:
    """p(y=1 | x) by Bayes' rule for x | y ~ N(mu_y, Sigma_y), P(y=1) = prior1; shape (n,).

    Computed from log-densities, so far-away points give 0 or 1 rather than 0/0. ``Sigma1=None`` means a
    covariance shared by both classes.
    """
    prior1 = _validate.as_probability(prior1, "prior1")
    Sigma1 = Sigma0 if Sigma1 is None else Sigma1
    log_odds = (
        gaussian_log_density(X, mu1, Sigma1) - gaussian_log_density(X, mu0, Sigma0)
        + np.log(prior1) - np.log1p(-prior1)
    )
    return np.asarray(sigmoid(log_odds)).reshape(-1)


@reference
def bayes_to_logistic(mu0, mu1, Sigma, prior1: float):
    """Weights of the logistic model that equals the Bayes posterior of two Gaussians with shared ``Sigma``.

    p(y=1 | x) = sigmoid(w @ x + b) with
        w = Sigma^-1 (mu1 - mu0),
        b = -1/2 mu1' Sigma^-1 mu1 + 1/2 mu0' Sigma^-1 mu0 + log(prior1 / (1 - prior1)).
    Shapes: mu0, mu1 (d,), Sigma (d, d). Returns ``(w, b)``: w of shape (d,), b a float.
    """
    mu0 = _validate.as_vector(mu0, "mu0")
    d = mu0.shape[0]
    mu1 = _validate.as_vector(mu1, "mu1", d)
    Sigma = _validate.as_covariance(Sigma, "Sigma", d)
    prior1 = _validate.as_probability(prior1, "prior1")
    w = np.linalg.solve(Sigma, mu1 - mu0)
    b = -0.5 * (mu1 + mu0) @ w + np.log(prior1) - np.log1p(-prior1)
    return w, float(b)


def bayes_to_quadratic(mu0, mu1, Sigma0, Sigma1, prior1: float):
    """The log-odds of two Gaussians with *different* covariances: a quadratic function of x.

    log p(y=1|x)/p(y=0|x) = x' A x + w @ x + b with
        A = -1/2 (Sigma1^-1 - Sigma0^-1),  w = Sigma1^-1 mu1 - Sigma0^-1 mu0,
        b = -1/2 mu1' Sigma1^-1 mu1 + 1/2 mu0' Sigma0^-1 mu0 - 1/2 log(|Sigma1| / |Sigma0|) + log(prior1 / (1 - prior1)).
    Returns ``(A, w, b)`` with shapes (d, d), (d,) and a float. With Sigma0 = Sigma1, A = 0 and (w, b) are
    those of :func:`bayes_to_logistic`.
    """
    mu0 = _validate.as_vector(mu0, "mu0")
    d = mu0.shape[0]
    mu1 = _validate.as_vector(mu1, "mu1", d)
    Sigma0 = _validate.as_covariance(Sigma0, "Sigma0", d)
    Sigma1 = _validate.as_covariance(Sigma1, "Sigma1", d)
    prior1 = _validate.as_probability(prior1, "prior1")
    P0, P1 = np.linalg.inv(Sigma0), np.linalg.inv(Sigma1)
    A = -0.5 * (P1 - P0)
    w = P1 @ mu1 - P0 @ mu0
    logdet0, logdet1 = np.linalg.slogdet(Sigma0)[1], np.linalg.slogdet(Sigma1)[1]
    b = -0.5 * mu1 @ P1 @ mu1 + 0.5 * mu0 @ P0 @ mu0 - 0.5 * (logdet1 - logdet0) + np.log(prior1) - np.log1p(-prior1)
    return A, w, float(b)


def covariance_2d(s1: float, s2: float, rho: float) -> np.ndarray:
    """The 2x2 covariance with standard deviations ``s1``, ``s2`` > 0 and correlation ``rho`` in (-1, 1)."""
    s1 = _validate.as_positive_float(s1, "s1")
    s2 = _validate.as_positive_float(s2, "s2")
    rho = _validate.as_scalar(rho, "rho")
    if not -1.0 < rho < 1.0:
        raise ValueError(f"rho must lie strictly between -1 and 1, got {rho}")
    return np.array([[s1 * s1, rho * s1 * s2], [rho * s1 * s2, s2 * s2]])


@dataclass(frozen=True)
class GaussianPair:
    """Two Gaussian classes in the plane with a shared covariance, and the logistic model equal to their
    posterior: means ``mu0``, ``mu1`` (2,), ``Sigma`` (2, 2), ``prior1`` = P(y=1), ``w`` (2,) and ``b``."""

    mu0: np.ndarray
    mu1: np.ndarray
    Sigma: np.ndarray
    prior1: float
    w: np.ndarray
    b: float

    def boundary_point(self) -> np.ndarray:
        """The point of the boundary w @ x + b = 0 closest to the origin (shape (2,))."""
        return -self.b * self.w / (self.w @ self.w)


def gaussian_pair(mu0x: float, mu0y: float, mu1x: float, mu1y: float, s1: float, s2: float, rho: float,
                  prior1: float) -> GaussianPair:
    """The two classes and their logistic posterior from eight numbers (what lecture 01's sliders set): the
    means' coordinates, the two standard deviations and the correlation of the shared covariance, the prior."""
    mu0, mu1 = np.array([mu0x, mu0y], float), np.array([mu1x, mu1y], float)
    Sigma = covariance_2d(s1, s2, rho)
    w, b = bayes_to_logistic(mu0, mu1, Sigma, prior1)
    return GaussianPair(mu0, mu1, Sigma, float(prior1), w, b)


# --- discriminative view: logistic regression fitted by maximum likelihood ------------------------------


def _check_model(w, b, X, y):
    X = _validate.as_matrix(X, "X")
    w = _validate.as_vector(w, "w", X.shape[1])
    b = _validate.as_scalar(b, "b")
    y = _validate.as_labels01(y, "y", X.shape[0])
    return w, b, X, y


def predict_proba(w, b, X) -> np.ndarray:
    """p(y=1 | x) = sigmoid(X @ w + b) for each row of ``X`` (n, d); shape (n,)."""
    X = _validate.as_matrix(X, "X")
    w = _validate.as_vector(w, "w", X.shape[1])
    return np.asarray(sigmoid(X @ w + _validate.as_scalar(b, "b"))).reshape(-1)


@reference
def nll(w, b, X, y) -> float:
    """Mean negative log-likelihood (binary cross-entropy) of labels ``y`` (n,) under sigmoid(X @ w + b).

    -1/n sum_i [y_i log s_i + (1 - y_i) log(1 - s_i)], s_i = sigmoid(a_i), evaluated stably as
    1/n sum_i [log(1 + e^{a_i}) - y_i a_i], which never takes the log of 0.
    """
    w, b, X, y = _check_model(w, b, X, y)
    return float(_numerics.bce_with_logits(X @ w + b, y))


@reference
def nll_grad(w, b, X, y):
    """Gradient of :func:`nll`: ``(dw, db)`` with dw = X'(s - y)/n of shape (d,) and db = mean(s - y), a float."""
    w, b, X, y = _check_model(w, b, X, y)
    r = _numerics.sigmoid(X @ w + b) - y  # residuals s - y, shape (n,)
    return X.T @ r / X.shape[0], float(np.mean(r))


def logistic_hessian(w, b, X) -> np.ndarray:
    """The Hessian of the mean NLL :func:`nll` with respect to ``(w, b)``: shape (d + 1, d + 1).

    H = 1/n sum_i s_i (1 - s_i) x~_i x~_i^T with x~_i = (x_i, 1) and s_i = sigmoid(w @ x_i + b); the last row
    and column belong to b. ``X`` (n, d), ``w`` (d,), ``b`` a float. Every term is positive semi-definite, so
    the loss is convex. Since s (1 - s) <= 1/4, with equality for every example at w = 0, b = 0, the Hessian
    there, X~^T X~ / (4 n), bounds it everywhere: its largest eigenvalue is the global curvature bound L.
    """
    X = _validate.as_matrix(X, "X")
    s = predict_proba(w, b, X)  # validates w and b
    Xt = np.c_[X, np.ones(len(X))]
    return Xt.T @ (Xt * (s * (1.0 - s))[:, None]) / len(X)


@reference
def fit_logistic(X, y, lr: float, n_iter: int, callback=None):
    """Full-batch gradient descent on the mean NLL, from w = 0, b = 0: ``n_iter`` steps of size ``lr``.

    ``callback(step, w, b)``, if given, is called after every step (e.g. to record the loss).
    Returns ``(w, b)``: w of shape (d,), b a float.
    """
    X = _validate.as_matrix(X, "X")
    y = _validate.as_labels01(y, "y", X.shape[0])
    lr = _validate.as_positive_float(lr, "lr")
    n_iter = _validate.as_int(n_iter, "n_iter", minimum=0)
    w, b = np.zeros(X.shape[1]), 0.0
    for step in range(n_iter):
        dw, db = nll_grad(w, b, X, y)
        w, b = w - lr * dw, b - lr * db
        if callback is not None:
            callback(step + 1, w, b)
    return w, float(b)


def fit_logistic_sgd(X, y, lr: float, batch_size: int, epochs: int, seed: int = 0, callback=None):
    """Mini-batch stochastic gradient descent on the mean NLL, from w = 0, b = 0.

    Each epoch visits the rows in a fresh random order (one ``np.random.default_rng(seed)`` for the run) in
    batches of ``batch_size``; each batch takes one step with the gradient of its own mean NLL. ``batch_size=1``
    is plain SGD, ``batch_size >= n`` is full-batch gradient descent (``epochs`` steps).
    ``callback(step, n_seen, w, b)`` is called after every step, ``n_seen`` being the examples used so far.
    Returns ``(w, b)``.
    """
    X = _validate.as_matrix(X, "X")
    y = _validate.as_labels01(y, "y", X.shape[0])
    lr = _validate.as_positive_float(lr, "lr")
    batch_size = _validate.as_int(batch_size, "batch_size")
    epochs = _validate.as_int(epochs, "epochs", minimum=0)
    rng = np.random.default_rng(_validate.as_int(seed, "seed", minimum=0))
    w, b, step, seen = np.zeros(X.shape[1]), 0.0, 0, 0
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), batch_size):
            batch = order[start:start + batch_size]
            dw, db = nll_grad(w, b, X[batch], y[batch])
            w, b = w - lr * dw, b - lr * db
            step, seen = step + 1, seen + len(batch)
            if callback is not None:
                callback(step, seen, w, b)
    return w, float(b)


def quadratic_feature_map(X) -> np.ndarray:
    """The degree-2 map (x1, x2) -> (x1^2, x2^2, sqrt(2) x1 x2), shape (n, 3), whose inner products are the
    polynomial kernel: phi(x) @ phi(z) = (x @ z)^2. A circle centred at 0 becomes a plane in this space."""
    X = _validate.as_matrix(X, "X", 2)
    x1, x2 = X[:, 0], X[:, 1]
    return np.c_[x1**2, x2**2, np.sqrt(2.0) * x1 * x2]


def quadratic_features(X) -> np.ndarray:
    """The fixed feature map (x1, x2) -> (x1, x2, x1^2, x2^2, x1 x2) for 2-D inputs; shape (n, 5)."""
    X = _validate.as_matrix(X, "X", 2)
    x1, x2 = X[:, 0], X[:, 1]
    return np.c_[x1, x2, x1**2, x2**2, x1 * x2]
