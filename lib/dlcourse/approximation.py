"""Universal approximation and the price of depth, made countable (lecture 04).

* :func:`sigmoid_staircase`: the constructive proof in 1-D — one hidden layer of N steep sigmoids that
  follows a continuous f on [a, b], its error shrinking like the piece width;
* :func:`sawtooth_net` and :func:`shallow_sawtooth_net`: the same sawtooth with 2^depth linear pieces, built
  by ``depth`` layers of 2 ReLUs or by one layer of 2^depth ReLUs, and :func:`count_linear_pieces` to count
  the pieces of any piecewise-linear function of one variable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _numerics, _reference, _validate, layers

_reference.reference_module(__name__)


@dataclass(frozen=True)
class SigmoidStaircase:
    """A one-hidden-layer sigmoid network g(x) = bias + sum_k heights[k] * sigmoid(weight * (x - knots[k]))
    built to follow f on [a, b], evaluated on a grid.

    ``x`` (m,) the grid, ``target`` f(x) (m,), ``approx`` g(x) (m,), ``components`` (n_units, m): the weighted
    sigmoids heights[k] * sigmoid(weight * (x - knots[k])), so that ``approx = bias + components.sum(0)``.
    ``centres`` (n_units + 1,) the midpoints of the n_units + 1 equal pieces of [a, b] and ``values`` f there;
    ``knots`` (n_units,) the boundaries between the pieces, where the steps sit; ``heights`` (n_units,) the
    jumps values[k + 1] - values[k]; ``bias`` = values[0] (the output bias); ``weight`` the common input
    weight, steepness / piece width.
    """

    x: np.ndarray
    target: np.ndarray
    approx: np.ndarray
    components: np.ndarray
    centres: np.ndarray
    values: np.ndarray
    knots: np.ndarray
    heights: np.ndarray
    bias: float
    weight: float

    @property
    def n_units(self) -> int:
        """The number of hidden units (sigmoids)."""
        return len(self.knots)

    @property
    def max_error(self) -> float:
        """max |g(x) - f(x)| over the grid."""
        return float(np.max(np.abs(self.approx - self.target)))

    def evaluate(self, x) -> np.ndarray:
        """g at any inputs ``x`` (any shape): bias + sum_k heights[k] * sigmoid(weight * (x - knots[k]))."""
        x = _validate.as_float_array(x, "x")
        s = _numerics.sigmoid(self.weight * (x[..., None] - self.knots))
        return self.bias + s @ self.heights

    def bumps(self) -> np.ndarray:
        """The same g as a sum of n_units + 1 weighted bumps, shape (n_units + 1, m): bump k is
        values[k] * (s_k(x) - s_{k+1}(x)), the difference of the steps at the two ends of piece k (s_0 = 1 on
        the left, s_{n_units + 1} = 0 on the right). Rows sum to ``approx``."""
        steps = _numerics.sigmoid(self.weight * (self.x[None, :] - self.knots[:, None]))
        edges = np.vstack([np.ones_like(self.x), steps, np.zeros_like(self.x)])  # (n_units + 2, m)
        return self.values[:, None] * (edges[:-1] - edges[1:])


def sigmoid_staircase(f, a: float, b: float, n_units: int, steepness: float = 20.0,
                      n_points: int = 601) -> SigmoidStaircase:
    """The constructive proof of universal approximation in 1-D: ``n_units`` sigmoids that follow f on [a, b].

    Cut [a, b] into n_units + 1 equal pieces of width h, with centres c_0..c_N and boundaries
    t_k = a + k h (k = 1..N, N = n_units). The network

        g(x) = f(c_0) + sum_{k=1}^{N} (f(c_k) - f(c_{k-1})) * sigmoid(steepness * (x - t_k) / h)

    is a one-hidden-layer net with N sigmoid units, input weight steepness / h, hidden biases
    -steepness t_k / h, output weights the jumps of f and output bias f(c_0). For a large steepness each sigmoid
    is a step and g the staircase through (c_k, f(c_k)); for a continuous f the error shrinks as h does.

    ``f`` maps an array (m,) to an array (m,); ``steepness`` > 0 is the slope of each sigmoid in units of 1/h;
    ``n_points`` >= 2 is the size of the evaluation grid on [a, b]. Returns a :class:`SigmoidStaircase`.
    """
    a, b = _validate.as_scalar(a, "a"), _validate.as_scalar(b, "b")
    if not a < b:
        raise ValueError(f"the interval needs a < b, got a = {a}, b = {b}")
    n_units = _validate.as_int(n_units, "n_units")
    steepness = _validate.as_positive_float(steepness, "steepness")
    n_points = _validate.as_int(n_points, "n_points", minimum=2)
    if not callable(f):
        raise ValueError(f"f must be a function of an array, got {type(f).__name__}")

    def call(x):
        out = _validate.as_float_array(f(x), "f(x)")
        if out.shape != x.shape:
            raise ValueError(f"f must map an array of shape {x.shape} to the same shape, got {out.shape}")
        if not np.all(np.isfinite(out)):
            raise ValueError("f must return finite values on [a, b]")
        return out

    h = (b - a) / (n_units + 1)
    centres = a + h * (np.arange(n_units + 1) + 0.5)
    knots = a + h * np.arange(1, n_units + 1)
    values = call(centres)
    heights = np.diff(values)
    weight = steepness / h
    x = np.linspace(a, b, n_points)
    components = heights[:, None] * _numerics.sigmoid(weight * (x[None, :] - knots[:, None]))
    approx = values[0] + components.sum(axis=0)
    return SigmoidStaircase(x, call(x), approx, components, centres, values, knots, heights, float(values[0]),
                            float(weight))


def sawtooth_net(depth: int) -> layers.Sequential:
    """A deep ReLU network, 2 units per hidden layer and ``depth`` hidden layers, whose output on [0, 1] is
    the tent map T(x) = 2 min(x, 1 - x) composed ``depth`` times: a sawtooth with 2^depth linear pieces.

    Each layer computes relu(z) and relu(z - 1/2) of the previous tent value z, and T(z) = 2 relu(z) -
    4 relu(z - 1/2) is folded into the next layer's weights. 6 depth + 1 parameters; input (N, 1), output (N, 1).
    """
    depth = _validate.as_int(depth, "depth")
    stack = []
    for d in range(depth):
        lin = layers.Linear(1 if d == 0 else 2, 2, rng=0, init="zeros")
        lin.params["W"][:] = [[1.0, 1.0]] if d == 0 else [[2.0, 2.0], [-4.0, -4.0]]
        lin.params["b"][:] = [0.0, -0.5]
        stack += [lin, layers.ReLU()]
    out = layers.Linear(2, 1, rng=0, init="zeros")
    out.params["W"][:] = [[2.0], [-4.0]]
    stack.append(out)
    return layers.Sequential(*stack)


def shallow_sawtooth_net(depth: int) -> layers.Sequential:
    """The same sawtooth as :func:`sawtooth_net` on [0, 1] with ONE hidden layer: 2^depth ReLU units
    relu(x - k / 2^depth), k = 0..2^depth - 1, one per kink, whose output weights are the changes of slope
    (+2^depth at k = 0, then alternately -2^(depth+1) and +2^(depth+1)). 3 * 2^depth + 1 parameters.
    """
    depth = _validate.as_int(depth, "depth")
    m = 2**depth
    hidden = layers.Linear(1, m, rng=0, init="zeros")
    hidden.params["W"][:] = 1.0
    hidden.params["b"][:] = -np.arange(m) / m
    k = np.arange(m)
    out = layers.Linear(m, 1, rng=0, init="zeros")
    out.params["W"][:, 0] = np.where(k == 0, m, np.where(k % 2 == 1, -2.0 * m, 2.0 * m))
    return layers.Sequential(hidden, layers.ReLU(), out)


def count_linear_pieces(fn, a: float, b: float, n_points: int = 20001, tol: float = 1e-7) -> int:
    """The number of linear pieces of a continuous piecewise-linear function of one variable on [a, b].

    ``fn`` maps an (m, 1) array of inputs to (m,) or (m, 1) outputs (e.g. a one-input, one-output
    ``Sequential``; for more outputs pass a function that picks one). It is evaluated on ``n_points`` equally
    spaced points; wherever the slope between neighbours changes by more than ``tol`` times the largest slope
    (or ``tol`` if that is < 1), a kink is counted — consecutive changes count as one kink, so two kinks
    closer than two grid steps are counted once (a lower bound; refine the grid if it matters).
    """
    a, b = _validate.as_scalar(a, "a"), _validate.as_scalar(b, "b")
    if not a < b:
        raise ValueError(f"the interval needs a < b, got a = {a}, b = {b}")
    n_points = _validate.as_int(n_points, "n_points", minimum=3)
    tol = _validate.as_positive_float(tol, "tol")
    x = np.linspace(a, b, n_points)
    out = _validate.as_float_array(fn(x[:, None]), "fn(x)")
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.shape != (n_points,):
        raise ValueError(f"fn must map inputs (m, 1) to one output per row, (m,) or (m, 1); got {out.shape}")
    slopes = np.diff(out) / np.diff(x)
    change = np.abs(np.diff(slopes)) > tol * max(1.0, float(np.max(np.abs(slopes))))
    starts = change & ~np.r_[False, change[:-1]]  # the first index of every run of changes
    return int(1 + np.count_nonzero(starts))
