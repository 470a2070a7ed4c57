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


# --- lecture 05: the worked example of backpropagation -----------------------------------------------------


def test_worked_example_graph_has_the_chain_rule_gradients():
    g = widgets.worked_example_graph(-2, 5, -4)
    assert (g["f"].data, g["q"].data) == (-12.0, 3.0)
    assert [g[k].grad for k in "xyzqf"] == [-4.0, -4.0, 3.0, -4.0, 1.0]
    rng = np.random.default_rng(0)
    for x, y, z in rng.normal(size=(5, 3)):
        g = widgets.worked_example_graph(x, y, z)
        assert g["f"].data == pytest.approx((x + y) * z)
        assert (g["x"].grad, g["y"].grad, g["z"].grad) == pytest.approx((z, z, x + y))
    assert [g[k].label for k in "xyzqf"] == list("xyzqf")
    with pytest.raises(ValueError, match="y must be finite"):
        widgets.worked_example_graph(1.0, float("nan"), 2.0)


def test_graph_explorer_reruns_backward_when_a_slider_moves(monkeypatch):
    matplotlib.use("Agg")
    drawn = []
    monkeypatch.setattr(widgets.plots, "draw_graph", lambda ax, root, title=None: drawn.append(root))
    box = widgets.graph_explorer()
    x_slider, y_slider, z_slider = box.children[0].children
    assert isinstance(z_slider, ipywidgets.FloatSlider) and (x_slider.value, z_slider.value) == (-2.0, -4.0)
    z_slider.value = 2.0
    assert drawn[-1].data == pytest.approx(6.0)  # (-2 + 5) * 2
    x_slider.value = 1.0
    assert drawn[-1].data == pytest.approx(12.0)
    with pytest.raises(ValueError, match=r"x must lie in \[-lim, lim\]"):
        widgets.graph_explorer(x=10.0)


# --- lecture 04: universal approximation, trained widths, depth versus width ---------------------------------

from dlcourse import layers as _layers  # noqa: E402


def _bumpy(x):
    return np.sin(2 * x) + 0.3 * x  # Lipschitz constant <= 2.3


def test_sigmoid_staircase_is_a_one_hidden_layer_sigmoid_network():
    fit = widgets.sigmoid_staircase(_bumpy, -3.0, 3.0, n_units=7, steepness=5.0, n_points=301)
    assert fit.n_units == 7 and fit.components.shape == (7, 301) and fit.x.shape == (301,)
    net = _layers.Sequential(_layers.Linear(1, 7, rng=0), _layers.Sigmoid(), _layers.Linear(7, 1, rng=0))
    net.layers[0].params["W"][:] = fit.weight
    net.layers[0].params["b"][:] = -fit.weight * fit.knots
    net.layers[2].params["W"][:, 0] = fit.heights
    net.layers[2].params["b"][:] = fit.bias
    np.testing.assert_allclose(net(fit.x[:, None])[:, 0], fit.approx, atol=1e-12)
    np.testing.assert_allclose(fit.bias + fit.components.sum(axis=0), fit.approx, atol=1e-12)
    np.testing.assert_allclose(fit.bumps().sum(axis=0), fit.approx, atol=1e-12)
    np.testing.assert_allclose(fit.evaluate(fit.x), fit.approx, atol=1e-12)
    np.testing.assert_allclose(fit.target, _bumpy(fit.x))
    assert fit.weight == pytest.approx(5.0 / (6.0 / 8))  # steepness / piece width
    np.testing.assert_allclose(np.diff(fit.knots), 6.0 / 8)
    np.testing.assert_allclose(fit.centres[1:] - fit.knots, 6.0 / 16)  # every knot sits between two centres


def test_steep_sigmoid_staircase_matches_f_at_the_piece_centres():
    for n in (1, 5, 40):
        fit = widgets.sigmoid_staircase(_bumpy, -3.0, 3.0, n, steepness=80.0)
        np.testing.assert_allclose(fit.evaluate(fit.centres), _bumpy(fit.centres), atol=1e-12)
    smooth = widgets.sigmoid_staircase(_bumpy, -3.0, 3.0, 5, steepness=1.0)
    assert np.max(np.abs(smooth.evaluate(smooth.centres) - _bumpy(smooth.centres))) > 1e-2  # not a staircase


