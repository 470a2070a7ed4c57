"""Checks for assignment ps1 (from Bayes' rule to logistic regression).

Each ``check_*`` compares a student's function with :mod:`dlcourse.linear` on edge cases plus ``n_random``
inputs drawn from ``seed``. The visible tests in the notebook use the defaults; the hidden tests use other
seeds and more cases.
"""

from __future__ import annotations

import numpy as np

from .. import data, linear
from .core import Case, check_function


def _random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    A = rng.normal(size=(d, d))
    return A @ A.T / d + 0.5 * np.eye(d)


def _logistic_problem(rng: np.random.Generator, n: int, d: int, scale: float = 1.0):
    """Random (w, b, X, y) with logits of order ``scale`` (|logit| stays well below 30)."""
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d) * scale / np.sqrt(d)
    b = float(rng.normal() * scale)
    y = (rng.random(n) < 0.5).astype(float)
    return w, b, X, y


def check_sigmoid(sigmoid, seed: int = 0, n_random: int = 8) -> None:
    """sigmoid(z): scalars and arrays of any shape, exact at 0, no warning or nan at ±1000."""
    rng = np.random.default_rng(seed)
    cases = [
        Case((0.0,), "z = 0"),
        Case((1000.0,), "z = 1000"),
        Case((-1000.0,), "z = -1000"),
        Case((np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0]),), "an array with values up to ±1000"),
        Case((np.array([[2, -3], [0, 7]]),), "an integer array"),
        Case((np.zeros(0),), "an empty array"),
    ]
    shapes = [(), (7,), (3, 4), (2, 3, 2)]
    for i in range(n_random):
        shape, scale = shapes[i % len(shapes)], (1.0, 10.0, 100.0)[i % 3]
        z = rng.normal(scale=scale, size=shape)
        cases.append(Case((float(z) if shape == () else z,), f"random input {i + 1} of shape {shape}"))
    check_function(sigmoid, linear.sigmoid, cases, name="sigmoid", rtol=1e-9, atol=1e-12,
                   forbid_warnings=True)


def check_bayes_to_logistic(bayes_to_logistic, seed: int = 0, n_random: int = 6) -> None:
    """(w, b) for two Gaussian classes with a shared covariance, in 1 to 5 dimensions."""
    rng = np.random.default_rng(seed)
    cases = [
        Case((np.zeros(2), np.ones(2), np.eye(2), 0.5), "identity covariance, equal priors"),
        Case((np.array([1.0, -1.0]), np.array([1.0, -1.0]), np.eye(2), 0.9), "equal means (w must be 0)"),
        Case((np.array([-1.0]), np.array([2.0]), np.array([[4.0]]), 0.25), "one dimension"),
    ]
    for i in range(n_random):
        d = (2, 3, 1, 5)[i % 4]
        mu0, mu1 = rng.normal(scale=2.0, size=d), rng.normal(scale=2.0, size=d)
        prior1 = float(rng.uniform(0.05, 0.95))
        cases.append(Case((mu0, mu1, _random_spd(rng, d), prior1), f"random Gaussians {i + 1} (d = {d})"))
    check_function(bayes_to_logistic, linear.bayes_to_logistic, cases, name="bayes_to_logistic",
                   outputs=("w", "b"), rtol=1e-6, atol=1e-9)


def _nll_cases(rng: np.random.Generator, n_random: int) -> list[Case]:
    w, b, X, y = _logistic_problem(rng, 1, 2)
    cases = [
        Case((np.zeros(2), 0.0, np.array([[1.0, 2.0], [3.0, -1.0]]), np.array([1.0, 0.0])), "w = 0, b = 0"),
        Case((w, b, X, y), "a single example (n = 1)"),
        Case((np.array([0.5, -0.25]), 0.1, np.array([[1.0, 2.0], [-1.0, 0.5], [2.0, 2.0]]),
              np.array([1.0, 1.0, 1.0])), "all labels 1"),
    ]
    for i in range(n_random):
        n, d = int(rng.integers(2, 40)), (2, 1, 3, 4)[i % 4]
        cases.append(Case(_logistic_problem(rng, n, d, scale=(1.0, 4.0)[i % 2]),
                          f"random data {i + 1} (n = {n}, d = {d})"))
    return cases


def check_nll(nll, seed: int = 0, n_random: int = 6) -> None:
    """The mean negative log-likelihood of labels in {0, 1} under sigmoid(X @ w + b)."""
    cases = _nll_cases(np.random.default_rng(seed), n_random)
    check_function(nll, linear.nll, cases, name="nll", rtol=1e-6, atol=1e-9,
                   lend={"sigmoid": linear.sigmoid})


def check_nll_grad(nll_grad, seed: int = 0, n_random: int = 6) -> None:
    """(dw, db): the gradient of the mean NLL with respect to w and b."""
    cases = _nll_cases(np.random.default_rng(seed + 1), n_random)
    check_function(nll_grad, linear.nll_grad, cases, name="nll_grad", outputs=("dw", "db"), rtol=1e-6,
                   atol=1e-9, lend={"sigmoid": linear.sigmoid, "nll": linear.nll})


def check_fit_logistic(fit_logistic, seed: int = 0, n_random: int = 4) -> None:
    """n_iter full-batch gradient-descent steps of size lr on the mean NLL, from w = 0, b = 0."""
    rng = np.random.default_rng(seed)
    X, y = data.gaussian_classes(20, [0.0, 0.0], [2.0, 1.0], np.eye(2), rng=rng)
    cases = [
        Case((X, y, 0.5, 0), "n_iter = 0 (no step: w = 0, b = 0)"),
        Case((X, y, 0.5, 1), "a single step (n_iter = 1)"),
        Case((X, y, 0.5, 100), "two Gaussian classes, lr = 0.5, n_iter = 100"),
    ]
    for i in range(n_random):
        n, d = int(rng.integers(5, 60)), (2, 1, 3)[i % 3]
        mu1 = rng.normal(size=d) * 2.0
        Xi, yi = data.gaussian_classes(n, np.zeros(d), mu1, np.eye(d), prior1=0.5, rng=rng)
        lr, n_iter = (0.1, 0.5, 1.0)[i % 3], (10, 50, 200)[i % 3]
        cases.append(Case((Xi, yi, lr, n_iter), f"random data {i + 1} (n = {n}, d = {d}, lr = {lr}, "
                                                 f"n_iter = {n_iter})"))
    check_function(fit_logistic, linear.fit_logistic, cases, name="fit_logistic", outputs=("w", "b"),
                   rtol=1e-6, atol=1e-9,
                   lend={"sigmoid": linear.sigmoid, "nll": linear.nll, "nll_grad": linear.nll_grad})
