"""The stable kernels that every reference function and layer shares, against scipy and torch."""

import warnings

import numpy as np
import pytest
import torch
from scipy.special import expit, log_expit, log_softmax as sp_log_softmax, softmax as sp_softmax, xlogy as sp_xlogy

from dlcourse import _numerics as K


def test_sigmoid_and_log_sigmoid_match_scipy_without_a_warning_at_plus_minus_1000():
    z = np.array([-1000.0, -30.0, -1e-9, 0.0, 2.5, 700.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(K.sigmoid(z), expit(z), rtol=1e-15, atol=0)
        np.testing.assert_allclose(K.log_sigmoid(z), log_expit(z), rtol=1e-14)
    assert K.sigmoid(np.zeros((2, 3))).shape == (2, 3)


def test_bce_with_logits_is_torch_binary_cross_entropy_with_logits():
    rng = np.random.default_rng(0)
    a, y = rng.normal(scale=20.0, size=(4, 50)), rng.integers(0, 2, size=50).astype(float)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(a), torch.tensor(y).expand(4, 50), reduction="none").mean(dim=1).numpy()
    np.testing.assert_allclose(K.bce_with_logits(a, y, axis=1), expected, rtol=1e-12)


def test_softmax_and_log_softmax_match_scipy_along_any_axis():
    Z = np.array([[1000.0, -1000.0, 0.0], [3.0, 3.0, 3.0]])
    for axis in (0, 1, -1):
        np.testing.assert_allclose(K.softmax(Z, axis=axis), sp_softmax(Z, axis=axis), rtol=1e-14, atol=1e-300)
        np.testing.assert_allclose(K.log_softmax(Z, axis=axis), sp_log_softmax(Z, axis=axis), rtol=1e-14)


def test_softmax_cross_entropy_and_its_gradient_match_torch():
    rng = np.random.default_rng(1)
    logits, y = rng.normal(scale=5.0, size=(7, 4)), rng.integers(0, 4, size=7)
    t = torch.tensor(logits, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(t, torch.tensor(y))
    loss_t.backward()
    loss, dlogits = K.softmax_cross_entropy(logits, y)
    assert loss == pytest.approx(loss_t.item(), rel=1e-14)
    np.testing.assert_allclose(dlogits, t.grad.numpy(), rtol=1e-12, atol=1e-16)


def test_xlogy_uses_the_convention_zero_log_zero_is_zero():
    x, y = np.array([0.0, 0.0, 0.5, 1.0]), np.array([0.0, 0.3, 0.0, 0.25])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = K.xlogy(x, y)
    np.testing.assert_array_equal(out, sp_xlogy(x, y))
    assert out[0] == 0.0 and out[2] == -np.inf
