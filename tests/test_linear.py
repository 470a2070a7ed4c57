import warnings

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from dlcourse import data, linear
from dlcourse.gradcheck import numerical_gradient, relative_error


def random_spd(rng, d):
    A = rng.normal(size=(d, d))
    return A @ A.T + 0.3 * np.eye(d)


def test_sigmoid_values_shapes_and_types():
    assert linear.sigmoid(0) == 0.5 and isinstance(linear.sigmoid(0.0), float)
    z = np.linspace(-30, 30, 60).reshape(3, 4, 5)
    s = linear.sigmoid(z)
    assert s.shape == z.shape
    np.testing.assert_allclose(s, 1 / (1 + np.exp(-z)), rtol=1e-15)
    np.testing.assert_allclose(linear.sigmoid(-z), 1 - s, atol=1e-15)
    assert linear.sigmoid(np.zeros(0)).shape == (0,)


def test_sigmoid_and_log_sigmoid_are_stable_at_the_extremes():
    z = np.array([-1000.0, -40.0, 40.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = linear.sigmoid(z)
        ls = linear.log_sigmoid(z)
    assert not np.isnan(s).any() and s[0] == 0.0 and s[-1] == 1.0
    np.testing.assert_allclose(ls, [-1000.0, -40.0, -np.exp(-40.0), 0.0], rtol=1e-12, atol=0)


def test_sigmoid_rejects_non_numbers():
    with pytest.raises(ValueError, match="z must be numeric"):
        linear.sigmoid(np.array(["a"]))
    with pytest.raises(ValueError, match="real"):
        linear.sigmoid(1j)


def test_gaussian_log_density_matches_scipy():
    rng = np.random.default_rng(0)
    for d in (1, 2, 5):
        mu, S = rng.normal(size=d), random_spd(rng, d)
        X = rng.normal(size=(20, d))
        np.testing.assert_allclose(linear.gaussian_log_density(X, mu, S),
                                   multivariate_normal(mu, S).logpdf(X).reshape(-1), rtol=1e-10)


@pytest.mark.parametrize("d", [1, 2, 4])
def test_bayes_posterior_equals_sigmoid_of_the_closed_form(d):
    rng = np.random.default_rng(d)
    mu0, mu1, S, prior = rng.normal(size=d), rng.normal(size=d), random_spd(rng, d), 0.3
    X = rng.normal(scale=2.0, size=(200, d))
    p0, p1 = multivariate_normal(mu0, S).pdf(X), multivariate_normal(mu1, S).pdf(X)
    bayes = prior * p1 / (prior * p1 + (1 - prior) * p0)  # Bayes' rule with scipy's densities
    np.testing.assert_allclose(linear.gaussian_posterior(X, mu0, mu1, S, prior1=prior), bayes, rtol=1e-9, atol=1e-14)
    w, b = linear.bayes_to_logistic(mu0, mu1, S, prior)
    assert w.shape == (d,) and isinstance(b, float)
    np.testing.assert_allclose(linear.sigmoid(X @ w + b), bayes, rtol=1e-9, atol=1e-14)


def test_quadratic_log_odds_for_different_covariances():
    rng = np.random.default_rng(3)
    mu0, mu1, S0, S1, prior = rng.normal(size=2), rng.normal(size=2), random_spd(rng, 2), random_spd(rng, 2), 0.6
    X = rng.normal(scale=2.0, size=(300, 2))
    A, w, b = linear.bayes_to_quadratic(mu0, mu1, S0, S1, prior)
    p0, p1 = multivariate_normal(mu0, S0).pdf(X), multivariate_normal(mu1, S1).pdf(X)
    bayes = prior * p1 / (prior * p1 + (1 - prior) * p0)
    logits = np.einsum("ni,ij,nj->n", X, A, X) + X @ w + b
    np.testing.assert_allclose(linear.sigmoid(logits), bayes, rtol=1e-9, atol=1e-14)
    # with equal covariances the quadratic part vanishes and (w, b) is the logistic solution
    A_eq, w_eq, b_eq = linear.bayes_to_quadratic(mu0, mu1, S0, S0, prior)
    w_lin, b_lin = linear.bayes_to_logistic(mu0, mu1, S0, prior)
    np.testing.assert_allclose(A_eq, 0.0, atol=1e-12)
    np.testing.assert_allclose(w_eq, w_lin, rtol=1e-10)
    assert b_eq == pytest.approx(b_lin, rel=1e-10)


@pytest.mark.parametrize("args, message", [
    (([0.0, 0.0], [1.0], np.eye(2), 0.5), r"mu1 must have shape \(2,\)"),
    (([0.0, 0.0], [1.0, 1.0], np.eye(3), 0.5), r"Sigma must have shape \(2, 2\)"),
    (([0.0, 0.0], [1.0, 1.0], -np.eye(2), 0.5), "positive definite"),
    (([0.0, 0.0], [1.0, 1.0], np.eye(2), 0.0), "prior1 must lie strictly between 0 and 1"),
    (([0.0, 0.0], [1.0, 1.0], np.eye(2), 1.5), "prior1 must lie strictly between 0 and 1"),
    (([[0.0, 0.0]], [1.0, 1.0], np.eye(2), 0.5), "mu0 must be a 1-D array"),
    ((["x", "y"], [1.0, 1.0], np.eye(2), 0.5), "mu0 must be numeric"),
])
def test_bayes_to_logistic_rejects_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        linear.bayes_to_logistic(*args)


def logistic_problem(seed, n=300, d=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w_true = rng.normal(size=d)
    y = (rng.random(n) < linear.sigmoid(X @ w_true + 0.5)).astype(float)
    return X, y, rng


def test_nll_matches_sklearn_log_loss_and_is_stable():
    X, y, rng = logistic_problem(0)
    w, b = rng.normal(size=3), 0.2
    assert linear.nll(w, b, X, y) == pytest.approx(log_loss(y, linear.predict_proba(w, b, X)), rel=1e-10)
    # logits of ±1000: the naive formula gives inf, the stable one the exact value |a| for each wrong label
    X_far = np.array([[1000.0], [-1000.0]])
    assert linear.nll(np.array([1.0]), 0.0, X_far, np.array([0.0, 1.0])) == pytest.approx(1000.0)


def test_nll_grad_against_finite_differences_and_torch():
    X, y, rng = logistic_problem(1)
    w, b = rng.normal(size=3), -0.3
    dw, db = linear.nll_grad(w, b, X, y)
    assert dw.shape == (3,) and isinstance(db, float)
    assert relative_error(dw, numerical_gradient(lambda v: linear.nll(v, b, X, y), w)) < 1e-7
    assert relative_error(db, numerical_gradient(lambda v: linear.nll(w, float(v), X, y), np.array(b))) < 1e-7
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(X) @ wt + bt, torch.tensor(y))
    loss.backward()
    np.testing.assert_allclose(dw, wt.grad.numpy(), rtol=1e-7)
    assert db == pytest.approx(bt.grad.item(), rel=1e-7)


def test_fit_logistic_reaches_sklearns_unpenalised_solution():
    X, y = data.gaussian_classes(500, [0.0, 0.0], [1.5, 1.0], [[1.0, 0.3], [0.3, 0.8]], rng=0)
    w, b = linear.fit_logistic(X, y, lr=1.0, n_iter=5000)
    sk = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10000).fit(X, y)
    np.testing.assert_allclose(w, sk.coef_.ravel(), atol=1e-5)
    assert b == pytest.approx(sk.intercept_[0], abs=1e-5)


def test_fit_logistic_takes_exactly_n_iter_steps_from_zero():
    X, y, _ = logistic_problem(2, n=40, d=2)
    w0, b0 = linear.fit_logistic(X, y, lr=0.5, n_iter=0)
    np.testing.assert_array_equal(w0, np.zeros(2))
    assert b0 == 0.0
    dw, db = linear.nll_grad(np.zeros(2), 0.0, X, y)
    w1, b1 = linear.fit_logistic(X, y, lr=0.5, n_iter=1)
    np.testing.assert_allclose(w1, -0.5 * dw)
    assert b1 == pytest.approx(-0.5 * db)
    steps = []
    linear.fit_logistic(X, y, lr=0.5, n_iter=7, callback=lambda step, w, b: steps.append(step))
    assert steps == list(range(1, 8))


@pytest.mark.parametrize("call, message", [
    (lambda X, y: linear.nll(np.zeros(3), 0.0, X, y), r"w must have shape \(2,\)"),
    (lambda X, y: linear.nll(np.zeros(2), np.zeros(2), X, y), "b must be a scalar"),
    (lambda X, y: linear.nll(np.zeros(2), 0.0, X, y[:-1]), "to match the 5 rows of X"),
    (lambda X, y: linear.nll(np.zeros(2), 0.0, X, 2 * y - 1), "only the labels 0 and 1"),
    (lambda X, y: linear.nll_grad(np.zeros(2), 0.0, X[0], y), "X must be a 2-D array"),
    (lambda X, y: linear.fit_logistic(X, y, lr=-1.0, n_iter=3), "lr must be > 0"),
    (lambda X, y: linear.fit_logistic(X, y, lr=0.1, n_iter=2.5), "n_iter must be an integer"),
    (lambda X, y: linear.quadratic_features(np.zeros((3, 3))), "X must have 2 columns"),
])
def test_bad_input_is_a_clear_value_error(call, message):
    X, y = np.ones((5, 2)), np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=message):
        call(X, y)


