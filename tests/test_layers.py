import warnings

import numpy as np
import pytest
import torch

from dlcourse import layers
from dlcourse.gradcheck import check_layer, gradient_check

F = torch.nn.functional


def t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


# --- the graded functions ---------------------------------------------------------------------------------


def test_linear_forward_backward_against_finite_differences_and_torch():
    rng = np.random.default_rng(0)
    x, W, b = rng.normal(size=(5, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)
    out = layers.linear_forward(x, W, b)
    np.testing.assert_allclose(out, x @ W + b, rtol=1e-14)
    dout = rng.normal(size=(5, 3))
    dx, dW, db = layers.linear_backward(dout, x, W)
    assert (dx.shape, dW.shape, db.shape) == ((5, 4), (4, 3), (3,))
    errors = gradient_check(lambda v: np.sum(layers.linear_forward(v["x"], v["W"], v["b"]) * dout),
                            {"x": x, "W": W, "b": b}, {"x": dx, "W": dW, "b": db})
    assert max(errors.values()) < 1e-7, errors
    xt, Wt, bt = t(x, True), t(W, True), t(b, True)
    (xt @ Wt + bt).backward(t(dout))
    for mine, theirs in ((dx, xt), (dW, Wt), (db, bt)):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_relu_forward_backward_and_the_kink_at_zero():
    x = np.array([[-2.0, 0.0, 3.0], [0.5, -0.0, -1e-300]])
    np.testing.assert_array_equal(layers.relu_forward(x), [[0, 0, 3], [0.5, 0, 0]])
    dx = layers.relu_backward(np.ones_like(x), x)
    np.testing.assert_array_equal(dx, [[0, 0, 1], [1, 0, 0]])  # exactly 0 at x = 0
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 6))
    dout = rng.normal(size=x.shape)
    xt = t(x, True)
    torch.relu(xt).backward(t(dout))
    np.testing.assert_array_equal(layers.relu_backward(dout, x), xt.grad.numpy())


def test_softmax_cross_entropy_against_torch_and_finite_differences():
    rng = np.random.default_rng(2)
    logits, y = rng.normal(scale=3.0, size=(7, 5)), rng.integers(0, 5, size=7)
    loss, dlogits = layers.softmax_cross_entropy(logits, y)
    assert isinstance(loss, float) and dlogits.shape == (7, 5)
    lt = t(logits, True)
    loss_t = F.cross_entropy(lt, torch.tensor(y))
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-13)
    np.testing.assert_allclose(dlogits, lt.grad.numpy(), rtol=1e-12, atol=1e-15)
    # finite differences on logits of scale 1: with larger ones some gradient entries (probabilities ~1e-7)
    # drown in the rounding noise of the differences and the elementwise relative error grows
    z = logits / 3.0
    err = gradient_check(lambda v: layers.softmax_cross_entropy(v["z"], y)[0], {"z": z},
                         {"z": layers.softmax_cross_entropy(z, y)[1]})
    assert err["z"] < 1e-7
    np.testing.assert_allclose(dlogits.sum(axis=1), 0.0, atol=1e-15)  # softmax and one-hot both sum to 1


def test_softmax_cross_entropy_is_stable_at_plus_minus_1000():
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0], [1000.0, 1000.0, 1000.0]])
    y = np.array([1, 1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dlogits = layers.softmax_cross_entropy(logits, y)
    assert np.isfinite(loss) and np.isfinite(dlogits).all()
    # -log p: 2000 for row 0, log 2 for row 1, log 3 for row 2
    assert loss == pytest.approx((2000.0 + np.log(2.0) + np.log(3.0)) / 3, rel=1e-14)
    lt = t(logits, True)
    F.cross_entropy(lt, torch.tensor(y)).backward()
    np.testing.assert_allclose(dlogits, lt.grad.numpy(), atol=1e-15)


@pytest.mark.parametrize("call, message", [
    (lambda: layers.linear_forward(np.ones((2, 3)), np.ones((4, 2)), np.ones(2)),
     r"W must have shape \(D, M\) with D = 3"),
    (lambda: layers.linear_forward(np.ones((2, 3)), np.ones((3, 2)), np.ones(3)), r"b must have shape \(2,\)"),
    (lambda: layers.linear_forward(np.ones(3), np.ones((3, 2)), np.ones(2)), "x must be a 2-D array"),
    (lambda: layers.linear_backward(np.ones((2, 3)), np.ones((2, 3)), np.ones((3, 2))),
     r"dout must have the shape .* \(2, 2\)"),
    (lambda: layers.relu_backward(np.ones(3), np.ones(4)), r"dout must have the shape of the input x, \(4,\)"),
    (lambda: layers.relu_forward(["a"]), "x must be numeric"),
    (lambda: layers.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3])), r"labels in 0\.\.2"),
    (lambda: layers.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, -1])), "labels >= 0"),
    (lambda: layers.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.5])), "integer class labels"),
    (lambda: layers.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2])), r"y must have shape \(2,\)"),
    (lambda: layers.softmax_cross_entropy(np.zeros((2, 3)), np.array([True, False])), "integer class labels"),
    (lambda: layers.softmax_cross_entropy(np.zeros(3), np.array([0])), "logits must be a 2-D array"),
    (lambda: layers.init_weights(3, 2, "xavier", 0), "scheme must be one of"),
    (lambda: layers.Linear(3, 2, rng="seed"), "rng must be a numpy Generator"),
    (lambda: layers.Dropout(1.0, 0), "0 <= p < 1"),
    (lambda: layers.Linear(3, 2, 0).forward(np.ones((4, 2))), r"W must have shape \(D, M\) with D = 2"),
])
def test_bad_input_is_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_softmax_cross_entropy_accepts_integral_float_labels():
    z = np.random.default_rng(0).normal(size=(3, 4))
    a = layers.softmax_cross_entropy(z, np.array([0, 3, 1]))
    b = layers.softmax_cross_entropy(z, np.array([0.0, 3.0, 1.0]))
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


