"""Checks for assignment ps2 (the perceptron, its bound, and softmax regression).

Functions compared with the reference (:mod:`dlcourse.perceptron`, :mod:`dlcourse.softmax`) on edge cases plus
``n_random`` inputs drawn from ``seed``; two questions are judged by a property instead: the perceptron's number
of updates against R^2 / gamma^2 on separable data sets, and the test accuracy of the softmax model on the
held-out digits. The visible tests use the defaults; the hidden tests use other seeds and more cases.
"""

from __future__ import annotations

import numpy as np

from .. import data, perceptron, softmax
from .core import Case, as_plain, check_behaviour, check_function, check_trained_model, describe

DIGITS_ACCURACY = 0.90


def _xor() -> tuple[np.ndarray, np.ndarray]:
    return perceptron.with_bias(np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])), np.array([-1, -1, 1, 1])


def _classification(rng: np.random.Generator, n: int, d: int):
    """(X with a bias column, y in {-1, +1}): random, usually not separable."""
    return perceptron.with_bias(rng.normal(size=(n, d))), rng.choice([-1, 1], size=n)


def check_perceptron_fit(perceptron_fit, seed: int = 0, n_random: int = 6) -> None:
    """(w, n_updates) of the perceptron rule from w = 0, samples in the given order, ties (y w.x = 0) as mistakes."""
    rng = np.random.default_rng(seed)
    X_xor, y_xor = _xor()
    cases = [
        Case((np.array([[2.0, 1.0]]), np.array([1]), 10), "a single sample"),
        Case((np.array([[1.0, 1.0], [-1.0, 1.0]]), np.array([1, 1]), 10),
             "a tie: after the first update w.x = 0 exactly for the second sample (a tie is a mistake)"),
        Case((X_xor, y_xor, 5), "XOR (not separable): must stop after max_epochs"),
        Case((X_xor, y_xor, 0), "max_epochs = 0 (no update: w = 0)"),
    ]
    for i in range(n_random):
        d = (2, 3, 1, 5)[i % 4]
        if i % 3 == 2:
            X, y = _classification(rng, int(rng.integers(5, 30)), d)
            cases.append(Case((X, y, 7), f"random non-separable data {i + 1} (d = {d}), max_epochs = 7"))
        else:
            X, y, _ = data.separable(int(rng.integers(5, 60)), d, margin=0.05, rng=rng)
            cases.append(Case((X, y, 1000), f"random separable data {i + 1} (d = {d} + bias)"))
    check_function(perceptron_fit, perceptron.perceptron_fit, cases, name="perceptron_fit",
                   outputs=("w", "n_updates"), rtol=1e-9, atol=1e-9)


def check_perceptron_bound(perceptron_fit, seed: int = 0, n_datasets: int = 8) -> None:
    """On separable data sets: converges (w separates the data) within R^2 / gamma^2 updates, gamma being the
    margin of the max-margin separator and R the largest norm of a sample."""
    rng = np.random.default_rng(seed)
    cases, bounds = [], {}
    for i in range(n_datasets):
        d, margin = (2, 4, 1, 8)[i % 4], (0.2, 0.05, 0.01)[i % 3]
        X, y, _ = data.separable(int(rng.integers(10, 80)), d, margin=margin, rng=rng)
        if i % 2:  # the theorem is scale-free: try points that are not in the unit box
            X = X * float(rng.uniform(0.1, 10.0))
        case = Case((X, y, 100_000), f"separable data set {i + 1} (d = {d} + bias, margin >= {margin})")
        bounds[id(case)] = perceptron.perceptron_bound(X, y)
        cases.append(case)

    def judge(case: Case, result) -> str | None:
        X, y = case.args[0], case.args[1]
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            return f"expected a tuple (w, n_updates), got {describe(result)}"
        w, n_updates = np.asarray(result[0], dtype=float), result[1]
        b = bounds[id(case)]
        if w.shape != (X.shape[1],) or not np.any(w):
            return f"w must be a non-zero array of shape {(X.shape[1],)}, got {describe(result[0])}"
        if np.min(y * (X @ w)) <= 0:
            return "the returned w does not separate the data (some y_i w.x_i <= 0), yet the data are separable"
        if not np.isfinite(n_updates) or n_updates > b["bound"]:
            return (f"{describe(n_updates)} updates exceeds the bound R^2/gamma^2 = {b['R']:.4g}^2 / {b['gamma']:.4g}^2 "
                    f"= {b['bound']:.4g}: count one update per mistake, and only mistakes")
        if n_updates < 1:
            return "n_updates must be at least 1: w starts at 0, so the first sample is always a mistake"
        return None

    check_behaviour(perceptron_fit, cases, judge, name="perceptron_fit (convergence bound)")


