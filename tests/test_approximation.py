import numpy as np
import pytest

from dlcourse import approximation, layers, training


def _bumpy(x):
    return np.sin(2 * x) + 0.3 * x  # Lipschitz constant <= 2.3


def test_sigmoid_staircase_is_a_one_hidden_layer_sigmoid_network():
    fit = approximation.sigmoid_staircase(_bumpy, -3.0, 3.0, n_units=7, steepness=5.0, n_points=301)
    assert fit.n_units == 7 and fit.components.shape == (7, 301) and fit.x.shape == (301,)
    net = layers.Sequential(layers.Linear(1, 7, rng=0), layers.Sigmoid(), layers.Linear(7, 1, rng=0))
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
        fit = approximation.sigmoid_staircase(_bumpy, -3.0, 3.0, n, steepness=80.0)
        np.testing.assert_allclose(fit.evaluate(fit.centres), _bumpy(fit.centres), atol=1e-12)
    smooth = approximation.sigmoid_staircase(_bumpy, -3.0, 3.0, 5, steepness=1.0)
    assert np.max(np.abs(smooth.evaluate(smooth.centres) - _bumpy(smooth.centres))) > 1e-2  # not a staircase


def test_sigmoid_staircase_error_shrinks_like_the_piece_width():
    ns = [4, 8, 16, 32, 64, 128]
    errors = [approximation.sigmoid_staircase(_bumpy, -3.0, 3.0, n, steepness=30.0, n_points=2001).max_error for n in ns]
    assert all(e2 < e1 for e1, e2 in zip(errors, errors[1:]))
    for n, e in zip(ns, errors):
        assert e <= 2.3 * 6.0 / (n + 1) + 1e-9  # max error <= Lipschitz constant * piece width
    assert errors[-2] / errors[-1] == pytest.approx(2.0, rel=0.15)  # halving h halves the error


def test_sigmoid_staircase_rejects_bad_input():
    with pytest.raises(ValueError, match="a < b"):
        approximation.sigmoid_staircase(np.sin, 1.0, 1.0, 4)
    with pytest.raises(ValueError, match="n_units must be >= 1"):
        approximation.sigmoid_staircase(np.sin, 0.0, 1.0, 0)
    with pytest.raises(ValueError, match="steepness must be > 0"):
        approximation.sigmoid_staircase(np.sin, 0.0, 1.0, 4, steepness=0.0)
    with pytest.raises(ValueError, match="same shape"):
        approximation.sigmoid_staircase(lambda x: np.c_[x, x], 0.0, 1.0, 4)
    with pytest.raises(ValueError, match="f must be a function"):
        approximation.sigmoid_staircase(3.0, 0.0, 1.0, 4)


def _tent_power(x, depth):
    for _ in range(depth):
        x = 2 * np.minimum(x, 1 - x)
    return x


@pytest.mark.parametrize("depth", [1, 2, 3, 5, 7])
def test_the_deep_and_the_shallow_sawtooth_are_the_tent_map_composed(depth):
    x = np.linspace(0.0, 1.0, 1001)
    deep, shallow = approximation.sawtooth_net(depth), approximation.shallow_sawtooth_net(depth)
    np.testing.assert_allclose(deep(x[:, None])[:, 0], _tent_power(x, depth), atol=1e-9)
    np.testing.assert_allclose(shallow(x[:, None])[:, 0], _tent_power(x, depth), atol=1e-9)
    assert training.n_parameters(deep) == 6 * depth + 1
    assert training.n_parameters(shallow) == 3 * 2**depth + 1
    assert approximation.count_linear_pieces(deep, 0.0, 1.0) == 2**depth
    assert approximation.count_linear_pieces(shallow, 0.0, 1.0) == 2**depth


def test_count_linear_pieces():
    assert approximation.count_linear_pieces(lambda x: 3 * x - 1, -1.0, 2.0) == 1
    assert approximation.count_linear_pieces(np.abs, -1.0, 2.0) == 2
    kinks = lambda x: np.maximum(x - 0.3, 0) - 2 * np.maximum(x - 0.71, 0) + 0.5 * np.maximum(-x - 0.2, 0)  # noqa: E731
    assert approximation.count_linear_pieces(kinks, -1.0, 2.0) == 4
    assert approximation.count_linear_pieces(kinks, 0.0, 2.0) == 3  # the kink at -0.2 is outside
    net = training.build_mlp([1, 6, 1], seed=3)
    assert approximation.count_linear_pieces(net, -2.0, 2.0) == 2  # zero biases: every kink sits at x = 0
    with pytest.raises(ValueError, match="one output per row"):
        approximation.count_linear_pieces(lambda x: np.c_[x, x], 0.0, 1.0)
    with pytest.raises(ValueError, match="a < b"):
        approximation.count_linear_pieces(np.abs, 1.0, 0.0)