def test_quadratic_features():
    F = linear.quadratic_features(np.array([[2.0, 3.0]]))
    np.testing.assert_array_equal(F, [[2.0, 3.0, 4.0, 9.0, 6.0]])


def test_minibatch_sgd_with_one_batch_is_gradient_descent():
    X, y = data.gaussian_classes(40, [0.0, 0.0], [1.5, 1.0], np.eye(2), rng=5)
    w_gd, b_gd = linear.fit_logistic(X, y, lr=0.5, n_iter=7)
    w_sgd, b_sgd = linear.fit_logistic_sgd(X, y, lr=0.5, batch_size=40, epochs=7, seed=3)
    np.testing.assert_allclose(w_sgd, w_gd, rtol=1e-12)
    assert b_sgd == pytest.approx(b_gd, rel=1e-12)
    seen = []
    linear.fit_logistic_sgd(X, y, lr=0.1, batch_size=16, epochs=2, callback=lambda s, n, w, b: seen.append((s, n)))
    assert seen[-1] == (6, 80) and seen[2] == (3, 40)  # batches of 16, 16, 8 per epoch


def test_minibatch_sgd_matches_torch_sgd():
    X, y = data.gaussian_classes(30, [0.0, 0.0], [1.0, 1.0], np.eye(2), rng=6)
    w, b = linear.fit_logistic_sgd(X, y, lr=0.2, batch_size=7, epochs=3, seed=1)
    wt = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([wt], lr=0.2)
    rng = np.random.default_rng(1)
    for _ in range(3):
        order = rng.permutation(30)
        for s in range(0, 30, 7):
            i = order[s:s + 7]
            opt.zero_grad()
            logits = torch.tensor(X[i]) @ wt[:2] + wt[2]
            torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor(y[i], dtype=torch.float64)).backward()
            opt.step()
    np.testing.assert_allclose(np.r_[w, b], wt.detach().numpy(), rtol=1e-10)