def check_margin(margin, seed: int = 0, n_random: int = 6) -> None:
    """The geometric margin min_i y_i w.x_i / ||w||, negative when w misclassifies a point."""
    rng = np.random.default_rng(seed)
    cases = [
        Case((np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([1, -1]), np.array([3.0, -4.0])), "a hand-made example"),
        Case((np.array([[1.0, 2.0]]), np.array([-1]), np.array([1.0, 1.0])), "a single misclassified sample"),
        Case((np.array([[1.0, 1.0], [2.0, 1.0]]), np.array([1, 1]), np.array([1.0, -1.0])),
             "a point on the boundary (margin 0)"),
    ]
    for i in range(n_random):
        n, d = int(rng.integers(1, 30)), (2, 3, 4)[i % 3]
        X, y = _classification(rng, n, d)
        cases.append(Case((X, y, rng.normal(scale=(1.0, 100.0)[i % 2], size=d + 1)), f"random data {i + 1}"))
    check_function(margin, perceptron.margin, cases, name="margin", rtol=1e-9, atol=1e-12)


def _hinge_cases(rng: np.random.Generator, n_random: int) -> list[Case]:
    cases = [
        Case((np.array([1.0, -1.0]), np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([1, -1])),
             "both samples exactly at the kink (1 - y w.x = 0)"),
        Case((np.zeros(3), np.array([[1.0, 2.0, 1.0]]), np.array([-1])), "w = 0 and a single sample"),
        Case((np.array([0.5, 0.5, 0.0]), np.array([[1.0, 1.0, 1.0], [4.0, 0.0, 1.0], [-2.0, 2.0, 1.0]]),
              np.array([1, 1, -1])), "one sample at the kink, one beyond the margin, one violating it"),
    ]
    for i in range(n_random):
        n, d = int(rng.integers(2, 40)), (2, 1, 3, 5)[i % 4]
        X, y = _classification(rng, n, d)
        cases.append(Case((rng.normal(size=d + 1), X, y), f"random data {i + 1} (n = {n})"))
    return cases


def check_hinge_loss(hinge_loss, seed: int = 0, n_random: int = 6) -> None:
    """Mean of max(0, 1 - y_i w.x_i)."""
    check_function(hinge_loss, perceptron.hinge_loss, _hinge_cases(np.random.default_rng(seed), n_random),
                   name="hinge_loss", rtol=1e-9, atol=1e-12)


def check_hinge_grad(hinge_grad, seed: int = 0, n_random: int = 6) -> None:
    """The subgradient -(1/n) sum of y_i x_i over samples with 1 - y_i w.x_i > 0 (0 at the kink)."""
    check_function(hinge_grad, perceptron.hinge_grad, _hinge_cases(np.random.default_rng(seed + 1), n_random),
                   name="hinge_grad", rtol=1e-9, atol=1e-12, lend={"hinge_loss": perceptron.hinge_loss})


def check_softmax(softmax_fn, seed: int = 0, n_random: int = 6) -> None:
    """Row-wise softmax, exact and warning-free for logits of +-1000."""
    rng = np.random.default_rng(seed)
    cases = [
        Case((np.array([[0.0, 0.0, 0.0, 0.0]]),), "a single row of zeros"),
        Case((np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0]]),), "logits of +-1000"),
        Case((np.array([[1000.0, 1000.0], [2.0, 1.0]]),), "a tie at 1000"),
        Case((np.array([[3.0], [-7.0]]),), "a single class (K = 1)"),
    ]
    for i in range(n_random):
        n, k = int(rng.integers(1, 20)), int(rng.integers(2, 12))
        cases.append(Case((rng.normal(scale=(1.0, 10.0, 300.0)[i % 3], size=(n, k)),),
                          f"random logits {i + 1} of shape ({n}, {k})"))
    check_function(softmax_fn, softmax.softmax, cases, name="softmax", rtol=1e-9, atol=1e-12, forbid_warnings=True)


def check_cross_entropy(cross_entropy, seed: int = 0, n_random: int = 6) -> None:
    """Mean of -log P[i, y_i] for integer labels (0 log 0 = 0: a zero probability of a wrong class costs nothing)."""
    rng = np.random.default_rng(seed)
    cases = [
        Case((np.array([[0.25, 0.75]]), np.array([1])), "a single sample"),
        Case((np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]]), np.array([0, 2])), "a certain, correct prediction"),
        Case((np.full((4, 4), 0.25), np.array([3, 2, 1, 0])), "uniform predictions (loss log 4)"),
    ]
    for i in range(n_random):
        n, k = int(rng.integers(1, 30)), int(rng.integers(2, 10))
        P = softmax.softmax(rng.normal(scale=3.0, size=(n, k)))
        cases.append(Case((P, rng.integers(0, k, size=n)), f"random predictions {i + 1} ({n} samples, {k} classes)"))
    check_function(cross_entropy, softmax.cross_entropy, cases, name="cross_entropy", rtol=1e-9, atol=1e-12,
                   hint=_zero_log_zero_hint)


