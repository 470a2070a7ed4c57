"""Layers of a neural network as forward/backward pairs, in numpy: the reference code of lectures 04–06 and ps3.

Two views of the same maths:

* **functions** ``*_forward`` / ``*_backward``: each backward takes the upstream gradient ``dout`` (the
  gradient of the loss with respect to the forward's output) plus what the forward saw, and returns the
  gradients with respect to the forward's inputs. ``linear_*``, ``relu_*`` and ``softmax_cross_entropy`` are
  the reference solutions of ps3;
* **classes** (:class:`Linear`, :class:`ReLU`, ..., :class:`Sequential`): a layer keeps what its backward
  needs in ``self.cache``, its parameters in the dict ``params`` and, after ``backward``, the gradients in
  the dict ``grads`` (same keys, same shapes). An optimiser from :mod:`dlcourse.optim` updates ``params``
  in place from ``grads``.

Shapes: a batch ``x`` of N examples is (N, D); labels ``y`` are integers in 0..K-1 of shape (N,).
Everything is float64. The stable kernels (sigmoid, softmax cross-entropy) come from :mod:`dlcourse._numerics`.
Every function of this module counts as course code to the grading guard: a graded answer may not call it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from . import _numerics, _reference, _validate
from ._reference import reference

_reference.reference_module(__name__)

INIT_SCHEMES = ("he", "glorot", "normal", "small", "zeros")

# --- validation -------------------------------------------------------------------------------------------


def _check_linear(x, W, b=None):
    x = _validate.as_matrix(x, "x")
    W = _validate.as_float_array(W, "W", ndim=2)
    if W.shape[0] != x.shape[1]:
        raise ValueError(f"W must have shape (D, M) with D = {x.shape[1]} (the columns of x), got {W.shape}")
    if b is not None:
        b = _validate.as_vector(b, "b", W.shape[1])
    return x, W, b


def _check_dout(dout, shape: tuple, what: str) -> np.ndarray:
    dout = _validate.as_float_array(dout, "dout")
    if dout.shape != tuple(shape):
        raise ValueError(f"dout must have the shape of the {what}, {tuple(shape)}; got {dout.shape}")
    return dout


# --- the graded functions (ps3) ---------------------------------------------------------------------------


@reference
def linear_forward(x, W, b) -> np.ndarray:
    """Affine layer: ``x @ W + b`` with x (N, D), W (D, M), b (M,); returns (N, M)."""
    x, W, b = _check_linear(x, W, b)
    return x @ W + b


@reference
def linear_backward(dout, x, W):
    """Gradients of the affine layer: ``(dx, dW, db)`` of shapes (N, D), (D, M), (M,).

    With out = x W + b and dout = dL/dout (N, M): dx = dout W', dW = x' dout, db = sum of dout over the batch.
    """
    x, W, _ = _check_linear(x, W)
    dout = _check_dout(dout, (x.shape[0], W.shape[1]), "output x @ W + b")
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


@reference
def relu_forward(x) -> np.ndarray:
    """max(x, 0) elementwise; any shape."""
    x = _validate.as_float_array(x, "x")
    return np.maximum(x, 0.0)


@reference
def relu_backward(dout, x) -> np.ndarray:
    """dL/dx = dout where x > 0, else 0 (the subgradient 0 is used at x = 0 exactly); shape of x."""
    x = _validate.as_float_array(x, "x")
    dout = _check_dout(dout, x.shape, "input x")
    return np.where(x > 0, dout, 0.0)


@reference
def softmax_cross_entropy(logits, y):
    """Mean cross-entropy of integer labels ``y`` (N,) under softmax(logits), logits (N, K).

    loss = -1/N sum_i log softmax(logits_i)[y_i], computed from the log-softmax shifted by each row's maximum,
    so logits of ±1000 give the exact loss with no overflow. Returns ``(loss, dlogits)``: a float and the
    gradient (softmax(logits) - onehot(y)) / N of shape (N, K).
    """
    logits = _validate.as_matrix(logits, "logits")
    y = _validate.as_class_labels(y, "y", logits.shape[0], logits.shape[1])
    return _numerics.softmax_cross_entropy(logits, y)


# --- other activations ------------------------------------------------------------------------------------


def sigmoid_forward(x) -> np.ndarray:
    """The logistic sigmoid 1 / (1 + e^-x) elementwise, stable for any finite x; any shape."""
    return _numerics.sigmoid(_validate.as_float_array(x, "x"))


def sigmoid_backward(dout, out) -> np.ndarray:
    """dL/dx = dout * s (1 - s), given the forward's *output* s = sigmoid(x); shape of s."""
    out = _validate.as_float_array(out, "out")
    return _check_dout(dout, out.shape, "output") * out * (1.0 - out)


