"""Automatic differentiation of scalar functions, in both modes: forward (dual numbers) and reverse (backprop).

Both modes apply the chain rule to the same elementary steps; they differ in the direction they sweep.

* **Forward mode** (:class:`Dual`). A dual number a + b·ε with ε² = 0 carries a value a and a derivative b
  through the computation: g(a + b·ε) = g(a) + g'(a)·b·ε. Seeding x_i with b = 1 (and every other input with
  b = 0) yields ∂f/∂x_i at the output, so the full gradient of f: R^n -> R needs n passes
  (:func:`forward_gradient`).
* **Reverse mode** (:class:`Value`). The forward pass records a graph: every node keeps its inputs and the local
  derivatives ∂node/∂input. :meth:`Value.backward` then walks the graph once from the output back to the
  inputs, multiplying local derivatives by the gradient arriving from above, and obtains ∂f/∂x for *every*
  input at once: one forward and one backward pass, whatever n is. That is why neural networks, with one loss
  and millions of parameters, are trained with reverse mode.

Every elementary function (exp, log, tanh, ...) is written once, in :class:`_Scalar`, as "its value and its
slope at x"; the two modes differ only in what they do with the slope (:meth:`Dual._apply`, :meth:`Value._apply`).
:func:`trace` and :func:`count_ops` expose the graph so that a lecture can draw it and count its operations;
:func:`counting` measures the operations that both modes actually perform.

The last part builds the one-hidden-layer network of :mod:`dlcourse.mlp` out of Values, one per number
(:func:`value_params`, :func:`mlp_logits`, :func:`softmax_cross_entropy`, :func:`sgd_step`), as micrograd does:
slow, but every gradient of training comes from :meth:`Value.backward`, and it equals ``mlp.mlp_gradients``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Self

import numpy as np

from . import _numerics, _reference, _validate

_reference.reference_module(__name__)

_REAL = (int, float, np.integer, np.floating)


def _as_real(x, what: str) -> float:
    """``x`` as a float; ``TypeError`` unless it is an int, a float or a numpy scalar (bools refused)."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, _REAL):
        raise TypeError(f"{what} must be a real number (int, float or numpy scalar), got {type(x).__name__}")
    return float(x)


def _as_inputs(xs) -> list[float]:
    """The point at which to differentiate: a non-empty sequence of numbers, one per argument of f."""
    if isinstance(xs, (str, bytes)) or not isinstance(xs, (Sequence, np.ndarray)):
        raise TypeError(f"xs must be a sequence of numbers, one per argument of f, got {type(xs).__name__}")
    if len(xs) == 0:
        raise ValueError("xs must hold at least one number")
    return [_as_real(x, f"xs[{i}]") for i, x in enumerate(xs)]


@dataclasses.dataclass
class OpCount:
    """Elementary operations, as counted by :func:`counting`.

    ``dual``: operations on Duals (+, ×, exp, tanh, ...; -, / and ** count as the steps they are built from);
    ``value``: operations recorded on Values, i.e. nodes created by forward passes;
    ``backward``: multiply-adds of :meth:`Value.backward`, one per edge (local derivative × gradient, added to
    the input's ``grad``).
    """

    dual: int = 0
    value: int = 0
    backward: int = 0


_TOTAL = OpCount()  # running totals since the import; counting() reports their increase


@contextmanager
def counting() -> Iterator[OpCount]:
    """Count the operations that Duals and Values perform inside a ``with`` block (blocks may be nested).

        with autodiff.counting() as ops:
            forward_gradient(f, xs)
        ops.dual    # the operations of all n forward-mode passes together

    The :class:`OpCount` it yields is filled in when the block ends.
    """
    start = dataclasses.replace(_TOTAL)
    ops = OpCount()
    try:
        yield ops
    finally:
        for field in dataclasses.fields(OpCount):
            setattr(ops, field.name, getattr(_TOTAL, field.name) - getattr(start, field.name))