def test_sigmoid_staircase_error_shrinks_like_the_piece_width():
    ns = [4, 8, 16, 32, 64, 128]
    errors = [widgets.sigmoid_staircase(_bumpy, -3.0, 3.0, n, steepness=30.0, n_points=2001).max_error for n in ns]
    assert all(e2 < e1 for e1, e2 in zip(errors, errors[1:]))
    for n, e in zip(ns, errors):
        assert e <= 2.3 * 6.0 / (n + 1) + 1e-9  # max error <= Lipschitz constant * piece width
    assert errors[-2] / errors[-1] == pytest.approx(2.0, rel=0.15)  # halving h halves the error


def test_sigmoid_staircase_rejects_bad_input():
    with pytest.raises(ValueError, match="a < b"):
        widgets.sigmoid_staircase(np.sin, 1.0, 1.0, 4)
    with pytest.raises(ValueError, match="n_units must be >= 1"):
        widgets.sigmoid_staircase(np.sin, 0.0, 1.0, 0)
    with pytest.raises(ValueError, match="steepness must be > 0"):
        widgets.sigmoid_staircase(np.sin, 0.0, 1.0, 4, steepness=0.0)
    with pytest.raises(ValueError, match="same shape"):
        widgets.sigmoid_staircase(lambda x: np.c_[x, x], 0.0, 1.0, 4)
    with pytest.raises(ValueError, match="f must be a function"):
        widgets.sigmoid_staircase(3.0, 0.0, 1.0, 4)


def test_staircase_explorer_redraws_when_a_slider_moves(monkeypatch):
    matplotlib.use("Agg")
    drawn = []
    monkeypatch.setattr(widgets, "show_staircase",
                        lambda ax_fit, ax_err, fit, errors=None: drawn.append((fit.n_units, fit.weight, errors)))
    box = widgets.staircase_explorer(_bumpy, -3.0, 3.0, n_values=(2, 4, 8), steepness=10.0)
    n_slider, s_slider = box.children[0].children
    assert isinstance(n_slider, ipywidgets.SelectionSlider) and list(n_slider.options) == [2, 4, 8]
    n_slider.value = 8
    assert drawn[-1][0] == 8 and drawn[-1][1] == pytest.approx(10.0 / (6.0 / 9))
    assert sorted(drawn[-1][2]) == [2, 4, 8] and drawn[-1][2][8] < drawn[-1][2][2]
    s_slider.value = 50.0
    assert drawn[-1][1] == pytest.approx(50.0 / (6.0 / 9))


def test_build_net_shapes_and_parameter_count():
    net = widgets.build_net(2, [5, 3], 4, activation="tanh", seed=1)
    assert [type(layer).__name__ for layer in net.layers] == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    assert net(np.zeros((7, 2))).shape == (7, 4)
    assert widgets.n_parameters(net) == (2 * 5 + 5) + (5 * 3 + 3) + (3 * 4 + 4)
    assert widgets.n_parameters(widgets.build_net(3, [], 2)) == 3 * 2 + 2  # no hidden layer: linear
    again = widgets.build_net(2, [5, 3], 4, activation="tanh", seed=1)
    np.testing.assert_array_equal(again.params()["2.W"], net.params()["2.W"])
    with pytest.raises(ValueError, match="activation must be one of"):
        widgets.build_net(2, [4], 2, activation="gelu")
    with pytest.raises(ValueError, match="hidden widths must be >= 1"):
        widgets.build_net(2, [4, 0], 2)


def test_train_net_solves_xor_and_is_deterministic():
    X, y = data.xor(200, noise=0.2, rng=0)
    net = widgets.train_net(X, y, [8], steps=300, lr=0.05, seed=0)
    assert net.losses.shape == (301,) and net.losses[-1] < 0.1 * net.losses[0]
    assert net.accuracy(X, y) > 0.97 and net.depth == 1 and net.n_params == 2 * 8 + 8 + 8 * 2 + 2
    P = net.proba(X)
    assert P.shape == (200, 2) and np.allclose(P.sum(axis=1), 1.0)
    assert widgets.train_net(X, y, [8], steps=300, lr=0.05, seed=0).losses[-1] == net.losses[-1]
    linear_model = widgets.train_net(X, y, [], steps=300, lr=0.05)
    assert linear_model.accuracy(X, y) < 0.75  # no hidden layer: XOR stays out of reach
    with pytest.raises(ValueError, match="class labels in 0..0"):
        widgets.train_net(X, y, [4], n_classes=1)


