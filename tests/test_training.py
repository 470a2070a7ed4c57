import numpy as np
import pytest

from dlcourse import data, layers, optim, training
from dlcourse.gradcheck import numerical_gradient


def test_build_mlp_stacks_the_layers_in_order():
    net = training.build_mlp([4, 8, 6, 3], activation="tanh", p_drop=0.5, seed=0)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert net.forward(np.zeros((2, 4))).shape == (2, 3)
    with pytest.raises(ValueError, match="at least the input size"):
        training.build_mlp([4])


def test_build_mlp_initialises_by_activation_and_counts_parameters():
    relu, tanh = training.build_mlp([2, 5, 3, 4], seed=1), training.build_mlp([2, 5, 3, 4], activation="tanh", seed=1)
    assert [type(layer).__name__ for layer in tanh.layers] == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    assert relu(np.zeros((7, 2))).shape == (7, 4) and training.hidden_widths(relu) == [5, 3]
    assert training.n_parameters(relu) == (2 * 5 + 5) + (5 * 3 + 3) + (3 * 4 + 4)
    assert training.n_parameters(training.build_mlp([3, 2])) == 3 * 2 + 2  # no hidden layer: a linear model
    # He for ReLU, Glorot (uniform, bounded by sqrt(6 / (fan_in + fan_out))) for tanh
    assert np.all(np.abs(tanh.params()["0.W"]) <= np.sqrt(6 / 7)) and np.any(np.abs(relu.params()["0.W"]) > np.sqrt(6 / 7))
    assert np.all(np.abs(relu.params()["4.W"]) <= np.sqrt(6 / 7))  # the output layer (no activation after it): Glorot
    np.testing.assert_array_equal(training.build_mlp([2, 5, 3, 4], seed=1).params()["2.W"], relu.params()["2.W"])
    rng = np.random.default_rng(4)
    np.testing.assert_array_equal(training.build_mlp([3, 4, 2], init="he", seed=rng).params()["0.W"],
                                  layers.init_weights(3, 4, "he", np.random.default_rng(4)))
    with pytest.raises(ValueError, match="activation must be one of"):
        training.build_mlp([2, 4, 2], activation="gelu")
    with pytest.raises(ValueError, match="widths must be >= 1"):
        training.build_mlp([2, 4, 0, 2])


def test_full_batch_fit_solves_xor_and_is_deterministic():
    X, y = data.xor(200, noise=0.2, rng=0)

    def run(hidden):
        net = training.build_mlp([2, *hidden, 2], seed=0)
        return net, training.fit(net, optim.Adam(0.05), X, y, epochs=300, batch_size=None)

    net, hist = run([8])
    assert len(hist["train loss"]) == 300 and hist["train loss"][-1] < 0.1 * hist["train loss"][0]
    assert training.accuracy(net, X, y) > 0.97
    P = training.predict_proba(net, X)
    assert P.shape == (200, 2) and np.allclose(P.sum(axis=1), 1.0)
    assert run([8])[1]["train loss"] == hist["train loss"]
    linear_model, _ = run([])
    assert training.accuracy(linear_model, X, y) < 0.75  # no hidden layer: XOR stays out of reach


def test_fit_calls_on_epoch_and_takes_a_generator_for_the_order():
    X_tr, _, y_tr, _ = data.digits_split()
    seen = []
    net = training.build_mlp([64, 16, 10], seed=0)
    training.fit(net, optim.SGD(0.1), X_tr[:200], y_tr[:200], epochs=3, seed=np.random.default_rng(7),
                 on_epoch=lambda epoch, hist: seen.append((epoch, hist["train loss"][-1])))
    assert [e for e, _ in seen] == [1, 2, 3] and seen[-1][1] < seen[0][1]
    again = training.build_mlp([64, 16, 10], seed=0)
    training.fit(again, optim.SGD(0.1), X_tr[:200], y_tr[:200], epochs=3, seed=7)
    np.testing.assert_array_equal(again.params()["0.W"], net.params()["0.W"])  # an int seed = its Generator


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
    net.eval()
    training.evaluate(net, X, y)
    assert not net.layers[2].training  # the mode it had is restored


def test_backprop_per_layer_gives_the_weight_gradients():
    rng = np.random.default_rng(0)
    net = training.build_mlp([3, 4, 4, 2], activation="sigmoid", init="normal", seed=0)
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
