"""The linear autoencoder (its gradient, and that gradient descent finds PCA's subspace) and the corruptions."""

import numpy as np
import pytest

from dlcourse import autoencoders as ae
from dlcourse import subspaces
from dlcourse.gradcheck import gradient_check

from test_subspaces import data_with_spectrum


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    X = subspaces.centre(rng.normal(size=(7, 5)))
    W_enc, W_dec = rng.normal(size=(5, 3)), rng.normal(size=(3, 5))
    loss, dW_enc, dW_dec = ae.linear_ae_loss_and_grads(X, W_enc, W_dec)
    R = X @ W_enc @ W_dec - X
    assert loss == pytest.approx(np.sum(R**2) / (2 * 7))
    errors = gradient_check(lambda p: ae.linear_ae_loss_and_grads(X, p["W_enc"], p["W_dec"])[0],
                            {"W_enc": W_enc, "W_dec": W_dec}, {"W_enc": dW_enc, "W_dec": dW_dec})
    assert max(errors.values()) < 1e-7


def test_shape_errors_say_what_was_expected():
    X = np.zeros((4, 5))
    with pytest.raises(ValueError, match=r"W_enc must have shape \(5, k\)"):
        ae.linear_ae_loss_and_grads(X, np.zeros((4, 2)), np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"W_dec must have shape \(2, 5\)"):
        ae.linear_ae_loss_and_grads(X, np.zeros((5, 2)), np.zeros((5, 2)))


def test_gradient_descent_finds_the_principal_subspace():
    X, basis = data_with_spectrum(500, [3.0, 2.0, 0.5, 0.3, 0.1, 0.05])
    angles = []
    W_enc, W_dec = ae.train_linear_ae(X, 2, lr=0.5 / 9.0, epochs=1500, seed=0,
                                      on_epoch=lambda e, We, Wd, loss: angles.append(
                                          np.max(subspaces.principal_angles(Wd.T, basis[:, :2]))))
    assert W_enc.shape == (6, 2) and W_dec.shape == (2, 6)
    assert angles[-1] < np.radians(0.5) < np.radians(30) < angles[0]  # from a random start to PCA's subspace
    assert np.max(subspaces.principal_angles(W_dec.T, subspaces.pca_subspace(X, 2))) < np.radians(0.5)
    # the loss reached is PCA's: half the variance left in the discarded directions
    loss = ae.linear_ae_loss_and_grads(subspaces.centre(X), W_enc, W_dec)[0]
    assert loss == pytest.approx(0.5 * (0.5**2 + 0.3**2 + 0.1**2 + 0.05**2), rel=1e-3)


def test_training_is_deterministic_and_refuses_a_diverging_rate():
    X, _ = data_with_spectrum(100, [3.0, 1.0, 0.5])
    a = ae.train_linear_ae(X, 1, lr=0.05, epochs=20, seed=3)
    b = ae.train_linear_ae(X, 1, lr=0.05, epochs=20, seed=3)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    with pytest.raises(FloatingPointError, match="smaller rate"):
        ae.train_linear_ae(X, 1, lr=1e3, epochs=200, seed=3)


def test_gaussian_corruption_adds_noise_of_the_given_level():
    X = np.ones((200, 50))
    noisy = ae.corrupt(X, "gaussian", 0.3, seed=0)
    assert noisy.shape == X.shape
    assert np.std(noisy - X) == pytest.approx(0.3, rel=0.03) and abs(np.mean(noisy - X)) < 0.01
    np.testing.assert_array_equal(noisy, ae.corrupt(X, "gaussian", 0.3, seed=0))
    assert not np.array_equal(noisy, ae.corrupt(X, "gaussian", 0.3, seed=1))
    np.testing.assert_array_equal(ae.corrupt(X, "gaussian", 0.0), X)


def test_masking_zeroes_each_entry_with_the_given_probability():
    X = np.arange(1, 20001, dtype=float).reshape(100, 200)
    masked = ae.corrupt(X, "mask", 0.25, seed=0)
    zeroed = masked == 0
    assert zeroed.mean() == pytest.approx(0.25, abs=0.01)
    np.testing.assert_array_equal(masked[~zeroed], X[~zeroed])  # the rest untouched
    assert abs(zeroed.mean(axis=0).std() - np.sqrt(0.25 * 0.75 / 100)) < 0.01  # independent entries
    assert ae.corrupt(X, "mask", 1.0).max() == 0.0


def test_corruption_errors():
    with pytest.raises(ValueError, match="kind must be one of"):
        ae.corrupt(np.zeros(3), "salt", 0.1)
    with pytest.raises(ValueError, match="probability"):
        ae.corrupt(np.zeros(3), "mask", 1.5)
    with pytest.raises(ValueError, match="level must be >= 0"):
        ae.corrupt(np.zeros(3), "gaussian", -1.0)
