"""Numerical gradients: the one finite-difference checker that every exercise reuses."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import _reference, _validate

_reference.reference_module(__name__)


def numerical_gradient(f: Callable[[np.ndarray], float], x, eps: float = 1e-6) -> np.ndarray:
    """Central differences (f(x + eps e_i) - f(x - eps e_i)) / (2 eps) for every entry of ``x``.

    ``f`` maps an array shaped like ``x`` to a scalar; the result has the shape of ``x``. ``x`` is not
    modified. The error is O(eps^2) plus rounding of order (machine epsilon * |f|) / eps.
    """
    x = _validate.as_float_array(x, "x").copy()
    eps = _validate.as_positive_float(eps, "eps")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        f_plus = float(f(x))
        flat[i] = old - eps
        f_minus = float(f(x))
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2.0 * eps)
    return grad


def relative_error(a, b) -> float:
    """max |a - b| / max(|a| + |b|, tiny): ~1e-7 or less means two gradients agree."""
    a = _validate.as_float_array(a, "a")
    b = _validate.as_float_array(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-12)))


def gradient_check(f: Callable[[dict[str, np.ndarray]], float], inputs: dict, analytic: dict,
                   eps: float = 1e-6) -> dict[str, float]:
    """Compare analytic gradients with central differences, one named input at a time.

    ``f`` maps a dict ``{name: array}`` shaped like ``inputs`` to a scalar; ``analytic[name]`` is the claimed
    gradient of ``f`` with respect to ``inputs[name]`` (same shape). Every input in ``analytic`` is perturbed
    entry by entry (the others held at their values in ``inputs``) with :func:`numerical_gradient`, and
    compared with :func:`relative_error`. Inputs absent from ``analytic`` (labels, masks) are held fixed.

    Returns ``{name: relative error}``: about 1e-7 or less for a correct gradient in float64. The error is
    elementwise, so an entry whose true gradient is far below the rounding noise of the finite differences
    (about 1e-10 * |f|) can inflate it; a wrong formula typically gives 1e-2 to 1.

    >>> x = np.array([1.0, 2.0])
    >>> gradient_check(lambda v: np.sum(v["x"] ** 2), {"x": x}, {"x": 2 * x})  # doctest: +SKIP
    {'x': 6.99e-11}
    """
    if not isinstance(inputs, dict) or not isinstance(analytic, dict):
        raise ValueError("inputs and analytic must be dicts {name: array}")
    unknown = sorted(set(analytic) - set(inputs))
    if unknown:
        raise ValueError(f"analytic has gradients for {unknown}, which are not among the inputs {sorted(inputs)}")
    base = {name: np.asarray(value) for name, value in inputs.items()}
    errors = {}
    for name, grad in analytic.items():
        x = _validate.as_float_array(base[name], name)
        grad = _validate.as_float_array(grad, f"analytic[{name!r}]")
        if grad.shape != x.shape:
            raise ValueError(f"analytic[{name!r}] must have the shape of inputs[{name!r}], {x.shape}; got {grad.shape}")
        numeric = numerical_gradient(lambda v, name=name: f({**base, name: v}), x, eps)
        errors[name] = relative_error(grad, numeric)
    return errors


def _param_dict(layer) -> dict[str, np.ndarray]:
    """A layer's ``params`` dict, or a container's ``params()``."""
    params = layer.params() if callable(getattr(layer, "params", None)) else getattr(layer, "params", {})
    return dict(params)


def _grad_dict(layer) -> dict[str, np.ndarray]:
    grads = layer.grads() if callable(getattr(layer, "grads", None)) else getattr(layer, "grads", {})
    return dict(grads)


def check_layer(layer, x, seed: int = 0, eps: float = 1e-6) -> dict[str, float]:
    """Gradient-check a layer (or a ``Sequential``): its ``backward`` against finite differences.

    The layer is any object with ``forward(x)``, ``backward(dout) -> dx`` and parameter / gradient dicts
    (``layer.params`` / ``layer.grads`` for a layer, ``params()`` / ``grads()`` for a container), as in
    :mod:`dlcourse.layers`. With a random upstream gradient ``dout`` (standard normal, from ``seed``) shaped
    like the output, the scalar checked is f = sum(forward(x) * dout), whose gradients are exactly what
    ``backward(dout)`` returns (dx) and stores (one entry per parameter).

    Returns ``{"x": error, name: error, ...}`` (see :func:`gradient_check`). Parameters are perturbed in place
    and restored afterwards. A stochastic layer (dropout in training mode) must be checked in eval mode.
    """
    x = _validate.as_float_array(x, "x")
    rng = np.random.default_rng(seed)
    params = _param_dict(layer)
    if "x" in params:
        raise ValueError("a parameter named 'x' clashes with the input; rename it")
    dout = rng.standard_normal(np.shape(layer.forward(x.copy())))
    dx = layer.backward(dout)
    analytic = {"x": dx, **{name: g.copy() for name, g in _grad_dict(layer).items()}}
    saved = {name: p.copy() for name, p in params.items()}

    def f(values: dict[str, np.ndarray]) -> float:
        for name, p in params.items():
            p[...] = values[name]
        return float(np.sum(layer.forward(values["x"]) * dout))

    try:
        return gradient_check(f, {"x": x, **saved}, analytic, eps)
    finally:
        for name, p in params.items():
            p[...] = saved[name]
