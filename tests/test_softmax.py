import warnings

import numpy as np
import pytest
import torch
from scipy.special import softmax as scipy_softmax
from sklearn.metrics import log_loss

from dlcourse import data, softmax as S


def test_softmax_matches_scipy_and_is_stable():
    rng = np.random.default_rng(0)
    Z = rng.normal(scale=5, size=(7, 4))
    np.testing.assert_allclose(S.softmax(Z), scipy_softmax(Z, axis=1), rtol=1e-13)
    np.testing.assert_allclose(S.softmax(Z[0]), scipy_softmax(Z[0]), rtol=1e-13)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P = S.softmax(np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0]]))
        L = S.log_softmax(np.array([[1000.0, -1000.0]]))
    np.testing.assert_allclose(P, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(L, [[0.0, -2000.0]])
    # the sigmoid is the two-class softmax: softmax([a, 0])[0] = sigmoid(a)
    a = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(S.softmax(np.c_[a, np.zeros_like(a)])[:, 0], 1 / (1 + np.exp(-a)), rtol=1e-13)
    with pytest.raises(ValueError, match="logits"):
        S.softmax(np.zeros((2, 2, 2)))


def test_cross_entropy_matches_sklearn_log_loss():
    rng = np.random.default_rng(1)
    P = S.softmax(rng.normal(size=(20, 5)))
    y = rng.integers(0, 5, size=20)
    assert S.cross_entropy(P, y) == pytest.approx(log_loss(y, P, labels=range(5)), rel=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert S.cross_entropy(np.array([[1.0, 0.0]]), [1]) == np.inf
    with pytest.raises(ValueError, match="only 5 classes"):
        S.cross_entropy(P, np.full(20, 5))
    with pytest.raises(ValueError, match="integer class labels"):
        S.cross_entropy(P, np.full(20, 0.5))


def test_loss_and_grad_match_torch_autograd():
    rng = np.random.default_rng(2)
    X, y, W = rng.normal(size=(15, 3)), rng.integers(0, 4, size=15), rng.normal(size=(4, 4))
    loss, dW = S.loss_and_grad(W, X, y)
    Wt = torch.tensor(W, requires_grad=True)
    logits = torch.tensor(X) @ Wt[:-1] + Wt[-1]
    lt = torch.nn.functional.cross_entropy(logits, torch.tensor(y))
    lt.backward()
    assert loss == pytest.approx(lt.item(), rel=1e-12)
    np.testing.assert_allclose(dW, Wt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_sgd_matches_torch_sgd_with_the_same_batches():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(23, 3)), rng.integers(0, 3, size=23)
    W = S.sgd_softmax_regression(X, y, 3, lr=0.3, batch_size=5, epochs=4, seed=7)
    Wt = torch.zeros(4, 3, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([Wt], lr=0.3)
    order_rng = np.random.default_rng(7)
    for _ in range(4):
        order = order_rng.permutation(23)
        for start in range(0, 23, 5):
            b = order[start:start + 5]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(torch.tensor(X[b]) @ Wt[:-1] + Wt[-1], torch.tensor(y[b])).backward()
            opt.step()
    np.testing.assert_allclose(W, Wt.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_full_batch_sgd_is_gradient_descent_whatever_the_seed_and_epochs_zero_is_zero():
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(12, 2)), rng.integers(0, 3, size=12)
    a = S.sgd_softmax_regression(X, y, 3, lr=0.5, batch_size=12, epochs=6, seed=0)
    b = S.sgd_softmax_regression(X, y, 3, lr=0.5, batch_size=100, epochs=6, seed=99)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    assert not S.sgd_softmax_regression(X, y, 3, lr=0.5, batch_size=4, epochs=0, seed=0).any()


def test_softmax_regression_reaches_90_percent_on_held_out_digits():
    X_tr, X_te, y_tr, y_te = data.digits_split()
    W = S.sgd_softmax_regression(X_tr, y_tr, 10, lr=0.5, batch_size=32, epochs=10, seed=0)
    assert W.shape == (65, 10)
    acc = np.mean(S.predict(W, X_te) == y_te)
    assert acc >= 0.90
    C = S.confusion_matrix(y_te, S.predict(W, X_te), 10)
    assert C.sum() == len(y_te) and np.trace(C) == round(acc * len(y_te))
    np.testing.assert_array_equal(C.sum(axis=1), np.bincount(y_te, minlength=10))


def test_bad_shapes_are_explained():
    X = np.zeros((4, 3))
    with pytest.raises(ValueError, match="W must have shape \\(4, K\\)"):
        S.predict(np.zeros((3, 2)), X)
    with pytest.raises(ValueError, match="one label per row"):
        S.sgd_softmax_regression(X, [0, 1], 2, 0.1, 2, 1, 0)