class _Scalar:
    """What Dual and Value share: -, /, ** and the elementary functions, built on their own + and ×.

    A subclass defines ``_primal`` (the plain number it holds), ``_lift`` (wrap a number as a constant),
    ``__add__``, ``__mul__`` and ``_apply(value, slope, op)``, which turns g(x) and g'(x) into a result.
    """

    __slots__ = ()
    __array_ufunc__ = None  # `ndarray + x` is handed to x, which raises a clear TypeError instead of broadcasting

    def __radd__(self, other: Self | float) -> Self:
        return self + other

    def __rmul__(self, other: Self | float) -> Self:
        return self * other

    def __neg__(self) -> Self:
        return self._apply(-self._primal, -1.0, "neg")

    def __sub__(self, other: Self | float) -> Self:
        return self + -self._lift(other)

    def __rsub__(self, other: Self | float) -> Self:
        return self._lift(other) + -self

    def __truediv__(self, other: Self | float) -> Self:
        return self * self._lift(other) ** -1

    def __rtruediv__(self, other: Self | float) -> Self:
        return self._lift(other) * self**-1

    def __pow__(self, p: float) -> Self:
        """x ** p for a constant exponent p (an int or a float): slope p x^(p-1)."""
        if isinstance(p, _Scalar):
            raise TypeError(f"the exponent of ** must be a plain number, got a {type(p).__name__}; "
                            "for a variable exponent y write (x.log() * y).exp(), i.e. exp(y log x)")
        p, x = _as_real(p, "the exponent of **"), self._primal
        if x < 0 and not p.is_integer():
            raise ValueError(f"a negative base ({x}) needs an integer exponent, got {p}")
        if x == 0 and p < 0:
            raise ZeroDivisionError(f"0 ** {p:g} divides by zero (a / b is computed as a * b ** -1)")
        slope = 0.0 if p == 0 else math.inf if x == 0 and p < 1 else p * x ** (p - 1)
        return self._apply(x**p, slope, f"**{p:g}")

    def __rpow__(self, base: float):
        raise TypeError(f"a {type(self).__name__} exponent is not supported; "
                        "for c ** y with c > 0 write (y * math.log(c)).exp()")

    def exp(self) -> Self:
        """e^x, whose slope is e^x again."""
        e = math.exp(self._primal)
        return self._apply(e, e, "exp")

    def log(self) -> Self:
        """The natural log (x > 0), slope 1/x."""
        x = self._primal
        if x <= 0:
            raise ValueError(f"log needs an argument > 0, got {x}")
        return self._apply(math.log(x), 1.0 / x, "log")

    def sin(self) -> Self:
        """sin x, slope cos x."""
        return self._apply(math.sin(self._primal), math.cos(self._primal), "sin")

    def cos(self) -> Self:
        """cos x, slope -sin x."""
        return self._apply(math.cos(self._primal), -math.sin(self._primal), "cos")

    def tanh(self) -> Self:
        """tanh x, slope 1 - tanh² x."""
        t = math.tanh(self._primal)
        return self._apply(t, 1.0 - t * t, "tanh")

    def relu(self) -> Self:
        """max(x, 0); its slope at exactly 0 is taken as 0, as in torch."""
        return self._apply(max(self._primal, 0.0), float(self._primal > 0), "relu")

    def sigmoid(self) -> Self:
        """1 / (1 + e^-x) without overflow, slope s(1 - s)."""
        s = float(_numerics.sigmoid(np.float64(self._primal)))
        return self._apply(s, s * (1.0 - s), "sigmoid")


# --- forward mode -----------------------------------------------------------------------------------------


class Dual(_Scalar):
    """A dual number ``val + eps·ε`` with ε² = 0; ``eps`` is the derivative carried along with ``val``."""

    __slots__ = ("val", "eps")

    def __init__(self, val: float, eps: float = 0.0):
        self.val = _as_real(val, "Dual.val")
        self.eps = _as_real(eps, "Dual.eps")

    @property
    def _primal(self) -> float:
        return self.val

    @classmethod
    def _lift(cls, x: Dual | float) -> Dual:
        """A Dual as is; a number c as the constant c + 0·ε."""
        return x if isinstance(x, Dual) else Dual(_as_real(x, "the other operand of a Dual"))

    def __add__(self, other: Dual | float) -> Dual:
        other = self._lift(other)
        _TOTAL.dual += 1
        return Dual(self.val + other.val, self.eps + other.eps)

    def __mul__(self, other: Dual | float) -> Dual:
        other = self._lift(other)  # (a + bε)(c + dε) = ac + (ad + bc)ε, because ε² = 0
        _TOTAL.dual += 1
        return Dual(self.val * other.val, self.val * other.eps + self.eps * other.val)

    def _apply(self, value: float, slope: float, op: str) -> Dual:
        """g(a + bε) = g(a) + g'(a)·b·ε: the chain rule, applied right away."""
        _TOTAL.dual += 1
        return Dual(value, slope * self.eps)

    def __repr__(self) -> str:
        return f"Dual(val={self.val!r}, eps={self.eps!r})"


