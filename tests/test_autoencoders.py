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


# --- torch autoencoders -------------------------------------------------------------------------------------

torch = pytest.importorskip("torch")


def test_an_autoencoder_maps_back_to_its_input_shape_through_a_narrow_code():
    model = ae.build_autoencoder(64, 5, hidden=(32,), seed=0)
    x = torch.rand(7, 64)
    code = model.encoder(x)
    assert code.shape == (7, 5) and model(x).shape == (7, 64)
    assert torch.all((model(x) > 0) & (model(x) < 1))  # sigmoid output for pixels
    assert [type(m).__name__ for m in model.encoder] == ["Linear", "ReLU", "Linear", "Identity"]
    same = ae.build_autoencoder(64, 5, hidden=(32,), seed=0)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), same.parameters()))
    linear = ae.build_autoencoder(6, 2, activation="identity", output="identity")
    assert sum(p.numel() for p in linear.parameters()) == 6 * 2 + 2 + 2 * 6 + 6
    with pytest.raises(ValueError, match="activation must be one of"):
        ae.build_autoencoder(6, 2, activation="gelu")
    with pytest.raises(ValueError, match="output must be one of"):
        ae.build_autoencoder(6, 2, output="softmax")


def test_torch_corruptions_match_the_numpy_ones_in_distribution():
    x = torch.ones(200, 100)
    torch.manual_seed(0)
    noisy = ae.corruption("gaussian", 0.3)(x)
    assert float((noisy - x).std()) == pytest.approx(0.3, rel=0.03)
    masked = ae.corruption("mask", 0.25)(x)
    assert float((masked == 0).float().mean()) == pytest.approx(0.25, abs=0.01)
    assert set(torch.unique(masked).tolist()) == {0.0, 1.0}
    with pytest.raises(ValueError, match="kind must be one of"):
        ae.corruption("blur", 0.1)


def test_a_denoising_autoencoder_removes_most_of_the_noise():
    from dlcourse import data

    X_train, X_test, _, _ = data.digits_split()
    model = ae.train_denoising_ae(X_train, 0.3, epochs=12, seed=0, code=32, hidden=(128,), device="cpu")
    noisy = ae.corrupt(X_test, "gaussian", 0.3, seed=1)
    before = float(np.mean((noisy - X_test) ** 2))
    after = ae.reconstruction_error(model, noisy, X_test)
    assert after < 0.5 * before  # ps5's bar
    again = ae.train_denoising_ae(X_train, 0.3, epochs=12, seed=0, code=32, hidden=(128,), device="cpu")
    assert ae.reconstruction_error(again, noisy, X_test) == after  # the same seed, the same model
    with pytest.raises(ValueError, match="target"):
        ae.reconstruction_error(model, noisy, X_test[:, :10])


# --- tied weights, and denoising one batch ------------------------------------------------------------------


def test_tied_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    X = subspaces.centre(rng.normal(size=(9, 6)))
    W = rng.normal(size=(6, 2))
    loss, dW = ae.tied_linear_ae_loss_and_grad(X, W)
    assert loss == pytest.approx(np.sum((X @ W @ W.T - X) ** 2) / (2 * 9))
    assert loss == pytest.approx(ae.linear_ae_loss_and_grads(X, W, W.T)[0])  # the untied loss at W' = W'
    errors = gradient_check(lambda p: ae.tied_linear_ae_loss_and_grad(X, p["W"])[0], {"W": W}, {"W": dW})
    assert errors["W"] < 1e-7
    # W is used twice: the tied gradient is the sum of the encoder's and the (transposed) decoder's
    _, dW_enc, dW_dec = ae.linear_ae_loss_and_grads(X, W, W.T)
    np.testing.assert_allclose(dW, dW_enc + dW_dec.T, atol=1e-12)
    with pytest.raises(ValueError, match=r"W must have shape \(6, k\)"):
        ae.tied_linear_ae_loss_and_grad(X, np.zeros((5, 2)))


def test_tied_training_finds_an_orthonormal_basis_of_the_principal_subspace():
    X, basis = data_with_spectrum(400, [3.0, 2.0, 0.5, 0.3, 0.1])
    seen = []
    W = ae.train_tied_linear_ae(X, 2, lr=0.2 / 9.0, epochs=1500, seed=0,
                                on_epoch=lambda e, W, loss: seen.append((e, loss)))
    assert W.shape == (5, 2) and [e for e, _ in seen] == list(range(1500))
    assert np.max(subspaces.principal_angles(W, basis[:, :2])) < np.radians(0.5)
    np.testing.assert_allclose(W.T @ W, np.eye(2), atol=1e-3)  # orthonormal columns, unlike the untied encoder
    assert seen[-1][1] == pytest.approx(0.5 * (0.5**2 + 0.3**2 + 0.1**2), rel=1e-3)
    again = ae.train_tied_linear_ae(X, 2, lr=0.2 / 9.0, epochs=20, seed=0)
    np.testing.assert_array_equal(again, ae.train_tied_linear_ae(X, 2, lr=0.2 / 9.0, epochs=20, seed=0))
    bouncing = ae.train_tied_linear_ae(X, 2, lr=0.55 / 9.0, epochs=1500, seed=0)  # past 0.5 / lambda: no rest
    assert np.abs(bouncing.T @ bouncing - np.eye(2)).max() > 0.01
    with pytest.raises(FloatingPointError, match="smaller rate"):
        ae.train_tied_linear_ae(X, 2, lr=1e3, epochs=200, seed=0)


def test_denoise_returns_the_corrupted_batch_and_the_models_output():
    model = ae.build_autoencoder(16, 4, seed=0)
    X = np.random.default_rng(0).random((5, 16))
    noisy, out = ae.denoise(model, X, "mask", 0.5, seed=3)
    assert noisy.shape == out.shape == (5, 16) and noisy.dtype == out.dtype == np.float32
    np.testing.assert_array_equal(noisy, ae.corrupt(X, "mask", 0.5, seed=3).astype(np.float32))
    with torch.no_grad():
        np.testing.assert_allclose(out, model(torch.from_numpy(noisy)).numpy(), atol=1e-6)
    np.testing.assert_array_equal(ae.denoise(model, X, "mask", 0.5, seed=3)[1], out)


def test_nearest_neighbours_agree_with_a_brute_force_sort():
    rng = np.random.default_rng(0)
    database, queries = rng.normal(size=(50, 3)), rng.normal(size=(7, 3))
    found = ae.nearest_neighbours(database, queries, k=4, batch=3)
    dist = np.linalg.norm(queries[:, None, :] - database[None], axis=2)
    np.testing.assert_array_equal(found, np.argsort(dist, axis=1, kind="stable")[:, :4])
    assert ae.nearest_neighbours(database, database[[5, 9]], k=1).ravel().tolist() == [5, 9]  # itself first
    ties = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [3.0, 3.0]])
    assert ae.nearest_neighbours(ties, np.zeros((1, 2)), k=4).tolist() == [[0, 1, 2, 3]]
    with pytest.raises(ValueError, match="holds only 50 rows"):
        ae.nearest_neighbours(database, queries, k=51)
    with pytest.raises(ValueError):
        ae.nearest_neighbours(database, np.zeros((2, 4)))
