import numpy as np
import pytest

from dlcourse import data, landscapes, linear, optim
from dlcourse.gradcheck import numerical_gradient


@pytest.fixture(scope="module")
def one_feature():
    X, y = data.gaussian_classes(200, [1.0], [2.5], [[1.0]], rng=1)
    return X[:, 0], y


def test_logistic_surface_is_nll_on_the_grid_with_its_derivatives(one_feature):
    x, y = one_feature
    ws, bs = np.linspace(-1, 3, 5), np.linspace(-4, 1, 4)
    surface = landscapes.logistic_surface(x, y)
    Z = surface.grid(ws, bs)
    assert Z.shape == (4, 5)
    for i, j in [(0, 0), (2, 3), (3, 4)]:
        assert Z[i, j] == pytest.approx(linear.nll([ws[j]], bs[i], x[:, None], y), rel=1e-12)
    for w in ([0.3, -0.7], [2.0, -3.5]):
        np.testing.assert_allclose(surface.grad(w), numerical_gradient(surface.loss, np.array(w)), atol=1e-8)
        H_num = np.array([numerical_gradient(lambda v, k=k: surface.grad(v)[k], np.array(w)) for k in range(2)])
        np.testing.assert_allclose(surface.hessian(w), H_num, atol=1e-7)
    np.testing.assert_allclose(surface.grad(surface.minimum), 0.0, atol=1e-8)
    with pytest.raises(ValueError, match="y must have shape"):
        landscapes.logistic_surface(x, y[:-1])
    with pytest.raises(ValueError, match="x must be a 1-D array"):
        landscapes.logistic_surface(x[:, None], y)
    with pytest.raises(ValueError, match="separable"):
        landscapes.logistic_surface(np.array([-1.0, -0.5, 0.5, 2.0]), np.array([0, 0, 1, 1]))
    assert landscapes.logistic_surface(np.array([-1.0, 2.0]), np.array([0, 1]), minimum=False).minimum is None


def test_gd_logistic_1d_records_the_path_of_fit_logistic(one_feature):
    x, y = one_feature
    run = landscapes.gd_logistic_1d(x, y, lr=0.7, n_steps=25)
    assert run.path.shape == (26, 2) and run.losses.shape == (26,) and run.lr == 0.7 and not run.diverged
    np.testing.assert_array_equal(run.path[0], [0.0, 0.0])
    assert run.losses[0] == pytest.approx(np.log(2.0))
    w, b = linear.fit_logistic(x[:, None], y, lr=0.7, n_iter=25)
    np.testing.assert_allclose(run.path[-1], [w[0], b], rtol=1e-12)
    assert run.losses[-1] == pytest.approx(linear.nll(w, b, x[:, None], y), rel=1e-12)
    with pytest.raises(ValueError, match="lr must be > 0"):
        landscapes.gd_logistic_1d(x, y, lr=0.0, n_steps=5)


def test_the_curvature_thresholds_separate_the_three_regimes(one_feature):
    x, y = one_feature
    land = landscapes.logistic_landscape(x, y, np.linspace(-1, 7, 9), np.linspace(-8, 2, 11))
    assert land.losses.shape == (11, 9)
    assert 0 < land.curvature_min < land.curvature_start  # flatter at the minimum than anywhere near (0, 0)
    dw, db = linear.nll_grad([land.w_star], land.b_star, x[:, None], y)
    assert np.hypot(dw[0], db) < 1e-8  # it is the minimum
    safe = landscapes.gd_logistic_1d(x, y, 0.95 * land.lr_monotone, 100)
    assert np.all(np.diff(safe.losses) <= 1e-12)  # below 2/L: the loss falls at every step
    stable = landscapes.gd_logistic_1d(x, y, 0.8 * land.lr_stable, 300)
    assert stable.losses[-1] - land.loss_min < 1e-8  # below 2/lambda*: it converges
    unstable = landscapes.gd_logistic_1d(x, y, 1.3 * land.lr_stable, 300)
    assert np.all(unstable.losses[-50:] - land.loss_min > 1e-3)  # above: it never settles
    tiny = landscapes.gd_logistic_1d(x, y, 0.02 * land.lr_monotone, 300)
    assert tiny.losses[-1] - land.loss_min > 1e-2  # far too small: still far from the minimum


@pytest.mark.parametrize("surface", [landscapes.ravine(20.0, 35.0), landscapes.one_one_one()], ids=["ravine", "1-1-1"])
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
    s = landscapes.one_one_one()
    np.testing.assert_array_equal(s.grad([0.0, 0.0]), [0.0, 0.0])
    np.testing.assert_allclose(np.linalg.eigvalsh(s.hessian([0.0, 0.0])), [-2.0, 2.0])
    assert s.loss(np.zeros(2)) == 1.0
    for w1 in (-2.0, 0.5, 3.0):  # along the hyperbola w1 w2 = 1: loss 0, gradient 0, one flat direction
        w = np.array([w1, 1.0 / w1])
        assert s.loss(w) == pytest.approx(0.0, abs=1e-15)
        np.testing.assert_allclose(s.grad(w), 0.0, atol=1e-12)
        np.testing.assert_allclose(np.linalg.eigvalsh(s.hessian(w)), [0.0, 2.0 * (w @ w)], atol=1e-12)