def forward_gradient(f: Callable[..., Dual], xs: Sequence[float]) -> tuple[float, np.ndarray, int]:
    """The value and gradient of a scalar ``f(x_1, ..., x_n)`` by forward mode: one pass per input.

    Pass i feeds ``Dual(x_i, 1)`` and ``Dual(x_j, 0)`` for j != i, so the ``eps`` of the output is ∂f/∂x_i.
    Returns ``(f(xs), gradient of shape (n,), number of passes)``; the number of passes is n.
    """
    xs = _as_inputs(xs)
    grad = np.zeros(len(xs))
    for i in range(len(xs)):
        out = Dual._lift(f(*[Dual(x, float(i == j)) for j, x in enumerate(xs)]))
        grad[i] = out.eps
    return out.val, grad, len(xs)


def derivative(f: Callable[[Dual], Dual], x: float) -> float:
    """f'(x) of a function of one number, by one forward-mode pass."""
    return float(forward_gradient(f, [x])[1][0])


# --- reverse mode -----------------------------------------------------------------------------------------


class Value(_Scalar):
    """A number in a computation graph: ``data``, the gradient ``grad`` of the output w.r.t. it, and the graph.

    ``_prev`` holds the inputs of the operation that produced it (empty for a leaf), ``_local`` the local
    derivatives ∂self/∂input in the same order, ``_op`` the operation's name; ``label`` is for drawing.
    """

    __slots__ = ("data", "grad", "label", "_prev", "_local", "_op")

    def __init__(self, data: float, label: str = ""):
        self.data = _as_real(data, "Value.data")
        self.grad = 0.0
        self.label = label
        self._prev: tuple[Value, ...] = ()
        self._local: tuple[float, ...] = ()
        self._op = ""

    @property
    def _primal(self) -> float:
        return self.data

    @classmethod
    def _lift(cls, x: Value | float) -> Value:
        """A Value as is; a number as a new constant leaf."""
        return x if isinstance(x, Value) else Value(_as_real(x, "the other operand of a Value"))

    @staticmethod
    def _node(data: float, op: str, *inputs: tuple[Value, float]) -> Value:
        """A result node from its ``(input, ∂result/∂input)`` pairs."""
        _TOTAL.value += 1
        out = Value(data)
        out._prev = tuple(v for v, _ in inputs)
        out._local = tuple(d for _, d in inputs)
        out._op = op
        return out

    def __add__(self, other: Value | float) -> Value:
        other = self._lift(other)
        return Value._node(self.data + other.data, "+", (self, 1.0), (other, 1.0))

    def __mul__(self, other: Value | float) -> Value:
        other = self._lift(other)
        return Value._node(self.data * other.data, "*", (self, other.data), (other, self.data))

    def _apply(self, value: float, slope: float, op: str) -> Value:
        """Record g(x) with its slope g'(x); the chain rule is applied later, by :meth:`backward`."""
        return Value._node(value, op, (self, slope))

    def backward(self) -> None:
        """Set ``grad`` of every node in the graph to d(self)/d(node), in one sweep from self to the leaves.

        Unlike torch, which *adds* to ``.grad`` on every call (hence ``optimizer.zero_grad()``), this first
        resets the grads of all nodes of the graph to 0: calling it twice gives the same gradients, not twice
        them. A node used several times (``x * x``) receives the sum of the gradients along all its uses. A leaf
        shared by two outputs holds the gradient of the output whose ``backward`` ran last.
        """
        order = _topological_order(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):  # a node comes before its inputs: its grad is complete when passed on
            for child, local in zip(node._prev, node._local):
                child.grad += local * node.grad
            _TOTAL.backward += len(node._prev)

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"


