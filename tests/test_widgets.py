import ipywidgets
import matplotlib
import numpy as np
import pytest

from dlcourse import linear, widgets


def test_covariance_2d():
    S = widgets.covariance_2d(2.0, 0.5, -0.3)
    np.testing.assert_allclose(S, [[4.0, -0.3], [-0.3, 0.25]])
    assert np.all(np.linalg.eigvalsh(S) > 0)
    with pytest.raises(ValueError, match="rho"):
        widgets.covariance_2d(1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="s1 must be > 0"):
        widgets.covariance_2d(0.0, 1.0, 0.0)


def test_gaussian_pair_is_the_bayes_posterior():
    pair = widgets.gaussian_pair(-1.0, 0.0, 1.0, 0.5, 1.2, 0.7, 0.4, 0.3)
    rng = np.random.default_rng(0)
    X = rng.normal(scale=2.0, size=(100, 2))
    np.testing.assert_allclose(linear.sigmoid(X @ pair.w + pair.b),
                               linear.gaussian_posterior(X, pair.mu0, pair.mu1, pair.Sigma, prior1=0.3), atol=1e-12)
    x0 = pair.boundary_point()
    assert linear.gaussian_posterior(x0[None, :], pair.mu0, pair.mu1, pair.Sigma, prior1=0.3)[0] == pytest.approx(0.5)


def test_the_prior_moves_the_boundary_along_w_only():
    low, high = (widgets.gaussian_pair(0, 0, 1, 1, 1, 1, 0.2, p) for p in (0.2, 0.8))
    np.testing.assert_allclose(low.w, high.w)
    shift = high.boundary_point() - low.boundary_point()
    assert abs(shift @ np.array([-low.w[1], low.w[0]])) < 1e-12  # no component along the boundary
    assert shift @ low.w < 0  # a likelier class 1 pushes the boundary towards class 0


def test_posterior_explorer_redraws_when_a_slider_moves(monkeypatch):
    matplotlib.use("Agg")
    drawn = []
    monkeypatch.setattr(widgets.plots, "gaussian_posterior_panel",
                        lambda ax, mu0, mu1, Sigma, prior1, lim: drawn.append((mu0.copy(), prior1)) or
                        ax.plot([0], [0], label="stand-in") and ax.contourf([[0, 1], [1, 0]]))
    box = widgets.posterior_explorer()
    sliders = {s.description: s for s in box.children[0].children}
    assert len(sliders) == 8 and all(isinstance(s, ipywidgets.FloatSlider) for s in sliders.values())
    sliders["P(y=1)"].value = 0.8
    sliders["μ₀ x₁"].value = -2.0
    assert drawn[-2][1] == pytest.approx(0.8)
    assert drawn[-1][0][0] == pytest.approx(-2.0)


# --- lecture 03: learning rates on a two-parameter logistic problem ----------------------------------------

from dlcourse import data  # noqa: E402
from dlcourse.gradcheck import numerical_gradient  # noqa: E402


@pytest.fixture(scope="module")
def one_feature():
    X, y = data.gaussian_classes(200, [1.0], [2.5], [[1.0]], rng=1)
    return X[:, 0], y


def test_logistic_hessian_is_the_derivative_of_the_gradient_and_bounded_by_its_value_at_zero():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 2)) + 1.0, rng.integers(0, 2, 50)
    theta = np.array([0.7, -1.2, 0.4])  # (w1, w2, b)
    H = widgets.logistic_hessian(theta[:2], theta[2], X)

    def grad(t):
        dw, db = linear.nll_grad(t[:2], t[2], X, y)
        return np.r_[dw, db]

    H_num = np.array([numerical_gradient(lambda t, k=k: grad(t)[k], theta) for k in range(3)])
    np.testing.assert_allclose(H, H_num, atol=1e-8)
    assert np.all(np.linalg.eigvalsh(H) > 0)
    H0 = widgets.logistic_hessian(np.zeros(2), 0.0, X)
    np.testing.assert_allclose(H0, np.c_[X, np.ones(50)].T @ np.c_[X, np.ones(50)] / 200)
    assert np.linalg.eigvalsh(H0 - H).min() > -1e-12  # H(0, 0) - H(theta) is positive semi-definite
    with pytest.raises(ValueError, match=r"w must have shape \(2,\)"):
        widgets.logistic_hessian(np.zeros(3), 0.0, X)


