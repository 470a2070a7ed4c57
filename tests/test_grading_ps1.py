"""The ps1 checks accept correct answers written independently of the lib, and reject the usual mistakes."""

import numpy as np
import pytest

from dlcourse.grading import CheckFailed
from dlcourse.grading import ps1 as checks

# --- independent correct answers (not the lib's code) ----------------------------------------------------


def sigmoid(z):
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out if out.ndim else float(out)


def bayes_to_logistic(mu0, mu1, Sigma, prior1):
    P = np.linalg.inv(Sigma)
    w = P @ (np.asarray(mu1) - np.asarray(mu0))
    b = -0.5 * mu1 @ P @ mu1 + 0.5 * mu0 @ P @ mu0 + np.log(prior1) - np.log(1 - prior1)
    return w, b


def nll(w, b, X, y):
    p = sigmoid(X @ w + b)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def nll_grad(w, b, X, y):
    err = sigmoid(X @ w + b) - y
    return err @ X / len(y), err.mean()


def fit_logistic(X, y, lr, n_iter):
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(n_iter):
        dw, db = nll_grad(w, b, X, y)
        w -= lr * dw
        b -= lr * db
    return w, b


@pytest.mark.parametrize("check, fn", [
    (checks.check_sigmoid, sigmoid),
    (checks.check_bayes_to_logistic, bayes_to_logistic),
    (checks.check_nll, nll),
    (checks.check_nll_grad, nll_grad),
    (checks.check_fit_logistic, fit_logistic),
])
@pytest.mark.parametrize("seed", [0, 11, 2024])
def test_correct_answers_pass_visible_and_hidden_style_checks(check, fn, seed, capsys):
    check(fn, seed=seed, n_random=12)
    assert capsys.readouterr().out.startswith("✓")


# --- the usual mistakes ----------------------------------------------------------------------------------


def fails(check, fn, *fragments):
    with pytest.raises(CheckFailed) as err:
        check(fn)
    for fragment in fragments:
        assert fragment in str(err.value), str(err.value)


def test_naive_sigmoid_overflows():
    fails(checks.check_sigmoid, lambda z: 1 / (1 + np.exp(-np.asarray(z, float))),
          "emitted a warning (RuntimeWarning: overflow encountered in exp)", "z = -1000")


def test_np_where_sigmoid_still_overflows():
    def where_sigmoid(z):
        z = np.asarray(z, float)
        return np.where(z >= 0, 1 / (1 + np.exp(-z)), np.exp(z) / (1 + np.exp(z)))

    fails(checks.check_sigmoid, where_sigmoid, "overflow")


def test_scalar_only_sigmoid():
    import math

    def scalar_sigmoid(z):
        return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))

    fails(checks.check_sigmoid, scalar_sigmoid, "raised", "an array with values up to ±1000")


def test_bayes_mistakes():
    fails(checks.check_bayes_to_logistic, lambda m0, m1, S, p: (np.linalg.solve(S, m1 - m0), 0.0), "b is wrong", "w is right")
    fails(checks.check_bayes_to_logistic,
          lambda m0, m1, S, p: (np.linalg.solve(S, m0 - m1), bayes_to_logistic(m0, m1, S, p)[1]), "w is wrong", "b is right")
    fails(checks.check_bayes_to_logistic,
          lambda m0, m1, S, p: (bayes_to_logistic(m0, m1, S, p)[0], np.array([bayes_to_logistic(m0, m1, S, p)[1]])),
          "b: expected a single number")
    # ignoring the prior is right only for equal priors: caught on the first unequal one
    fails(checks.check_bayes_to_logistic,
          lambda m0, m1, S, p: bayes_to_logistic(m0, m1, S, 0.5), "b is wrong", "equal means")


def test_nll_mistakes():
    fails(checks.check_nll, lambda w, b, X, y: nll(w, b, X, y) * len(y), "the result is wrong")  # sum, not mean
    fails(checks.check_nll, lambda w, b, X, y: -nll(w, b, X, y), "the result is wrong")
    fails(checks.check_nll, lambda w, b, X, y: None, "Did you forget a `return`?")


def test_nll_grad_mistakes():
    fails(checks.check_nll_grad, lambda w, b, X, y: (nll_grad(w, b, X, y)[0] * len(y), nll_grad(w, b, X, y)[1]),
          "dw is wrong", "db is right")
    fails(checks.check_nll_grad, lambda w, b, X, y: (nll_grad(w, b, X, y)[0], -nll_grad(w, b, X, y)[1]),
          "db is wrong", "dw is right")
    fails(checks.check_nll_grad, lambda w, b, X, y: (nll_grad(w, b, X, y)[0][:, None], nll_grad(w, b, X, y)[1]),
          "dw: expected shape")