def test_ravine_has_the_requested_curvatures():
    s = landscapes.ravine(kappa=25.0, angle=30.0)
    np.testing.assert_allclose(np.linalg.eigvalsh(s.hessian([0.3, -1.0])), [1 / 25, 1.0])
    _, vecs = np.linalg.eigh(s.hessian([0.0, 0.0]))
    assert abs(vecs[:, 1] @ [np.cos(np.pi / 6), np.sin(np.pi / 6)]) == pytest.approx(1.0)  # steep direction at 30°
    assert s.min_loss == 0.0 and s.curvature([1.0, 2.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="kappa"):
        landscapes.ravine(kappa=0.5)


def test_descent_path_takes_the_optimiser_steps():
    s = landscapes.ravine()
    A = s.hessian(np.zeros(2))
    run = landscapes.descent_path(s, optim.SGD(0.7), [-3.0, 1.0], 20)
    assert run.path.shape == (21, 2) and run.losses.shape == (21,) and not run.diverged
    np.testing.assert_allclose(run.path[1:], run.path[:-1] - 0.7 * run.path[:-1] @ A, rtol=1e-12)
    np.testing.assert_allclose(run.losses, s.loss(run.path))
    np.testing.assert_array_equal(run.lrs, np.full(20, 0.7))
    still = landscapes.descent_path(s, optim.Momentum(0.7, beta=0.0), [-3.0, 1.0], 20)
    np.testing.assert_allclose(still.path, run.path, rtol=1e-12)  # momentum with beta = 0 is gradient descent
    with pytest.raises(ValueError, match="start must have shape"):
        landscapes.descent_path(s, optim.SGD(0.1), [1.0, 2.0, 3.0], 5)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        landscapes.descent_path(s, optim.SGD(0.1), [1.0, 2.0], 5, noise=-1.0)
    with pytest.raises(ValueError, match="optimizer must be"):
        landscapes.descent_path(s, "sgd", [1.0, 2.0], 5)


def test_descent_path_diverges_above_two_over_the_curvature_and_stops():
    s = landscapes.ravine()
    below = landscapes.descent_path(s, optim.SGD(1.95), [-3.0, 1.0], 300)
    above = landscapes.descent_path(s, optim.SGD(2.05), [-3.0, 1.0], 2000, max_loss=1e3)
    assert not below.diverged and below.final_loss < 1e-4
    assert above.diverged and above.final_loss > 1e3 and len(above.losses) < 2001


def test_descent_path_noise_and_schedule():
    s = landscapes.ravine(kappa=4.0)
    sched = optim.step_schedule(0.5, 0.1, every=2)
    run = landscapes.descent_path(s, optim.SGD(0.5), [1.0, 1.0], 12, noise=0.3, rng=5, schedule=sched,
                               steps_per_epoch=3)
    np.testing.assert_allclose(run.lrs, [sched(k // 3) for k in range(12)])
    again = landscapes.descent_path(s, optim.SGD(0.5), [1.0, 1.0], 12, noise=0.3, rng=5, schedule=sched,
                                 steps_per_epoch=3)
    np.testing.assert_array_equal(run.path, again.path)  # seeded noise: reproducible
    clean = landscapes.descent_path(s, optim.SGD(0.5), [1.0, 1.0], 12, schedule=sched, steps_per_epoch=3)
    assert not np.allclose(run.path, clean.path)
    # with noise, a constant rate keeps bouncing around the minimum; a decaying one settles much closer
    const = landscapes.descent_path(s, optim.SGD(0.5), [1.0, 1.0], 2000, noise=1.0, rng=1)
    decay = landscapes.descent_path(s, optim.SGD(0.5), [1.0, 1.0], 2000, noise=1.0, rng=1,
                                 schedule=optim.exponential_schedule(0.5, 0.98), steps_per_epoch=10)
    assert np.mean(decay.losses[-200:]) < 0.1 * np.mean(const.losses[-200:])


def test_gd_and_momentum_momentum_wins_on_the_ravine():
    s = landscapes.ravine(kappa=50.0)
    gd, mom = landscapes.gd_and_momentum(s, lr=1.0, beta=0.7, start=[-3.0, 1.0], n_steps=60)
    assert "gradient descent" in gd.label and "β = 0.70" in mom.label
    assert mom.final_loss < 1e-2 * gd.final_loss
    gd0, mom0 = landscapes.gd_and_momentum(s, lr=1.0, beta=0.0, start=[-3.0, 1.0], n_steps=10)
    np.testing.assert_allclose(gd0.path, mom0.path)
