import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.linear_model import Perceptron, SGDClassifier, SGDRegressor
from sklearn.metrics import hinge_loss as sk_hinge_loss

from dlcourse import data, perceptron as P
from dlcourse.gradcheck import numerical_gradient, relative_error

XOR = P.with_bias(np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]]))
XOR_Y = np.array([-1, -1, 1, 1])


@pytest.mark.parametrize("seed", range(6))
def test_perceptron_matches_sklearn(seed):
    X, y, _ = data.separable(60, d=1 + seed % 4, margin=0.05, rng=seed)
    w, n_updates = P.perceptron_fit(X, y, max_epochs=500)
    sk = Perceptron(fit_intercept=False, shuffle=False, eta0=1.0, alpha=0.0, max_iter=500, tol=None)
    sk.fit(X, y)
    np.testing.assert_allclose(w, sk.coef_.ravel(), rtol=1e-12, atol=1e-12)
    assert P.margin(X, y, w) > 0 and n_updates >= 1


def test_perceptron_counts_updates_and_stops():
    X = np.array([[1.0, 1.0], [2.0, 1.0], [-1.0, 1.0]])
    y = np.array([1, 1, -1])
    w, n = P.perceptron_fit(X, y, max_epochs=10)
    trace = P.perceptron_trace(X, y, max_epochs=10)
    assert trace.converged and n == trace.n_updates == trace.mistakes.sum()
    np.testing.assert_array_equal(w, trace.w)
    # the first sample is always a mistake (w = 0 gives y w.x = 0, a tie counts)
    assert trace.updated[0] == 0
    assert P.perceptron_fit(X, y, max_epochs=0) == (pytest.approx(np.zeros(2)), 0)
    w1, n1 = P.perceptron_fit(XOR, XOR_Y, max_epochs=3)   # never separable: stops at max_epochs
    assert n1 == 3 * 4


def test_cycling_is_detected_on_xor_instead_of_looping():
    trace = P.perceptron_trace(XOR, XOR_Y, max_epochs=10_000)
    assert not trace.converged and trace.cycle is not None
    first, period = trace.cycle
    assert len(trace.mistakes) == first + period  # stopped as soon as the state repeated
    # a different order of the same points also cycles, with a longer period
    order = [0, 2, 1, 3]
    trace2 = P.perceptron_trace(XOR[order], XOR_Y[order], max_epochs=10_000)
    assert trace2.cycle is not None and not trace2.converged
    separable = P.perceptron_trace(*data.separable(40, 2, 0.1, rng=0)[:2], max_epochs=10_000)
    assert separable.converged and separable.cycle is None


def primal_max_margin(X, y):
    """Hard-margin SVM through the origin by SLSQP: min ||w||^2 s.t. y_i w.x_i >= 1."""
    w0 = P.perceptron_fit(X, y, 10_000)[0]
    w0 = w0 / np.min(y * (X @ w0))
    res = minimize(lambda w: w @ w, w0, jac=lambda w: 2 * w, method="SLSQP",
                   constraints=[{"type": "ineq", "fun": lambda w: y * (X @ w) - 1, "jac": lambda w: y[:, None] * X}],
                   options={"ftol": 1e-12, "maxiter": 5000})
    assert res.success
    return res.x / np.linalg.norm(res.x), 1 / np.linalg.norm(res.x)


@pytest.mark.parametrize("seed", range(5))
def test_max_margin_separator_matches_a_qp_solver(seed):
    X, y, w_true = data.separable(50, d=2 + seed % 3, margin=0.05, rng=seed)
    w, gamma = P.max_margin_separator(X, y)
    w_qp, gamma_qp = primal_max_margin(X, y)
    assert np.linalg.norm(w) == pytest.approx(1.0)
    assert gamma == pytest.approx(gamma_qp, rel=1e-5)
    np.testing.assert_allclose(w, w_qp, atol=1e-4)
    assert gamma >= P.margin(X, y, w_true) - 1e-12  # at least as wide as the generating separator


def test_max_margin_rejects_non_separable_data():
    with pytest.raises(ValueError, match="not linearly separable"):
        P.max_margin_separator(XOR, XOR_Y)


@pytest.mark.parametrize("seed", range(20))
def test_convergence_theorem_holds_and_both_proof_inequalities(seed):
    rng = np.random.default_rng(seed)
    X, y, _ = data.separable(int(rng.integers(5, 80)), d=int(rng.integers(1, 6)),
                             margin=float(rng.choice([0.01, 0.05, 0.2])), rng=rng)
    bound = P.perceptron_bound(X, y)
    trace = P.perceptron_trace(X, y, max_epochs=100_000)
    assert trace.converged and trace.n_updates <= bound["bound"]
    w_star, gamma = P.max_margin_separator(X, y)
    aligned, norm2 = P.proof_quantities(trace, w_star)
    k = np.arange(trace.n_updates + 1)
    assert np.all(aligned >= k * gamma - 1e-9)
    assert np.all(norm2 <= k * bound["R"] ** 2 + 1e-9)


def test_margin_and_its_validation():
    X = np.array([[1.0, 0.0], [0.0, 2.0]])
    assert P.margin(X, [1, -1], [3.0, -4.0]) == pytest.approx(min(3 / 5, 8 / 5))
    assert P.margin(X, [1, 1], [3.0, -4.0]) == pytest.approx(-8 / 5)
    with pytest.raises(ValueError, match="w must not be zero"):
        P.margin(X, [1, -1], [0.0, 0.0])
    with pytest.raises(ValueError, match="-1 and \\+1"):
        P.margin(X, [1, 0], [1.0, 0.0])
    with pytest.raises(ValueError, match="shape \\(2,\\)"):
        P.margin(X, [1, -1], [1.0, 0.0, 0.0])


