"""The ps3 checks accept correct answers written independently of the lib, and reject the usual mistakes."""

import math

import numpy as np
import pytest

from dlcourse.grading import CheckFailed
from dlcourse.grading import ps3 as checks

# --- independent correct answers (not the lib's code) ----------------------------------------------------


def linear_forward(x, W, b):
    return np.dot(x, W) + b


def linear_backward(dout, x, W):
    return np.dot(dout, W.T), np.dot(x.T, dout), np.sum(dout, axis=0)


def relu_forward(x):
    return x * (x > 0)


def relu_backward(dout, x):
    return dout * (x > 0)


def softmax_cross_entropy(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y)
    d = np.exp(log_p)
    d[np.arange(n), y] -= 1
    return -log_p[np.arange(n), y].mean(), d / n


def mlp_gradients(params, X, y):
    a1 = X @ params["W1"] + params["b1"]
    h = np.maximum(a1, 0)
    loss, da2 = softmax_cross_entropy(h @ params["W2"] + params["b2"], y)
    dh = da2 @ params["W2"].T
    da1 = dh * (a1 > 0)
    return {"W1": X.T @ da1, "b1": da1.sum(0), "W2": h.T @ da2, "b2": da2.sum(0)}


class Value:
    """A compact engine with backward closures (micrograd style), unlike the lib's local-derivative design."""

    def __init__(self, data, _children=()):
        self.data, self.grad, self._prev, self._back = float(data), 0.0, _children, lambda: None

    def _v(self, x):
        return x if isinstance(x, Value) else type(self)(x)

    def __add__(self, o):
        o = self._v(o)
        out = type(self)(self.data + o.data, (self, o))

        def back():
            self.grad += out.grad
            o.grad += out.grad
        out._back = back
        return out

    def __mul__(self, o):
        o = self._v(o)
        out = type(self)(self.data * o.data, (self, o))

        def back():
            self.grad += o.data * out.grad
            o.grad += self.data * out.grad
        out._back = back
        return out

    def __pow__(self, k):
        out = type(self)(self.data ** k, (self,))

        def back():
            self.grad += k * self.data ** (k - 1) * out.grad
        out._back = back
        return out

    def _unary(self, value, slope):
        out = type(self)(value, (self,))

        def back():
            self.grad += slope * out.grad
        out._back = back
        return out

    def exp(self):
        return self._unary(math.exp(self.data), math.exp(self.data))

    def log(self):
        return self._unary(math.log(self.data), 1 / self.data)

    def tanh(self):
        t = math.tanh(self.data)
        return self._unary(t, 1 - t * t)

    def relu(self):
        return self._unary(max(self.data, 0.0), float(self.data > 0))

    __radd__ = __add__
    __rmul__ = __mul__

    def __neg__(self):
        return self * -1

    def __sub__(self, o):
        return self + (-self._v(o))

    def __rsub__(self, o):
        return self._v(o) - self

    def __truediv__(self, o):
        return self * self._v(o) ** -1

    def __rtruediv__(self, o):
        return self._v(o) * self ** -1

    def _topological_order(self):
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((c, False) for c in node._prev)
        return order

    def backward(self):
        order = self._topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            node._back()


def train_mlp(X, y, hidden, lr, epochs, seed):
    rng = np.random.default_rng(seed)
    D, K = X.shape[1], 10
    p = {"W1": rng.normal(0, np.sqrt(2 / D), (D, hidden)), "b1": np.zeros(hidden),
         "W2": rng.normal(0, np.sqrt(2 / hidden), (hidden, K)), "b2": np.zeros(K)}
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for s in range(0, len(y), 32):
            b = order[s:s + 32]
            g = mlp_gradients(p, X[b], y[b])
            for k in p:
                p[k] -= lr * g[k]
    return p


@pytest.mark.parametrize("check, fn", [
    (checks.check_linear_forward, linear_forward),
    (checks.check_linear_backward, linear_backward),
    (checks.check_relu_forward, relu_forward),
    (checks.check_relu_backward, relu_backward),
    (checks.check_softmax_cross_entropy, softmax_cross_entropy),
    (checks.check_mlp_gradients, mlp_gradients),
    (checks.check_value, Value),
])
@pytest.mark.parametrize("seed", [0, 11, 2024])
def test_correct_answers_pass_visible_and_hidden_style_checks(check, fn, seed, capsys):
    check(fn, seed=seed, n_random=6)
    assert capsys.readouterr().out.startswith("✓")


def test_train_mlp_accepts_a_good_network_and_explains_a_bad_one(capsys):
    checks.check_train_mlp(train_mlp, hidden=64, lr=0.1, epochs=20, seeds=(0, 1))
    assert capsys.readouterr().out.startswith("✓")
    with pytest.raises(CheckFailed, match="below 0.95 with hidden = 8, lr = 0.001"):
        checks.check_train_mlp(train_mlp, hidden=8, lr=0.001, epochs=1)

    def keys_renamed(*args):
        p = train_mlp(*args)
        return {k.lower(): v for k, v in p.items()}

    with pytest.raises(CheckFailed, match="keys W1, b1, W2, b2"):
        checks.check_train_mlp(keys_renamed, hidden=8, lr=0.1, epochs=1)


