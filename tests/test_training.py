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


def test_fit_records_extra_metrics_per_epoch():
    X_tr, X_te, y_tr, y_te = data.digits_split()
    net = training.build_mlp([64, 16, 10], p_drop=0.5, seed=0)
    seen = []
    hist = training.fit(net, optim.SGD(0.1), X_tr[:300], y_tr[:300], epochs=4,
                        metrics={"test accuracy": lambda n: training.accuracy(n, X_te, y_te),
                                 "first half": lambda n: training.accuracy(n, X_tr[:150], y_tr[:150])},
                        on_epoch=lambda epoch, h: seen.append(h["test accuracy"][-1]))
    assert len(hist["test accuracy"]) == 4 == len(hist["first half"]) and hist["test accuracy"] == seen
    assert hist["test accuracy"][-1] == training.accuracy(net, X_te, y_te)  # dropout off, as accuracy has it
    plain = training.fit(training.build_mlp([64, 16, 10], p_drop=0.5, seed=0), optim.SGD(0.1), X_tr[:300],
                         y_tr[:300], epochs=4)
    assert plain["train loss"] == hist["train loss"]  # measuring changes nothing
    with pytest.raises(ValueError, match="history's own keys"):
        training.fit(net, optim.SGD(0.1), X_tr[:10], y_tr[:10], epochs=1, metrics={"val loss": len})
    with pytest.raises(ValueError, match="dict"):
        training.fit(net, optim.SGD(0.1), X_tr[:10], y_tr[:10], epochs=1, metrics=[len])


def test_fit_on_step_sees_every_batch_can_set_the_rate_and_stop():
    X_tr, _, y_tr, _ = data.digits_split()
    X, y = X_tr[:100], y_tr[:100]
    steps, rates = [], []
    opt = optim.SGD(0.1)

    def watch(step, loss, net):
        steps.append((step, loss, training.layer_grad_norms(net)))
        opt.lr = 0.1 / step
        rates.append(opt.lr)

    hist = training.fit(training.build_mlp([64, 8, 10], seed=2), opt, X, y, epochs=3, batch_size=30, on_step=watch)
    assert [s for s, _, _ in steps] == list(range(1, 13))  # 4 mini-batches (30, 30, 30, 10) per epoch
    ce = layers.SoftmaxCrossEntropy()
    again = training.build_mlp([64, 8, 10], seed=2)
    idx = np.random.default_rng(0).permutation(100)[:30]
    assert steps[0][1] == pytest.approx(ce.forward(again.forward(X[idx]), y[idx]))  # the first batch's loss
    again.backward(ce.backward())
    np.testing.assert_allclose(steps[0][2], training.layer_grad_norms(again))
    constant = training.fit(training.build_mlp([64, 8, 10], seed=2), optim.SGD(0.1), X, y, epochs=3, batch_size=30)
    assert rates[-1] == pytest.approx(0.1 / 12) and hist["train loss"] != constant["train loss"]  # rates changed
    stopped = training.build_mlp([64, 8, 10], seed=2)
    before = {k: p.copy() for k, p in stopped.params().items()}
    h = training.fit(stopped, optim.SGD(0.1), X, y, epochs=3, batch_size=30, on_step=lambda s, loss, n: s == 1)
    assert h["train loss"] == [] and all(np.array_equal(before[k], p) for k, p in stopped.params().items())


def test_layer_grad_norms_are_the_norms_of_the_weight_gradients():
    rng = np.random.default_rng(1)
    net = training.build_mlp([5, 7, 6, 3], activation="tanh", seed=1)
    assert np.array_equal(training.layer_grad_norms(net), np.zeros(3))  # before any backward pass
    out = training.backprop_per_layer(net, rng.normal(size=(8, 5)), rng.integers(0, 3, size=8))
    np.testing.assert_allclose(training.layer_grad_norms(net), [np.linalg.norm(g) for g in out["dW"]])
    deep = training.build_mlp([64] + [50] * 5 + [10], activation="sigmoid", init="normal", seed=1)
    X_tr, _, y_tr, _ = data.digits_split()
    training.backprop_per_layer(deep, X_tr[:200], y_tr[:200])
    norms = training.layer_grad_norms(deep)
    assert norms.shape == (6,) and norms[0] < 0.01 * norms[-1]  # vanishing gradients, seen in the norms


