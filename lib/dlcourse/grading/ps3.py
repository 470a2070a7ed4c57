"""Checks for assignment ps3 (backpropagation by hand, a scalar autodiff engine, an MLP on the digits).

The layer functions and ``mlp_gradients`` are compared with :mod:`dlcourse.layers` and :mod:`dlcourse.mlp` on
random shapes and values; feedback names each wrong gradient ("dW is wrong ... db is right") with its largest
error. ``Value`` is run on a set of expressions and compared with :class:`dlcourse.autodiff.Value`;
``train_mlp`` is judged by its test accuracy on the held-out digits.
"""

from __future__ import annotations

import numpy as np

from .. import autodiff, data, layers, mlp
from .core import Case, as_plain, check_function, check_trained_model, describe
from .remote import Program, RemoteObject

DIGITS_ACCURACY = 0.95

LAYER_HELPERS = {"linear_forward": layers.linear_forward, "linear_backward": layers.linear_backward,
                 "relu_forward": layers.relu_forward, "relu_backward": layers.relu_backward,
                 "softmax_cross_entropy": layers.softmax_cross_entropy}


def _shapes(rng: np.random.Generator) -> tuple[int, int, int]:
    return int(rng.integers(1, 9)), int(rng.integers(1, 7)), int(rng.integers(1, 6))


def check_linear_forward(linear_forward, seed: int = 0, n_random: int = 6) -> None:
    """x @ W + b for x (N, D), W (D, M), b (M,)."""
    rng = np.random.default_rng(seed)
    cases = [Case((np.array([[1.0, 2.0]]), np.array([[1.0], [-1.0]]), np.array([0.5])), "N = 1, D = 2, M = 1")]
    for i in range(n_random):
        N, D, M = _shapes(rng)
        cases.append(Case((rng.normal(size=(N, D)), rng.normal(size=(D, M)), rng.normal(size=M)),
                          f"random shapes {i + 1}: N = {N}, D = {D}, M = {M}"))
    check_function(linear_forward, layers.linear_forward, cases, name="linear_forward", rtol=1e-9, atol=1e-12)


def check_linear_backward(linear_backward, seed: int = 0, n_random: int = 6) -> None:
    """(dx, dW, db) = (dout W', x' dout, sum of dout over the batch)."""
    rng = np.random.default_rng(seed)
    cases = [Case((np.array([[1.0, -1.0]]), np.array([[2.0, 3.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])),
                  "N = 1, D = 2, M = 2 (W the identity)")]
    for i in range(n_random):
        N, D, M = _shapes(rng)
        cases.append(Case((rng.normal(size=(N, M)), rng.normal(size=(N, D)), rng.normal(size=(D, M))),
                          f"random shapes {i + 1}: N = {N}, D = {D}, M = {M}"))
    check_function(linear_backward, layers.linear_backward, cases, name="linear_backward",
                   outputs=("dx", "dW", "db"), rtol=1e-9, atol=1e-12)


def check_relu_forward(relu_forward, seed: int = 0, n_random: int = 4) -> None:
    """max(x, 0) elementwise."""
    rng = np.random.default_rng(seed)
    cases = [Case((np.array([[-1.0, 0.0, 2.0]]),), "negative, zero and positive entries")]
    cases += [Case((rng.normal(size=_shapes(rng)[:2]),), f"random input {i + 1}") for i in range(n_random)]
    check_function(relu_forward, layers.relu_forward, cases, name="relu_forward", rtol=1e-12, atol=0)


def check_relu_backward(relu_backward, seed: int = 0, n_random: int = 4) -> None:
    """dout where x > 0, else 0 (also at x = 0 exactly)."""
    rng = np.random.default_rng(seed)
    cases = [Case((np.array([[5.0, 5.0, 5.0]]), np.array([[-1.0, 0.0, 2.0]])),
                  "x negative, zero and positive (the gradient at x = 0 exactly is 0)")]
    for i in range(n_random):
        N, D, _ = _shapes(rng)
        x = rng.normal(size=(N, D))
        x[rng.random(size=x.shape) < 0.2] = 0.0
        cases.append(Case((rng.normal(size=(N, D)), x), f"random input {i + 1} with some exact zeros"))
    check_function(relu_backward, layers.relu_backward, cases, name="relu_backward", rtol=1e-12, atol=0,
                   hint=_relu_hint)


def _relu_hint(case: Case, expected, got) -> str | None:
    """Where the wrong entries are: at x < 0 (a missing mask), at x = 0 (the kink) or at x > 0."""
    x = np.asarray(case.args[1])
    got = np.asarray(as_plain(got), dtype=float) if np.shape(as_plain(got)) == x.shape else None
    if got is None:
        return None
    wrong = ~np.isclose(got, expected, rtol=1e-12, atol=0)
    kinds = [what for what, mask in (("x < 0", x < 0), ("x = 0 exactly", x == 0), ("x > 0", x > 0))
             if np.any(wrong & mask)]
    return f"the wrong entries are where {' and where '.join(kinds)}" if kinds else None


def check_softmax_cross_entropy(softmax_cross_entropy, seed: int = 0, n_random: int = 6) -> None:
    """(mean loss, dlogits = (softmax - onehot) / N), without warnings for logits of +-1000."""
    rng = np.random.default_rng(seed)
    cases = [
        Case((np.zeros((1, 3)), np.array([2])), "a single sample with equal logits (loss log 3)"),
        Case((np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0]]), np.array([0, 0])), "logits of +-1000"),
    ]
    for i in range(n_random):
        N, K = int(rng.integers(1, 20)), int(rng.integers(2, 11))
        cases.append(Case((rng.normal(scale=(1.0, 5.0)[i % 2], size=(N, K)), rng.integers(0, K, size=N)),
                          f"random logits {i + 1}: N = {N}, K = {K}"))
    check_function(softmax_cross_entropy, layers.softmax_cross_entropy, cases, name="softmax_cross_entropy",
                   outputs=("loss", "dlogits"), rtol=1e-8, atol=1e-12, forbid_warnings=True)


