"""EASGD's round against its formulas written out worker by worker; the batch schedule; real gloo runs (one
process group for both methods): synchronous SGD equals one-process SGD on the concatenated batches, EASGD equals
the numpy simulation and learns the digits; the messages counted; worker failures surface as errors."""

import subprocess
import sys
import time

import numpy as np
import pytest

from dlcourse import data, distributed

torch = pytest.importorskip("torch")

EPOCHS, TAU = 3, 2


# --- the elastic round ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("p, d", [(1, 1), (2, 5), (3, 4), (8, 17)])
def test_easgd_round_matches_the_formulas_worker_by_worker(p, d):
    rng = np.random.default_rng(p * 100 + d)
    X, c, G = rng.normal(size=(p, d)), rng.normal(size=d), rng.normal(size=(p, d))
    X0, c0, G0 = X.copy(), c.copy(), G.copy()
    for alpha in (0.0, 0.3 / p, 1.0 / p):
        eta, beta = 0.07, p * alpha
        new_X, new_c = distributed.easgd_round(X, c, G, eta, alpha)
        for i in range(p):
            assert np.allclose(new_X[i], X[i] - eta * G[i] - alpha * (X[i] - c), rtol=1e-14, atol=1e-15)
        expected_c = c.copy()
        for i in range(p):
            expected_c = expected_c + alpha * (X[i] - c)              # x~ + alpha sum_i (x_i - x~)
        assert np.allclose(new_c, expected_c, rtol=1e-13, atol=1e-14)
        assert np.allclose(new_c, (1 - beta) * c + beta * X.mean(axis=0), rtol=1e-13, atol=1e-14)
        assert new_X.shape == (p, d) and new_c.shape == (d,) and new_X.dtype == new_c.dtype == np.float64
    assert np.array_equal(X, X0) and np.array_equal(c, c0) and np.array_equal(G, G0)   # inputs untouched


def test_easgd_round_edge_cases_of_beta():
    rng = np.random.default_rng(1)
    X, c, G = rng.normal(size=(4, 6)), rng.normal(size=6), rng.normal(size=(4, 6))
    new_X, new_c = distributed.easgd_round(X, c, G, 0.5, 0.0)         # alpha = 0: plain SGD, the center stays
    assert np.allclose(new_X, X - 0.5 * G, rtol=0, atol=1e-15) and np.array_equal(new_c, c)
    _, new_c = distributed.easgd_round(X, c, G, 0.5, 0.25)            # beta = 1: the center jumps to the mean
    assert np.allclose(new_c, X.mean(axis=0), rtol=0, atol=1e-14)
    same = np.tile(c, (4, 1))                                         # workers at the center: SGD steps only
    new_X, new_c = distributed.easgd_round(same, c, G, 0.1, 0.2)
    assert np.allclose(new_X, same - 0.1 * G, rtol=0, atol=1e-15) and np.allclose(new_c, c, rtol=0, atol=1e-15)
    distributed.easgd_round([[1.0, 2.0]], [0.0, 0.0], [[0.0, 0.0]], 1.0, 1.0)   # p = 1, beta = 1: allowed


@pytest.mark.parametrize("args, match", [
    (dict(workers=np.zeros(3)), "2-D"),
    (dict(workers=np.zeros((0, 3))), "at least one row"),
    (dict(center=np.zeros(4)), "center must have shape"),
    (dict(grads=np.zeros((3, 3))), r"grads must have the shape of workers \(p, d\) = \(2, 3\)"),
    (dict(eta=0.0), "eta must be > 0"),
    (dict(alpha=-0.1), "alpha must be >= 0"),
    (dict(alpha=0.6), r"beta = p \* alpha <= 1.*take alpha <= 1 / p = 0.5"),
    (dict(workers=[["a", "b", "c"]] * 2), "numeric"),
])
def test_easgd_round_rejects_bad_arguments(args, match):
    kwargs = dict(workers=np.zeros((2, 3)), center=np.zeros(3), grads=np.zeros((2, 3)), eta=0.1, alpha=0.1)
    with pytest.raises(ValueError, match=match):
        distributed.easgd_round(**{**kwargs, **args})


# --- the model and the batches -------------------------------------------------------------------------------


