import numpy as np
import pytest

from dlcourse.gradcheck import numerical_gradient, relative_error


def test_numerical_gradient_of_known_functions():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v**3), x), 3 * x**2, rtol=1e-7)
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sin(v).sum(), x), np.cos(x), rtol=1e-7)
    assert numerical_gradient(lambda v: float(v) ** 2, np.array(3.0)) == pytest.approx(6.0)


def test_numerical_gradient_leaves_its_input_alone():
    x = np.array([1.0, 2.0])
    numerical_gradient(lambda v: v @ v, x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_relative_error():
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error([1.0], [1.1]) == pytest.approx(0.1 / 2.1)
    assert relative_error([0.0], [0.0]) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        relative_error([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="eps must be > 0"):
        numerical_gradient(lambda v: 0.0, np.ones(2), eps=0.0)