def test_smooth_losses_is_a_bias_corrected_moving_average():
    np.testing.assert_allclose(training.smooth_losses([2.0, 2.0, 2.0]), [2.0, 2.0, 2.0])
    s = training.smooth_losses([1.0, 3.0], smoothing=0.5)
    np.testing.assert_allclose(s, [1.0, (0.25 * 1 + 0.5 * 3) / 0.75])
    np.testing.assert_array_equal(training.smooth_losses([1.0, 5.0], smoothing=0.0), [1.0, 5.0])
    with pytest.raises(ValueError, match="smoothing"):
        training.smooth_losses([1.0], smoothing=1.0)


def test_suggest_lr_picks_a_rate_below_the_bottom_of_the_smoothed_loss():
    lrs = np.logspace(-3, 1, 41)
    losses = 2.0 - np.log10(lrs / 1e-3) / 3 + np.where(lrs > 1.0, 50 * (lrs - 1.0), 0.0)  # bottom at lr = 1
    edge, pick = training.suggest_lr(lrs, losses, smoothing=0.0)
    assert edge == pytest.approx(1.0) and pick == pytest.approx(0.1)
    blown = np.where(lrs > 2, np.nan, losses)  # non-finite losses are left out
    assert training.suggest_lr(lrs, blown, smoothing=0.0, factor=4)[1] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="finite"):
        training.suggest_lr(lrs, np.full(41, np.nan))
    with pytest.raises(ValueError, match=r"losses must have shape \(41,\)"):
        training.suggest_lr(lrs, losses[:-1])


def test_lr_range_test_raises_the_rate_geometrically_and_stops_when_the_loss_blows_up():
    X_tr, _, y_tr, _ = data.digits_split()
    X = (X_tr - X_tr.mean(axis=0)) / (X_tr.std(axis=0) + 1e-8)

    def factory():
        return training.build_mlp([64, 32, 10], seed=3)

    lrs, losses = training.lr_range_test(factory, X, y_tr, lr_min=1e-3, lr_max=30.0, n_steps=120, seed=0)
    assert len(lrs) == len(losses) < 120  # it blew up before lr_max
    np.testing.assert_allclose(lrs, 1e-3 * (30.0 / 1e-3) ** (np.arange(len(lrs)) / 119))
    smoothed = training.smooth_losses(losses)
    assert smoothed[-1] > 4 * smoothed.min() and np.all(smoothed[:-1] <= 4 * np.minimum.accumulate(smoothed)[:-1])
    edge, pick = training.suggest_lr(lrs, losses)
    assert 0.1 < edge < lrs[-1] and pick == pytest.approx(edge / 10)
    again = training.lr_range_test(factory, X, y_tr, lr_min=1e-3, lr_max=30.0, n_steps=120, seed=0)
    np.testing.assert_array_equal(again[1], losses)
    short, _ = training.lr_range_test(factory, X, y_tr, lr_min=1e-4, lr_max=1e-3, n_steps=50, batch_size=64,
                                      optimizer=lambda lr: optim.Momentum(lr, 0.9))
    assert len(short) == 50 and short[-1] == pytest.approx(1e-3)  # spans several epochs; never blows up
    # the fresh network is trained at a rate that is safe: 10 times below the edge it learns the digits
    net = factory()
    training.fit(net, optim.SGD(pick), X, y_tr, epochs=5)
    assert training.accuracy(net, X, y_tr) > 0.9
    with pytest.raises(ValueError, match="lr_min must be below lr_max"):
        training.lr_range_test(factory, X, y_tr, lr_min=1.0, lr_max=0.1)
