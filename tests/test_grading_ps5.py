"""The ps5 checks accept correct answers written independently of the lib, and reject the usual mistakes."""

import numpy as np
import pytest

from dlcourse.grading import CheckFailed
from dlcourse.grading import ps5 as checks

# --- independent correct answers (not the lib's code) ----------------------------------------------------


def pca_subspace(X, k):
    """Through the covariance's eigenvectors (eigh), not the SVD of the data."""
    Xc = X - X.mean(axis=0)
    vals, vecs = np.linalg.eigh(Xc.T @ Xc / len(X))
    return vecs[:, np.argsort(vals)[::-1][:k]]


def principal_angles(A, B):
    """The textbook formula: arccos of the singular values of Qa'Qb (QR bases), clipped."""
    Qa, _ = np.linalg.qr(A)
    Qb, _ = np.linalg.qr(B)
    s = np.linalg.svd(Qa.T @ Qb, compute_uv=False)
    return np.sort(np.arccos(np.clip(s, -1.0, 1.0)))


def linear_ae_loss_and_grads(X, W_enc, W_dec):
    n = X.shape[0]
    R = np.einsum("nd,dk,ke->ne", X, W_enc, W_dec) - X
    return 0.5 * np.einsum("ne,ne->", R, R) / n, X.T @ R @ W_dec.T / n, W_enc.T @ X.T @ R / n


def train_linear_ae(X, k, lr, epochs, seed):
    rng = np.random.default_rng(seed)
    X = X - X.mean(axis=0)
    W_enc = rng.normal(scale=0.01, size=(X.shape[1], k))
    W_dec = rng.normal(scale=0.01, size=(k, X.shape[1]))
    for _ in range(epochs):
        _, g_enc, g_dec = linear_ae_loss_and_grads(X, W_enc, W_dec)
        W_enc, W_dec = W_enc - lr * g_enc, W_dec - lr * g_dec
    return W_enc, W_dec


def corrupt(X, kind, level, seed):
    """Seeds the legacy global generator instead of default_rng: still the same result for the same seed."""
    np.random.seed(seed)
    X = np.asarray(X, dtype=float)
    if kind == "gaussian":
        return X + np.random.normal(0.0, level, size=X.shape) if level > 0 else X.copy()
    keep = np.random.uniform(size=X.shape) >= level
    return X * keep


# --- the correct answers pass ----------------------------------------------------------------------------


@pytest.mark.parametrize("check, fn", [
    (checks.check_pca_subspace, pca_subspace),
    (checks.check_principal_angles, principal_angles),
    (checks.check_linear_ae_loss_and_grads, linear_ae_loss_and_grads),
])
@pytest.mark.parametrize("seed", [0, 7, 2024])
def test_correct_answers_pass_visible_and_hidden_style_checks(check, fn, seed, capsys):
    check(fn, seed=seed, n_random=8)
    assert capsys.readouterr().out.startswith("✓")


def test_corrupt_is_judged_by_its_statistics(capsys):
    checks.check_corrupt(corrupt, seed=0)
    checks.check_corrupt(corrupt, seed=3)
    assert capsys.readouterr().out.startswith("✓")