def _topological_order(root: Value) -> list[Value]:
    """All nodes of root's graph, every node after its inputs (root last); iterative, so deep graphs are fine."""
    if not isinstance(root, Value):
        raise TypeError(f"root must be a Value, got {type(root).__name__}")
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
        elif node not in seen:
            seen.add(node)
            stack.append((node, True))  # comes back off the stack after all of its inputs
            stack.extend((child, False) for child in reversed(node._prev))  # first input first
    return order


def trace(root: Value) -> tuple[list[Value], list[tuple[Value, Value]]]:
    """``(nodes, edges)`` of root's graph for drawing: nodes in topological order (inputs first, root last),
    edges ``(input, result)``; an input used twice by one operation (``a + a``) has two edges."""
    nodes = _topological_order(root)
    return nodes, [(child, node) for node in nodes for child in node._prev]


def count_ops(root: Value) -> int:
    """The number of operations in root's graph (its non-leaf nodes).

    Reverse mode runs each once forward and once backward; forward mode runs each once per input.
    """
    return sum(1 for node in _topological_order(root) if node._prev)


def reverse_gradient(f: Callable[..., Value], xs: Sequence[float]) -> tuple[float, np.ndarray]:
    """The value and gradient of a scalar ``f(x_1, ..., x_n)`` by reverse mode: one forward, one backward pass."""
    inputs = [Value(x, label=f"x{i + 1}") for i, x in enumerate(_as_inputs(xs))]
    out = Value._lift(f(*inputs))
    out.backward()
    return out.data, np.array([v.grad for v in inputs], dtype=float)


def worked_example(x: float, y: float, z: float) -> dict[str, Value]:
    """The lecture's worked example f = (x + y)·z on :class:`Value`, after ``f.backward()``.

    Returns ``{"x", "y", "z", "q", "f": Value}``, the nodes of the graph labelled by their names (q = x + y is
    the intermediate sum): every ``grad`` is df/d(node), i.e. df/dx = df/dy = df/dq = z and df/dz = x + y.
    """
    xv, yv, zv = (Value(_validate.as_scalar(v, name), label=name) for v, name in ((x, "x"), (y, "y"), (z, "z")))
    q = xv + yv
    q.label = "q"
    f = q * zv
    f.label = "f"
    f.backward()
    return {"x": xv, "y": yv, "z": zv, "q": q, "f": f}


# --- the elementary functions for numbers, Duals and Values alike -----------------------------------------


Scalar = float | Dual | Value


def _call(name: str, x: Scalar) -> Scalar:
    if isinstance(x, _Scalar):
        return getattr(x, name)()
    return getattr(Dual(_as_real(x, f"the argument of {name}")), name)().val


def sin(x: Scalar) -> Scalar:
    """sin(x) of a number (a float comes back), a Dual or a Value."""
    return _call("sin", x)


def cos(x: Scalar) -> Scalar:
    """cos(x) of a number, a Dual or a Value."""
    return _call("cos", x)


def exp(x: Scalar) -> Scalar:
    """e^x of a number, a Dual or a Value."""
    return _call("exp", x)


def log(x: Scalar) -> Scalar:
    """The natural log of a number, a Dual or a Value; ``ValueError`` for x <= 0."""
    return _call("log", x)


def tanh(x: Scalar) -> Scalar:
    """tanh(x) of a number, a Dual or a Value."""
    return _call("tanh", x)


# --- the one-hidden-layer network of dlcourse.mlp, built from Values ----------------------------------------
#
# The same model as mlp.mlp_forward, logits = relu(X W1 + b1) W2 + b2, with every parameter a leaf Value held
# in a numpy array of dtype object: numpy's @ and + then run Value's own * and + entry by entry, so the code
# reads like the numpy version while building one graph node per scalar operation.

MLP_PARAM_NAMES = _validate.MLP_PARAM_NAMES


def value_params(params) -> dict[str, np.ndarray]:
    """The parameters of an MLP as leaf Values: for each float array of ``params`` (W1 (D, H), b1 (H,),
    W2 (H, K), b2 (K,), as made by ``mlp.init_mlp``) an object array of the same shape holding one new
    :class:`Value` per entry, labelled like ``"W1[0,2]"``."""
    values = {}
    for name, array in _validate.as_mlp_params(params).items():
        values[name] = np.empty(array.shape, dtype=object)
        for index in np.ndindex(array.shape):
            values[name][index] = Value(array[index], label=f"{name}[{','.join(map(str, index))}]")
    return values