def test_fit_logistic_mistakes():
    def ascent(X, y, lr, n_iter):
        w, b = np.zeros(X.shape[1]), 0.0
        for _ in range(n_iter):
            dw, db = nll_grad(w, b, X, y)
            w, b = w + lr * dw, b + lr * db
        return w, b

    def off_by_one(X, y, lr, n_iter):
        return fit_logistic(X, y, lr, n_iter + 1)

    fails(checks.check_fit_logistic, ascent, "w is wrong", "a single step")
    fails(checks.check_fit_logistic, off_by_one, "n_iter = 0")


def test_fit_logistic_is_graded_with_a_correct_nll_grad_lent():
    # the student's own nll_grad is wrong; their fit_logistic, which calls it, is still graded as correct
    namespace = {"np": np}
    exec("def nll_grad(w, b, X, y):\n    return 0 * w, 0.0\n"
         "def fit_logistic(X, y, lr, n_iter):\n"
         "    w, b = np.zeros(X.shape[1]), 0.0\n"
         "    for _ in range(n_iter):\n"
         "        dw, db = nll_grad(w, b, X, y)\n"
         "        w, b = w - lr * dw, b - lr * db\n"
         "    return w, b\n", namespace)
    checks.check_fit_logistic(namespace["fit_logistic"])
    with pytest.raises(CheckFailed, match="nll_grad is not correct"):
        checks.check_nll_grad(namespace["nll_grad"])


def test_calling_the_solution_gets_no_points():
    from dlcourse import linear

    fails(checks.check_fit_logistic, lambda X, y, lr, n: linear.fit_logistic(X, y, lr, n),
          "calls dlcourse.linear.fit_logistic")
    fails(checks.check_bayes_to_logistic, linear.bayes_to_logistic.__call__, "calls dlcourse.linear.bayes_to_logistic")


def test_hidden_seeds_draw_other_inputs():
    seen = []

    def spy(z):
        seen.append(np.asarray(z).copy())
        return sigmoid(z)

    checks.check_sigmoid(spy, seed=0, n_random=4)
    visible = seen[:]
    seen.clear()
    checks.check_sigmoid(spy, seed=3141, n_random=4)
    assert not np.array_equal(visible[-1], seen[-1])


# --- correct answers that must score, routes into the lib that must not (issue 8, each failed before) -------


def test_a_stable_sigmoid_with_a_debug_warning_passes_and_the_warning_is_a_note(capsys):
    import warnings

    def chatty_sigmoid(z):
        warnings.warn("computing the sigmoid")  # a debug message, not instability
        return sigmoid(z)

    checks.check_sigmoid(chatty_sigmoid)
    out = capsys.readouterr().out
    assert out.startswith("✓ sigmoid") and "note: sigmoid emitted 'UserWarning: computing the sigmoid'" in out


def test_a_numerical_warning_still_fails_the_sigmoid():
    def overflowing(z):
        z = np.asarray(z, float)
        with np.errstate(over="warn"):
            big = np.exp(-z)  # overflows at z = -1000
        return sigmoid(z) + 0.0 * np.minimum(big, 0.0)

    fails(checks.check_sigmoid, overflowing, "emitted a warning (RuntimeWarning: overflow encountered in exp)")


def test_a_torch_sigmoid_with_requires_grad_is_accepted(capsys):
    import torch

    def torch_sigmoid(z):
        t = torch.as_tensor(np.asarray(z, dtype=float), dtype=torch.float64).requires_grad_(True)
        out = torch.sigmoid(t)
        return out if out.ndim else out.reshape(())  # a tensor, still attached to its graph

    checks.check_sigmoid(torch_sigmoid)
    assert capsys.readouterr().out.startswith("✓ sigmoid")


@pytest.mark.parametrize("route", ["layers.sigmoid_forward", "layers.Sigmoid().forward", "_numerics.sigmoid",
                                   "autodiff.Value.sigmoid"])
def test_a_sigmoid_that_calls_the_course_code_under_another_name_gets_no_points(route):
    from dlcourse import _numerics, autodiff, layers

    call = {"layers.sigmoid_forward": layers.sigmoid_forward, "layers.Sigmoid().forward": layers.Sigmoid().forward,
            "_numerics.sigmoid": _numerics.sigmoid,
            "autodiff.Value.sigmoid": np.vectorize(lambda v: autodiff.Value(float(v)).sigmoid().data)}[route]

    def sneaky(z):
        out = call(np.asarray(z, float))
        return float(out) if np.ndim(out) == 0 else out

    fails(checks.check_sigmoid, sneaky, "reference solution", "dlcourse.")