def tanh_forward(x) -> np.ndarray:
    """tanh(x) elementwise; any shape."""
    return np.tanh(_validate.as_float_array(x, "x"))


def tanh_backward(dout, out) -> np.ndarray:
    """dL/dx = dout * (1 - t^2), given the forward's *output* t = tanh(x); shape of t."""
    out = _validate.as_float_array(out, "out")
    return _check_dout(dout, out.shape, "output") * (1.0 - out**2)


# --- initialisation ---------------------------------------------------------------------------------------


def init_weights(d_in: int, d_out: int, scheme: str = "he", rng=0) -> np.ndarray:
    """A (d_in, d_out) weight matrix drawn from ``rng`` (a Generator or a seed) by ``scheme``:

    * ``"he"``: N(0, 2 / d_in), keeps the variance of activations through ReLU layers;
    * ``"glorot"``: U(-a, a) with a = sqrt(6 / (d_in + d_out)), variance 2 / (d_in + d_out) (tanh, sigmoid);
    * ``"normal"``: N(0, 1 / d_in), keeps the variance through linear layers;
    * ``"small"``: N(0, 0.01^2), the classic fixed scale whose activations vanish in deep nets;
    * ``"zeros"``: all zeros, to show that hidden units then never become different.
    """
    d_in = _validate.as_int(d_in, "d_in")
    d_out = _validate.as_int(d_out, "d_out")
    rng = _validate.as_rng(rng)
    if scheme == "he":
        return rng.normal(0.0, np.sqrt(2.0 / d_in), size=(d_in, d_out))
    if scheme == "glorot":
        a = np.sqrt(6.0 / (d_in + d_out))
        return rng.uniform(-a, a, size=(d_in, d_out))
    if scheme == "normal":
        return rng.normal(0.0, np.sqrt(1.0 / d_in), size=(d_in, d_out))
    if scheme == "small":
        return rng.normal(0.0, 0.01, size=(d_in, d_out))
    if scheme == "zeros":
        return np.zeros((d_in, d_out))
    raise ValueError(f"scheme must be one of {', '.join(map(repr, INIT_SCHEMES))}; got {scheme!r}")


# --- layer classes ----------------------------------------------------------------------------------------