def test_width_explorer_only_redraws(monkeypatch):
    matplotlib.use("Agg")
    X, y = data.moons(60, 0.1, rng=0)
    nets = {w: widgets.train_net(X, y, [w], steps=20) for w in (1, 4, 16)}
    shown = []
    monkeypatch.setattr(widgets, "show_net", lambda ax, net, X, y, lim, center: shown.append(net) or
                        ax.plot([0], [0], label="stand-in"))
    monkeypatch.setattr(widgets, "train_net", lambda *a, **k: pytest.fail("the slider must not train"))
    box = widgets.width_explorer(X, y, nets)
    slider = box.children[0]
    assert list(slider.options) == [1, 4, 16]
    slider.value = 16
    assert shown[-1] is nets[16]
    slider.value = 1
    assert shown[-1] is nets[1]
    with pytest.raises(ValueError, match="at least one"):
        widgets.width_explorer(X, y, {})


def test_show_net_draws_the_boundary_where_the_net_is_undecided():
    import matplotlib.pyplot as plt

    X, y = data.moons(100, 0.1, rng=0)
    net = widgets.train_net(X, y, [8], steps=200, lr=0.05)
    fig, ax = plt.subplots()
    widgets.show_net(ax, net, X, y)
    boundary = [c for c in ax.collections if hasattr(c, "allsegs") and c.levels.tolist() == [0.5]]
    points = np.vstack([seg for seg in boundary[0].allsegs[0]])
    np.testing.assert_allclose(net.proba(points)[:, 1], 0.5, atol=0.05)
    assert ax.get_title() == f"8 hidden units: {net.n_params} parameters"
    plt.close(fig)


def _tent_power(x, depth):
    for _ in range(depth):
        x = 2 * np.minimum(x, 1 - x)
    return x


@pytest.mark.parametrize("depth", [1, 2, 3, 5, 7])
def test_the_deep_and_the_shallow_sawtooth_are_the_tent_map_composed(depth):
    x = np.linspace(0.0, 1.0, 1001)
    deep, shallow = widgets.sawtooth_net(depth), widgets.shallow_sawtooth_net(depth)
    np.testing.assert_allclose(deep(x[:, None])[:, 0], _tent_power(x, depth), atol=1e-9)
    np.testing.assert_allclose(shallow(x[:, None])[:, 0], _tent_power(x, depth), atol=1e-9)
    assert widgets.n_parameters(deep) == 6 * depth + 1
    assert widgets.n_parameters(shallow) == 3 * 2**depth + 1
    assert widgets.count_linear_pieces(deep, 0.0, 1.0) == 2**depth
    assert widgets.count_linear_pieces(shallow, 0.0, 1.0) == 2**depth


def test_count_linear_pieces():
    assert widgets.count_linear_pieces(lambda x: 3 * x - 1, -1.0, 2.0) == 1
    assert widgets.count_linear_pieces(np.abs, -1.0, 2.0) == 2
    kinks = lambda x: np.maximum(x - 0.3, 0) - 2 * np.maximum(x - 0.71, 0) + 0.5 * np.maximum(-x - 0.2, 0)  # noqa: E731
    assert widgets.count_linear_pieces(kinks, -1.0, 2.0) == 4
    assert widgets.count_linear_pieces(kinks, 0.0, 2.0) == 3  # the kink at -0.2 is outside
    net = widgets.build_net(1, [6], 1, seed=3)
    assert widgets.count_linear_pieces(net, -2.0, 2.0) == 2  # zero biases: every kink sits at x = 0
    with pytest.raises(ValueError, match="one output per row"):
        widgets.count_linear_pieces(lambda x: np.c_[x, x], 0.0, 1.0)
    with pytest.raises(ValueError, match="a < b"):
        widgets.count_linear_pieces(np.abs, 1.0, 0.0)


# --- lecture 06: optimisers on surfaces of two parameters ------------------------------------------------------

from dlcourse import optim as _optim  # noqa: E402