def test_sigmoid_and_tanh_functions():
    rng = np.random.default_rng(3)
    x, dout = rng.normal(scale=3.0, size=(4, 5)), rng.normal(size=(4, 5))
    for fwd, bwd, torch_fn in ((layers.sigmoid_forward, layers.sigmoid_backward, torch.sigmoid),
                               (layers.tanh_forward, layers.tanh_backward, torch.tanh)):
        xt = t(x, True)
        out_t = torch_fn(xt)
        out_t.backward(t(dout))
        out = fwd(x)
        np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-14)
        np.testing.assert_allclose(bwd(dout, out), xt.grad.numpy(), rtol=1e-12, atol=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(layers.sigmoid_forward(np.array([-1000.0, 1000.0])), [0.0, 1.0])


# --- initialisation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme, var", [
    ("he", 2 / 400), ("normal", 1 / 400), ("glorot", 2 / (400 + 300)), ("small", 1e-4),
])
def test_init_weights_variances(scheme, var):
    W = layers.init_weights(400, 300, scheme, np.random.default_rng(0))
    assert W.shape == (400, 300)
    assert abs(W.mean()) < 0.01 * np.sqrt(var) * 10
    assert W.var() == pytest.approx(var, rel=0.02)
    if scheme == "glorot":
        assert np.abs(W).max() <= np.sqrt(6 / 700)
    np.testing.assert_array_equal(W, layers.init_weights(400, 300, scheme, 0))  # a seed is a fresh Generator
    assert not layers.init_weights(3, 2, "zeros", 0).any()


# --- layer classes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: layers.Linear(4, 3, np.random.default_rng(0)),
    lambda: layers.Linear(4, 3, 1, init="glorot"),
    lambda: layers.ReLU(),
    lambda: layers.Sigmoid(),
    lambda: layers.Tanh(),
    lambda: layers.Dropout(0.4, 0).eval(),
], ids=["linear-he", "linear-glorot", "relu", "sigmoid", "tanh", "dropout-eval"])
def test_every_layer_backward_passes_the_gradient_check(make):
    layer = make()
    x = np.random.default_rng(5).normal(size=(6, 4))
    errors = check_layer(layer, x)
    assert set(errors) == {"x", *layer.params}
    assert max(errors.values()) < 1e-7, errors
    assert set(layer.grads) == set(layer.params)
    for name in layer.params:
        assert layer.grads[name].shape == layer.params[name].shape