class Layer:
    """Base class: ``forward(x)``, ``backward(dout) -> dx``, dicts ``params``/``grads``, a training flag."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True
        self.cache = None

    def forward(self, x) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x) -> np.ndarray:
        return self.forward(x)

    def train(self) -> Layer:
        """Training mode (dropout active); returns the layer."""
        self.training = True
        return self

    def eval(self) -> Layer:
        """Evaluation mode (dropout is the identity); returns the layer."""
        self.training = False
        return self

    def _cached(self):
        if self.cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self.cache

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Linear(Layer):
    """Affine layer x (N, d_in) -> x W + b (N, d_out); params ``W`` (d_in, d_out) and ``b`` (d_out,).

    W is drawn by :func:`init_weights` with ``init`` (default He) from ``rng`` (a Generator or a seed);
    b starts at 0.
    """

    def __init__(self, d_in: int, d_out: int, rng, init: str = "he") -> None:
        super().__init__()
        self.params = {"W": init_weights(d_in, d_out, init, rng), "b": np.zeros(d_out)}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

    def forward(self, x) -> np.ndarray:
        x, W, b = _check_linear(x, self.params["W"], self.params["b"])
        self.cache = x
        return x @ W + b

    def backward(self, dout) -> np.ndarray:
        x = self._cached()
        W = self.params["W"]
        dout = _check_dout(dout, (x.shape[0], W.shape[1]), "output")
        self.grads["W"] = x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return dout @ W.T

    def __repr__(self) -> str:
        return f"Linear({self.params['W'].shape[0]}, {self.params['W'].shape[1]})"


class ReLU(Layer):
    """max(x, 0) elementwise, any shape; backward passes dout where x > 0."""

    def forward(self, x) -> np.ndarray:
        x = _validate.as_float_array(x, "x")
        self.cache = x > 0
        return np.where(self.cache, x, 0.0)

    def backward(self, dout) -> np.ndarray:
        positive = self._cached()
        return np.where(positive, _check_dout(dout, positive.shape, "output"), 0.0)


class Sigmoid(Layer):
    """Logistic sigmoid elementwise, any shape; caches its output s, backward multiplies by s (1 - s)."""

    def forward(self, x) -> np.ndarray:
        self.cache = _numerics.sigmoid(_validate.as_float_array(x, "x"))
        return self.cache

    def backward(self, dout) -> np.ndarray:
        s = self._cached()
        return _check_dout(dout, s.shape, "output") * s * (1.0 - s)


class Tanh(Layer):
    """tanh elementwise, any shape; caches its output t, backward multiplies by 1 - t^2."""

    def forward(self, x) -> np.ndarray:
        self.cache = np.tanh(_validate.as_float_array(x, "x"))
        return self.cache

    def backward(self, dout) -> np.ndarray:
        t = self._cached()
        return _check_dout(dout, t.shape, "output") * (1.0 - t**2)


class Dropout(Layer):
    """Inverted dropout with drop probability ``p`` (0 <= p < 1); any shape.

    Training mode: each unit is zeroed with probability p and the survivors are scaled by 1 / (1 - p), so the
    expected output equals the input and nothing changes at test time. The mask (0 or 1 / (1 - p) per unit)
    is drawn from ``rng`` (a Generator or a seed) and cached: backward multiplies dout by the same mask.
    Eval mode: the identity.
    """

    def __init__(self, p: float, rng) -> None:
        super().__init__()
        p = _validate.as_scalar(p, "p")
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p (the drop probability) must satisfy 0 <= p < 1, got {p}")
        self.p = p
        self.rng = _validate.as_rng(rng)

    def forward(self, x) -> np.ndarray:
        x = _validate.as_float_array(x, "x")
        if self.training:
            self.cache = (self.rng.random(x.shape) >= self.p) / (1.0 - self.p)
        else:
            self.cache = np.ones(x.shape)
        return x * self.cache

    def backward(self, dout) -> np.ndarray:
        mask = self._cached()
        return _check_dout(dout, mask.shape, "output") * mask

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


class SoftmaxCrossEntropy:
    """The loss layer: ``forward(logits, y)`` -> mean cross-entropy (float), ``backward()`` -> dlogits (N, K).

    logits (N, K), integer labels y (N,) in 0..K-1; see :func:`softmax_cross_entropy` for the maths.
    """

    def __init__(self) -> None:
        self.cache = None

    def forward(self, logits, y) -> float:
        logits = _validate.as_matrix(logits, "logits")
        y = _validate.as_class_labels(y, "y", logits.shape[0], logits.shape[1])
        loss, self.cache = _numerics.softmax_cross_entropy(logits, y)
        return loss

    __call__ = forward

    def backward(self) -> np.ndarray:
        if self.cache is None:
            raise RuntimeError("SoftmaxCrossEntropy.backward called before forward")
        return self.cache.copy()

    def __repr__(self) -> str:
        return "SoftmaxCrossEntropy()"


class Sequential:
    """Layers applied in order: ``forward`` runs them first to last, ``backward`` last to first.

    Parameters are named ``"<index>.<name>"`` (``"0.W"``, ``"2.b"``, ...). ``params()`` and ``grads()`` return
    dicts of the layers' own arrays under these names, so ``opt.step(model.params(), model.grads())`` updates
    the model in place.
    """

    def __init__(self, *layers: Layer) -> None:
        for i, layer in enumerate(layers):
            if not (hasattr(layer, "forward") and hasattr(layer, "backward") and hasattr(layer, "params")):
                raise ValueError(f"layer {i} must have forward, backward and params, got {type(layer).__name__}")
        self.layers = list(layers)

    def forward(self, x) -> np.ndarray:
        """The output of the last layer, e.g. logits (N, K)."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    __call__ = forward

    def backward(self, dout) -> np.ndarray:
        """Backpropagate ``dout`` (shape of the output); fills every layer's ``grads``; returns dx."""
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def named_params(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """``(name, param, grad)`` triples, layer by layer."""
        for i, layer in enumerate(self.layers):
            for name, p in layer.params.items():
                yield f"{i}.{name}", p, layer.grads[name]

    def params(self) -> dict[str, np.ndarray]:
        """``{"0.W": W, "0.b": b, ...}``: the layers' parameter arrays themselves (not copies)."""
        return {name: p for name, p, _ in self.named_params()}

    def grads(self) -> dict[str, np.ndarray]:
        """The gradients from the last ``backward``, under the names of :meth:`params`."""
        return {name: g for name, _, g in self.named_params()}

    def train(self) -> Sequential:
        for layer in self.layers:
            layer.train()
        return self

    def eval(self) -> Sequential:
        for layer in self.layers:
            layer.eval()
        return self

    def predict(self, x) -> np.ndarray:
        """Class labels argmax of the output (N,), computed in eval mode (the mode is restored after)."""
        modes = [layer.training for layer in self.layers]
        try:
            self.eval()
            return np.argmax(self.forward(x), axis=1)
        finally:
            for layer, mode in zip(self.layers, modes):
                layer.training = mode

    def __repr__(self) -> str:
        inner = ",\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"