def _check_value_params(P) -> dict[str, np.ndarray]:
    """``P`` itself, after checking that it holds the four object arrays of Values made by :func:`value_params`."""
    if not isinstance(P, dict) or any(not isinstance(P.get(name), np.ndarray) or P[name].dtype != object
                                      or not all(isinstance(v, Value) for v in P[name].flat)
                                      for name in MLP_PARAM_NAMES):
        raise TypeError("P must be a dict of object arrays of Values with the keys "
                        f"{', '.join(MLP_PARAM_NAMES)}, as made by value_params(params)")
    return P


def param_data(P: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The numbers held by the Values of ``P`` (from :func:`value_params`): a params dict of float arrays, same
    shapes, that ``mlp.mlp_forward`` and ``mlp.accuracy`` accept."""
    return {name: np.vectorize(lambda v: v.data, otypes=[float])(A) for name, A in _check_value_params(P).items()}


def param_grads(P: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The gradients held by the Values of ``P`` (after ``loss.backward()``): float arrays of the same shapes."""
    return {name: np.vectorize(lambda v: v.grad, otypes=[float])(A) for name, A in _check_value_params(P).items()}


def _relu(A: np.ndarray) -> np.ndarray:
    """relu of every Value of an object array (np.maximum would need Values to compare, which they don't)."""
    return np.vectorize(lambda v: v.relu(), otypes=[object])(A)


def mlp_logits(P: dict[str, np.ndarray], X) -> np.ndarray:
    """The logits relu(X W1 + b1) W2 + b2 as Values: X (N, D) numbers, ``P`` from :func:`value_params`.

    Returns an object array (N, K) of Values, the outputs of a graph whose leaves are the parameters in ``P``
    (and the numbers of X, as constants).
    """
    P = _check_value_params(P)
    X = _validate.as_matrix(X, "X", P["W1"].shape[0])
    return _relu(X @ P["W1"] + P["b1"]) @ P["W2"] + P["b2"]


def softmax_cross_entropy(logits, y) -> Value:
    """The mean cross-entropy of integer labels ``y`` (N,) under softmax(``logits``), as one Value.

    ``logits`` is an (N, K) array (or nested lists) of Values. Row n contributes
    log sum_k exp(z_nk - m_n) - (z_{n,y_n} - m_n) = -log softmax(z_n)[y_n], where m_n, the largest logit of the
    row, enters as a plain number (a constant of the graph): exp never sees a positive number, and since the loss
    does not depend on the shift, its gradient is the same as without it. The graph-building counterpart of the
    array kernel ``_numerics.softmax_cross_entropy``, which it reproduces to rounding.
    """
    Z = np.asarray(logits, dtype=object)
    if Z.ndim != 2 or Z.size == 0 or not all(isinstance(v, Value) for v in Z.flat):
        raise TypeError(f"logits must be an (N, K) array of Values, got shape {Z.shape} "
                        f"with {sorted({type(v).__name__ for v in Z.flat})}")
    y = _validate.as_class_labels(y, "y", Z.shape[0], Z.shape[1])
    total = Value(0.0)
    for z, label in zip(Z, y):
        m = max(v.data for v in z)
        shifted = [v - m for v in z]
        total = total + sum(s.exp() for s in shifted).log() - shifted[label]
    return total * (1.0 / Z.shape[0])


def sgd_step(P: dict[str, np.ndarray], lr: float) -> None:
    """One gradient-descent step on every Value of ``P``: ``v.data -= lr * v.grad`` (after ``loss.backward()``)."""
    lr = _validate.as_positive_float(lr, "lr")
    for A in _check_value_params(P).values():
        for v in A.flat:
            v.data -= lr * v.grad


def mlp_loss_and_gradients(params, X, y) -> tuple[float, dict[str, np.ndarray]]:
    """The mean softmax cross-entropy of the MLP ``params`` on (X (N, D), y (N,)) and its gradients, by reverse
    mode on Values: ``(loss, {"W1", "b1", "W2", "b2": float arrays shaped like params})``, the numbers that
    ``mlp.mlp_loss`` and ``mlp.mlp_gradients`` compute with arrays."""
    P = value_params(params)
    loss = softmax_cross_entropy(mlp_logits(P, X), y)
    loss.backward()
    return loss.data, param_grads(P)
