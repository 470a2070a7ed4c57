import numpy as np
import pytest
import torch
from torch import nn

from dlcourse import convnets, data, torch_training


@pytest.fixture(scope="module")
def digits():
    X_train, X_test, y_train, y_test = data.digits_split()
    as_images = lambda X: X.reshape(-1, 1, 8, 8).astype(np.float32)  # noqa: E731
    return as_images(X_train[:600]), y_train[:600], as_images(X_test[:200]), y_test[:200]


def small_cnn(seed=0):
    return convnets.build_lenet(8, seed=seed, channels=(4, 8), hidden=(32, 16))


def test_fit_learns_the_digits_and_records_a_history(digits):
    X, y, X_val, y_val = digits
    model = small_cnn()
    hist = torch_training.fit(model, X, y, epochs=6, batch_size=32, lr=1e-2, val=(X_val, y_val), title=None,
                              device="cpu")
    assert set(hist) == {"train loss", "val loss", "train accuracy", "val accuracy", "seconds", "device"}
    assert all(len(hist[k]) == 6 for k in hist if k != "device") and hist["device"] == "cpu"
    assert hist["train loss"][-1] < 0.5 * hist["train loss"][0]
    assert hist["val accuracy"][-1] > 0.5                    # chance: 0.1
    assert hist["val accuracy"][-1] == pytest.approx(torch_training.accuracy(model, X_val, y_val))
    assert all(s > 0 for s in hist["seconds"])
    assert not model.training


def test_fit_is_deterministic_on_the_cpu_and_leaves_the_global_generator_alone(digits):
    X, y, X_val, y_val = digits
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 10))
        before = torch.get_rng_state()
        hist = torch_training.fit(model, X, y, epochs=3, batch_size=50, val=(X_val, y_val), seed=3, title=None,
                                  device="cpu")
        assert torch.equal(torch.get_rng_state(), before)
        hist.pop("seconds")
        runs.append((hist, [p.detach().clone() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(p, q) for p, q in zip(runs[0][1], runs[1][1]))
    torch.manual_seed(7)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 10))
    other = torch_training.fit(model, X, y, epochs=3, batch_size=50, seed=4, title=None, device="cpu")
    assert other["train loss"] != runs[0][0]["train loss"]


def test_fit_uses_the_given_optimizer_and_sgd(digits):
    X, y, _, _ = digits
    model = small_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    before = [p.detach().clone() for p in model.parameters()]
    torch_training.fit(model, X, y, epochs=1, optimizer=opt, title=None, device="cpu")
    assert all(torch.equal(p, q) for p, q in zip(before, model.parameters()))      # lr 0: nothing moves
    hist = torch_training.fit(small_cnn(), X, y, epochs=3, optimizer="sgd", lr=0.05, title=None, device="cpu")
    assert hist["train loss"][-1] < hist["train loss"][0]
    assert isinstance(torch_training.make_optimizer(model, "adamw", 1e-3), torch.optim.AdamW)
    with pytest.raises(ValueError, match="optimizer"):
        torch_training.make_optimizer(model, "lbfgs")


def test_fit_an_autoencoder_on_its_input_with_a_corrupted_copy(digits):
    X, _, X_val, _ = digits
    X, X_val = X.reshape(len(X), 64), X_val.reshape(len(X_val), 64)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 64), nn.Sigmoid())
    seen = []

    def corrupt(x):
        seen.append(x.shape)
        return x + 0.1 * torch.randn_like(x)

    hist = torch_training.fit(model, X, epochs=5, batch_size=32, lr=3e-3, val=X_val, corrupt=corrupt, title=None,
                              device="cpu")
    assert set(hist) == {"train loss", "val loss", "seconds", "device"}
    assert hist["val loss"][-1] < 0.6 * hist["val loss"][0]
    assert len(seen) == 5 * 19
    bce = torch_training.fit(model, X, epochs=1, loss="bce", title=None, device="cpu")
    assert 0 < bce["train loss"][0] < 1
    custom = torch_training.fit(model, X, epochs=1, loss=lambda out, target: ((out - target) ** 2).sum(1).mean(),
                                title=None, device="cpu")
    assert custom["train loss"][0] > 64 * hist["train loss"][-1] * 0.5
    assert torch_training.outputs(model, X_val).shape == (200, 64)


def test_fit_rejects_bad_arguments(digits):
    X, y, _, _ = digits
    model = small_cnn()
    with pytest.raises(ValueError, match="labels"):
        torch_training.fit(model, X, y[:10], epochs=1, title=None)
    with pytest.raises(ValueError, match="integer class labels"):
        torch_training.fit(model, X, y + 0.5, epochs=1, title=None)
    with pytest.raises(ValueError, match="loss"):
        torch_training.fit(model, X, y, epochs=1, loss="hinge", title=None)
    with pytest.raises(ValueError, match="cross_entropy"):
        torch_training.fit(model, X, epochs=1, loss="cross_entropy", title=None)
    with pytest.raises(ValueError, match="val"):
        torch_training.fit(model, X, y, epochs=1, val=X, title=None)
    with pytest.raises(ValueError, match="epochs"):
        torch_training.fit(model, X, y, epochs=-1, title=None)


def test_fit_shows_progress_and_prints_one_summary_line(digits, capsys):
    X, y, X_val, y_val = digits
    torch_training.fit(small_cnn(), X, y, epochs=2, val=(X_val, y_val), title="tiny", device="cpu")
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("tiny: 2/2 epochs, train_loss ") and "val_acc" in out[0]


def test_fit_follows_runtime_device(digits, monkeypatch):
    monkeypatch.setenv("DLCOURSE_DEVICE", "cpu")
    X, y, _, _ = digits
    assert torch_training.fit(small_cnn(), X[:64], y[:64], epochs=1, title=None)["device"] == "cpu"


def test_predict_accuracy_and_confusion_matrix():
    model = nn.Linear(3, 3, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(3))
    X = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 2, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 1])
    np.testing.assert_array_equal(torch_training.predict(model, X, batch_size=3), [0, 1, 2, 1])
    assert torch_training.accuracy(model, X, y) == 0.75
    C = torch_training.confusion_matrix(model, X, y)
    np.testing.assert_array_equal(C, [[1, 0, 0], [0, 2, 1], [0, 0, 0]])
    assert C.sum() == 4 and torch_training.confusion_matrix(model, X, y, n_classes=4).shape == (4, 4)
    with pytest.raises(ValueError, match="labels"):
        torch_training.confusion_matrix(model, X, [0, 1, 5, 1])


def test_grad_norms_match_autograd_and_leave_the_model_untouched(digits):
    X, y, _, _ = digits
    model = convnets.build_deep_cnn("bn", depth=2, width=4, seed=0)
    model.eval()
    buffers = [b.clone() for b in model.buffers()]
    norms = torch_training.grad_norms(model, X[:32], y[:32])
    assert list(norms) == ["stem.conv.weight", "body.layer1.conv.weight", "body.layer2.conv.weight", "head.fc.weight"]
    assert not model.training and all(p.grad is None for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(buffers, model.buffers()))
    model.train()
    loss = nn.functional.cross_entropy(model(torch.from_numpy(X[:32])), torch.from_numpy(y[:32]))
    loss.backward()
    assert norms["head.fc.weight"] == pytest.approx(float(model.head.fc.weight.grad.norm()), rel=1e-5)
    assert norms["stem.conv.weight"] == pytest.approx(float(model.stem.conv.weight.grad.norm()), rel=1e-5)