def test_loss_and_grad_against_central_differences_and_torch():
    rng = np.random.default_rng(2)
    X, y, K = rng.normal(size=(7, 3)), rng.integers(0, 4, size=7), 4
    theta = rng.normal(size=3 * K + K)
    loss, grad = distributed.loss_and_grad(theta, X, y, K)
    t = torch.tensor(theta, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(torch.tensor(X) @ t[:12].reshape(3, 4) + t[12:], torch.tensor(y))
    ref.backward()
    ref = ref.detach()
    assert loss == pytest.approx(ref.item(), rel=1e-13)
    assert np.allclose(grad, t.grad.numpy(), rtol=1e-12, atol=1e-14)
    h, e = 1e-6, np.eye(len(theta))
    numeric = [(distributed.loss_and_grad(theta + h * e[j], X, y, K)[0]
                - distributed.loss_and_grad(theta - h * e[j], X, y, K)[0]) / (2 * h) for j in range(len(theta))]
    assert np.allclose(grad, numeric, rtol=1e-6, atol=1e-9)
    acc, ce = distributed.evaluate(theta, X, y, K)
    assert ce == pytest.approx(loss) and acc == np.mean((X @ theta[:12].reshape(3, 4) + theta[12:]).argmax(1) == y)


def test_shard_batches_deal_fixed_disjoint_shards_and_reshuffle_them_each_epoch():
    n, p, B = 103, 3, 8                                               # 34 rows a shard, 4 batches, 1 row left
    e0, e1 = (distributed.shard_batches(n, p, B, epoch, seed=5) for epoch in (0, 1))
    assert e0.shape == e1.shape == (4, 3, 8) and e0.dtype.kind == "i"
    flat = e0.reshape(-1)
    assert len(np.unique(flat)) == flat.size and flat.min() >= 0 and flat.max() < n     # no row twice
    shards = [set(e0[:, r].ravel()) | set(e1[:, r].ravel()) for r in range(p)]
    assert sum(map(len, shards)) == len(set().union(*shards)) and all(len(s) <= 34 for s in shards)  # fixed shards
    assert not np.array_equal(e0, e1)                                 # another order each epoch
    assert np.array_equal(e0, distributed.shard_batches(n, p, B, 0, seed=5))              # seeded
    with pytest.raises(ValueError, match="batch_size \\* workers = 40 must be <= n = 39"):
        distributed.shard_batches(39, 4, 10, 0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="adam"), "method must be one of"),
    (dict(method="sync", tau=2), "leave tau=1 and alpha=None"),
    (dict(method="sync", alpha=0.1), "leave tau=1 and alpha=None"),
    (dict(method="easgd", alpha=0.6), "beta = p \\* alpha <= 1"),
    (dict(method="easgd", tau=0), "tau must be >= 1"),
    (dict(method="easgd", batch_size=700), "must be <= n = 1347"),
    (dict(method="easgd", lr=-1.0), "lr must be > 0"),
])
def test_bad_configurations_fail_before_any_process_starts(kwargs, match):
    for run in (distributed.simulate, distributed.train_distributed):
        with pytest.raises(ValueError, match=match):
            run(**kwargs)


def test_runs_must_be_dicts_of_known_settings():
    with pytest.raises(ValueError, match="non-empty list of dicts"):
        distributed.train_distributed_many(dict(method="sync"))
    with pytest.raises(ValueError, match=r"a run may set only.*\['momentum'\]"):
        distributed.train_distributed_many([dict(method="sync", momentum=0.9)])


# --- real gloo runs -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return data.digits_split()


@pytest.fixture(scope="module")
def runs(digits):
    """One process group of two workers trains both methods (the start-up is paid once)."""
    start = time.perf_counter()
    sync, easgd = distributed.train_distributed_many(
        [dict(method="sync", epochs=EPOCHS, lr=0.2), dict(method="easgd", tau=TAU, epochs=EPOCHS, lr=0.2)],
        workers=2, timeout=120, split=digits)
    return sync, easgd, time.perf_counter() - start


def one_process_sgd(digits, epochs, lr, batch_size, seed, p):
    """SGD in one process on the concatenated batches of the p workers (torch autograd for the gradient)."""
    X, _, y, _ = digits
    K, D = 10, X.shape[1]
    rng = np.random.default_rng(seed)                                 # the documented initialisation
    theta = torch.tensor(np.concatenate([0.01 * rng.standard_normal((D, K)).ravel(), np.zeros(K)]))
    for epoch in range(epochs):
        for batch in distributed.shard_batches(len(X), p, batch_size, epoch, seed):
            rows = batch.reshape(-1)                                  # worker 0's rows, then worker 1's
            t = theta.clone().requires_grad_(True)
            loss = torch.nn.functional.cross_entropy(torch.tensor(X[rows]) @ t[:D * K].reshape(D, K) + t[D * K:],
                                                     torch.tensor(y[rows]))
            (g,) = torch.autograd.grad(loss, t)
            theta = theta - lr * g
    return theta.numpy()


