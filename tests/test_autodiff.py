import math
import sys

import numpy as np
import pytest
import torch

from dlcourse import autodiff as ad
from dlcourse.autodiff import Dual, Value, count_ops, forward_gradient, reverse_gradient, trace


# --- the worked examples of the lecture -------------------------------------------------------------------


def test_worked_example_reverse_mode():
    x, y, z = Value(-2, label="x"), Value(5, label="y"), Value(-4, label="z")
    q = x + y
    f = q * z
    f.backward()
    assert (f.data, x.grad, y.grad, z.grad, q.grad) == (-12.0, -4.0, -4.0, 3.0, -4.0)
    assert repr(f) == "Value(data=-12.0, grad=1.0)"
    assert repr(x) == "Value(data=-2.0, grad=-4.0, label='x')"
    assert isinstance(x.data, float) and (q._op, f._op) == ("+", "*")


def test_worked_example_forward_mode():
    value, grad, passes = forward_gradient(lambda x, y, z: (x + y) * z, [-2, 5, -4])
    assert value == -12.0 and passes == 3
    np.testing.assert_array_equal(grad, [-4.0, -4.0, 3.0])
    # one pass by hand: seed x, read off df/dx
    f = (Dual(-2.0, 1.0) + Dual(5.0)) * Dual(-4.0)
    assert (f.val, f.eps) == (-12.0, -4.0)
    assert repr(f) == "Dual(val=-12.0, eps=-4.0)"


def test_sin_example_in_both_modes():
    def f(x1, x2):
        return ad.sin(x1) + x1 * x2

    value, grad, passes = forward_gradient(f, [2.0, 3.0])
    assert passes == 2 and value == pytest.approx(math.sin(2) + 6, rel=1e-15)
    np.testing.assert_allclose(grad, [math.cos(2) + 3, 2.0], rtol=1e-15)
    r_value, r_grad = reverse_gradient(f, [2.0, 3.0])
    assert r_value == value
    np.testing.assert_allclose(r_grad, grad, rtol=1e-15)
    assert f(2.0, 3.0) == value  # the same function on plain floats


# --- random expressions against torch.autograd ------------------------------------------------------------

N_INPUTS = 3
BINARY = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / (1 + b * b),
}
UNARY = {
    "neg": lambda a: -a,
    "exp": lambda a: a.exp(),
    "log": lambda a: (a * a + 0.5).log(),
    "tanh": lambda a: a.tanh(),
    "relu": lambda a: a.relu(),
    "sigmoid": lambda a: a.sigmoid(),
    "**2": lambda a: a**2,
    "**3": lambda a: a**3,
    "**0.5": lambda a: (1 + a * a) ** 0.5,
    "**-1.5": lambda a: (2 + a * a) ** -1.5,
    "2.5*": lambda a: 2.5 * a,
    "1-": lambda a: 1 - a,
    "3/": lambda a: 3 / (1 + a * a),
    "+0.7": lambda a: a + 0.7,
}


def random_tree(rng, depth):
    """A random expression over inputs 0..N_INPUTS-1: ("x", i), (unary, tree) or (binary, tree, tree)."""
    if depth == 0 or rng.random() < 0.15:
        return ("x", int(rng.integers(N_INPUTS)))
    if rng.random() < 0.5:
        return (str(rng.choice(list(BINARY))), random_tree(rng, depth - 1), random_tree(rng, depth - 1))
    return (str(rng.choice(list(UNARY))), random_tree(rng, depth - 1))


def evaluate(tree, xs):
    """Evaluate with any number type that has + - * / ** and .exp() .log() ...: Value, Dual, torch.Tensor."""
    op, *args = tree
    if op == "x":
        return xs[args[0]]
    if op in BINARY:
        return BINARY[op](evaluate(args[0], xs), evaluate(args[1], xs))
    return UNARY[op](evaluate(args[0], xs))


def ops_in(tree):
    op, *args = tree
    return {op}.union(*(ops_in(a) for a in args if isinstance(a, tuple)))


def n_leaves(tree):
    op, *args = tree
    return 1 if op == "x" else sum(n_leaves(a) for a in args)


def torch_reference(tree, x0):
    xs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in x0]
    out = evaluate(tree, xs)
    out.backward()
    grads = [0.0 if x.grad is None else x.grad.item() for x in xs]
    return out.item(), np.array(grads)