def _zero_log_zero_hint(case: Case, expected, got) -> str | None:
    """When a nan comes back where the probabilities hold zeros: the convention 0 log 0 = 0."""
    P = np.asarray(case.args[0])
    value = np.asarray(as_plain(got), dtype=float) if np.ndim(as_plain(got)) == 0 else None
    if value is not None and np.isnan(value) and np.isfinite(expected) and np.any(P == 0):
        return ("P has entries equal to 0 here, for classes that are not the label. With one-hot labels Y, "
                "-sum_k Y_ik log P_ik meets 0 * log 0 = 0 * (-inf) = nan in numpy, but the convention (see the "
                "question) is 0 log 0 = 0: a class that is not the label contributes nothing. Take only the "
                "true class's probability, P[i, y_i], or skip the terms where Y_ik = 0.")
    return None


def check_sgd_softmax_regression(sgd_softmax_regression, seed: int = 0, n_random: int = 3) -> None:
    """With batch_size >= n the steps do not depend on the order: compared exactly with the reference."""
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(12, 3)), rng.integers(0, 3, size=12)
    cases = [
        Case((X, y, 3, 0.5, 12, 0, 0), "epochs = 0 (W stays 0)"),
        Case((X, y, 3, 0.5, 12, 1, 0), "one full-batch step (batch_size = n)"),
        Case((X, y, 3, 0.5, 100, 20, 1), "20 full-batch steps (batch_size > n)"),
        Case((X[:1], y[:1], 3, 1.0, 1, 3, 0), "a single sample, 3 epochs"),
    ]
    for i in range(n_random):
        n, d, k = int(rng.integers(5, 50)), int(rng.integers(1, 6)), int(rng.integers(2, 6))
        Xi, yi = rng.normal(size=(n, d)), rng.integers(0, k, size=n)
        lr, epochs = (0.1, 0.5, 1.0)[i % 3], (5, 30)[i % 2]
        cases.append(Case((Xi, yi, k, lr, n, epochs, i), f"random full-batch problem {i + 1} (n = {n}, d = {d}, "
                                                        f"K = {k}, lr = {lr}, epochs = {epochs})"))
    check_function(sgd_softmax_regression, softmax.sgd_softmax_regression, cases, name="sgd_softmax_regression",
                   rtol=1e-7, atol=1e-10, lend={"softmax": softmax.softmax, "cross_entropy": softmax.cross_entropy})


def check_digits_accuracy(sgd_softmax_regression, lr: float, batch_size: int, epochs: int, seeds=(0,)) -> None:
    """Trained on the digits' training split with the student's hyperparameters, the model reaches at least 90 %
    accuracy on the held-out test split (for each seed), and the same seed gives the same W."""
    X_train, X_test, y_train, y_test = data.digits_split()
    shape = (X_train.shape[1] + 1, 10)

    def problem(result) -> str | None:
        W = np.asarray(as_plain(result), dtype=float) if result is not None else None
        if W is None or W.shape != shape:
            return f"expected W of shape {shape} (the last row holds the biases), got {describe(result)}"
        if not np.all(np.isfinite(W)):
            return "W contains nan or inf: is the learning rate too large, or the softmax unstable?"
        return None

    def accuracy(result) -> float:
        W = np.asarray(as_plain(result), dtype=float)
        return float(np.mean(np.argmax(np.c_[X_test, np.ones(len(X_test))] @ W, axis=1) == y_test))

    cases = [Case((X_train, y_train, 10, lr, batch_size, epochs, s), f"the digits training split, seed {s}")
             for s in seeds]
    check_trained_model(sgd_softmax_regression, cases, name="sgd_softmax_regression on the digits",
                        problem=problem, score=accuracy, threshold=DIGITS_ACCURACY, what="test accuracy",
                        settings=f"lr = {lr}, batch_size = {batch_size}, epochs = {epochs}",
                        advice="check the gradient, or train longer / with another lr",
                        same=lambda a, b: np.array_equal(np.asarray(as_plain(a)), np.asarray(as_plain(b))),
                        lend={"softmax": softmax.softmax, "cross_entropy": softmax.cross_entropy}, seconds=20)
