"""Differentiable memory: the read against a loop of exps and against torch's scaled_dot_product_attention, its
stability and limits (uniform at scale 0, a hard lookup at large scales), its errors, and associative recall, where
a model reading through the memory beats a fixed-size summary of the same pairs."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from dlcourse import _reference, attention, torch_training

torch = pytest.importorskip("torch")
F = torch.nn.functional


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py: as the notebooks compute


def store(N=3, M=5, d=4, m=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N, d)), rng.normal(size=(M, d)), rng.normal(size=(M, m))


# --- the numpy read -----------------------------------------------------------------------------------------


def test_read_matches_the_formula_query_by_query():
    X, K, V = store()
    C, Y = attention.memory_read(X, K, V, scale=1.7)
    assert C.shape == (3, 5) and Y.shape == (3, 2) and C.dtype == Y.dtype == np.float64
    for n, x in enumerate(X):
        e = np.array([np.exp(1.7 * float(k @ x)) for k in K])
        c = e / e.sum()
        np.testing.assert_allclose(C[n], c, rtol=1e-12)
        np.testing.assert_allclose(Y[n], sum(ci * vi for ci, vi in zip(c, V)), rtol=1e-12)
    np.testing.assert_allclose(C.sum(axis=1), 1.0, rtol=1e-14)
    assert np.all(C > 0)


@pytest.mark.parametrize("scale", [0.0, 0.5, 1 / np.sqrt(4), 3.0])
def test_read_matches_torch_scaled_dot_product_attention(scale):
    X, K, V = store(N=4, M=6, d=4, m=3, seed=1)
    C, Y = attention.memory_read(X, K, V, scale=scale)
    Xt, Kt, Vt = (torch.from_numpy(a) for a in (X, K, V))
    np.testing.assert_allclose(F.scaled_dot_product_attention(Xt, Kt, Vt, scale=scale).numpy(), Y, rtol=1e-10)
    eye = torch.eye(6, dtype=torch.float64)                       # values = one-hot slots: the read is C itself
    np.testing.assert_allclose(F.scaled_dot_product_attention(Xt, Kt, eye, scale=scale).numpy(), C, rtol=1e-10)


def test_read_is_stable_for_scores_of_plus_minus_1000():
    K = np.array([[1.0], [0.999], [-1.0]])
    V = np.array([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    p = 1 / (1 + np.exp(-1.0))                                    # two scores 1 apart, the third far below
    with warnings.catch_warnings():
        warnings.simplefilter("error")                            # no overflow / invalid warning either
        C, Y = attention.memory_read(np.array([[1000.0], [-1000.0]]), K, V)   # scores (1000, 999, -1000), -(...)
        C2, Y2 = attention.memory_read(np.array([[1.0]]), K, V, scale=1000.0)
    assert np.all(np.isfinite(C)) and np.all(np.isfinite(Y))
    np.testing.assert_allclose(C, [[p, 1 - p, 0.0], [0.0, 0.0, 1.0]], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(Y, [[p, 1 - p], [5.0, 5.0]], rtol=1e-12)
    np.testing.assert_allclose(C2, C[:1], rtol=1e-12)            # the scale multiplies the scores
    with np.errstate(over="ignore"):
        naive = np.exp(np.array([1000.0]))                        # what subtracting the maximum avoids
    assert np.isinf(naive).all()


def test_scale_zero_averages_and_large_scales_look_up_the_nearest_key():
    X, K, V = store(N=6, M=5, d=4, m=3, seed=2)
    C, Y = attention.memory_read(X, K, V, scale=0.0)
    np.testing.assert_allclose(C, 0.2)
    np.testing.assert_allclose(Y, np.broadcast_to(V.mean(axis=0), Y.shape))
    C, Y = attention.memory_read(X, K, V, scale=500.0)
    best = (X @ K.T).argmax(axis=1)
    np.testing.assert_allclose(Y, V[best], atol=1e-9)             # a RAM: the value of the best-matching key
    np.testing.assert_allclose(C, np.eye(5)[best], atol=1e-9)


def test_read_refuses_bad_input_with_clear_messages():
    X, K, V = store()
    with pytest.raises(ValueError, match="same number of columns"):
        attention.memory_read(X[:, :3], K, V)
    with pytest.raises(ValueError, match="one row per key"):
        attention.memory_read(X, K, V[:4])
    with pytest.raises(ValueError, match="2-D"):
        attention.memory_read(X[0], K, V)
    with pytest.raises(ValueError, match="at least one row"):
        attention.memory_read(X[:0], K, V)
    with pytest.raises(ValueError, match="at least one column"):
        attention.memory_read(X, K, V[:, :0])
    for name, arrays in (("X", (np.where(X > 1, np.nan, X), K, V)), ("K", (X, K * np.inf, V)),
                         ("V", (X, K, np.full_like(V, np.nan)))):
        with pytest.raises(ValueError, match=f"{name} must be finite"):
            attention.memory_read(*arrays)
    with pytest.raises(ValueError, match="scale must be >= 0"):
        attention.memory_read(X, K, V, scale=-1.0)
    with pytest.raises(ValueError, match="scale must be finite"):
        attention.memory_read(X, K, V, scale=np.inf)
    with pytest.raises(ValueError, match="overflow"):
        attention.memory_read(X * 1e200, K * 1e200, V)
    with pytest.raises(ValueError, match="numeric"):
        attention.memory_read(X.astype(str), K, V)


# --- the torch read -----------------------------------------------------------------------------------------


def test_torch_read_matches_numpy_and_sdpa_batched():
    rng = np.random.default_rng(3)
    X, K, V = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 6))
    C, Y = attention.memory_read_torch(*(torch.from_numpy(a) for a in (X, K, V)), scale=0.8)
    assert C.shape == (2, 3, 5) and Y.shape == (2, 3, 6) and C.dtype == torch.float64
    for b in range(2):
        C_np, Y_np = attention.memory_read(X[b], K[b], V[b], scale=0.8)
        np.testing.assert_allclose(C[b].numpy(), C_np, rtol=1e-12)
        np.testing.assert_allclose(Y[b].numpy(), Y_np, rtol=1e-12)
    sdpa = F.scaled_dot_product_attention(*(torch.from_numpy(a) for a in (X, K, V)), scale=0.8)
    torch.testing.assert_close(Y, sdpa)


def test_torch_read_is_differentiable_in_x_k_v_and_scale():
    rng = np.random.default_rng(4)
    X, K, V = (torch.tensor(rng.normal(size=s), requires_grad=True) for s in ((3, 4), (5, 4), (5, 2)))
    scale = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, k, v, s: attention.memory_read_torch(x, k, v, s), (X, K, V, scale))
    _, Y = attention.memory_read_torch(X, K, V, scale)
    Y.sum().backward()
    for t in (X, K, V, scale):
        assert t.grad is not None and torch.all(torch.isfinite(t.grad)) and t.grad.abs().sum() > 0
    big = torch.tensor([[1000.0]], requires_grad=True)            # float32, scores of +-1000: finite gradients
    C, Y = attention.memory_read_torch(big, torch.tensor([[1.0], [-1.0]]), torch.tensor([[1.0], [2.0]]))
    Y.sum().backward()
    assert torch.allclose(C, torch.tensor([[1.0, 0.0]])) and torch.isfinite(big.grad).all()


def test_torch_read_refuses_bad_input():
    X, K, V = torch.zeros(3, 4), torch.zeros(5, 4), torch.zeros(5, 2)
    with pytest.raises(ValueError, match="torch tensor"):
        attention.memory_read_torch(X.numpy(), K, V)
    with pytest.raises(ValueError, match="floating-point"):
        attention.memory_read_torch(X, K.long(), V)
    with pytest.raises(ValueError, match="same last axis"):
        attention.memory_read_torch(torch.zeros(3, 2), K, V)
    with pytest.raises(ValueError, match="one row per key"):
        attention.memory_read_torch(X, K, torch.zeros(4, 2))
    with pytest.raises(ValueError, match="batch axes"):
        attention.memory_read_torch(torch.zeros(2, 3, 4), torch.zeros(3, 5, 4), torch.zeros(3, 5, 2))
    with pytest.raises(ValueError, match=r"\(\.\.\., rows, columns\)"):
        attention.memory_read_torch(torch.zeros(4), K, V)
    with pytest.raises(ValueError, match="scale must be >= 0"):
        attention.memory_read_torch(X, K, V, scale=-2)
    with pytest.raises(ValueError, match="one-element"):
        attention.memory_read_torch(X, K, V, scale=torch.ones(2))


# --- how sharp ----------------------------------------------------------------------------------------------


def test_attention_entropy():
    C = np.array([[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]])
    np.testing.assert_allclose(attention.attention_entropy(C), [np.log(4), 0.0, np.log(2)], atol=1e-15)
    np.testing.assert_allclose(attention.attention_entropy(C.astype(np.float32) * (1 + 1e-7)),
                               [np.log(4), 0.0, np.log(2)], atol=1e-6)   # float32 weights of a network
    with pytest.raises(ValueError, match="sum to 1"):
        attention.attention_entropy([[0.5, 0.6]])
    with pytest.raises(ValueError, match=">= 0"):
        attention.attention_entropy([[1.5, -0.5]])
    with pytest.raises(ValueError, match="2-D"):
        attention.attention_entropy([0.5, 0.5])


def test_sharpness_sweep_goes_from_average_to_lookup():
    X, K, V = store(N=4, M=8, d=5, m=3, seed=5)
    scales = np.array([0.0, 0.5, 1.0, 2.0, 5.0, 20.0, 2000.0])
    sweep = attention.sharpness_sweep(X, K, V, scales)
    assert sweep.weights.shape == (7, 4, 8) and sweep.reads.shape == (7, 4, 3) and sweep.entropy.shape == (7, 4)
    for i, s in enumerate(scales):
        C, Y = attention.memory_read(X, K, V, s)
        np.testing.assert_array_equal(sweep.weights[i], C)
        np.testing.assert_array_equal(sweep.reads[i], Y)
    np.testing.assert_allclose(sweep.entropy[0], np.log(8), rtol=1e-12)
    assert np.all(np.diff(sweep.entropy[:6], axis=0) < 0)        # sharper with every step up in scale
    assert np.all(np.diff(sweep.entropy, axis=0) <= 0)           # (down to 0 in float64)
    assert np.all(sweep.entropy[-1] < 1e-3)
    np.testing.assert_allclose(sweep.reads[-1], V[(X @ K.T).argmax(axis=1)], atol=1e-6)
    with pytest.raises(ValueError, match="scales must be a non-empty vector of numbers >= 0"):
        attention.sharpness_sweep(X, K, V, [1.0, -1.0])
    with pytest.raises(ValueError, match="scales must be a non-empty"):
        attention.sharpness_sweep(X, K, V, [])


# --- associative recall -------------------------------------------------------------------------------------


def test_recall_task_packs_keys_values_and_a_noisy_query():
    X, y, slot = attention.recall_task(50, pairs=6, dim=5, classes=4, noise=0.0, seed=0)
    assert X.shape == (50, 7, 9) and X.dtype == np.float32 and y.dtype == slot.dtype == np.int64
    keys, values, query = X[:, :6, :5], X[:, :6, 5:], X[:, 6, :5]
    assert np.all(values.sum(axis=2) == 1) and np.all(X[:, 6, 5:] == 0)
    rows = np.arange(50)
    np.testing.assert_array_equal(values[rows, slot].argmax(axis=1), y)
    np.testing.assert_array_equal(query, keys[rows, slot])       # noise 0: the query is the key
    assert set(slot) == set(range(6)) and set(y) == set(range(4))
    noisy, y2, slot2 = attention.recall_task(50, pairs=6, dim=5, classes=4, noise=0.5, seed=0)
    np.testing.assert_array_equal(noisy[:, :6], X[:, :6])
    np.testing.assert_array_equal(y2, y)
    assert 0.1 < np.std(noisy[:, 6, :5] - query) * np.sqrt(5) / 0.5 < 2   # about noise / sqrt(dim) per coordinate
    again = attention.recall_task(50, pairs=6, dim=5, classes=4, noise=0.5, seed=0)
    np.testing.assert_array_equal(again[0], noisy)
    assert not np.array_equal(attention.recall_task(50, pairs=6, dim=5, classes=4, seed=1)[1], y)
    with pytest.raises(ValueError, match="classes must be >= 2"):
        attention.recall_task(10, classes=1)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        attention.recall_task(10, noise=-0.1)
    with pytest.raises(ValueError, match="seed must be"):
        attention.recall_task(10, seed=-1)


def test_models_refuse_a_batch_packed_for_other_sizes():
    X, _, _ = attention.recall_task(4, pairs=3, dim=5, classes=4)
    for net in (attention.build_memory_model(dim=5, classes=3), attention.build_summary_model(dim=4, classes=4)):
        with pytest.raises(ValueError, match="packed by recall_task"):
            net(torch.from_numpy(X))
    with pytest.raises(ValueError, match="build_memory_model"):
        attention.recall_weights(attention.build_summary_model(dim=5, classes=4), X)
    a, b = attention.build_memory_model(seed=3), attention.build_memory_model(seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.fixture(scope="module")
def trained():
    X, y, _ = attention.recall_task(3000, seed=10)
    test = attention.recall_task(1000, seed=11)
    memory, summary = attention.build_memory_model(seed=0), attention.build_summary_model(seed=0)
    untrained = attention.recall_weights(memory, test[0])
    for net in (memory, summary):
        torch_training.fit(net, X, y, epochs=5, lr=1e-2, title=None, device="cpu")
    return memory, summary, untrained, test


def test_reading_the_memory_beats_a_fixed_size_summary(trained):
    memory, summary, _, (X, y, _) = trained
    acc_memory, acc_summary = torch_training.accuracy(memory, X, y), torch_training.accuracy(summary, X, y)
    # the summary can learn little more than which classes are common in the store (chance: 1 / 8)
    assert acc_memory >= 0.9 and 0.15 < acc_summary <= 0.5, (acc_memory, acc_summary)
    keys, query = X[:, :-1, :16], X[:, -1, :16]
    nearest = np.einsum("npd,nd->np", keys, query).argmax(axis=1)
    values = X[:, :-1, 16:].argmax(axis=2)
    oracle = np.mean(values[np.arange(len(y)), nearest] == y)    # a hard lookup of the nearest key
    assert acc_memory >= oracle - 0.05


def test_trained_attention_looks_at_the_queried_slot(trained):
    memory, _, untrained, (X, _, slot) = trained
    W = attention.recall_weights(memory, X)
    assert W.shape == (1000, 8) and W.dtype == np.float64
    np.testing.assert_allclose(W.sum(axis=1), 1.0, rtol=1e-5)
    on_slot = W[np.arange(1000), slot]
    assert on_slot.mean() >= 0.85 and np.mean(W.argmax(axis=1) == slot) >= 0.9
    # before training the reads are blurred over the pairs; after, they are sharp
    assert attention.attention_entropy(untrained).mean() > 1.5 > 0.5 > attention.attention_entropy(W).mean()
    assert untrained[np.arange(1000), slot].mean() < 0.3
    memory.train()
    attention.recall_weights(memory, X[:5])
    assert memory.training                                        # the mode is restored


# --- the module ---------------------------------------------------------------------------------------------


def test_memory_read_is_graded_course_code_and_import_is_cheap():
    assert _reference.reference_name(attention.memory_read) == "dlcourse.attention.memory_read"
    assert _reference.reference_name(attention.recall_task) == "dlcourse.attention.recall_task"   # by module
    code = "import sys, dlcourse.attention; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