# --- the usual mistakes --------------------------------------------------------------------------------------


def dW_not_transposed(dout, x, W):
    dx, dW, db = linear_backward(dout, x, W)
    return dx, dW * 1.5, db


def db_mean(dout, x, W):
    dx, dW, _ = linear_backward(dout, x, W)
    return dx, dW, dout.mean(axis=0)


def relu_backward_ge(dout, x):
    return dout * (x >= 0)


def ce_sum(logits, y):
    loss, d = softmax_cross_entropy(logits, y)
    return loss * len(y), d * len(y)


def mlp_no_relu_mask(params, X, y):
    a1 = X @ params["W1"] + params["b1"]
    h = np.maximum(a1, 0)
    _, da2 = softmax_cross_entropy(h @ params["W2"] + params["b2"], y)
    da1 = da2 @ params["W2"].T  # forgot the ReLU mask
    return {"W1": X.T @ da1, "b1": da1.sum(0), "W2": h.T @ da2, "b2": da2.sum(0)}


class AccumulatingValue(Value):
    """Forgets that a node used twice must receive both contributions (assigns instead of adding)."""

    def __mul__(self, o):
        o = self._v(o)
        out = Value(self.data * o.data, (self, o))

        def back():
            self.grad = o.data * out.grad
            o.grad = self.data * out.grad
        out._back = back
        return out


@pytest.mark.parametrize("check, fn, messages", [
    (checks.check_linear_backward, dW_not_transposed, ["dW is wrong", "dx and db are right", "relative error"]),
    (checks.check_linear_backward, db_mean, ["db is wrong", "dx and dW are right"]),
    (checks.check_relu_backward, relu_backward_ge, ["x = 0 exactly"]),
    (checks.check_softmax_cross_entropy, ce_sum, ["loss is wrong", "dlogits is wrong"]),
    (checks.check_mlp_gradients, mlp_no_relu_mask, ["W1 is wrong", "b1 is wrong", "W2 and b2 are right"]),
    (checks.check_value, AccumulatingValue, ["used twice", "grad"]),
])
def test_usual_mistakes_fail_and_name_the_wrong_gradient(check, fn, messages):
    with pytest.raises(CheckFailed) as info:
        check(fn)
    for message in messages:
        assert message in str(info.value)


def test_a_value_that_wraps_the_library_is_calling_the_solution():
    from dlcourse import autodiff

    with pytest.raises(CheckFailed, match="reference solution"):
        checks.check_value(autodiff.Value)


# --- backprop's accumulation: reused nodes and repeated backward() (issue 8) -----------------------------------


class RecursiveValue(Value):
    """backward() without a topological order: each node pushes its gradient on as soon as it receives some."""

    def backward(self):
        self.grad = 1.0
        self._send()

    def _send(self):
        self._back()  # pushes this node's *current* grad to its inputs ...
        for child in self._prev:
            child._send()  # ... and each input immediately passes on what it has so far


class AccumulatingAcrossCalls(Value):
    """A correct topological backward that forgets to reset the gradients before propagating."""

    def backward(self):
        self.grad = 1.0
        for node in reversed(self._topological_order()):
            node._back()


def test_recursive_backward_double_counts_a_reused_node():
    a, b = RecursiveValue(2.0), RecursiveValue(3.0)
    q = a * b
    (q * q + q).backward()
    assert a.grad == 117.0  # the mistake, worked out by hand in the question; topological order gives 39
    with pytest.raises(CheckFailed) as info:
        checks.check_value(RecursiveValue)
    assert "used twice" in str(info.value) and "[a.grad, b.grad, c.grad] is wrong" in str(info.value)
    with pytest.raises(CheckFailed):
        checks.check_value(RecursiveValue, seed=1123, n_random=6)


def test_gradients_must_restart_from_zero_on_every_backward():
    with pytest.raises(CheckFailed) as info:
        checks.check_value(AccumulatingAcrossCalls)
    assert "backward() called twice" in str(info.value)


def test_the_forgotten_relu_mask_is_pointed_at_the_negative_inputs():
    with pytest.raises(CheckFailed) as info:
        checks.check_relu_backward(lambda dout, x: np.asarray(dout, float).copy())
    msg = str(info.value)
    assert "the wrong entries are where x < 0 and where x = 0 exactly" in msg
    assert "wrong at 2 of 3 entries, index (0, 0), (0, 1)" in msg
    with pytest.raises(CheckFailed) as info:  # x >= 0 instead of x > 0: wrong at the kink only
        checks.check_relu_backward(lambda dout, x: np.where(np.asarray(x) >= 0, dout, 0.0))
    assert "the wrong entries are where x = 0 exactly" in str(info.value)
