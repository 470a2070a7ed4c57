import numpy as np
import pytest
import torch

from dlcourse import optim

SHAPES = {"W": (3, 4), "b": (4,)}


def quadratic(seed=0):
    """A random convex quadratic of two named arrays: loss = 1/2 w'Aw - c'w over the flattened (W, b)."""
    rng = np.random.default_rng(seed)
    n = sum(int(np.prod(s)) for s in SHAPES.values())
    M = rng.normal(size=(n, n))
    A, c = M @ M.T / n + 0.1 * np.eye(n), rng.normal(size=n)
    params = {name: rng.normal(size=shape) for name, shape in SHAPES.items()}
    return A, c, params


def flat(d):
    return np.concatenate([np.ravel(d[name]) for name in SHAPES])


def unflat(v):
    out, i = {}, 0
    for name, shape in SHAPES.items():
        size = int(np.prod(shape))
        out[name] = v[i:i + size].reshape(shape)
        i += size
    return out


def numpy_run(opt, A, c, params, steps=20, schedule=None):
    params = {k: v.copy() for k, v in params.items()}
    ids = {k: id(v) for k, v in params.items()}
    for step in range(steps):
        if schedule is not None:
            opt.lr = schedule(step)
        opt.step(params, unflat(A @ flat(params) - c))
    assert {k: id(v) for k, v in params.items()} == ids  # updated in place
    return params


def torch_run(make_opt, A, c, params, steps=20, scheduler=None):
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    opt = make_opt([tp[name] for name in SHAPES])
    sched = scheduler(opt) if scheduler else None
    At, ct = torch.tensor(A), torch.tensor(c)
    for _ in range(steps):
        w = torch.cat([tp[name].reshape(-1) for name in SHAPES])
        loss = 0.5 * w @ At @ w - ct @ w
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched:
            sched.step()
    return {k: v.detach().numpy() for k, v in tp.items()}


def assert_same(mine, theirs):
    for name in SHAPES:
        np.testing.assert_allclose(mine[name], theirs[name], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mine, theirs", [
    (lambda: optim.SGD(lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    (lambda: optim.SGD(lr=0.1, weight_decay=0.05), lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.1)),
    (lambda: optim.Momentum(lr=0.05, beta=0.9), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    (lambda: optim.Momentum(lr=0.05, beta=0.5, weight_decay=0.01),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.5, weight_decay=0.02)),
    (lambda: optim.Adagrad(lr=0.3, eps=1e-10),
     lambda p: torch.optim.Adagrad(p, lr=0.3, initial_accumulator_value=0.0, eps=1e-10)),
    (lambda: optim.Adagrad(lr=0.3, eps=1e-3), lambda p: torch.optim.Adagrad(p, lr=0.3, eps=1e-3)),
    (lambda: optim.Adam(lr=0.05), lambda p: torch.optim.Adam(p, lr=0.05)),
    (lambda: optim.Adam(lr=0.02, beta1=0.8, beta2=0.99, eps=1e-6),
     lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6)),
    (lambda: optim.Adam(lr=0.02, weight_decay=0.01), lambda p: torch.optim.Adam(p, lr=0.02, weight_decay=0.02)),
], ids=["sgd", "sgd-wd", "momentum", "momentum-wd", "adagrad", "adagrad-eps", "adam", "adam-betas", "adam-wd"])
def test_optimisers_match_torch_over_20_steps(mine, theirs):
    A, c, params = quadratic(1)
    assert_same(numpy_run(mine(), A, c, params), torch_run(theirs, A, c, params))


def test_optimisers_decrease_the_quadratic():
    A, c, params = quadratic(2)
    loss = lambda p: 0.5 * flat(p) @ A @ flat(p) - c @ flat(p)  # noqa: E731
    for opt in (optim.SGD(0.1), optim.Momentum(0.05), optim.Adagrad(0.3), optim.Adam(0.05)):
        assert loss(numpy_run(opt, A, c, params, steps=50)) < loss(params) - 0.1


