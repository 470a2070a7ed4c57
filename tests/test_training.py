import numpy as np
import pytest

from dlcourse import data, layers, optim, training
from dlcourse.gradcheck import numerical_gradient


def test_build_mlp_stacks_the_layers_in_order():
    net = training.build_mlp([4, 8, 6, 3], act=layers.Tanh, p_drop=0.5, seed=0)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert net.forward(np.zeros((2, 4))).shape == (2, 3)
    with pytest.raises(ValueError, match="at least the input size"):
        training.build_mlp([4])


def test_fit_learns_the_digits_keeps_the_best_epoch_and_is_deterministic():
    X_tr, X_te, y_tr, y_te = data.digits_split()
    runs = [training.fit(training.build_mlp([64, 32, 10], seed=1), optim.Adam(0.01), X_tr, y_tr, epochs=5,
                         val=(X_te, y_te)) for _ in range(2)]
    h = runs[0]
    assert h["train loss"][-1] < h["train loss"][0] and h["val error"][-1] < 0.1
    assert len(h["weight norm"]) == 5 and 1 <= h["best epoch"] <= 5
    assert min(h["val loss"]) == h["val loss"][h["best epoch"] - 1]
    np.testing.assert_array_equal(runs[0]["train loss"], runs[1]["train loss"])


def test_evaluate_turns_dropout_off_and_back_on():
    net = training.build_mlp([3, 50, 2], p_drop=0.9, seed=0)
    X, y = np.ones((5, 3)), np.zeros(5, dtype=int)
    assert training.evaluate(net, X, y) == training.evaluate(net, X, y)  # no random mask at evaluation
    assert net.layers[2].training


def test_backprop_per_layer_gives_the_weight_gradients():
    rng = np.random.default_rng(0)
    net = training.build_mlp([3, 4, 4, 2], act=layers.Sigmoid, init="normal", seed=0)
    X, y = rng.normal(size=(6, 3)), rng.integers(0, 2, size=6)
    out = training.backprop_per_layer(net, X, y)
    assert len(out["h"]) == 2 and len(out["dA"]) == 2 and len(out["dW"]) == 3
    W = net.layers[0].params["W"]

    def loss(w):
        saved = W.copy()
        W[...] = w
        value = layers.SoftmaxCrossEntropy().forward(net.forward(X), y)
        W[...] = saved
        return value

    np.testing.assert_allclose(out["dW"][0], numerical_gradient(loss, W.copy()), rtol=1e-5, atol=1e-9)
