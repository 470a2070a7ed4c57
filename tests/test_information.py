import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy

from dlcourse import information as I


def test_entropy_cross_entropy_and_kl_match_scipy():
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(6))
    assert I.entropy(p) == pytest.approx(scipy_entropy(p))
    assert I.kl_divergence(p, q) == pytest.approx(scipy_entropy(p, q))
    assert I.distribution_cross_entropy(p, q) == pytest.approx(I.entropy(p) + I.kl_divergence(p, q))
    assert I.kl_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(I.entropy(np.array([[1.0, 0.0], [0.5, 0.5]])), [0.0, np.log(2)])


def test_zero_probabilities_follow_the_conventions():
    assert I.distribution_cross_entropy([0.0, 1.0], [0.5, 0.5]) == pytest.approx(np.log(2))
    assert I.distribution_cross_entropy([0.5, 0.5], [1.0, 0.0]) == np.inf


def test_not_a_distribution_is_rejected():
    with pytest.raises(ValueError, match="sum to 1"):
        I.entropy([0.5, 0.6])
    with pytest.raises(ValueError, match="non-negative"):
        I.entropy([1.5, -0.5])


def test_jensen_shannon_is_symmetric_bounded_and_matches_scipy():
    from scipy.spatial.distance import jensenshannon

    rng = np.random.default_rng(1)
    p, q = rng.dirichlet(np.ones(7)), rng.dirichlet(np.ones(7))
    assert I.jensen_shannon(p, q) == pytest.approx(jensenshannon(p, q) ** 2)   # scipy gives the square root
    assert I.jensen_shannon(p, q) == pytest.approx(I.jensen_shannon(q, p))
    assert I.jensen_shannon(p, p) == pytest.approx(0.0, abs=1e-12)
    assert I.jensen_shannon([1.0, 0.0], [0.0, 1.0]) == pytest.approx(np.log(2))    # disjoint supports: the maximum
    assert 0 < I.jensen_shannon([0.5, 0.5, 0.0], [0.0, 0.5, 0.5]) < np.log(2)
    with pytest.raises(ValueError, match="sum to 1"):
        I.jensen_shannon([0.5, 0.6], [0.5, 0.5])
