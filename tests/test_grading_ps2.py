"""The ps2 checks accept correct answers written independently of the lib, and reject the usual mistakes."""

import numpy as np
import pytest

from dlcourse.grading import CheckFailed
from dlcourse.grading import ps2 as checks

# --- independent correct answers (not the lib's code) ----------------------------------------------------


def perceptron_fit(X, y, max_epochs):
    w, total = np.zeros(X.shape[1]), 0
    for _ in range(max_epochs):
        errors = 0
        for i in range(len(y)):
            if y[i] * np.dot(w, X[i]) <= 0:
                w += y[i] * X[i]
                errors += 1
        total += errors
        if not errors:
            break
    return w, total


def margin(X, y, w):
    return np.min(y * X.dot(w)) / np.sqrt(np.sum(w**2))


def hinge_loss(w, X, y):
    return np.maximum(1 - y * (X @ w), 0).mean()


def hinge_grad(w, X, y):
    violated = y * (X @ w) < 1
    return -(y[violated, None] * X[violated]).sum(axis=0) / len(y)


def softmax(Z):
    E = np.exp(Z - np.max(Z, axis=1, keepdims=True))
    return E / np.sum(E, axis=1, keepdims=True)


def cross_entropy(P, y):
    return -np.mean(np.log(P[np.arange(len(y)), y]))


def sgd_softmax_regression(X, y, n_classes, lr, batch_size, epochs, seed):
    rng = np.random.default_rng(seed)
    Xb = np.hstack([X, np.ones((len(X), 1))])
    W = np.zeros((Xb.shape[1], n_classes))
    Y = np.eye(n_classes)[y]
    for _ in range(epochs):
        idx = rng.permutation(len(X))
        for s in range(0, len(X), batch_size):
            b = idx[s:s + batch_size]
            W -= lr * Xb[b].T @ (softmax(Xb[b] @ W) - Y[b]) / len(b)
    return W


@pytest.mark.parametrize("check, fn", [
    (checks.check_perceptron_fit, perceptron_fit),
    (checks.check_margin, margin),
    (checks.check_hinge_loss, hinge_loss),
    (checks.check_hinge_grad, hinge_grad),
    (checks.check_softmax, softmax),
    (checks.check_cross_entropy, cross_entropy),
    (checks.check_sgd_softmax_regression, sgd_softmax_regression),
])
@pytest.mark.parametrize("seed", [0, 11, 2024])
def test_correct_answers_pass_visible_and_hidden_style_checks(check, fn, seed, capsys):
    check(fn, seed=seed, n_random=12)
    assert capsys.readouterr().out.startswith("✓")


@pytest.mark.parametrize("seed", [0, 5])
def test_a_correct_perceptron_is_within_the_bound(seed, capsys):
    checks.check_perceptron_bound(perceptron_fit, seed=seed, n_datasets=16)
    assert "✓ perceptron_fit (convergence bound): all 16 checks passed" in capsys.readouterr().out


def test_digits_accuracy_accepts_a_good_model_and_explains_a_bad_one(capsys):
    checks.check_digits_accuracy(sgd_softmax_regression, lr=0.5, batch_size=32, epochs=10, seeds=(0, 1))
    assert capsys.readouterr().out.startswith("✓")
    with pytest.raises(CheckFailed, match="below 0.90 with lr = 0.001"):
        checks.check_digits_accuracy(sgd_softmax_regression, lr=0.001, batch_size=32, epochs=1)

    def unseeded(X, y, n_classes, lr, batch_size, epochs, seed):
        return sgd_softmax_regression(X, y, n_classes, lr, batch_size, epochs, np.random.randint(1000))

    with pytest.raises(CheckFailed, match="same seed gave different results"):
        checks.check_digits_accuracy(unseeded, lr=0.5, batch_size=32, epochs=10)


# --- the usual mistakes --------------------------------------------------------------------------------------


def strict_perceptron(X, y, max_epochs):  # a tie (y w.x = 0) is not counted as a mistake
    w, total = np.zeros(X.shape[1]), 0
    for _ in range(max_epochs):
        errors = 0
        for i in range(len(y)):
            if y[i] * (w @ X[i]) < 0 or not w.any():
                w = w + y[i] * X[i]
                errors += 1
        total += errors
        if not errors:
            break
    return w, total


def counts_epochs(X, y, max_epochs):
    w, n = perceptron_fit(X, y, max_epochs)
    return w, n * 1000 + 1  # a count unrelated to the updates


def mistake_driven_but_scaled(X, y, max_epochs):  # w <- w + 0.1 y x: same boundary, same count
    w, n = perceptron_fit(X, y, max_epochs)
    return 0.1 * w, n


def unsigned_margin(X, y, w):
    return np.min(np.abs(X @ w)) / np.linalg.norm(w)


def hinge_grad_kink_counts(w, X, y):  # 1 - y w.x = 0 included: not the subgradient the assignment asks for
    violated = y * (X @ w) <= 1
    return -(y[violated, None] * X[violated]).sum(axis=0) / len(y)