def test_nll_surface_is_nll_on_the_grid(one_feature):
    x, y = one_feature
    ws, bs = np.linspace(-1, 3, 5), np.linspace(-4, 1, 4)
    Z = widgets.nll_surface(x, y, ws, bs)
    assert Z.shape == (4, 5)
    for i, j in [(0, 0), (2, 3), (3, 4)]:
        assert Z[i, j] == pytest.approx(linear.nll([ws[j]], bs[i], x[:, None], y), rel=1e-12)
    with pytest.raises(ValueError, match="y must have shape"):
        widgets.nll_surface(x, y[:-1], ws, bs)
    with pytest.raises(ValueError, match="x must be a 1-D array"):
        widgets.nll_surface(x[:, None], y, ws, bs)


def test_gd_logistic_1d_records_the_path_of_fit_logistic(one_feature):
    x, y = one_feature
    run = widgets.gd_logistic_1d(x, y, lr=0.7, n_steps=25)
    assert run.path.shape == (26, 2) and run.losses.shape == (26,)
    np.testing.assert_array_equal(run.path[0], [0.0, 0.0])
    assert run.losses[0] == pytest.approx(np.log(2.0))
    w, b = linear.fit_logistic(x[:, None], y, lr=0.7, n_iter=25)
    np.testing.assert_allclose(run.path[-1], [w[0], b], rtol=1e-12)
    assert run.losses[-1] == pytest.approx(linear.nll(w, b, x[:, None], y), rel=1e-12)
    with pytest.raises(ValueError, match="lr must be > 0"):
        widgets.gd_logistic_1d(x, y, lr=0.0, n_steps=5)


def test_the_curvature_thresholds_separate_the_three_regimes(one_feature):
    x, y = one_feature
    land = widgets.logistic_landscape(x, y, np.linspace(-1, 7, 9), np.linspace(-8, 2, 11))
    assert land.losses.shape == (11, 9)
    assert 0 < land.curvature_min < land.curvature_start  # flatter at the minimum than anywhere near (0, 0)
    dw, db = linear.nll_grad([land.w_star], land.b_star, x[:, None], y)
    assert np.hypot(dw[0], db) < 1e-8  # it is the minimum
    safe = widgets.gd_logistic_1d(x, y, 0.95 * land.lr_monotone, 100)
    assert np.all(np.diff(safe.losses) <= 1e-12)  # below 2/L: the loss falls at every step
    stable = widgets.gd_logistic_1d(x, y, 0.8 * land.lr_stable, 300)
    assert stable.losses[-1] - land.loss_min < 1e-8  # below 2/lambda*: it converges
    unstable = widgets.gd_logistic_1d(x, y, 1.3 * land.lr_stable, 300)
    assert np.all(unstable.losses[-50:] - land.loss_min > 1e-3)  # above: it never settles
    tiny = widgets.gd_logistic_1d(x, y, 0.02 * land.lr_monotone, 300)
    assert tiny.losses[-1] - land.loss_min > 1e-2  # far too small: still far from the minimum


def test_learning_rate_explorer_redraws_when_the_slider_moves(monkeypatch, one_feature):
    matplotlib.use("Agg")
    drawn = []
    monkeypatch.setattr(widgets, "show_descent",
                        lambda ax_path, ax_loss, land, run: drawn.append((run.lr, len(run.path), land.lr_stable)))
    box = widgets.learning_rate_explorer(*one_feature, n_steps=10, ws=np.linspace(-1, 7, 5), bs=np.linspace(-8, 2, 5))
    slider = box.children[0]
    assert isinstance(slider, ipywidgets.FloatLogSlider) and slider.description == "lr"
    slider.value = 3.0
    assert drawn[-1][0] == pytest.approx(3.0) and drawn[-1][1] == 11
    assert drawn[-1][2] > 2.0
    with pytest.raises(ValueError, match="low < high"):
        widgets.learning_rate_explorer(*one_feature, lr_range=(2.0, 1.0))