def random_cases(n=50, seed=0):
    """n (tree, point, torch value, torch gradient), skipping the few whose values blow up."""
    rng, cases = np.random.default_rng(seed), []
    while len(cases) < n:
        tree = (str(rng.choice(list(BINARY))), random_tree(rng, 4), random_tree(rng, 4))  # root: an operation
        x0 = rng.uniform(-1.5, 1.5, size=N_INPUTS)
        value, grad = torch_reference(tree, x0)
        if np.all(np.isfinite(grad)) and max(abs(value), *np.abs(grad)) < 1e6:
            cases.append((tree, x0, value, grad))
    return cases


CASES = random_cases()


def test_random_expressions_cover_every_operation_and_reuse_inputs():
    used = set().union(*(ops_in(tree) for tree, *_ in CASES))
    assert used == set(BINARY) | set(UNARY) | {"x"}
    sizes = [count_ops(evaluate(tree, [Value(x) for x in x0])) for tree, x0, *_ in CASES]
    assert sum(sizes) > 50 * 10
    assert sum(n_leaves(tree) > N_INPUTS for tree, *_ in CASES) > 25  # most trees use some input twice


@pytest.mark.parametrize("i", range(len(CASES)))
def test_reverse_mode_matches_torch_on_random_expressions(i):
    tree, x0, value, grad = CASES[i]
    xs = [Value(x) for x in x0]
    out = evaluate(tree, xs)
    out.backward()
    assert out.data == pytest.approx(value, rel=1e-10, abs=0)
    np.testing.assert_allclose([x.grad for x in xs], grad, rtol=1e-10, atol=0)