@pytest.mark.parametrize("surface", [widgets.ravine(20.0, 35.0), widgets.one_one_one()], ids=["ravine", "1-1-1"])
def test_surface_gradient_and_hessian_are_the_derivatives_of_the_loss(surface):
    rng = np.random.default_rng(0)
    for w in rng.uniform(-2.0, 2.0, size=(5, 2)):
        np.testing.assert_allclose(surface.grad(w), numerical_gradient(surface.loss, w), atol=1e-7)
        H_num = np.array([numerical_gradient(lambda v, k=k: surface.grad(v)[k], w) for k in range(2)])
        np.testing.assert_allclose(surface.hessian(w), H_num, atol=1e-6)
    np.testing.assert_allclose(surface.grad(surface.minimum), 0.0, atol=1e-12)
    xs, ys = np.linspace(-1.0, 2.0, 4), np.linspace(0.0, 1.0, 3)
    Z = surface.grid(xs, ys)
    assert Z.shape == (3, 4) and Z[2, 1] == pytest.approx(float(surface.loss(np.array([xs[1], ys[2]]))))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\)"):
        surface.loss(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"w must have shape \(2,\)"):
        surface.grad(np.zeros(3))


def test_one_one_one_has_a_saddle_at_the_origin_and_a_flat_valley_of_minima():
    s = widgets.one_one_one()
    np.testing.assert_array_equal(s.grad([0.0, 0.0]), [0.0, 0.0])
    np.testing.assert_allclose(np.linalg.eigvalsh(s.hessian([0.0, 0.0])), [-2.0, 2.0])
    assert s.loss(np.zeros(2)) == 1.0
    for w1 in (-2.0, 0.5, 3.0):  # along the hyperbola w1 w2 = 1: loss 0, gradient 0, one flat direction
        w = np.array([w1, 1.0 / w1])
        assert s.loss(w) == pytest.approx(0.0, abs=1e-15)
        np.testing.assert_allclose(s.grad(w), 0.0, atol=1e-12)
        np.testing.assert_allclose(np.linalg.eigvalsh(s.hessian(w)), [0.0, 2.0 * (w @ w)], atol=1e-12)


def test_ravine_has_the_requested_curvatures():
    s = widgets.ravine(kappa=25.0, angle=30.0)
    np.testing.assert_allclose(np.linalg.eigvalsh(s.hessian([0.3, -1.0])), [1 / 25, 1.0])
    _, vecs = np.linalg.eigh(s.hessian([0.0, 0.0]))
    assert abs(vecs[:, 1] @ [np.cos(np.pi / 6), np.sin(np.pi / 6)]) == pytest.approx(1.0)  # steep direction at 30°
    assert s.min_loss == 0.0
    with pytest.raises(ValueError, match="kappa"):
        widgets.ravine(kappa=0.5)


def test_descent_path_takes_the_optimiser_steps():
    s = widgets.ravine()
    A = s.hessian(np.zeros(2))
    run = widgets.descent_path(s, _optim.SGD(0.7), [-3.0, 1.0], 20)
    assert run.path.shape == (21, 2) and run.losses.shape == (21,) and not run.diverged
    np.testing.assert_allclose(run.path[1:], run.path[:-1] - 0.7 * run.path[:-1] @ A, rtol=1e-12)
    np.testing.assert_allclose(run.losses, s.loss(run.path))
    np.testing.assert_array_equal(run.lrs, np.full(20, 0.7))
    still = widgets.descent_path(s, _optim.Momentum(0.7, beta=0.0), [-3.0, 1.0], 20)
    np.testing.assert_allclose(still.path, run.path, rtol=1e-12)  # momentum with beta = 0 is gradient descent
    with pytest.raises(ValueError, match="start must have shape"):
        widgets.descent_path(s, _optim.SGD(0.1), [1.0, 2.0, 3.0], 5)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        widgets.descent_path(s, _optim.SGD(0.1), [1.0, 2.0], 5, noise=-1.0)
    with pytest.raises(ValueError, match="optimizer must be"):
        widgets.descent_path(s, "sgd", [1.0, 2.0], 5)


