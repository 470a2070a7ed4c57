import numpy as np
import pytest

from dlcourse.gradcheck import check_layer, gradient_check, numerical_gradient, relative_error


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


# --- gradient_check and check_layer -----------------------------------------------------------------------

def quadratic_form():
    rng = np.random.default_rng(0)
    A, x, w = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=4)
    f = lambda v: float(v["x"] @ v["A"] @ v["w"])  # noqa: E731
    return f, {"A": A, "x": x, "w": w}, {"A": np.outer(x, w), "x": A @ w, "w": A.T @ x}


def test_gradient_check_reports_tiny_errors_for_correct_gradients():
    f, inputs, grads = quadratic_form()
    errors = gradient_check(f, inputs, grads)
    assert set(errors) == {"A", "x", "w"}
    assert max(errors.values()) < 1e-8, errors


def test_gradient_check_reports_large_errors_for_a_wrong_gradient():
    f, inputs, grads = quadratic_form()
    errors = gradient_check(f, inputs, {**grads, "A": np.outer(inputs["x"], inputs["w"][::-1])})  # w reversed
    assert errors["A"] > 1e-2 and errors["x"] < 1e-8
    errors = gradient_check(f, inputs, {**grads, "w": 0.5 * grads["w"]})  # a forgotten factor 2
    assert errors["w"] == pytest.approx(1 / 3, rel=1e-6)


def test_gradient_check_checks_only_the_named_inputs_and_leaves_them_alone():
    f, inputs, grads = quadratic_form()
    before = {k: v.copy() for k, v in inputs.items()}
    assert set(gradient_check(f, inputs, {"x": grads["x"]})) == {"x"}
    for k in inputs:
        np.testing.assert_array_equal(inputs[k], before[k])


@pytest.mark.parametrize("analytic, message", [
    ({"y": np.zeros(3)}, r"not among the inputs \['A', 'w', 'x'\]"),
    ({"x": np.zeros(4)}, r"analytic\['x'\] must have the shape of inputs\['x'\], \(3,\)"),
])
def test_gradient_check_rejects_bad_input(analytic, message):
    f, inputs, _ = quadratic_form()
    with pytest.raises(ValueError, match=message):
        gradient_check(f, inputs, analytic)


class Scale:
    """A minimal layer: out = x * s (elementwise), with a parameter s; ``wrong`` breaks its backward."""

    def __init__(self, d, wrong=False):
        self.params = {"s": np.linspace(0.5, 2.0, d)}
        self.grads = {"s": np.zeros(d)}
        self.wrong = wrong

    def forward(self, x):
        self.x = x
        return x * self.params["s"]

    def backward(self, dout):
        self.grads["s"] = (dout * self.x).sum(axis=0) * (2.0 if self.wrong else 1.0)
        return dout * self.params["s"]


def test_check_layer_on_a_correct_and_a_wrong_layer():
    x = np.random.default_rng(1).normal(size=(5, 3))
    layer = Scale(3)
    s = layer.params["s"]
    errors = check_layer(layer, x)
    assert set(errors) == {"x", "s"} and max(errors.values()) < 1e-8
    assert layer.params["s"] is s  # parameters perturbed in place, then restored
    np.testing.assert_array_equal(s, np.linspace(0.5, 2.0, 3))
    errors = check_layer(Scale(3, wrong=True), x)
    assert errors["x"] < 1e-8 and errors["s"] == pytest.approx(1 / 3, rel=1e-6)


def test_check_layer_accepts_containers_with_params_methods():
    class Pair:
        def __init__(self):
            self.a, self.b = Scale(3), Scale(3)

        def forward(self, x):
            return self.b.forward(np.tanh(self.a.forward(x)))

        def backward(self, dout):
            dh = self.b.backward(dout)
            return self.a.backward(dh * (1 - np.tanh(self.a.x * self.a.params["s"]) ** 2))

        def params(self):
            return {"a.s": self.a.params["s"], "b.s": self.b.params["s"]}

        def grads(self):
            return {"a.s": self.a.grads["s"], "b.s": self.b.grads["s"]}

    errors = check_layer(Pair(), np.random.default_rng(2).normal(size=(4, 3)))
    assert set(errors) == {"x", "a.s", "b.s"} and max(errors.values()) < 1e-8