def test_weight_decay_is_the_course_formula():
    # one SGD step on loss + lam * ||w||^2: w <- (1 - 2 * lr * lam) w - lr * grad
    lr, lam = 0.1, 0.03
    w, g = np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.1, -0.2])
    params = {"w": w.copy()}
    optim.SGD(lr, weight_decay=lam).step(params, {"w": g})
    np.testing.assert_allclose(params["w"], (1 - 2 * lr * lam) * w - lr * g, rtol=1e-15)
    # with a zero loss gradient the weights shrink geometrically
    params = {"w": w.copy()}
    opt = optim.SGD(lr, weight_decay=lam)
    for _ in range(10):
        opt.step(params, {"w": np.zeros(3)})
    np.testing.assert_allclose(params["w"], (1 - 2 * lr * lam) ** 10 * w, rtol=1e-14)


def test_momentum_follows_its_formula_when_the_learning_rate_changes():
    A, c, params = quadratic(3)
    schedule = optim.step_schedule(0.05, 0.5, 5)
    mine = numpy_run(optim.Momentum(lr=0.05, beta=0.8), A, c, params, steps=20, schedule=schedule)
    w, v = flat(params), np.zeros_like(flat(params))
    for step in range(20):
        v = 0.8 * v - schedule(step) * (A @ w - c)
        w = w + v
    np.testing.assert_allclose(flat(mine), w, rtol=1e-12)


def test_state_is_kept_per_key():
    opt = optim.Adam(0.1)
    a, b = {"a": np.zeros(2)}, {"b": np.zeros(3)}
    opt.step(a, {"a": np.ones(2)})
    opt.step(a, {"a": np.ones(2)})
    opt.step(b, {"b": np.ones(3)})
    assert opt.state["a"]["t"] == 2 and opt.state["b"]["t"] == 1
    # the first Adam step moves every coordinate by lr (m_hat / sqrt(s_hat) = sign of g)
    np.testing.assert_allclose(b["b"], -0.1 * np.ones(3), rtol=1e-6)


def test_schedules_give_the_expected_values_and_match_torch():
    step = optim.step_schedule(lr0=0.1, drop=0.5, every=10)
    assert [step(e) for e in (0, 9, 10, 19, 20, 35)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.0125])
    expo = optim.exponential_schedule(lr0=0.2, gamma=0.9)
    assert expo(0) == 0.2 and expo(3) == pytest.approx(0.2 * 0.9**3)
    for mine, make in ((step, lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=10, gamma=0.5)),
                       (expo, lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9))):
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=mine.lr0)
        sched = make(opt)
        for epoch in range(40):
            assert opt.param_groups[0]["lr"] == pytest.approx(mine(epoch), rel=1e-12)
            opt.step()
            sched.step()


def test_an_optimiser_driven_by_a_schedule_matches_torch():
    A, c, params = quadratic(4)
    schedule = optim.exponential_schedule(0.1, 0.9)
    mine = numpy_run(optim.SGD(0.1), A, c, params, schedule=schedule)
    theirs = torch_run(lambda p: torch.optim.SGD(p, lr=0.1), A, c, params,
                       scheduler=lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9))
    assert_same(mine, theirs)


@pytest.mark.parametrize("call, message", [
    (lambda: optim.SGD(lr=0.0), "lr must be > 0"),
    (lambda: optim.SGD(lr=0.1, weight_decay=-1.0), "weight_decay must be >= 0"),
    (lambda: optim.Momentum(lr=0.1, beta=1.0), "beta must satisfy 0 <= beta < 1"),
    (lambda: optim.Adam(beta2=-0.1), "beta2 must satisfy"),
    (lambda: optim.Adagrad(lr=0.1, eps=0.0), "eps must be > 0"),
    (lambda: optim.SGD(0.1).step({"w": np.zeros(2)}, {"v": np.zeros(2)}), "the same keys"),
    (lambda: optim.SGD(0.1).step({"w": np.zeros(2)}, {"w": np.zeros(3)}), r"grads\['w'\] must have the shape"),
    (lambda: optim.SGD(0.1).step({"w": np.zeros(2, dtype=int)}, {"w": np.zeros(2)}), "float numpy array"),
    (lambda: optim.SGD(0.1).step({"w": [0.0, 1.0]}, {"w": np.zeros(2)}), "float numpy array"),
    (lambda: optim.SGD(0.1).step([np.zeros(2)], [np.zeros(2)]), "must be dicts"),
    (lambda: optim.step_schedule(0.1, 0.5, 0), "every must be >= 1"),
    (lambda: optim.exponential_schedule(0.1, 0.9)(-1), "epoch must be >= 0"),
])
def test_bad_input_is_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