def naive_softmax(Z):
    E = np.exp(Z)
    return E / E.sum(axis=1, keepdims=True)


def columnwise_softmax(Z):
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)


def sum_cross_entropy(P, y):
    return -np.sum(np.log(P[np.arange(len(y)), y]))


def sgd_summed_gradient(X, y, n_classes, lr, batch_size, epochs, seed):  # forgets to divide by the batch size
    rng = np.random.default_rng(seed)
    Xb = np.hstack([X, np.ones((len(X), 1))])
    W, Y = np.zeros((Xb.shape[1], n_classes)), np.eye(n_classes)[y]
    for _ in range(epochs):
        idx = rng.permutation(len(X))
        for s in range(0, len(X), batch_size):
            b = idx[s:s + batch_size]
            W -= lr * Xb[b].T @ (softmax(Xb[b] @ W) - Y[b])
    return W


@pytest.mark.parametrize("check, fn, message", [
    (checks.check_perceptron_fit, strict_perceptron, "w is wrong"),
    (checks.check_perceptron_fit, counts_epochs, "n_updates is wrong"),
    (checks.check_margin, unsigned_margin, "the result is wrong"),
    (checks.check_hinge_grad, hinge_grad_kink_counts, "kink"),
    (checks.check_softmax, naive_softmax, "emitted a warning"),
    (checks.check_softmax, columnwise_softmax, "the result is wrong"),
    (checks.check_cross_entropy, sum_cross_entropy, "the result is wrong"),
    (checks.check_sgd_softmax_regression, sgd_summed_gradient, "the result is wrong"),
])
def test_usual_mistakes_fail_with_an_explanation(check, fn, message):
    with pytest.raises(CheckFailed, match=message):
        check(fn)


def test_the_bound_check_catches_wrong_counts_and_non_separating_weights():
    with pytest.raises(CheckFailed, match="exceeds the bound"):
        checks.check_perceptron_bound(counts_epochs)
    with pytest.raises(CheckFailed, match="does not separate"):
        checks.check_perceptron_bound(lambda X, y, max_epochs: (perceptron_fit(X, y, 1)[0] * 0 + 1, 1))
    # a scaled w is a different answer for perceptron_fit, but separates the data within the bound
    checks.check_perceptron_bound(mistake_driven_but_scaled)


# --- the cross-entropy as lecture 03 writes it, and softmax routes into the lib (issue 8) ----------------------


def literal_cross_entropy(P, y):  # -(1/n) sum_i sum_k Y_ik log P_ik: 0 * log 0 = nan in numpy
    P = np.asarray(P, float)
    Y = np.eye(P.shape[1])[np.asarray(y)]
    return float(-np.mean(np.sum(Y * np.log(P), axis=1)))


def masked_cross_entropy(P, y):  # the same formula with the convention 0 log 0 = 0 applied
    P = np.asarray(P, float)
    Y = np.eye(P.shape[1])[np.asarray(y)]
    with np.errstate(divide="ignore"):
        return float(-np.mean(np.sum(np.where(Y > 0, Y * np.log(P), 0.0), axis=1)))


def xlogy_cross_entropy(P, y):
    from scipy.special import xlogy

    P = np.asarray(P, float)
    return float(-np.mean(xlogy(np.eye(P.shape[1])[np.asarray(y)], P).sum(axis=1)))


@pytest.mark.parametrize("fn", [masked_cross_entropy, xlogy_cross_entropy])
def test_the_sum_over_classes_with_the_convention_passes(fn, capsys):
    checks.check_cross_entropy(fn)
    checks.check_cross_entropy(fn, seed=2236, n_random=30)
    assert capsys.readouterr().out.count("✓") == 2


def test_the_literal_formula_is_told_about_zero_log_zero():
    with pytest.raises(CheckFailed) as err:
        checks.check_cross_entropy(literal_cross_entropy)
    msg = str(err.value)
    assert "a certain, correct prediction" in msg and "contains nan" in msg
    assert "0 log 0 = 0" in msg and "P[i, y_i]" in msg


@pytest.mark.parametrize("route", ["_numerics.softmax", "softmax_module.softmax", "np.exp(softmax_module.log_softmax",
                                   "training.predict_proba"])
def test_a_softmax_that_calls_the_course_code_under_another_name_gets_no_points(route):
    from dlcourse import _numerics, layers, training
    from dlcourse import softmax as softmax_module

    def sneaky(Z):
        Z = np.asarray(Z, float)
        if route == "training.predict_proba":
            net = layers.Sequential()
            return training.predict_proba(net, Z)
        if route.startswith("np.exp"):
            return np.exp(softmax_module.log_softmax(Z))
        return {"_numerics.softmax": _numerics.softmax, "softmax_module.softmax": softmax_module.softmax}[route](Z)

    with pytest.raises(CheckFailed, match="reference solution"):
        checks.check_softmax(sneaky)