# --- lecture 02: the perceptron's step slider and margin slider ------------------------------------------

from dlcourse import data as _data, perceptron as _perceptron  # noqa: E402


def test_perceptron_step_is_one_application_of_the_rule():
    X, y, _ = _data.separable(30, 2, 0.1, rng=1)
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    trace = _perceptron.perceptron_trace(X, y)
    start = widgets.perceptron_step(trace, 0)
    assert start.index is None and start.w_prev is None and not start.w.any()
    for k in range(1, trace.n_updates + 1):
        step = widgets.perceptron_step(trace, k)
        i = step.index
        assert y[i] * (step.w_prev @ X[i]) <= 0  # it was a mistake ...
        np.testing.assert_allclose(step.w - step.w_prev, y[i] * X[i])  # ... and the update is w += y x
    with pytest.raises(ValueError, match="between 0 and the number of updates"):
        widgets.perceptron_step(trace, trace.n_updates + 1)


def test_margin_run_obeys_the_theorem_and_a_smaller_margin_costs_more_updates():
    wide, narrow = (widgets.perceptron_margin_run(m, n=60, seed=23) for m in (0.2, 0.01))
    for run, requested in ((wide, 0.2), (narrow, 0.01)):
        assert run.trace.converged and run.n_updates <= run.bound
        assert run.gamma >= requested - 1e-9  # the generating hyperplane already has that margin
        assert np.linalg.norm(run.w_star) == pytest.approx(1.0)
        assert _perceptron.margin(run.X, run.y, run.w_star) == pytest.approx(run.gamma)
        assert run.bound == pytest.approx(run.R**2 / run.gamma**2)
    assert narrow.gamma < wide.gamma and narrow.bound > wide.bound and narrow.n_updates > 10 * wide.n_updates
    with pytest.raises(ValueError, match="margin must be > 0"):
        widgets.perceptron_margin_run(0.0)


def test_perceptron_widgets_redraw_when_their_slider_moves(monkeypatch):
    matplotlib.use("Agg")
    drawn = []
    monkeypatch.setattr(widgets.plots, "perceptron_state",
                        lambda ax, X, y, w, w_prev=None, highlight=None, lim=1.15, title=None:
                        drawn.append((w.copy(), highlight)) or ax.plot([0], [0], label="stand-in"))
    X, y, _ = _data.separable(20, 2, 0.1, rng=1)
    trace = _perceptron.perceptron_trace(X, y)
    box = widgets.perceptron_steps(X[:, :2], y, trace)
    slider = box.children[0].children[1]
    assert isinstance(slider, ipywidgets.IntSlider) and slider.max == trace.n_updates
    slider.value = 2
    np.testing.assert_allclose(drawn[-1][0], trace.weights[2])
    assert drawn[-1][1] == trace.updated[1]
    with pytest.raises(ValueError, match="2-D data"):
        widgets.perceptron_steps(X[:, :2], y, _perceptron.perceptron_trace(np.c_[X, X[:, :1]], y))

    runs = []
    real_run = widgets.perceptron_margin_run
    monkeypatch.setattr(widgets, "perceptron_margin_run", lambda m, **kw: runs.append(m) or real_run(m, **kw))
    margin_box = widgets.perceptron_margin_explorer(n=40, seed=3)
    margin_box.children[0].value = 0.02
    assert runs[-1] == pytest.approx(0.02)
    np.testing.assert_allclose(drawn[-1][0], real_run(0.02, n=40, seed=3).trace.w)