@pytest.mark.parametrize("seed", range(4))
def test_hinge_loss_matches_sklearn_and_its_gradient_finite_differences(seed):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(30, 4)), rng.choice([-1, 1], size=30)
    w = rng.normal(size=4)
    assert P.hinge_loss(w, X, y) == pytest.approx(sk_hinge_loss(y, X @ w), rel=1e-12)
    num = numerical_gradient(lambda v: P.hinge_loss(v, X, y), w)
    assert relative_error(P.hinge_grad(w, X, y), num) < 1e-6


def test_hinge_grad_is_zero_at_the_kink():
    X, y = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([1, -1])
    w = np.array([1.0, -1.0])  # both examples exactly at margin 1
    assert P.hinge_loss(w, X, y) == 0.0
    np.testing.assert_array_equal(P.hinge_grad(w, X, y), [0.0, 0.0])
    np.testing.assert_allclose(P.hinge_grad(np.zeros(2), X, y), [-0.5, 0.5])


def test_losses_as_functions_of_the_margin():
    m = np.array([-2.0, 0.0, 0.5, 1.0, 3.0])
    np.testing.assert_array_equal(P.LOSSES["zero-one"](m), [1, 1, 0, 0, 0])
    np.testing.assert_allclose(P.LOSSES["hinge"](m), [3, 1, 0.5, 0, 0])
    np.testing.assert_allclose(P.LOSSES["squared"](m), [9, 1, 0.25, 0, 4])
    np.testing.assert_allclose(P.LOSSES["logistic"](0.0), 1.0)
    grid = np.linspace(-3, 3, 101)
    for name in ("hinge", "logistic", "squared"):
        assert np.all(P.LOSSES[name](grid) >= P.LOSSES["zero-one"](grid))  # upper bounds of the 0-1 loss


def test_delta_rule_adaline_is_sklearn_lms_and_logistic_is_sgd_on_log_loss():
    X, y, _ = data.separable(40, 2, 0.05, rng=3)
    w_ada = P.delta_rule_fit(X, y, "adaline", lr=0.01, epochs=5)
    sk = SGDRegressor(loss="squared_error", penalty=None, learning_rate="constant", eta0=0.01, shuffle=False,
                      fit_intercept=False, max_iter=5, tol=None).fit(X, y)
    np.testing.assert_allclose(w_ada, sk.coef_, rtol=1e-10)
    # y~ = tanh(w.x): the same steps as SGD on log(1 + exp(-y w.(2x)))
    w_log = P.delta_rule_fit(X, y, "logistic", lr=0.1, epochs=5)
    sk = SGDClassifier(loss="log_loss", penalty=None, learning_rate="constant", eta0=0.1, shuffle=False,
                       fit_intercept=False, max_iter=5, tol=None).fit(2 * X, y)
    np.testing.assert_allclose(w_log, sk.coef_.ravel(), rtol=1e-10)
    # the perceptron version makes the perceptron's updates, doubled (y - sign = 2y on a mistake)
    w_p = P.delta_rule_fit(X, y, "perceptron", lr=0.5, epochs=50)
    assert P.margin(X, y, w_p) > 0
    with pytest.raises(ValueError, match="rule must be one of"):
        P.delta_rule_fit(X, y, "hebb")


def test_separable_data_has_the_promised_margin():
    X, y, w = data.separable(200, d=3, margin=0.1, rng=0)
    assert X.shape == (200, 4) and np.all(X[:, -1] == 1) and set(np.unique(y)) == {-1, 1}
    assert np.linalg.norm(w) == pytest.approx(1.0) and P.margin(X, y, w) >= 0.1
    np.testing.assert_array_equal(X, data.separable(200, d=3, margin=0.1, rng=0)[0])
    with pytest.raises(ValueError, match="smaller margin"):
        data.separable(10, d=1, margin=5.0)


def test_separable_data_always_has_both_labels():
    for seed in range(100):
        _, y, _ = data.separable(20, d=1, margin=0.05, rng=seed)
        assert set(np.unique(y)) == {-1, 1}, seed


def test_trace_update_is_one_application_of_the_rule():
    X, y, _ = data.separable(30, 2, 0.1, rng=1)
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    trace = P.perceptron_trace(X, y)
    start = trace.update(0)
    assert start.index is None and start.w_prev is None and not start.w.any()
    for k in range(1, trace.n_updates + 1):
        step = trace.update(k)
        i = step.index
        assert y[i] * (step.w_prev @ X[i]) <= 0  # it was a mistake ...
        np.testing.assert_allclose(step.w - step.w_prev, y[i] * X[i])  # ... and the update is w += y x
    with pytest.raises(ValueError, match="between 0 and the number of updates"):
        trace.update(trace.n_updates + 1)


def test_margin_experiment_obeys_the_theorem_and_a_smaller_margin_costs_more_updates():
    wide, narrow = (P.margin_experiment(m, n=60, seed=23) for m in (0.2, 0.01))
    for run, requested in ((wide, 0.2), (narrow, 0.01)):
        assert run.trace.converged and run.n_updates <= run.bound
        assert run.gamma >= requested - 1e-9  # the generating hyperplane already has that margin
        assert np.linalg.norm(run.w_star) == pytest.approx(1.0)
        assert P.margin(run.X, run.y, run.w_star) == pytest.approx(run.gamma)
        assert run.bound == pytest.approx(run.R**2 / run.gamma**2)
    assert narrow.gamma < wide.gamma and narrow.bound > wide.bound and narrow.n_updates > 10 * wide.n_updates
    with pytest.raises(ValueError, match="margin must be > 0"):
        P.margin_experiment(0.0)
