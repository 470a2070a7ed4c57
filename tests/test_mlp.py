import numpy as np
import pytest
import torch

from dlcourse import data, mlp, runtime
from dlcourse.gradcheck import gradient_check


def problem(seed, N=11, D=6, H=9, K=4):
    rng = np.random.default_rng(seed)
    params = mlp.init_mlp(D, H, K, rng)
    params["b1"] = 0.1 * rng.normal(size=H)
    params["b2"] = 0.1 * rng.normal(size=K)
    return params, rng.normal(size=(N, D)), rng.integers(0, K, size=N)


def test_init_mlp_shapes_scales_and_seed():
    p = mlp.init_mlp(300, 200, 10, seed=0)
    assert {k: v.shape for k, v in p.items()} == {"W1": (300, 200), "b1": (200,), "W2": (200, 10), "b2": (10,)}
    assert p["W1"].var() == pytest.approx(2 / 300, rel=0.03)
    assert p["W2"].var() == pytest.approx(2 / 200, rel=0.1)
    assert not p["b1"].any() and not p["b2"].any()
    q = mlp.init_mlp(300, 200, 10, seed=0)
    assert all(np.array_equal(p[k], q[k]) for k in p)
    assert not np.array_equal(p["W1"], mlp.init_mlp(300, 200, 10, seed=1)["W1"])


@pytest.mark.parametrize("seed, shape", [(0, (11, 6, 9, 4)), (1, (1, 3, 2, 2)), (2, (40, 8, 16, 10))])
def test_mlp_gradients_equal_torch_autograd(seed, shape):
    N, D, H, K = shape
    params, X, y = problem(seed, N, D, H, K)
    grads = mlp.mlp_gradients(params, X, y)
    assert {k: v.shape for k, v in grads.items()} == {k: v.shape for k, v in params.items()}
    model = mlp.params_to_torch(params, dtype=torch.float64)
    loss = torch.nn.functional.cross_entropy(model(torch.tensor(X)), torch.tensor(y))
    loss.backward()
    theirs = {"W1": model[0].weight.grad.numpy().T, "b1": model[0].bias.grad.numpy(),
              "W2": model[2].weight.grad.numpy().T, "b2": model[2].bias.grad.numpy()}
    for name in mlp.PARAM_NAMES:
        np.testing.assert_allclose(grads[name], theirs[name], rtol=1e-10, atol=1e-14, err_msg=name)
    assert mlp.mlp_loss(params, X, y) == pytest.approx(loss.item(), rel=1e-12)


def test_mlp_gradients_equal_finite_differences():
    params, X, y = problem(3)
    errors = gradient_check(lambda p: mlp.mlp_loss(p, X, y), params, mlp.mlp_gradients(params, X, y))
    assert set(errors) == set(mlp.PARAM_NAMES)
    assert max(errors.values()) < 1e-6, errors


def test_forward_predict_accuracy():
    params, X, y = problem(4)
    logits = mlp.mlp_forward(params, X)
    np.testing.assert_allclose(logits, np.maximum(X @ params["W1"] + params["b1"], 0) @ params["W2"] + params["b2"])
    np.testing.assert_array_equal(mlp.predict(params, X), logits.argmax(axis=1))
    assert mlp.accuracy(params, X, logits.argmax(axis=1)) == 1.0
    assert mlp.accuracy(params, X, y) == pytest.approx(np.mean(logits.argmax(axis=1) == y))


def test_torch_mlp_with_copied_params_gives_the_same_logits():
    params, X, _ = problem(5)
    model = mlp.torch_mlp(6, 9, 4)
    assert isinstance(model, torch.nn.Sequential)
    mlp.params_to_torch(params, model)
    with torch.no_grad():
        out32 = model(torch.tensor(X, dtype=torch.float32)).numpy()
        out64 = mlp.params_to_torch(params, dtype=torch.float64)(torch.tensor(X)).numpy()
    np.testing.assert_allclose(out32, mlp.mlp_forward(params, X), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out64, mlp.mlp_forward(params, X), rtol=1e-13, atol=1e-14)
    back = mlp.params_from_torch(mlp.params_to_torch(params, dtype=torch.float64))
    for name in mlp.PARAM_NAMES:
        np.testing.assert_array_equal(back[name], params[name])
        assert back[name].dtype == np.float64
    seeded = mlp.params_from_torch(mlp.torch_mlp(6, 9, 4, seed=7).double())
    init = mlp.init_mlp(6, 9, 4, seed=7)
    for name in mlp.PARAM_NAMES:
        np.testing.assert_allclose(seeded[name], init[name], rtol=1e-6)


@pytest.fixture(scope="module")
def digits():
    return data.digits_split()


@pytest.fixture(scope="module")
def trained(digits):
    X_train, _, y_train, _ = digits
    return mlp.train_mlp(X_train, y_train, hidden=64, lr=0.1, epochs=30, seed=0)


def test_train_mlp_reaches_95_percent_on_the_digits(digits, trained):
    _, X_test, _, y_test = digits
    assert mlp.accuracy(trained, X_test, y_test) >= 0.95


