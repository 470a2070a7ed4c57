"""Argument validation: bad input fails early with a ValueError that says what was expected."""

import numpy as np
import pytest

from dlcourse import _validate as V


def test_as_rng_takes_a_generator_or_a_seed_and_nothing_else():
    g = np.random.default_rng(3)
    assert V.as_rng(g) is g
    assert V.as_rng(3).random() == np.random.default_rng(3).random()
    assert V.as_rng(np.int64(3)).random() == np.random.default_rng(3).random()
    for bad in (-1, 1.5, True, "3", None):
        with pytest.raises(ValueError, match="seed must be a numpy Generator or a non-negative integer"):
            V.as_rng(bad, "seed")


def test_label_validators_name_the_expected_labels():
    assert V.as_labels01([0, 1, 1], "y", 3).dtype == np.float64
    with pytest.raises(ValueError, match="only the labels 0 and 1"):
        V.as_labels01([0, 2, 1], "y", 3)
    with pytest.raises(ValueError, match=r"2 \* y - 1"):
        V.as_labels_pm1([0, 1], "y", 2)
    with pytest.raises(ValueError, match=r"must have shape \(3,\)"):
        V.as_labels_pm1([1, -1], "y", 3)
    np.testing.assert_array_equal(V.as_class_labels([0.0, 2.0], "y", 2, 3), [0, 2])
    with pytest.raises(ValueError, match="only 3 classes"):
        V.as_class_labels([0, 3], "y", 2, 3)


def test_arrays_scalars_and_covariances():
    with pytest.raises(ValueError, match="must be numeric"):
        V.as_float_array(["a"], "x")
    with pytest.raises(ValueError, match="a 2-D array"):
        V.as_matrix(np.zeros(3), "X")
    with pytest.raises(ValueError, match="must be finite"):
        V.as_scalar(np.inf, "lr")
    with pytest.raises(ValueError, match="positive definite"):
        V.as_covariance([[1.0, 2.0], [2.0, 1.0]], "Sigma", 2)