def test_synchronous_sgd_over_gloo_is_sgd_on_the_concatenated_batches(runs, digits):
    sync, _, _ = runs
    expected = one_process_sgd(digits, EPOCHS, 0.2, 32, 0, p=2)
    assert sync["params"].shape == (650,)
    assert np.allclose(sync["params"], expected, rtol=0, atol=1e-10)
    X_test, y_test = digits[1], digits[3]
    assert sync["test accuracy"][-1] == distributed.evaluate(expected, X_test, y_test, 10)[0]


def test_easgd_over_gloo_matches_the_simulation_and_learns_the_digits(runs, digits):
    sync, easgd, _ = runs
    sim = distributed.simulate("easgd", workers=2, tau=TAU, epochs=EPOCHS, lr=0.2, split=digits)
    assert easgd["alpha"] == pytest.approx(0.45)                     # beta = 0.9 by default
    assert np.allclose(easgd["params"], sim["params"], rtol=0, atol=1e-10)
    assert easgd["test accuracy"] == pytest.approx(sim["test accuracy"], abs=1e-12)
    assert easgd["test loss"] == pytest.approx(sim["test loss"], rel=1e-9)
    assert easgd["test accuracy"][0] < 0.2 < 0.85 < easgd["test accuracy"][-1]           # chance is 0.1
    assert easgd["test loss"][-1] < 0.6 * easgd["test loss"][0]
    assert not np.allclose(easgd["params"], sync["params"], atol=1e-3)                    # not the same method
    assert sync["test accuracy"][-1] > 0.85


def test_messages_one_all_reduce_per_step_for_sync_one_per_tau_steps_for_easgd(runs, digits):
    sync, easgd, _ = runs
    steps = (len(digits[0]) // 2) // 32                                # 1347 rows, 2 shards of 673, batches of 32
    assert sync["steps_per_epoch"] == easgd["steps_per_epoch"] == steps == 21
    assert sync["epoch"] == easgd["epoch"] == list(range(EPOCHS + 1))
    assert sync["messages"] == [e * steps for e in range(EPOCHS + 1)]
    assert easgd["messages"] == [(e * steps) // TAU for e in range(EPOCHS + 1)] == [0, 10, 21, 31]
    for hist in (sync, easgd):
        assert hist["floats"] == [m * 650 for m in hist["messages"]]  # d = 64 * 10 + 10 per all-reduce
    sim = distributed.simulate("sync", epochs=EPOCHS, lr=0.2, split=digits)
    assert sim["messages"] == sync["messages"] and np.allclose(sim["params"], sync["params"], rtol=0, atol=1e-10)


def test_the_timings_are_reported(runs):
    sync, easgd, elapsed = runs
    assert sync["startup"] == easgd["startup"] and 0 < sync["startup"] < elapsed
    assert 0 < sync["wall time"] < elapsed and 0 < easgd["wall time"] < elapsed
    assert sync["startup"] + sync["wall time"] + easgd["wall time"] < elapsed


# --- failures in a worker surface in the caller ---------------------------------------------------------------


TARGETS = """
import os, time


def fails_on_rank_1(rank, p, store, launched, timeout, payload):
    if rank == 1:
        raise ArithmeticError(f"boom {payload}")
    return "fine"


def dies_on_rank_1(rank, p, store, launched, timeout, payload):
    if rank == 1:
        os._exit(3)
    time.sleep(30)


def hangs(rank, p, store, launched, timeout, payload):
    time.sleep(30)
"""


@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    """Worker functions in a module of their own (the workers import it; this test file would import torch)."""
    folder = tmp_path_factory.mktemp("targets")
    (folder / "dist_targets.py").write_text(TARGETS)
    sys.path.insert(0, str(folder))
    import dist_targets

    yield dist_targets
    sys.path.remove(str(folder))
    del sys.modules["dist_targets"]


def test_a_worker_exception_is_raised_in_the_caller_with_its_traceback(targets):
    with pytest.raises(RuntimeError, match=r"(?s)worker 1 of 2 failed.*ArithmeticError: boom 42"):
        distributed._launch(targets.fails_on_rank_1, 2, timeout=30, payload=42)


def test_a_dead_worker_and_a_hang_raise_instead_of_waiting(targets):
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="worker 1 of 2 died with exit code 3"):
        distributed._launch(targets.dies_on_rank_1, 2, timeout=30, payload=None)
    with pytest.raises(TimeoutError, match="did not finish within timeout = 1 s"):
        distributed._launch(targets.hangs, 2, timeout=1, payload=None)
    assert time.perf_counter() - start < 10                           # neither waited for the sleeping workers


def test_importing_the_module_does_not_import_torch():
    code = "import sys, dlcourse.distributed; assert 'torch' not in sys.modules and 'sklearn' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