def test_descent_path_diverges_above_two_over_the_curvature_and_stops():
    s = widgets.ravine()
    below = widgets.descent_path(s, _optim.SGD(1.95), [-3.0, 1.0], 300)
    above = widgets.descent_path(s, _optim.SGD(2.05), [-3.0, 1.0], 2000, max_loss=1e3)
    assert not below.diverged and below.final_loss < 1e-4
    assert above.diverged and above.final_loss > 1e3 and len(above.losses) < 2001


def test_descent_path_noise_and_schedule():
    s = widgets.ravine(kappa=4.0)
    sched = _optim.step_schedule(0.5, 0.1, every=2)
    run = widgets.descent_path(s, _optim.SGD(0.5), [1.0, 1.0], 12, noise=0.3, rng=5, schedule=sched,
                               steps_per_epoch=3)
    np.testing.assert_allclose(run.lrs, [sched(k // 3) for k in range(12)])
    again = widgets.descent_path(s, _optim.SGD(0.5), [1.0, 1.0], 12, noise=0.3, rng=5, schedule=sched,
                                 steps_per_epoch=3)
    np.testing.assert_array_equal(run.path, again.path)  # seeded noise: reproducible
    clean = widgets.descent_path(s, _optim.SGD(0.5), [1.0, 1.0], 12, schedule=sched, steps_per_epoch=3)
    assert not np.allclose(run.path, clean.path)
    # with noise, a constant rate keeps bouncing around the minimum; a decaying one settles much closer
    const = widgets.descent_path(s, _optim.SGD(0.5), [1.0, 1.0], 2000, noise=1.0, rng=1)
    decay = widgets.descent_path(s, _optim.SGD(0.5), [1.0, 1.0], 2000, noise=1.0, rng=1,
                                 schedule=_optim.exponential_schedule(0.5, 0.98), steps_per_epoch=10)
    assert np.mean(decay.losses[-200:]) < 0.1 * np.mean(const.losses[-200:])


def test_gd_and_momentum_momentum_wins_on_the_ravine():
    s = widgets.ravine(kappa=50.0)
    gd, mom = widgets.gd_and_momentum(s, lr=1.0, beta=0.7, start=[-3.0, 1.0], n_steps=60)
    assert "gradient descent" in gd.label and "β = 0.70" in mom.label
    assert mom.final_loss < 1e-2 * gd.final_loss
    gd0, mom0 = widgets.gd_and_momentum(s, lr=1.0, beta=0.0, start=[-3.0, 1.0], n_steps=10)
    np.testing.assert_allclose(gd0.path, mom0.path)


def test_show_paths_draws_every_path_and_its_loss():
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    s = widgets.one_one_one()
    runs = [widgets.descent_path(s, _optim.SGD(0.1), start, 30, label=f"from {start}")
            for start in ([0.5, -0.4], [-1.5, -0.3])]
    fig, (ax, bx) = plt.subplots(1, 2)
    widgets.show_paths(ax, bx, s, runs, np.linspace(-2, 2, 21), np.linspace(-2, 2, 21))
    drawn = {line.get_label(): line for line in ax.lines}
    np.testing.assert_allclose(drawn["from [0.5, -0.4]"].get_xydata(), runs[0].path)
    assert [line.get_label() for line in bx.lines] == ["from [0.5, -0.4]", "from [-1.5, -0.3]"]
    assert bx.get_yscale() == "log" and ax.get_xlabel() == "$w_1$"
    plt.close(fig)


def test_optimizer_explorer_redraws_when_a_slider_moves(monkeypatch):
    matplotlib.use("Agg")
    drawn = []
    monkeypatch.setattr(widgets, "show_paths", lambda ax_map, ax_loss, surface, paths, xs, ys: drawn.append(paths))
    box = widgets.optimizer_explorer(n_steps=10)
    lr_slider, beta_slider = box.children[0].children
    assert isinstance(lr_slider, ipywidgets.FloatLogSlider) and isinstance(beta_slider, ipywidgets.FloatSlider)
    beta_slider.value = 0.9
    gd, mom = drawn[-1]
    assert "β = 0.90" in mom.label and len(gd.losses) == 11
    lr_slider.value = 0.1
    assert "lr = 0.1" in drawn[-1][0].label


@pytest.fixture(autouse=True)
def _close_figures_after_each_test():
    """Explorers draw with pyplot; under Agg nothing closes their figures, so close them after every test."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