def test_the_trained_linear_autoencoder_must_find_pca(capsys):
    checks.check_train_linear_ae(train_linear_ae, lr=0.5, epochs=300, ks=(2, 5))
    assert capsys.readouterr().out.startswith("✓")
    with pytest.raises(CheckFailed, match="degrees away from PCA's top-4 subspace"):
        checks.check_train_linear_ae(train_linear_ae, lr=0.001, epochs=3)

    def uncentred(X, k, lr, epochs, seed):
        return train_linear_ae(X + 5.0 - X.mean(axis=0) + X.mean(axis=0), k, lr, epochs, seed)

    def not_centred(X, k, lr, epochs, seed):  # forgets to centre: the mean direction takes a code unit
        rng = np.random.default_rng(seed)
        W_enc, W_dec = rng.normal(scale=0.01, size=(X.shape[1], k)), rng.normal(scale=0.01, size=(k, X.shape[1]))
        for _ in range(epochs):
            _, g_enc, g_dec = linear_ae_loss_and_grads(X, W_enc, W_dec)
            W_enc, W_dec = W_enc - lr * g_enc, W_dec - lr * g_dec
        return W_enc, W_dec

    with pytest.raises(CheckFailed, match="degrees away"):
        checks.check_train_linear_ae(not_centred, lr=0.1, epochs=300)

    def unseeded(X, k, lr, epochs, seed):
        return train_linear_ae(X, k, lr, epochs, int(np.random.default_rng().integers(1000)))

    with pytest.raises(CheckFailed, match="same seed gave different weights"):
        checks.check_train_linear_ae(unseeded, lr=0.5, epochs=300)

    def transposed(X, k, lr, epochs, seed):
        W_enc, W_dec = train_linear_ae(X, k, lr, epochs, seed)
        return W_enc, W_dec.T

    with pytest.raises(CheckFailed, match=r"W_dec of shape \(4, 64\)"):
        checks.check_train_linear_ae(transposed, lr=0.5, epochs=300)


# --- the usual mistakes ----------------------------------------------------------------------------------


def pca_not_centred(X, k):
    return np.linalg.svd(X, full_matrices=False)[2][:k].T


def pca_rows(X, k):
    return np.linalg.svd(X - X.mean(axis=0), full_matrices=False)[2][:k]


def pca_smallest(X, k):
    Xc = X - X.mean(axis=0)
    vals, vecs = np.linalg.eigh(Xc.T @ Xc)
    return vecs[:, :k]  # eigh sorts ascending: these are the smallest


def pca_scaled(X, k):
    Xc = X - X.mean(axis=0)
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    return Vt[:k].T * s[:k]  # the right directions, not unit length


def angles_no_orthonormalisation(A, B):
    s = np.linalg.svd(A.T @ B, compute_uv=False)
    return np.sort(np.arccos(np.clip(s, -1, 1)))


def angles_in_degrees(A, B):
    return np.degrees(principal_angles(A, B))


def angles_descending(A, B):
    return principal_angles(A, B)[::-1]


def loss_mean_over_entries(X, W_enc, W_dec):
    loss, g_enc, g_dec = linear_ae_loss_and_grads(X, W_enc, W_dec)
    return loss / X.shape[1], g_enc / X.shape[1], g_dec / X.shape[1]


def loss_without_half(X, W_enc, W_dec):
    loss, g_enc, g_dec = linear_ae_loss_and_grads(X, W_enc, W_dec)
    return 2 * loss, g_enc, g_dec


def dW_enc_forgets_W_dec(X, W_enc, W_dec):
    loss, _, g_dec = linear_ae_loss_and_grads(X, W_enc, W_dec)
    R = X @ W_enc @ W_dec - X
    return loss, X.T @ R @ np.linalg.pinv(W_dec) / X.shape[0], g_dec


def corrupt_unscaled(X, kind, level, seed):
    rng = np.random.default_rng(seed)
    return X + rng.normal(size=X.shape) if kind == "gaussian" else X * (rng.random(X.shape) >= level)


def corrupt_multiplicative(X, kind, level, seed):
    rng = np.random.default_rng(seed)
    return X * (1 + level * rng.normal(size=X.shape)) if kind == "gaussian" else X * (rng.random(X.shape) >= level)


def corrupt_mask_inverted(X, kind, level, seed):
    rng = np.random.default_rng(seed)
    return X + level * rng.normal(size=X.shape) if kind == "gaussian" else X * (rng.random(X.shape) < level)


def corrupt_unseeded(X, kind, level, seed):
    return corrupt(X, kind, level, int(np.random.default_rng().integers(10**6)))


def corrupt_mask_scales(X, kind, level, seed):  # inverted dropout's rescaling: the kept entries change
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return X + level * rng.normal(size=X.shape)
    keep = rng.random(X.shape) >= level
    return X * keep / max(1 - level, 1e-12)