def test_train_mlp_is_deterministic_and_silent(digits, trained, capsys):
    X_train, _, y_train, _ = digits
    again = mlp.train_mlp(X_train, y_train, hidden=64, lr=0.1, epochs=30, seed=0)
    for name in mlp.PARAM_NAMES:
        np.testing.assert_array_equal(again[name], trained[name])
    other = mlp.train_mlp(X_train, y_train, hidden=64, lr=0.1, epochs=1, seed=1)
    assert not np.array_equal(other["W1"], trained["W1"])
    assert capsys.readouterr() == ("", "")


def test_train_mlp_starts_from_init_mlp_and_reports_epochs(digits):
    X, _, y, _ = digits
    p0 = mlp.train_mlp(X, y, hidden=16, lr=0.1, epochs=0, seed=3)
    init = mlp.init_mlp(64, 16, 10, seed=3)
    assert all(np.array_equal(p0[k], init[k]) for k in init)
    seen = []
    mlp.train_mlp(X[:200], y[:200], hidden=16, lr=0.1, epochs=3, seed=3, n_classes=10,
                  on_epoch=lambda epoch, loss: seen.append((epoch, loss)))
    assert [e for e, _ in seen] == [1, 2, 3]
    assert seen[-1][1] < seen[0][1]


def test_train_torch_mlp_reproduces_train_mlp_in_float64(digits):
    X, _, y, _ = digits
    X, y = X[:300], y[:300]
    mine = mlp.train_mlp(X, y, hidden=16, lr=0.1, epochs=3, seed=2)
    model = mlp.train_torch_mlp(X, y, hidden=16, lr=0.1, epochs=3, seed=2, device="cpu", dtype=torch.float64)
    assert not model.training
    theirs = mlp.params_from_torch(model)
    for name in mlp.PARAM_NAMES:
        np.testing.assert_allclose(theirs[name], mine[name], rtol=1e-9, atol=1e-12, err_msg=name)


def test_train_torch_mlp_on_the_default_device(digits):
    # 5 epochs keep this quick (torch's per-step overhead dominates); float32 tracks the float64 numpy run
    X_train, X_test, y_train, y_test = digits
    model = mlp.train_torch_mlp(X_train, y_train, hidden=64, lr=0.1, epochs=5, seed=0)
    weight = next(model.parameters())
    assert weight.dtype == torch.float32 and weight.device.type == runtime.device_name()
    theirs = mlp.params_from_torch(model)
    mine = mlp.train_mlp(X_train, y_train, hidden=64, lr=0.1, epochs=5, seed=0)
    for name in mlp.PARAM_NAMES:
        np.testing.assert_allclose(theirs[name], mine[name], atol=1e-3, err_msg=name)
    assert mlp.accuracy(theirs, X_test, y_test) >= 0.9


@pytest.mark.parametrize("call, message", [
    (lambda p, X, y: mlp.mlp_forward({"W1": p["W1"]}, X), "missing b1, W2, b2"),
    (lambda p, X, y: mlp.mlp_forward(p, X[:, :3]), "X must have 6 columns"),
    (lambda p, X, y: mlp.mlp_forward({**p, "W2": p["W2"].T}, X), r"W2 must have shape \(H, K\) with H = 9"),
    (lambda p, X, y: mlp.mlp_forward({**p, "b1": p["b2"]}, X), r"b1 must have shape \(9,\)"),
    (lambda p, X, y: mlp.mlp_forward([p], X), "params must be a dict"),
    (lambda p, X, y: mlp.mlp_gradients(p, X, y[:-1]), r"y must have shape \(11,\)"),
    (lambda p, X, y: mlp.mlp_gradients(p, X, y + 4), r"labels in 0\.\.3"),
    (lambda p, X, y: mlp.mlp_gradients(p, X, y + 0.5), "integer class labels"),
    (lambda p, X, y: mlp.train_mlp(X, y, hidden=0, lr=0.1, epochs=1, seed=0), "hidden must be >= 1"),
    (lambda p, X, y: mlp.train_mlp(X, y, hidden=4, lr=-0.1, epochs=1, seed=0), "lr must be > 0"),
    (lambda p, X, y: mlp.train_mlp(X, y, hidden=4, lr=0.1, epochs=1.5, seed=0), "epochs must be an integer"),
    (lambda p, X, y: mlp.train_mlp(X, y, hidden=4, lr=0.1, epochs=1, seed=-1), "seed must be >= 0"),
    (lambda p, X, y: mlp.train_mlp(X, y, hidden=4, lr=0.1, epochs=1, n_classes=2), r"labels in 0\.\.1"),
    (lambda p, X, y: mlp.params_to_torch(p, mlp.torch_mlp(6, 5, 4)), "model has layers 6->5->4"),
    (lambda p, X, y: mlp.params_from_torch(torch.nn.Linear(2, 2)), "model must be nn.Sequential"),
])
def test_bad_input_is_a_clear_value_error(call, message):
    params, X, y = problem(0)
    with pytest.raises(ValueError, match=message):
        call(params, X, y)