def check_mlp_gradients(mlp_gradients, seed: int = 0, n_random: int = 5) -> None:
    """The gradients of the mean loss of relu(X W1 + b1) W2 + b2 for every parameter, as a dict."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n_random + 1):
        N, D, H, K = (1, 2, 3, 2) if i == 0 else (int(rng.integers(1, 12)), int(rng.integers(1, 8)),
                                                  int(rng.integers(1, 10)), int(rng.integers(2, 6)))
        params = {"W1": rng.normal(size=(D, H)), "b1": rng.normal(scale=0.5, size=H),
                  "W2": rng.normal(size=(H, K)), "b2": rng.normal(size=K)}
        label = "a single sample" if i == 0 else f"random network {i}"
        cases.append(Case((params, rng.normal(size=(N, D)), rng.integers(0, K, size=N)),
                          f"{label}: N = {N}, D = {D}, H = {H}, K = {K}"))
    check_function(mlp_gradients, mlp.mlp_gradients, cases, name="mlp_gradients", outputs=mlp.PARAM_NAMES,
                   rtol=1e-7, atol=1e-10, lend=LAYER_HELPERS)


# --- the autodiff engine --------------------------------------------------------------------------------

def _fan_out(a, b, c):
    q = a * b  # q feeds two operations: its gradient is the sum over both uses
    return q * q + q


def _diamond(a, b, c):
    h = (a * c).tanh()  # h reaches the output along two paths, each through another node
    u, v = h * b, h + c
    return u * v + h


def _shared_subexpression(a, b, c):
    s = a + b
    t = s * s  # s used twice by one node
    return (t + s).exp().log() * c + t * s


EXPRESSIONS = {
    "(a + b) * c": lambda a, b, c: (a + b) * c,
    "a * a * b (a used twice)": lambda a, b, c: a * a * b,
    "numbers on both sides: 2 * a - 1 + 3 / b": lambda a, b, c: 2 * a - 1 + 3 / b,
    "a / b - c": lambda a, b, c: a / b - c,
    "a ** 3 + b ** -2": lambda a, b, c: a ** 3 + b ** -2,
    "(a * b + c).tanh()": lambda a, b, c: (a * b + c).tanh(),
    "(a * b).exp() + (c * c + 1).log()": lambda a, b, c: (a * b).exp() + (c * c + 1).log(),
    "(a - b).relu() * c + (b - a).relu()": lambda a, b, c: (a - b).relu() * c + (b - a).relu(),
    "1 - a * b + c / 4": lambda a, b, c: 1 - a * b + c / 4,
    "a neuron: (w1*x1 + w2*x2 + b).tanh()": lambda a, b, c: (a * 2.0 + b * -1.5 + c).tanh(),
    "a deep chain: 30 steps of x = (x * a + b).tanh() + c": lambda a, b, c: _chain(a, b, c, 30),
    "a node used twice: q = a * b; q * q + q": _fan_out,
    "a diamond: h = (a * c).tanh(); (h * b) * (h + c) + h": _diamond,
    "a shared sum: s = a + b; t = s * s; (t + s).exp().log() * c + t * s": _shared_subexpression,
}


def _chain(a, b, c, steps: int):
    x = a
    for _ in range(steps):
        x = (x * a + b).tanh() + c
    return x


def _evaluate(value_class, expression: str, inputs: tuple[float, float, float], n_backward: int = 1):
    """Build the expression from three fresh values, run backward ``n_backward`` times; return (output, the
    gradients of the inputs)."""
    program = Program(value_class._session) if isinstance(value_class, RemoteObject) else None
    if program is not None:  # the student's class in the kernel: the same operations, one round trip
        value_class = program.value(value_class)
    leaves = [value_class(x) for x in inputs]
    out = EXPRESSIONS[expression](*leaves)
    for _ in range(n_backward):
        out.backward()
    data, grads = out.data, [v.grad for v in leaves]
    if program is not None:
        data, *grads = program.run([data, *grads])
    return float(data), np.array([float(g) for g in grads])


def check_value(Value, seed: int = 0, n_random: int = 2) -> None:
    """Value's data and the gradients after backward() on expressions using every required operation, nodes
    used more than once, and backward() called twice on the same graph (it must give the same gradients)."""
    rng = np.random.default_rng(seed)
    cases = [Case(("(a + b) * c", (-2.0, 5.0, -4.0), 1), "the worked example (x + y) * z at (-2, 5, -4)"),
             Case(("a node used twice: q = a * b; q * q + q", (2.0, 3.0, 0.0), 1),
                  "q = a * b used twice, at a = 2, b = 3 (d out / d a = (2q + 1) b = 39)")]
    for name in EXPRESSIONS:
        for k in range(n_random):
            a, b, c = rng.uniform(0.3, 2.0, size=3) * rng.choice([-1.0, 1.0], size=3)
            cases.append(Case((name, (float(a), float(b), float(c)), 1), f"{name}, random inputs {k + 1}"))
    for name in ("(a + b) * c", "a node used twice: q = a * b; q * q + q", "a deep chain: 30 steps of x = (x * a + b).tanh() + c"):
        a, b, c = rng.uniform(0.3, 2.0, size=3)
        cases.append(Case((name, (float(a), float(b), float(c)), 2),
                          f"{name}, backward() called twice (each call starts the gradients from 0)"))

    def student(expression: str, inputs, n_backward: int):
        return _evaluate(Value, expression, inputs, n_backward)

    def expected(expression: str, inputs, n_backward: int):
        return _evaluate(autodiff.Value, expression, inputs, n_backward)

    check_function(student, expected, cases, name="Value", outputs=("out.data", "[a.grad, b.grad, c.grad]"),
                   rtol=1e-8, atol=1e-10)


def check_train_mlp(train_mlp, hidden: int, lr: float, epochs: int, seeds=(0,)) -> None:
    """Trained on the digits' training split with the student's settings, at least 95 % test accuracy (each seed);
    the same seed gives the same parameters."""
    X_train, X_test, y_train, y_test = data.digits_split()
    shapes = {"W1": (64, hidden), "b1": (hidden,), "W2": (hidden, 10), "b2": (10,)}

    def as_params(result) -> dict:
        return {k: np.asarray(as_plain(v), dtype=float) for k, v in result.items()}

    def problem(result) -> str | None:
        if not isinstance(result, dict) or set(result) != set(mlp.PARAM_NAMES):
            return f"expected a dict with the keys {', '.join(mlp.PARAM_NAMES)}, got {describe(result)}"
        for k, shape in shapes.items():
            if np.shape(as_plain(result[k])) != shape:
                return f"{k} must have shape {shape}, got {np.shape(as_plain(result[k]))}"
        if not all(np.all(np.isfinite(v)) for v in as_params(result).values()):
            return "the parameters contain nan or inf: is the learning rate too large?"
        return None

    cases = [Case((X_train, y_train, hidden, lr, epochs, s), f"the digits training split, seed {s}") for s in seeds]
    check_trained_model(train_mlp, cases, name="train_mlp on the digits", problem=problem,
                        score=lambda result: mlp.accuracy(as_params(result), X_test, y_test),
                        threshold=DIGITS_ACCURACY, what="test accuracy",
                        settings=f"hidden = {hidden}, lr = {lr}, epochs = {epochs}",
                        advice="check the update, or train longer / with another lr",
                        same=lambda a, b: all(np.array_equal(as_params(a)[k], as_params(b)[k]) for k in shapes),
                        lend={"mlp_gradients": mlp.mlp_gradients, **LAYER_HELPERS}, seconds=25)