@pytest.mark.parametrize("i", range(len(CASES)))
def test_forward_mode_matches_reverse_mode_on_random_expressions(i):
    tree, x0, value, grad = CASES[i]
    f_value, f_grad, passes = forward_gradient(lambda *xs: evaluate(tree, xs), x0)
    r_value, r_grad = reverse_gradient(lambda *xs: evaluate(tree, xs), x0)
    assert passes == N_INPUTS and f_value == pytest.approx(r_value, rel=1e-12)
    np.testing.assert_allclose(f_grad, r_grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(f_grad, grad, rtol=1e-10, atol=1e-12)


# --- the graph and backward ---------------------------------------------------------------------------------


def test_backward_twice_gives_the_same_gradients():
    x, y = Value(1.5), Value(-0.5)
    f = (x * y + x.tanh()) * x
    f.backward()
    first = (x.grad, y.grad)
    x.grad = 100.0  # stale gradients are reset, not accumulated
    f.backward()
    assert (x.grad, y.grad) == first
    assert y.grad == pytest.approx(1.5**2)


def test_a_node_used_several_times_accumulates():
    a = Value(3.0)
    for f, expected in [(a + a, 2.0), (a * a, 6.0), (a * a * a, 27.0), (a - a, 0.0), (a / a, 0.0)]:
        f.backward()
        assert a.grad == pytest.approx(expected, abs=1e-15)
    b = a * 2
    c = b + b * b  # dc/db = 1 + 2b = 13, db/da = 2
    c.backward()
    assert (b.grad, a.grad) == (13.0, 26.0)


def test_numbers_on_either_side():
    v = Value(4.0)
    cases = [(2 * v, 8.0, 2.0), (v * 2, 8.0, 2.0), (1 - v, -3.0, -1.0), (v - 1, 3.0, 1.0), (3 / v, 0.75, -3 / 16),
             (v / 2, 2.0, 0.5), (2 + v, 6.0, 1.0), (-v, -4.0, -1.0), (v**0.5, 2.0, 0.25),
             (np.float64(2.0) * v, 8.0, 2.0), (np.int64(1) - v, -3.0, -1.0)]
    for f, value, slope in cases:
        assert isinstance(f, Value)
        f.backward()
        assert (f.data, v.grad) == (value, slope)
    d = Dual(4.0, 1.0)
    for f, value, slope in [(2 * d, 8.0, 2.0), (1 - d, -3.0, -1.0), (3 / d, 0.75, -3 / 16), (2 + d, 6.0, 1.0)]:
        assert isinstance(f, Dual) and (f.val, f.eps) == (value, slope)


def test_a_deep_chain_needs_no_recursion():
    assert sys.getrecursionlimit() < 5000, "the graph must be deeper than a recursive sort could handle"
    x = Value(0.5)
    f = x
    for _ in range(5000):
        f = f + x
    f.backward()
    assert x.grad == 5001.0 and count_ops(f) == 5000
    g = x
    for _ in range(5000):
        g = g.tanh()
    g.backward()
    assert 0 < x.grad < 1


def test_trace_is_topological_and_counts_operations():
    x, y, z = Value(-2, label="x"), Value(5, label="y"), Value(-4, label="z")
    f = (x + y) * z
    nodes, edges = trace(f)
    assert [n.label for n in nodes[:2]] == ["x", "y"] and nodes[-1] is f and len(nodes) == 5
    assert len(edges) == 4
    position = {id(n): k for k, n in enumerate(nodes)}
    assert all(position[id(a)] < position[id(b)] for a, b in edges)
    assert count_ops(f) == 2 and count_ops(x) == 0
    a = Value(1.0)
    assert len(trace(a + a)[1]) == 2  # one edge per use


def test_forward_mode_needs_one_pass_per_input_reverse_mode_one_sweep():
    def f(*xs):
        return sum((x * x for x in xs), start=0.0).tanh()

    for n in (1, 4, 10):
        x0 = np.linspace(-0.5, 0.5, n)
        _, grad, passes = forward_gradient(f, x0)
        _, r_grad = reverse_gradient(f, x0)
        assert passes == n
        np.testing.assert_allclose(grad, r_grad, rtol=1e-14)
        assert count_ops(f(*[Value(x) for x in x0])) == 2 * n + 1
    assert ad.derivative(lambda x: x**3, 2.0) == 12.0


def test_elementary_functions_on_plain_numbers_and_extremes():
    assert ad.sin(2) == math.sin(2) and ad.exp(1.0) == math.e and ad.tanh(np.float32(0.5)) == math.tanh(0.5)
    assert isinstance(ad.log(Value(2.0)), Value) and isinstance(ad.cos(Dual(1.0)), Dual)
    assert Value(-1000.0).sigmoid().data == 0.0 and Value(1000.0).sigmoid().data == 1.0
    r = Value(-2.0).relu()
    r.backward()
    assert r.data == 0.0 and r._prev[0].grad == 0.0


@pytest.mark.parametrize("make, error, message", [
    (lambda: Value("1.0"), TypeError, "Value.data must be a real number"),
    (lambda: Value(np.array([1.0])), TypeError, "got ndarray"),
    (lambda: Value(True), TypeError, "got bool"),
    (lambda: Value(1.0) + "a", TypeError, "other operand of a Value"),
    (lambda: np.ones(2) + Value(1.0), TypeError, "other operand of a Value"),
    (lambda: Value(1.0) + Dual(1.0), TypeError, "got Dual"),
    (lambda: Value(2.0) ** Value(2.0), TypeError, "exponent of \\*\\* must be a plain number"),
    (lambda: 2 ** Value(2.0), TypeError, "exponent is not supported"),
    (lambda: Value(0.0).log(), ValueError, "log needs an argument > 0, got 0.0"),
    (lambda: Value(-1.0).log(), ValueError, "> 0"),
    (lambda: Value(-2.0) ** 0.5, ValueError, "integer exponent"),
    (lambda: 1 / Value(0.0), ZeroDivisionError, "divides by zero"),
    (lambda: Dual("a"), TypeError, "Dual.val must be a real number"),
    (lambda: Dual(1.0) ** Dual(2.0), TypeError, "plain number"),
    (lambda: np.ones(2) * Dual(1.0), TypeError, "other operand of a Dual"),
    (lambda: Dual(0.0).log(), ValueError, "> 0"),
    (lambda: ad.log(-1), ValueError, "> 0"),
    (lambda: ad.sin("x"), TypeError, "argument of sin"),
    (lambda: forward_gradient(lambda x: x, []), ValueError, "at least one number"),
    (lambda: forward_gradient(lambda x: x, 1.0), TypeError, "xs must be a sequence"),
    (lambda: forward_gradient(lambda x: "f", [1.0]), TypeError, "other operand of a Dual"),
    (lambda: reverse_gradient(lambda x: x, ["a"]), TypeError, r"xs\[0\]"),
    (lambda: trace(1.0), TypeError, "root must be a Value"),
])
def test_bad_input_is_a_clear_error(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_worked_example_has_the_chain_rule_gradients():
    g = ad.worked_example(-2, 5, -4)
    assert (g["f"].data, g["q"].data) == (-12.0, 3.0)
    assert [g[k].grad for k in "xyzqf"] == [-4.0, -4.0, 3.0, -4.0, 1.0]
    rng = np.random.default_rng(0)
    for x, y, z in rng.normal(size=(5, 3)):
        g = ad.worked_example(x, y, z)
        assert g["f"].data == pytest.approx((x + y) * z)
        assert (g["x"].grad, g["y"].grad, g["z"].grad) == pytest.approx((z, z, x + y))
    assert [g[k].label for k in "xyzqf"] == list("xyzqf")
    with pytest.raises(ValueError, match="y must be finite"):
        ad.worked_example(1.0, float("nan"), 2.0)


# --- counting operations ------------------------------------------------------------------------------------


def test_counting_measures_both_modes():
    def f(x1, x2, x3):
        return (x1 * x2 - x3).tanh() + x1 / x3  # -, / are built from neg, +, ** -1 and *

    x0 = [0.3, -1.2, 2.0]
    graph = f(*[Value(x) for x in x0])
    n_ops, n_edges = count_ops(graph), len(trace(graph)[1])
    with ad.counting() as fwd:
        forward_gradient(f, x0)
    with ad.counting() as rev:
        reverse_gradient(f, x0)
    assert (fwd.dual, fwd.value, fwd.backward) == (3 * n_ops, 0, 0)  # n = 3 passes, each runs every operation
    assert (rev.dual, rev.value, rev.backward) == (0, n_ops, n_edges)  # one pass, one multiply-add per edge
    assert n_ops == 7 and n_edges == 11  # *, neg, +, tanh, **-1, *, +: five of them binary


def test_counting_blocks_nest_and_report_only_their_own_operations():
    a = Dual(1.0, 1.0)
    with ad.counting() as outer:
        _ = a * a
        with ad.counting() as inner:
            _ = a.exp() + 1
        _ = Value(2.0) * 3
    assert (inner.dual, inner.value) == (2, 0)
    assert (outer.dual, outer.value, outer.backward) == (3, 1, 0)
    with ad.counting() as none:
        _ = 2.0 * 3.0 + math.exp(1.0)
    assert none == ad.OpCount()


def test_forward_mode_costs_n_passes_reverse_mode_does_not_grow_with_n():
    def f(*xs):
        return sum((x * x for x in xs), start=0.0).tanh()

    for n in (2, 8, 32):
        x0 = np.linspace(-0.5, 0.5, n)
        with ad.counting() as fwd:
            forward_gradient(f, x0)
        with ad.counting() as rev:
            reverse_gradient(f, x0)
        assert fwd.dual == n * (2 * n + 1)  # n passes of 2n + 1 operations
        assert rev.value + rev.backward == (2 * n + 1) + (1 + 2 * n + 2 * n)  # C + edges: 1 (tanh) + 2 per * and +


# --- the MLP of dlcourse.mlp on Values ---------------------------------------------------------------------


def random_mlp_problem(seed, N=9, D=3, H=5, K=4, scale=1.0):
    from dlcourse import mlp

    rng = np.random.default_rng(seed)
    params = mlp.init_mlp(D, H, K, seed=rng)
    params["b1"], params["b2"] = 0.3 * rng.normal(size=H), 0.3 * rng.normal(size=K)
    params["W2"] *= scale
    return params, rng.normal(size=(N, D)), rng.integers(0, K, size=N)


@pytest.mark.parametrize("seed", range(5))
def test_value_mlp_matches_the_numpy_mlp(seed):
    from dlcourse import mlp

    params, X, y = random_mlp_problem(seed)
    loss, grads = ad.mlp_loss_and_gradients(params, X, y)
    expected = mlp.mlp_gradients(params, X, y)
    assert loss == pytest.approx(mlp.mlp_loss(params, X, y), rel=1e-12)
    for name in ad.MLP_PARAM_NAMES:
        assert grads[name].shape == params[name].shape and grads[name].dtype == np.float64
        np.testing.assert_allclose(grads[name], expected[name], rtol=1e-10, atol=1e-14)
    P = ad.value_params(params)
    logits = ad.mlp_logits(P, X)
    assert logits.shape == (9, 4) and logits.dtype == object
    np.testing.assert_allclose(np.vectorize(lambda v: v.data)(logits), mlp.mlp_forward(params, X), rtol=1e-12)


def test_value_softmax_cross_entropy_is_stable_for_huge_logits():
    from dlcourse import mlp

    params, X, y = random_mlp_problem(0, scale=1e4)  # logits of order 1e4: exp(logit) would overflow
    assert np.abs(mlp.mlp_forward(params, X)).max() > 1000
    loss, grads = ad.mlp_loss_and_gradients(params, X, y)
    expected = mlp.mlp_gradients(params, X, y)
    assert math.isfinite(loss) and loss == pytest.approx(mlp.mlp_loss(params, X, y), rel=1e-10)
    for name in ad.MLP_PARAM_NAMES:
        np.testing.assert_allclose(grads[name], expected[name], rtol=1e-9, atol=1e-9 * np.abs(expected[name]).max())
    z = [[Value(1000.0), Value(-1000.0)], [Value(0.0), Value(0.0)]]
    out = ad.softmax_cross_entropy(z, [0, 1])
    out.backward()
    assert out.data == pytest.approx(math.log(2) / 2)
    assert [v.grad for v in z[0]] == [0.0, 0.0] and [v.grad for v in z[1]] == [0.25, -0.25]


def test_value_params_are_labelled_leaves_and_round_trip():
    params, _, _ = random_mlp_problem(1)
    P = ad.value_params(params)
    assert set(P) == set(ad.MLP_PARAM_NAMES)
    assert P["W1"].shape == (3, 5) and P["W1"][0, 2].label == "W1[0,2]" and P["b2"][3].label == "b2[3]"
    assert all(isinstance(v, Value) and not v._prev for A in P.values() for v in A.flat)
    for name, array in ad.param_data(P).items():
        np.testing.assert_array_equal(array, params[name])
    assert all(np.all(g == 0) for g in ad.param_grads(P).values())
    P["b1"][0].data = 99.0  # the Values are new objects: params is untouched
    assert params["b1"][0] != 99.0


def test_sgd_step_moves_against_the_gradient_and_lowers_the_loss():
    params, X, y = random_mlp_problem(2)
    P = ad.value_params(params)
    loss = ad.softmax_cross_entropy(ad.mlp_logits(P, X), y)
    loss.backward()
    before, grads = ad.param_data(P), ad.param_grads(P)
    ad.sgd_step(P, 0.1)
    for name, array in ad.param_data(P).items():
        np.testing.assert_allclose(array, before[name] - 0.1 * grads[name], rtol=1e-15)
    assert ad.softmax_cross_entropy(ad.mlp_logits(P, X), y).data < loss.data


def test_a_value_mlp_learns_the_two_moons():
    from dlcourse import data, mlp

    X, y = data.moons(100, noise=0.1, rng=0)
    P = ad.value_params(mlp.init_mlp(2, 16, 2, seed=0))
    rng = np.random.default_rng(0)
    for _ in range(150):  # about 1 s
        batch = rng.choice(len(X), size=16, replace=False)
        loss = ad.softmax_cross_entropy(ad.mlp_logits(P, X[batch]), y[batch])
        loss.backward()
        ad.sgd_step(P, 1.0)
    assert mlp.accuracy(ad.param_data(P), X, y) > 0.95  # a linear classifier gets about 0.88


@pytest.mark.parametrize("make, error, message", [
    (lambda: ad.value_params({"W1": np.ones((2, 3))}), ValueError, "keys W1, b1, W2, b2"),
    (lambda: ad.value_params([1, 2]), ValueError, "got list"),
    (lambda: ad.value_params({"W1": np.ones((2, 3)), "b1": np.ones(3), "W2": np.ones((4, 2)), "b2": np.ones(2)}),
     ValueError, "H = 3"),
    (lambda: ad.value_params({"W1": np.ones((2, 3)), "b1": np.ones(2), "W2": np.ones((3, 2)), "b2": np.ones(2)}),
     ValueError, r"b1 must have shape \(3,\)"),
    (lambda: ad.mlp_logits({"W1": np.ones((2, 3))}, np.ones((1, 2))), TypeError, "value_params"),
    (lambda: ad.mlp_logits(ad.value_params(random_mlp_problem(0)[0]), np.ones((2, 5))), ValueError, "3 columns"),
    (lambda: ad.softmax_cross_entropy(np.ones((2, 3)), [0, 1]), TypeError, r"\(N, K\) array of Values"),
    (lambda: ad.softmax_cross_entropy([[Value(1.0), Value(2.0)]], [2]), ValueError, r"labels in 0\.\.1"),
    (lambda: ad.sgd_step(ad.value_params(random_mlp_problem(0)[0]), -1.0), ValueError, "lr"),
])
def test_value_mlp_bad_input_is_a_clear_error(make, error, message):
    with pytest.raises(error, match=message):
        make()