def test_quadratic_feature_map_is_the_polynomial_kernel():
    rng = np.random.default_rng(7)
    X, Z = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    np.testing.assert_allclose(linear.quadratic_feature_map(X) @ linear.quadratic_feature_map(Z).T, (X @ Z.T) ** 2)


def test_covariance_2d():
    S = linear.covariance_2d(2.0, 0.5, -0.3)
    np.testing.assert_allclose(S, [[4.0, -0.3], [-0.3, 0.25]])
    assert np.all(np.linalg.eigvalsh(S) > 0)
    with pytest.raises(ValueError, match="rho"):
        linear.covariance_2d(1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="s1 must be > 0"):
        linear.covariance_2d(0.0, 1.0, 0.0)


def test_gaussian_pair_is_the_bayes_posterior():
    pair = linear.gaussian_pair(-1.0, 0.0, 1.0, 0.5, 1.2, 0.7, 0.4, 0.3)
    rng = np.random.default_rng(0)
    X = rng.normal(scale=2.0, size=(100, 2))
    np.testing.assert_allclose(linear.sigmoid(X @ pair.w + pair.b),
                               linear.gaussian_posterior(X, pair.mu0, pair.mu1, pair.Sigma, prior1=0.3), atol=1e-12)
    x0 = pair.boundary_point()
    assert linear.gaussian_posterior(x0[None, :], pair.mu0, pair.mu1, pair.Sigma, prior1=0.3)[0] == pytest.approx(0.5)


def test_the_prior_moves_the_boundary_along_w_only():
    low, high = (linear.gaussian_pair(0, 0, 1, 1, 1, 1, 0.2, p) for p in (0.2, 0.8))
    np.testing.assert_allclose(low.w, high.w)
    shift = high.boundary_point() - low.boundary_point()
    assert abs(shift @ np.array([-low.w[1], low.w[0]])) < 1e-12  # no component along the boundary
    assert shift @ low.w < 0  # a likelier class 1 pushes the boundary towards class 0


def test_logistic_hessian_is_the_derivative_of_the_gradient_and_bounded_by_its_value_at_zero():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 2)) + 1.0, rng.integers(0, 2, 50)
    theta = np.array([0.7, -1.2, 0.4])  # (w1, w2, b)
    H = linear.logistic_hessian(theta[:2], theta[2], X)

    def grad(t):
        dw, db = linear.nll_grad(t[:2], t[2], X, y)
        return np.r_[dw, db]

    H_num = np.array([numerical_gradient(lambda t, k=k: grad(t)[k], theta) for k in range(3)])
    np.testing.assert_allclose(H, H_num, atol=1e-8)
    assert np.all(np.linalg.eigvalsh(H) > 0)
    H0 = linear.logistic_hessian(np.zeros(2), 0.0, X)
    np.testing.assert_allclose(H0, np.c_[X, np.ones(50)].T @ np.c_[X, np.ones(50)] / 200)
    assert np.linalg.eigvalsh(H0 - H).min() > -1e-12  # H(0, 0) - H(theta) is positive semi-definite
    with pytest.raises(ValueError, match=r"w must have shape \(2,\)"):
        linear.logistic_hessian(np.zeros(3), 0.0, X)