@pytest.mark.parametrize("layer, torch_layer", [
    (layers.ReLU(), torch.nn.ReLU()), (layers.Sigmoid(), torch.nn.Sigmoid()), (layers.Tanh(), torch.nn.Tanh()),
])
def test_activation_layers_match_torch(layer, torch_layer):
    rng = np.random.default_rng(6)
    x, dout = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    xt = t(x, True)
    torch_layer(xt).backward(t(dout))
    np.testing.assert_allclose(layer.forward(x), torch_layer(t(x)).numpy(), rtol=1e-14)
    np.testing.assert_allclose(layer.backward(dout), xt.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_linear_layer_matches_torch():
    layer = layers.Linear(4, 2, 7)
    rng = np.random.default_rng(7)
    x, dout = rng.normal(size=(3, 4)), rng.normal(size=(3, 2))
    lin = torch.nn.Linear(4, 2, dtype=torch.float64)
    with torch.no_grad():
        lin.weight.copy_(t(layer.params["W"].T))
        lin.bias.copy_(t(layer.params["b"]))
    xt = t(x, True)
    out_t = lin(xt)
    out_t.backward(t(dout))
    np.testing.assert_allclose(layer.forward(x), out_t.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(layer.backward(dout), xt.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(layer.grads["W"], lin.weight.grad.numpy().T, rtol=1e-13)
    np.testing.assert_allclose(layer.grads["b"], lin.bias.grad.numpy(), rtol=1e-13)


def test_backward_before_forward_and_wrong_dout_shape():
    with pytest.raises(RuntimeError, match="before forward"):
        layers.ReLU().backward(np.ones(3))
    with pytest.raises(RuntimeError, match="before forward"):
        layers.SoftmaxCrossEntropy().backward()
    lin = layers.Linear(3, 2, 0)
    lin.forward(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"dout must have the shape of the output, \(4, 2\)"):
        lin.backward(np.ones((4, 3)))


def test_dropout_train_mode_statistics_and_mask():
    p = 0.3
    drop = layers.Dropout(p, np.random.default_rng(0))
    x = np.ones((200, 500))
    out = drop.forward(x)
    zeros = np.mean(out == 0)
    assert zeros == pytest.approx(p, abs=0.005)
    np.testing.assert_allclose(out[out != 0], 1 / (1 - p))
    assert out.mean() == pytest.approx(1.0, abs=0.01)  # inverted dropout keeps the expected value
    dout = np.random.default_rng(1).normal(size=x.shape)
    dx = drop.backward(dout)
    np.testing.assert_array_equal(dx == 0, out == 0)  # the same mask, not a new one
    np.testing.assert_allclose(dx, dout * out)  # out = mask, since x = 1
    # a second forward draws a new mask
    assert not np.array_equal(drop.forward(x), out)


def test_dropout_eval_mode_is_identity_and_seeded():
    x = np.random.default_rng(2).normal(size=(10, 8))
    drop = layers.Dropout(0.5, 3).eval()
    np.testing.assert_array_equal(drop.forward(x), x)
    np.testing.assert_array_equal(drop.backward(x), x)
    a = layers.Dropout(0.5, 3).forward(x)
    b = layers.Dropout(0.5, 3).forward(x)
    np.testing.assert_array_equal(a, b)  # same seed, same mask
    np.testing.assert_array_equal(layers.Dropout(0.0, 0).forward(x), x)


def test_softmax_cross_entropy_layer():
    rng = np.random.default_rng(8)
    z, y = rng.normal(size=(6, 4)), rng.integers(0, 4, size=6)
    loss_layer = layers.SoftmaxCrossEntropy()
    loss = loss_layer.forward(z, y)
    ref_loss, ref_grad = layers.softmax_cross_entropy(z, y)
    assert loss == ref_loss
    np.testing.assert_array_equal(loss_layer.backward(), ref_grad)


def small_mlp(seed=0):
    rng = np.random.default_rng(seed)
    return layers.Sequential(layers.Linear(5, 8, rng), layers.ReLU(), layers.Linear(8, 6, rng, init="glorot"),
                             layers.Tanh(), layers.Linear(6, 3, rng))


def test_sequential_params_and_gradient_check():
    model = small_mlp()
    names = list(model.params())
    assert names == ["0.W", "0.b", "2.W", "2.b", "4.W", "4.b"]
    assert model.params()["2.W"] is model.layers[2].params["W"]  # the arrays themselves, for in-place updates
    errors = check_layer(model, np.random.default_rng(1).normal(size=(7, 5)))
    assert set(errors) == {"x", *names}
    assert max(errors.values()) < 1e-7, errors
    assert list(model.grads()) == names
    assert [n for n, _, _ in model.named_params()] == names


def test_sequential_backward_equals_torch_for_a_small_mlp():
    model = small_mlp(3)
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(9, 5)), rng.integers(0, 3, size=9)
    loss_layer = layers.SoftmaxCrossEntropy()
    loss = loss_layer.forward(model.forward(x), y)
    dx = model.backward(loss_layer.backward())

    lins = [model.layers[i] for i in (0, 2, 4)]
    tmodel = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 6), torch.nn.Tanh(),
                                 torch.nn.Linear(6, 3)).double()
    with torch.no_grad():
        for mine, theirs in zip(lins, [tmodel[0], tmodel[2], tmodel[4]]):
            theirs.weight.copy_(t(mine.params["W"].T))
            theirs.bias.copy_(t(mine.params["b"]))
    xt = t(x, True)
    loss_t = F.cross_entropy(tmodel(xt), torch.tensor(y))
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-13)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-15)
    for mine, theirs in zip(lins, [tmodel[0], tmodel[2], tmodel[4]]):
        np.testing.assert_allclose(mine.grads["W"], theirs.weight.grad.numpy().T, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(mine.grads["b"], theirs.bias.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_sequential_modes_and_predict():
    rng = np.random.default_rng(0)
    model = layers.Sequential(layers.Linear(4, 16, rng), layers.ReLU(), layers.Dropout(0.5, rng),
                              layers.Linear(16, 3, rng))
    x = rng.normal(size=(10, 4))
    assert all(layer.training for layer in model.layers)
    logits = model.eval().forward(x)
    np.testing.assert_array_equal(model.forward(x), logits)  # eval: deterministic
    model.train()
    assert not np.array_equal(model.forward(x), logits)  # train: dropout active
    np.testing.assert_array_equal(model.predict(x), np.argmax(logits, axis=1))
    assert model.layers[2].training  # predict restored the mode
    with pytest.raises(ValueError, match="layer 1 must have forward"):
        layers.Sequential(layers.ReLU(), "relu")
    assert "Linear(4, 16)" in repr(model) and "Dropout(p=0.5)" in repr(model)