@pytest.mark.parametrize("check, fn, messages", [
    (checks.check_pca_subspace, pca_not_centred, ["another subspace", "before* centring"]),
    (checks.check_pca_subspace, pca_rows, ["one basis vector per column", "transpose"]),
    (checks.check_pca_subspace, pca_smallest, ["another subspace", "degrees"]),
    (checks.check_pca_subspace, pca_scaled, ["not orthonormal"]),
    (checks.check_principal_angles, angles_no_orthonormalisation, ["principal_angles is not correct", "the result is wrong"]),
    (checks.check_principal_angles, angles_in_degrees, ["degrees: return radians"]),
    (checks.check_principal_angles, angles_descending, ["sort them ascending"]),
    (checks.check_linear_ae_loss_and_grads, loss_mean_over_entries, ["loss is wrong", "dW_enc is wrong"]),
    (checks.check_linear_ae_loss_and_grads, loss_without_half, ["loss is wrong", "dW_enc and dW_dec are right"]),
    (checks.check_linear_ae_loss_and_grads, dW_enc_forgets_W_dec, ["dW_enc is wrong", "loss and dW_dec are right"]),
    (checks.check_corrupt, corrupt_unscaled, ["standard deviation", "expected level = 0.3"]),
    (checks.check_corrupt, corrupt_multiplicative, ["added, level * N(0, 1), not multiplied"]),
    (checks.check_corrupt, corrupt_mask_inverted, ["is the mask inverted"]),
    (checks.check_corrupt, corrupt_unseeded, ["same seed gave different results"]),
    (checks.check_corrupt, corrupt_mask_scales, ["unchanged or 0"]),
])
def test_usual_mistakes_fail_and_say_what_is_wrong(check, fn, messages):
    with pytest.raises(CheckFailed) as info:
        check(fn)
    for message in messages:
        assert message in str(info.value), str(info.value)


# --- the denoising autoencoder (torch) -------------------------------------------------------------------

torch = pytest.importorskip("torch")


def train_denoising_ae(X_train, level, epochs, seed, unseeded=False):
    """An independent torch answer: one hidden layer, Adam, fresh noise every batch."""
    torch.manual_seed(int(np.random.default_rng().integers(10**6)) if unseeded else seed)
    X = torch.as_tensor(np.asarray(X_train), dtype=torch.float32)
    d = X.shape[1]
    model = torch.nn.Sequential(torch.nn.Linear(d, 128), torch.nn.ReLU(), torch.nn.Linear(128, d),
                                torch.nn.Sigmoid())
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(epochs):
        for idx in torch.randperm(len(X)).split(32):
            clean = X[idx]
            noisy = clean + level * torch.randn_like(clean)
            loss = ((model(noisy) - clean) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model


@pytest.fixture(scope="module")
def images():
    X_train, X_test = checks.denoising_data(n_train=1000, n_test=200)
    return X_train, X_test


def test_a_denoising_autoencoder_is_judged_by_the_noise_it_removes(images, capsys):
    X_train, X_test = images
    checks.check_train_denoising_ae(train_denoising_ae, level=0.4, epochs=4, X_train=X_train, X_test=X_test)
    assert capsys.readouterr().out.startswith("✓")

    def identity(X_train, level, epochs, seed):  # an overcomplete copy: returns its input, noise included
        return torch.nn.Identity()

    with pytest.raises(CheckFailed, match="the noisy images' error divided by the reconstructions' error 1.00"):
        checks.check_train_denoising_ae(identity, level=0.4, epochs=4, X_train=X_train, X_test=X_test)

    def unseeded(X_train, level, epochs, seed):
        return train_denoising_ae(X_train, level, epochs, seed, unseeded=True)

    with pytest.raises(CheckFailed, match="same seed gave different results"):
        checks.check_train_denoising_ae(unseeded, level=0.4, epochs=4, X_train=X_train, X_test=X_test)

    def numpy_out(X_train, level, epochs, seed):
        return lambda x: np.zeros((3, 3))

    with pytest.raises(CheckFailed, match=r"must map \(N, 784\) to \(N, 784\)"):
        checks.check_train_denoising_ae(numpy_out, level=0.4, epochs=4, X_train=X_train, X_test=X_test)
