"""Interactive sliders for the lectures.

The rule: what a slider computes is a plain function here (unit-tested like any other), and the widget
builder only wires sliders to it and redraws a figure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import _checks, layers, linear, plots

# --- the computations behind the sliders -----------------------------------------------------------------


def covariance_2d(s1: float, s2: float, rho: float) -> np.ndarray:
    """The 2x2 covariance with standard deviations ``s1``, ``s2`` > 0 and correlation ``rho`` in (-1, 1)."""
    s1 = _checks.as_positive_float(s1, "s1")
    s2 = _checks.as_positive_float(s2, "s2")
    rho = _checks.as_scalar(rho, "rho")
    if not -1.0 < rho < 1.0:
        raise ValueError(f"rho must lie strictly between -1 and 1, got {rho}")
    return np.array([[s1 * s1, rho * s1 * s2], [rho * s1 * s2, s2 * s2]])


@dataclass(frozen=True)
class GaussianPair:
    """Two Gaussian classes with a shared covariance, and the logistic model equal to their posterior."""

    mu0: np.ndarray
    mu1: np.ndarray
    Sigma: np.ndarray
    prior1: float
    w: np.ndarray
    b: float

    def boundary_point(self) -> np.ndarray:
        """The point of the boundary w @ x + b = 0 closest to the origin (shape (2,))."""
        return -self.b * self.w / (self.w @ self.w)


def gaussian_pair(mu0x: float, mu0y: float, mu1x: float, mu1y: float, s1: float, s2: float, rho: float,
                  prior1: float) -> GaussianPair:
    """What the posterior explorer shows for one position of its eight sliders."""
    mu0, mu1 = np.array([mu0x, mu0y], float), np.array([mu1x, mu1y], float)
    Sigma = covariance_2d(s1, s2, rho)
    w, b = linear.bayes_to_logistic(mu0, mu1, Sigma, prior1)
    return GaussianPair(mu0, mu1, Sigma, float(prior1), w, b)


# --- widget builders -------------------------------------------------------------------------------------


def posterior_explorer(lim: float = 4.5):
    """Sliders for the two means, the shared covariance and the prior; redraws p(y=1|x) and the boundary."""
    import ipywidgets as W
    import matplotlib.pyplot as plt

    def slider(value, lo, hi, step, label):
        return W.FloatSlider(value=value, min=lo, max=hi, step=step, description=label, continuous_update=False,
                             readout_format=".2f", style={"description_width": "5em"})

    sliders = {
        "mu0x": slider(-1.0, -3, 3, 0.1, "μ₀ x₁"), "mu0y": slider(0.0, -3, 3, 0.1, "μ₀ x₂"),
        "mu1x": slider(1.0, -3, 3, 0.1, "μ₁ x₁"), "mu1y": slider(0.5, -3, 3, 0.1, "μ₁ x₂"),
        "s1": slider(1.0, 0.2, 2.5, 0.05, "σ₁"), "s2": slider(1.0, 0.2, 2.5, 0.05, "σ₂"),
        "rho": slider(0.0, -0.9, 0.9, 0.05, "ρ"), "prior1": slider(0.5, 0.02, 0.98, 0.01, "P(y=1)"),
    }

    def redraw(**values):
        pair = gaussian_pair(**values)
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
        filled = plots.gaussian_posterior_panel(ax, pair.mu0, pair.mu1, pair.Sigma, prior1=pair.prior1, lim=lim)
        fig.colorbar(filled, ax=ax, label="p(y=1 | x)")
        ax.legend(loc="lower right", fontsize=8)
        plt.show()
        print(f"w = {np.round(pair.w, 3)}, b = {pair.b:.3f}")

    out = W.interactive_output(redraw, sliders)
    return W.HBox([W.VBox(list(sliders.values())), out])


# --- lecture 03: the learning rate of gradient descent on a two-parameter logistic problem -----------------
#
# The model is sigmoid(w x + b) on 1-D inputs x (n,): two parameters, so the whole loss landscape fits in a
# picture. Everything a slider position shows is computed by gd_logistic_1d; the landscape, its minimum and
# its curvature (which do not depend on the slider) by logistic_landscape.


def logistic_hessian(w, b, X) -> np.ndarray:
    """The Hessian of the mean NLL :func:`dlcourse.linear.nll` with respect to ``(w, b)``: shape (d + 1, d + 1).

    H = 1/n sum_i s_i (1 - s_i) x~_i x~_i^T with x~_i = (x_i, 1) and s_i = sigmoid(w @ x_i + b); the last row
    and column belong to b. ``X`` (n, d), ``w`` (d,), ``b`` a float. Every term is positive semi-definite, so
    the loss is convex. Since s (1 - s) <= 1/4, with equality for every example at w = 0, b = 0, the Hessian
    there, X~^T X~ / (4 n), bounds it everywhere: its largest eigenvalue is the global curvature bound L.
    """
    X = _checks.as_matrix(X, "X")
    s = linear.predict_proba(w, b, X)  # validates w and b
    Xt = np.c_[X, np.ones(len(X))]
    return Xt.T @ (Xt * (s * (1.0 - s))[:, None]) / len(X)


def _one_feature_problem(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = _checks.as_vector(x, "x")
    if x.shape[0] == 0:
        raise ValueError("x must hold at least one example")
    return x, _checks.as_labels01(y, "y", x.shape[0])


def nll_surface(x, y, ws, bs) -> np.ndarray:
    """The mean NLL of the 1-D model sigmoid(w x + b) on a grid of (w, b): shape (len(bs), len(ws)).

    ``x`` (n,) inputs, ``y`` (n,) labels in {0, 1}, ``ws`` (m,) and ``bs`` (k,) the grid's coordinates. Entry
    [i, j] equals ``linear.nll([ws[j]], bs[i], x[:, None], y)``: the layout of ``np.meshgrid(ws, bs)``, ready
    for :func:`dlcourse.plots.loss_landscape`. One row of the grid is evaluated at a time.
    """
    x, y = _one_feature_problem(x, y)
    ws = _checks.as_vector(ws, "ws")
    bs = _checks.as_vector(bs, "bs")
    out = np.empty((len(bs), len(ws)))
    for i, b in enumerate(bs):
        a = np.outer(ws, x) + b  # (m, n) logits, one row per value of w
        out[i] = np.mean(np.logaddexp(0.0, a) - y * a, axis=1)
    return out


@dataclass(frozen=True)
class LogisticLandscape:
    """The loss landscape of sigmoid(w x + b) on a grid, its minimum and its curvature there and at (0, 0)."""

    ws: np.ndarray          # (m,)
    bs: np.ndarray          # (k,)
    losses: np.ndarray      # (k, m), see nll_surface
    w_star: float
    b_star: float
    loss_min: float
    curvature_start: float  # largest Hessian eigenvalue at (0, 0): the global bound L
    curvature_min: float    # largest Hessian eigenvalue at the minimum

    @property
    def lr_monotone(self) -> float:
        """2 / L: below it every gradient step lowers the loss, wherever it starts."""
        return 2.0 / self.curvature_start

    @property
    def lr_stable(self) -> float:
        """2 / (curvature at the minimum): below it gradient descent settles at the minimum, above it cannot."""
        return 2.0 / self.curvature_min


def logistic_landscape(x, y, ws, bs, n_iter: int = 5000) -> LogisticLandscape:
    """The loss surface of sigmoid(w x + b) on the grid ``ws`` x ``bs``, with the minimum found by ``n_iter``
    steps of gradient descent at the always-safe rate 1/L, and the curvatures at (0, 0) and at the minimum."""
    x, y = _one_feature_problem(x, y)
    X = x[:, None]
    curvature_start = float(np.linalg.eigvalsh(logistic_hessian(np.zeros(1), 0.0, X))[-1])
    w_star, b_star = linear.fit_logistic(X, y, lr=1.0 / curvature_start, n_iter=n_iter)
    curvature_min = float(np.linalg.eigvalsh(logistic_hessian(w_star, b_star, X))[-1])
    return LogisticLandscape(np.asarray(ws, float), np.asarray(bs, float), nll_surface(x, y, ws, bs),
                             float(w_star[0]), float(b_star), linear.nll(w_star, b_star, X, y),
                             curvature_start, curvature_min)


@dataclass(frozen=True)
class DescentRun:
    """Full-batch gradient descent on sigmoid(w x + b) from (w, b) = (0, 0) with a fixed learning rate."""

    lr: float
    path: np.ndarray    # (n_steps + 1, 2): (w, b) at the start and after every step
    losses: np.ndarray  # (n_steps + 1,): the mean NLL at each point of the path


def gd_logistic_1d(x, y, lr: float, n_steps: int) -> DescentRun:
    """What the learning-rate slider shows: ``n_steps`` steps of :func:`dlcourse.linear.fit_logistic` with step
    size ``lr`` on inputs ``x`` (n,) and labels ``y`` (n,), recording the path of (w, b) and the loss on it."""
    x, y = _one_feature_problem(x, y)
    X = x[:, None]
    path, losses = [(0.0, 0.0)], [linear.nll(np.zeros(1), 0.0, X, y)]

    def record(step, w, b):
        path.append((float(w[0]), float(b)))
        losses.append(linear.nll(w, b, X, y))

    linear.fit_logistic(X, y, lr=lr, n_iter=n_steps, callback=record)
    return DescentRun(float(lr), np.array(path), np.array(losses))


def show_descent(ax_path, ax_loss, land: LogisticLandscape, run: DescentRun, title: str | None = None) -> None:
    """Draw one learning rate: its path on the loss landscape, and loss - minimum against the step (log scale)."""
    plots.loss_landscape(ax_path, land.ws, land.bs, land.losses, path=run.path, minimum=(land.w_star, land.b_star),
                         title=title or f"lr = {run.lr:.3g}")
    ax_path.legend(loc="upper right", fontsize=7)
    excess = np.maximum(run.losses - land.loss_min, 1e-12)
    ax_loss.semilogy(np.arange(len(excess)), excess, ".-", ms=3)
    ax_loss.set(xlabel="gradient step", ylabel="loss − minimum", ylim=(1e-9, 10.0),
                title=f"lr = {run.lr:.3g}: final loss − min = {excess[-1]:.1e}")
    ax_loss.grid(True, which="major", alpha=0.3)


def learning_rate_explorer(x, y, n_steps: int = 60, lr: float = 1.0, lr_range=(0.05, 20.0), ws=None, bs=None):
    """A log-scale learning-rate slider for gradient descent on sigmoid(w x + b) (inputs ``x`` (n,), labels
    ``y`` (n,)): redraws the path on the loss landscape and the loss against the step, and prints the two
    curvature thresholds 2/L and 2/(curvature at the minimum)."""
    import ipywidgets as W
    import matplotlib.pyplot as plt

    lo, hi = (_checks.as_positive_float(v, "lr_range") for v in lr_range)
    if not lo < hi:
        raise ValueError(f"lr_range must be (low, high) with low < high, got {lr_range}")
    x, y = _one_feature_problem(x, y)
    ws = np.linspace(-1.0, 7.0, 121) if ws is None else ws
    bs = np.linspace(-8.0, 2.0, 121) if bs is None else bs
    land = logistic_landscape(x, y, ws, bs)
    slider = W.FloatLogSlider(value=lr, base=10, min=np.log10(lo), max=np.log10(hi), step=0.02,
                              description="lr", continuous_update=False, readout_format=".3g",
                              layout=W.Layout(width="60%"))

    def redraw(lr):
        run = gd_logistic_1d(x, y, lr, n_steps)
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        show_descent(axes[0], axes[1], land, run)
        fig.tight_layout()
        plt.show()
        print(f"lr = {lr:.3g}:  2/L = {land.lr_monotone:.3g} (below: the loss falls at every step),  "
              f"2/λ* = {land.lr_stable:.3g} (above: no convergence)")

    out = W.interactive_output(redraw, {"lr": slider})
    return W.VBox([slider, out])


# --- lecture 02: the perceptron, one update at a time, and its margin ------------------------------------


@dataclass(frozen=True)
class PerceptronStep:
    """The perceptron after update ``k`` of a recorded run: weights ``w`` and ``w_prev`` (d,) after and before
    it, and ``index``, the sample whose mistake caused it (None for k = 0, the starting point w = 0)."""

    k: int
    w: np.ndarray
    w_prev: np.ndarray | None
    index: int | None


def perceptron_step(trace, k: int) -> PerceptronStep:
    """What the step slider shows for update ``k`` (0 to ``trace.n_updates``) of a ``perceptron_trace`` run."""
    k = _checks.as_int(k, "k", minimum=0)
    if k > trace.n_updates:
        raise ValueError(f"k must be between 0 and the number of updates, {trace.n_updates}; got {k}")
    if k == 0:
        return PerceptronStep(0, trace.weights[0], None, None)
    return PerceptronStep(k, trace.weights[k], trace.weights[k - 1], int(trace.updated[k - 1]))


@dataclass(frozen=True)
class MarginRun:
    """One separable data set and what the convergence theorem says about it.

    ``X`` (n, d + 1) with the constant-1 feature last, ``y`` (n,) in {-1, +1}; ``trace`` the perceptron's run on
    them; ``w_star`` (d + 1,) the unit max-margin separator and ``gamma`` its margin; ``R`` = max_i ||x_i||;
    ``bound`` = R^2 / gamma^2, the theorem's cap on ``trace.n_updates``.
    """

    X: np.ndarray
    y: np.ndarray
    trace: object
    w_star: np.ndarray
    gamma: float
    R: float
    bound: float

    @property
    def n_updates(self) -> int:
        return self.trace.n_updates


def perceptron_margin_run(margin: float, n: int = 60, d: int = 2, seed: int = 0,
                          max_epochs: int = 100_000) -> MarginRun:
    """What the margin slider shows: ``data.separable(n, d, margin, rng=seed)``, the perceptron run on it, and
    gamma, R and R^2 / gamma^2 with gamma from the max-margin separator (not from the perceptron's answer).

    The same ``seed`` draws the same separating hyperplane and mostly the same points for every ``margin``:
    moving the slider only removes or lets in the points near the hyperplane.
    """
    from . import data, perceptron

    margin = _checks.as_positive_float(margin, "margin")
    seed = _checks.as_int(seed, "seed", minimum=0)
    X, y, _ = data.separable(n, d, margin, rng=seed)
    trace = perceptron.perceptron_trace(X, y, max_epochs=max_epochs)
    w_star, gamma = perceptron.max_margin_separator(X, y)
    R = float(np.max(np.linalg.norm(X, axis=1)))
    return MarginRun(X, y, trace, w_star, gamma, R, R**2 / gamma**2)


def perceptron_steps(X, y, trace, lim: float = 1.15):
    """A step slider (with a play button) over the updates of a recorded perceptron run on 2-D data.

    ``X`` (n, 2) the points in the plane, ``y`` (n,) in {-1, +1}, ``trace`` the ``perceptron_trace`` of the
    run on them with a constant-1 feature (weights (w1, w2, b)). Each position shows the boundary after
    update k, the one before it, and the misclassified point that caused it.
    """
    import ipywidgets as W
    import matplotlib.pyplot as plt

    X = _checks.as_matrix(X, "X", 2)
    if trace.weights.shape[1] != 3:
        raise ValueError(f"trace must come from 2-D data with a bias feature (weights of shape (3,)), "
                         f"got weights of shape ({trace.weights.shape[1]},)")
    slider = W.IntSlider(value=0, min=0, max=trace.n_updates, step=1, description="update k",
                         continuous_update=True, style={"description_width": "5em"})
    play = W.Play(value=0, min=0, max=trace.n_updates, step=1, interval=700, description="play")
    W.jslink((play, "value"), (slider, "value"))

    def redraw(k):
        step = perceptron_step(trace, k)
        fig, ax = plt.subplots(figsize=(7, 5))
        what = "start: w = 0" if step.index is None else f"update {k} of {trace.n_updates}: sample {step.index}"
        plots.perceptron_state(ax, X, y, step.w, step.w_prev, step.index, lim=lim, title=what)
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
        fig.tight_layout()
        plt.show()
        print(f"w = {np.round(step.w, 3)}")

    out = W.interactive_output(redraw, {"k": slider})
    return W.VBox([W.HBox([play, slider]), out])


def perceptron_margin_explorer(n: int = 60, seed: int = 0):
    """A log-scale margin slider: the data, the perceptron's and the max-margin boundaries, and the number of
    updates next to the bound R^2 / gamma^2."""
    import ipywidgets as W
    import matplotlib.pyplot as plt

    slider = W.FloatLogSlider(value=0.1, base=10, min=-2.3, max=-0.6, step=0.05, description="margin",
                              continuous_update=False, readout_format=".3f", style={"description_width": "5em"})

    def redraw(margin):
        run = perceptron_margin_run(margin, n=n, seed=seed)
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [1.5, 1]})
        plots.perceptron_state(ax, run.X[:, :2], run.y, run.trace.w, lim=1.15,
                               title=f"{len(run.y)} points at margin ≥ {margin:.3f} from a random separator")
        plots.line(ax, run.w_star[:2], run.w_star[2], (-1.15, 1.15), "max-margin separator", color="green",
                   ls=":", lw=2)
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
        bars = bx.bar(["perceptron updates", "bound R²/γ²"], [run.n_updates, run.bound],
                      color=["tab:gray", "tab:green"])
        bx.bar_label(bars, fmt="%.0f")
        bx.set(yscale="log", ylim=(0.8, 3 * max(run.bound, run.n_updates)), ylabel="count (log scale)",
               title=f"max-margin γ = {run.gamma:.4f}, R = {run.R:.3f}")
        fig.tight_layout()
        plt.show()
        print(f"{run.n_updates} updates in {len(run.trace.mistakes)} epochs; bound R²/γ² = {run.bound:.1f}")

    out = W.interactive_output(redraw, {"margin": slider})
    return W.VBox([slider, out])


# --- lecture 05: backpropagation on the worked example f = (x + y)·z ----------------------------------------


def worked_example_graph(x: float, y: float, z: float) -> dict:
    """f = (x + y)·z computed on :class:`dlcourse.autodiff.Value` and backpropagated: what the sliders draw.

    Returns ``{"x", "y", "z", "q", "f": Value}``, the nodes of the graph labelled by their names (q = x + y is
    the intermediate sum), after ``f.backward()``: every ``grad`` is df/d(node), i.e. df/dx = df/dy = df/dq = z
    and df/dz = x + y. ``x``, ``y``, ``z`` are finite numbers.
    """
    from .autodiff import Value

    xv, yv, zv = (Value(_checks.as_scalar(v, name), label=name) for v, name in ((x, "x"), (y, "y"), (z, "z")))
    q = xv + yv
    q.label = "q"
    f = q * zv
    f.label = "f"
    f.backward()
    return {"x": xv, "y": yv, "z": zv, "q": q, "f": f}


def graph_explorer(x: float = -2.0, y: float = 5.0, z: float = -4.0, lim: float = 6.0):
    """Sliders for the inputs x, y, z (in [-lim, lim]) of f = (x + y)·z: each move re-runs the forward and the
    backward pass (:func:`worked_example_graph`) and redraws the graph with every node's value and gradient
    (:func:`dlcourse.plots.draw_graph`)."""
    import ipywidgets as W
    import matplotlib.pyplot as plt

    lim = _checks.as_positive_float(lim, "lim")
    start = {"x": x, "y": y, "z": z}
    for name, value in start.items():
        if not -lim <= _checks.as_scalar(value, name) <= lim:
            raise ValueError(f"{name} must lie in [-lim, lim] = [{-lim:g}, {lim:g}], got {value}")
    sliders = {name: W.FloatSlider(value=value, min=-lim, max=lim, step=0.5, description=name,
                                   continuous_update=False) for name, value in start.items()}

    def redraw(x, y, z):
        g = worked_example_graph(x, y, z)
        fig, ax = plt.subplots(figsize=(9, 3))
        plots.draw_graph(ax, g["f"], title=f"f = (x + y)·z at (x, y, z) = ({x:g}, {y:g}, {z:g})")
        fig.tight_layout()
        plt.show()
        print(f"f = {g['f'].data:.3g};  df/dx = {g['x'].grad:.3g},  df/dy = {g['y'].grad:.3g},  "
              f"df/dz = {g['z'].grad:.3g}")

    out = W.interactive_output(redraw, sliders)
    return W.VBox([W.HBox(list(sliders.values())), out])


# --- lecture 04 ------------------------------------------------------------------------------------------



# --- lecture 04: universal approximation, one hidden layer at a time ----------------------------------------
#
# (a) A 1-D function as a sum of steep sigmoids (the constructive proof): sigmoid_staircase computes
#     everything the N slider shows. (b) The decision boundary of one-hidden-layer networks of growing width on
#     a 2-D problem: train_net trains one network (numpy layers, full-batch Adam) once, the slider only redraws.


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
        x = _checks.as_float_array(x, "x")
        s = layers.sigmoid_forward(self.weight * (x[..., None] - self.knots))
        return self.bias + s @ self.heights

    def bumps(self) -> np.ndarray:
        """The same g as a sum of n_units + 1 weighted bumps, shape (n_units + 1, m): bump k is
        values[k] * (s_k(x) - s_{k+1}(x)), the difference of the steps at the two ends of piece k (s_0 = 1 on
        the left, s_{n_units + 1} = 0 on the right). Rows sum to ``approx``."""
        steps = layers.sigmoid_forward(self.weight * (self.x[None, :] - self.knots[:, None]))
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
    a, b = _checks.as_scalar(a, "a"), _checks.as_scalar(b, "b")
    if not a < b:
        raise ValueError(f"the interval needs a < b, got a = {a}, b = {b}")
    n_units = _checks.as_int(n_units, "n_units")
    steepness = _checks.as_positive_float(steepness, "steepness")
    n_points = _checks.as_int(n_points, "n_points", minimum=2)
    if not callable(f):
        raise ValueError(f"f must be a function of an array, got {type(f).__name__}")

    def call(x):
        out = _checks.as_float_array(f(x), "f(x)")
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
    components = heights[:, None] * layers.sigmoid_forward(weight * (x[None, :] - knots[:, None]))
    approx = values[0] + components.sum(axis=0)
    return SigmoidStaircase(x, call(x), approx, components, centres, values, knots, heights, float(values[0]),
                            float(weight))


def show_staircase(ax_fit, ax_err, fit: SigmoidStaircase, errors: dict[int, float] | None = None,
                   max_components: int = 12) -> None:
    """Draw one position of the N slider: f, g and the weighted sigmoids (at most ``max_components`` of them,
    shifted by the output bias), and the max error against N (``errors``: {N: max error}, log-log)."""
    ax_fit.plot(fit.x, fit.target, color="k", lw=2, label="target f")
    shown = np.linspace(0, fit.n_units - 1, min(fit.n_units, max_components)).round().astype(int)
    for i, k in enumerate(np.unique(shown)):
        ax_fit.plot(fit.x, fit.bias + fit.components[k], lw=0.8, alpha=0.6, color="tab:gray",
                    label="bias + one weighted sigmoid" if i == 0 else None)
    ax_fit.plot(fit.x, fit.approx, color="tab:red", lw=1.8, label=f"network, {fit.n_units} sigmoids")
    ax_fit.plot(fit.centres, fit.values, "o", color="tab:red", ms=3, label="f at the piece centres")
    ax_fit.set(xlabel="x", ylabel="value",
               title=f"N = {fit.n_units} hidden units: max |g − f| = {fit.max_error:.3f}")
    ax_fit.legend(fontsize=7, loc="lower right")
    if errors:
        ns = np.array(sorted(errors))
        errs = np.array([errors[n] for n in ns])
        ax_err.loglog(ns, errs, "o-", color="tab:red", label="max error")
        ax_err.loglog(ns, errs[0] * ns[0] / ns, "k:", label="∝ 1/N")
        ax_err.loglog([fit.n_units], [fit.max_error], "o", ms=12, mfc="none", mec="k", label="this N")
        ax_err.set(xlabel="hidden units N (log scale)", ylabel="max |g − f| (log scale)",
                   title="The error shrinks like 1/N")
        ax_err.legend(fontsize=8)


def staircase_explorer(f, a: float, b: float, n_values=(1, 2, 4, 8, 16, 32, 64), steepness: float = 20.0):
    """A slider over the number of hidden units N (``n_values``) and a log slider for the steepness: redraws
    f, the network of :func:`sigmoid_staircase`, its weighted sigmoids, and the max error against N."""
    import ipywidgets as W
    import matplotlib.pyplot as plt

    n_values = [_checks.as_int(n, "n_values") for n in n_values]
    if not n_values:
        raise ValueError("n_values must list at least one number of hidden units")
    n_slider = W.SelectionSlider(options=n_values, value=n_values[len(n_values) // 2], description="units N",
                                 continuous_update=False, style={"description_width": "6em"})
    s_slider = W.FloatLogSlider(value=_checks.as_positive_float(steepness, "steepness"), base=10, min=0, max=2.5,
                                step=0.05, description="steepness", continuous_update=False, readout_format=".3g",
                                style={"description_width": "6em"})

    def redraw(n_units, steepness):
        errors = {n: sigmoid_staircase(f, a, b, n, steepness).max_error for n in n_values}
        fit = sigmoid_staircase(f, a, b, n_units, steepness)
        fig, (ax_fit, ax_err) = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [1.6, 1]})
        show_staircase(ax_fit, ax_err, fit, errors)
        fig.tight_layout()
        plt.show()
        print(f"N = {n_units}, steepness {steepness:.3g}: input weight {fit.weight:.3g}, "
              f"max error {fit.max_error:.4f}")

    out = W.interactive_output(redraw, {"n_units": n_slider, "steepness": s_slider})
    return W.VBox([W.HBox([n_slider, s_slider]), out])


_ACTIVATIONS = {"relu": (layers.ReLU, "he"), "tanh": (layers.Tanh, "glorot"), "sigmoid": (layers.Sigmoid, "glorot")}


def build_net(d_in: int, hidden, n_out: int, activation: str = "relu", seed=0) -> layers.Sequential:
    """A fully connected network ``Linear(d_in, h1), act, Linear(h1, h2), act, ..., Linear(h_last, n_out)``.

    ``hidden`` lists the widths of the hidden layers (its length is the depth; empty: a linear model);
    ``activation`` is ``"relu"`` (He initialisation), ``"tanh"`` or ``"sigmoid"`` (Glorot); the output layer
    is Glorot-initialised and produces logits. Weights are drawn from ``seed`` (an integer or a Generator),
    layer by layer; biases start at 0.
    """
    d_in, n_out = _checks.as_int(d_in, "d_in"), _checks.as_int(n_out, "n_out")
    hidden = tuple(_checks.as_int(h, "hidden widths") for h in hidden)
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(map(repr, _ACTIVATIONS))}; got {activation!r}")
    act, init = _ACTIVATIONS[activation]
    rng = layers._as_rng(seed)
    stack, d = [], d_in
    for h in hidden:
        stack += [layers.Linear(d, h, rng, init=init), act()]
        d = h
    stack.append(layers.Linear(d, n_out, rng, init="glorot"))
    return layers.Sequential(*stack)


def n_parameters(model: layers.Sequential) -> int:
    """The number of trainable numbers (weights and biases) of a :class:`dlcourse.layers.Sequential`."""
    return int(sum(p.size for p in model.params().values()))


@dataclass(frozen=True)
class TrainedNet:
    """A classifier trained by :func:`train_net`: its hidden widths, the model, and the training loss
    ``losses`` (steps + 1,) before every Adam step and after the last one."""

    hidden: tuple
    activation: str
    model: layers.Sequential
    losses: np.ndarray

    @property
    def n_params(self) -> int:
        return n_parameters(self.model)

    @property
    def depth(self) -> int:
        """The number of hidden layers."""
        return len(self.hidden)

    def proba(self, X) -> np.ndarray:
        """Class probabilities softmax(logits), shape (N, K), for inputs X (N, D)."""
        return layers._softmax(self.model.forward(X))

    def accuracy(self, X, y) -> float:
        """Fraction of the rows of X (N, D) whose most probable class is the label in y (N,)."""
        X = _checks.as_matrix(X, "X")
        y = _checks.as_class_labels(y, "y", X.shape[0])
        return float(np.mean(self.model.predict(X) == y))


def train_net(X, y, hidden, steps: int = 500, lr: float = 0.02, activation: str = "relu", seed=0,
              n_classes: int | None = None) -> TrainedNet:
    """Train ``build_net(D, hidden, K, activation, seed)`` on (X (N, D), y (N,)) by full-batch Adam.

    ``steps`` Adam steps of learning rate ``lr`` on the mean softmax cross-entropy of the whole training set
    (fast and deterministic for the few hundred points of a 2-D toy problem). K = ``n_classes``, by default
    max(y) + 1. Returns a :class:`TrainedNet`.
    """
    from . import optim

    X = _checks.as_matrix(X, "X")
    y = _checks.as_class_labels(y, "y", X.shape[0])
    K = int(y.max()) + 1 if n_classes is None else _checks.as_int(n_classes, "n_classes")
    y = _checks.as_class_labels(y, "y", X.shape[0], K)
    steps = _checks.as_int(steps, "steps", minimum=0)
    model = build_net(X.shape[1], hidden, K, activation, seed)
    opt = optim.Adam(lr=lr)
    loss_fn = layers.SoftmaxCrossEntropy()
    losses = np.empty(steps + 1)
    for t in range(steps):
        losses[t] = loss_fn(model.forward(X), y)
        model.backward(loss_fn.backward())
        opt.step(model.params(), model.grads())
    losses[steps] = loss_fn(model.forward(X), y)
    return TrainedNet(tuple(int(h) for h in hidden), activation, model, losses)


def show_net(ax, net: TrainedNet, X, y, lim: float = 1.8, center=(0.5, 0.25), title: str | None = None):
    """The probability map p(y=1 | x) of a two-class :class:`TrainedNet`, its p = 0.5 boundary and the data
    ``X`` (n, 2), ``y`` (n,); returns the contour set (for a colorbar)."""
    filled = plots.probability_map(ax, lambda P: net.proba(P)[:, 1], lim=lim, center=center, n=101,
                                   boundary_label="boundary p = 0.5")
    plots.scatter_classes(ax, X, y, s=8, alpha=0.7)
    ax.set_title(title or f"{' x '.join(map(str, net.hidden)) or 'no'} hidden units: {net.n_params} parameters")
    return filled


def width_explorer(X, y, nets: dict, lim: float = 1.8, center=(0.5, 0.25)):
    """A slider over the trained networks ``nets`` ({width: TrainedNet}, trained once beforehand): redraws the
    decision boundary of the chosen one on the data ``X`` (n, 2), ``y`` (n,). Moving it trains nothing."""
    import ipywidgets as W
    import matplotlib.pyplot as plt

    if not nets:
        raise ValueError("nets must hold at least one trained network {width: TrainedNet}")
    widths = sorted(nets)
    slider = W.SelectionSlider(options=widths, value=widths[len(widths) // 2], description="hidden units",
                               continuous_update=True, style={"description_width": "7em"})

    def redraw(width):
        net = nets[width]
        fig, ax = plt.subplots(figsize=(6, 4.5))
        show_net(ax, net, X, y, lim, center)
        ax.legend(loc="lower left", fontsize=7)
        fig.tight_layout()
        plt.show()
        print(f"{width} hidden units, {net.n_params} parameters: training loss {net.losses[-1]:.3f}, "
              f"training accuracy {net.accuracy(X, y):.3f}")

    out = W.interactive_output(redraw, {"width": slider})
    return W.VBox([slider, out])


# --- lecture 04: depth versus width, counted in linear pieces -------------------------------------------------


def sawtooth_net(depth: int) -> layers.Sequential:
    """A deep ReLU network, 2 units per hidden layer and ``depth`` hidden layers, whose output on [0, 1] is
    the tent map T(x) = 2 min(x, 1 - x) composed ``depth`` times: a sawtooth with 2^depth linear pieces.

    Each layer computes relu(z) and relu(z - 1/2) of the previous tent value z, and T(z) = 2 relu(z) -
    4 relu(z - 1/2) is folded into the next layer's weights. 6 depth + 1 parameters; input (N, 1), output (N, 1).
    """
    depth = _checks.as_int(depth, "depth")
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
    depth = _checks.as_int(depth, "depth")
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
    a, b = _checks.as_scalar(a, "a"), _checks.as_scalar(b, "b")
    if not a < b:
        raise ValueError(f"the interval needs a < b, got a = {a}, b = {b}")
    n_points = _checks.as_int(n_points, "n_points", minimum=3)
    tol = _checks.as_positive_float(tol, "tol")
    x = np.linspace(a, b, n_points)
    out = _checks.as_float_array(fn(x[:, None]), "fn(x)")
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.shape != (n_points,):
        raise ValueError(f"fn must map inputs (m, 1) to one output per row, (m,) or (m, 1); got {out.shape}")
    slopes = np.diff(out) / np.diff(x)
    change = np.abs(np.diff(slopes)) > tol * max(1.0, float(np.max(np.abs(slopes))))
    starts = change & ~np.r_[False, change[:-1]]  # the first index of every run of changes
    return int(1 + np.count_nonzero(starts))


# --- lecture 06: optimisers on loss surfaces of two parameters ----------------------------------------------
#
# A Surface is a loss of w = (w1, w2) with its gradient and Hessian. descent_path runs any optimiser of
# dlcourse.optim on it (optionally with noisy gradients and a learning-rate schedule); gd_and_momentum is what
# the learning-rate / momentum sliders show; show_paths draws paths on the contours and their losses.



def _points(P, name: str = "P") -> np.ndarray:
    P = _checks.as_float_array(P, name)
    if P.ndim == 0 or P.shape[-1] != 2:
        raise ValueError(f"{name} must hold points of two coordinates, shape (..., 2); got {P.shape}")
    return P


def _point(w, name: str = "w") -> np.ndarray:
    w = _checks.as_vector(w, name, 2)
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name} must be finite, got {w}")
    return w


@dataclass(frozen=True)
class Surface:
    """A loss of two parameters w = (w1, w2), to watch optimisers on.

    ``loss(P)`` maps points P of shape (..., 2) to their losses (...); ``grad(w)`` and ``hessian(w)`` map one
    point (2,) to the gradient (2,) and the Hessian (2, 2); ``minimum`` (2,) is one minimiser (its loss is
    ``min_loss``); ``name`` is a title for plots.
    """

    name: str
    loss: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]
    hessian: Callable[[np.ndarray], np.ndarray]
    minimum: np.ndarray

    @property
    def min_loss(self) -> float:
        return float(self.loss(self.minimum))

    def grid(self, xs, ys) -> np.ndarray:
        """The loss on the grid ``xs`` (m,) x ``ys`` (k,): shape (k, m), the layout of ``np.meshgrid(xs, ys)``
        that :func:`dlcourse.plots.loss_landscape` takes."""
        xs, ys = _checks.as_vector(xs, "xs"), _checks.as_vector(ys, "ys")
        xx, yy = np.meshgrid(xs, ys)
        return self.loss(np.stack([xx, yy], axis=-1))


def ravine(kappa: float = 50.0, angle: float = 30.0) -> Surface:
    """An ill-conditioned quadratic bowl L(w) = ½ wᵀ A w with A = R diag(1, 1/kappa) Rᵀ, R the rotation by
    ``angle`` degrees: curvature 1 across the valley, 1/``kappa`` along it (condition number ``kappa`` >= 1).

    Its minimum is 0 at the origin; the gradient is A w and the Hessian A everywhere, so gradient descent is
    stable for learning rates below 2 (= 2 / largest curvature).
    """
    kappa = _checks.as_scalar(kappa, "kappa")
    if kappa < 1.0:
        raise ValueError(f"kappa (the condition number) must be >= 1, got {kappa}")
    t = np.deg2rad(_checks.as_scalar(angle, "angle"))
    R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    A = R @ np.diag([1.0, 1.0 / kappa]) @ R.T

    def loss(P):
        P = _points(P)
        return 0.5 * np.einsum("...i,ij,...j->...", P, A, P)

    def hessian(w):
        _point(w)
        return A.copy()

    return Surface(f"ravine: condition number {kappa:g}", loss, lambda w: A @ _point(w), hessian, np.zeros(2))


def one_one_one() -> Surface:
    """LeCun's 1-1-1 network: y = w2 · w1 · x, fitted to the single example x = 1, y = 1 by the squared error.

    L(w) = (1 − w1 w2)², gradient −2 (1 − w1 w2) (w2, w1), Hessian [[2 w2², 4 w1 w2 − 2], [4 w1 w2 − 2, 2 w1²]].
    Every point of the hyperbola w1 w2 = 1 is a minimum (loss 0; ``minimum`` is (1, 1)); the origin is a saddle
    point (gradient 0, Hessian eigenvalues −2 and +2).
    """

    def loss(P):
        P = _points(P)
        return (1.0 - P[..., 0] * P[..., 1]) ** 2

    def grad(w):
        w1, w2 = _point(w)
        return -2.0 * (1.0 - w1 * w2) * np.array([w2, w1])

    def hessian(w):
        w1, w2 = _point(w)
        off = 4.0 * w1 * w2 - 2.0
        return np.array([[2.0 * w2 * w2, off], [off, 2.0 * w1 * w1]])

    return Surface("1-1-1 network: L = (1 − w₁w₂)²", loss, grad, hessian, np.ones(2))


@dataclass(frozen=True)
class Path2D:
    """The points an optimiser visited on a :class:`Surface`: ``path`` (t + 1, 2) from the start, ``losses``
    (t + 1,) there, ``lrs`` (t,) the learning rate of every step; ``diverged`` if it stopped early."""

    label: str
    path: np.ndarray
    losses: np.ndarray
    lrs: np.ndarray
    diverged: bool

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])


def descent_path(surface: Surface, optimizer, start, n_steps: int, *, noise: float = 0.0, rng=0,
                 schedule: Callable[[int], float] | None = None, steps_per_epoch: int = 1,
                 label: str | None = None, max_loss: float = 1e6) -> Path2D:
    """Run ``optimizer`` (a fresh :mod:`dlcourse.optim` optimiser; its ``lr`` and state are used and updated)
    on ``surface`` from ``start`` (2,) for ``n_steps`` steps; return the :class:`Path2D`.

    ``noise`` > 0 adds N(0, noise² I) to every gradient, drawn from ``rng`` (a seed or a Generator): a model of
    the noise of mini-batch gradients. ``schedule(epoch)``, if given, sets ``optimizer.lr`` before step k
    (k = 0, 1, ...) with epoch = k // ``steps_per_epoch``. The run stops early, marked ``diverged``, once the
    loss exceeds ``max_loss``.
    """
    from .layers import _as_rng

    w = _point(start, "start").copy()
    n_steps = _checks.as_int(n_steps, "n_steps", minimum=0)
    noise = _checks.as_scalar(noise, "noise")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    steps_per_epoch = _checks.as_int(steps_per_epoch, "steps_per_epoch")
    max_loss = _checks.as_positive_float(max_loss, "max_loss")
    if not (hasattr(optimizer, "step") and hasattr(optimizer, "lr")):
        raise ValueError(f"optimizer must be a dlcourse.optim optimiser, got {type(optimizer).__name__}")
    rng = _as_rng(rng)
    params = {"w": w}
    path, losses, lrs = [w.copy()], [float(surface.loss(w))], []
    diverged = False
    for k in range(n_steps):
        if schedule is not None:
            optimizer.lr = float(schedule(k // steps_per_epoch))
        g = surface.grad(w)
        if noise:
            g = g + noise * rng.standard_normal(2)
        optimizer.step(params, {"w": g})
        lrs.append(float(optimizer.lr))
        path.append(w.copy())
        losses.append(float(surface.loss(w)))
        if not losses[-1] <= max_loss:  # also catches nan
            diverged = True
            break
    return Path2D(label or type(optimizer).__name__, np.array(path), np.array(losses), np.array(lrs), diverged)


def gd_and_momentum(surface: Surface, lr: float, beta: float, start, n_steps: int) -> tuple[Path2D, Path2D]:
    """What the learning-rate and momentum sliders show: gradient descent ``SGD(lr)`` and heavy-ball
    ``Momentum(lr, beta)`` on ``surface``, both from ``start`` (2,) for ``n_steps`` steps."""
    from . import optim

    gd = descent_path(surface, optim.SGD(lr), start, n_steps, label=f"gradient descent, lr = {lr:.3g}")
    mom = descent_path(surface, optim.Momentum(lr, beta), start, n_steps,
                       label=f"momentum, lr = {lr:.3g}, β = {beta:.2f}")
    return gd, mom


_PATH_COLORS = ("tab:red", "tab:orange", "deepskyblue", "magenta", "white", "lime")
_LOSS_COLORS = {"white": "black"}  # a white path shows on the contours, not on the white loss axes


def show_paths(ax_map, ax_loss, surface: Surface, paths, xs, ys, title: str | None = None) -> None:
    """Draw optimisers' :class:`Path2D` runs ``paths`` on the contours of ``surface`` over the grid ``xs`` x ``ys``
    (``ax_map``; points outside the grid are clipped) and their loss − ``surface.min_loss`` against the step on a
    log scale (``ax_loss``; skipped if None)."""
    paths = list(paths)
    plots.loss_landscape(ax_map, xs, ys, surface.grid(xs, ys), minimum=surface.minimum, xlabel="$w_1$",
                         ylabel="$w_2$", title=title or surface.name)
    for i, run in enumerate(paths):
        color = _PATH_COLORS[i % len(_PATH_COLORS)]
        ax_map.plot(run.path[:, 0], run.path[:, 1], ".-", color=color, lw=1.2, ms=3, label=run.label)
        ax_map.plot(*run.path[0], "o", color=color, markeredgecolor="k", ms=6)
    ax_map.legend(loc="lower left", fontsize=7)
    if ax_loss is not None:
        for i, run in enumerate(paths):
            excess = np.maximum(run.losses - surface.min_loss, 1e-16)
            color = _PATH_COLORS[i % len(_PATH_COLORS)]
            ax_loss.semilogy(np.arange(len(excess)), excess, color=_LOSS_COLORS.get(color, color),
                             label=run.label + (" (diverged)" if run.diverged else ""))
        ax_loss.set(xlabel="step", ylabel="loss − minimum (log scale)", title="loss along the path")
        ax_loss.grid(True, which="major", alpha=0.3)
        ax_loss.legend(fontsize=7)


def optimizer_explorer(surface: Surface | None = None, start=(-3.0, 1.0), n_steps: int = 60, xs=None, ys=None,
                       lr: float = 0.5, beta: float = 0.5):
    """A log-scale learning-rate slider and a momentum slider β: redraws gradient descent and momentum from
    ``start`` on ``surface`` (default :func:`ravine`) and their losses, and prints the final losses."""
    import ipywidgets as W
    import matplotlib.pyplot as plt

    surface = ravine() if surface is None else surface
    start = _point(start, "start")
    n_steps = _checks.as_int(n_steps, "n_steps")
    xs = np.linspace(-3.5, 3.5, 141) if xs is None else xs
    ys = np.linspace(-2.5, 2.5, 101) if ys is None else ys
    lr_slider = W.FloatLogSlider(value=lr, base=10, min=-2, max=np.log10(2.5), step=0.02, description="lr",
                                 continuous_update=False, readout_format=".3g", style={"description_width": "3em"})
    beta_slider = W.FloatSlider(value=beta, min=0.0, max=0.99, step=0.01, description="β",
                                continuous_update=False, readout_format=".2f", style={"description_width": "3em"})

    def redraw(lr, beta):
        gd, mom = gd_and_momentum(surface, lr, beta, start, n_steps)
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1.3, 1]})
        show_paths(axes[0], axes[1], surface, [gd, mom], xs, ys)
        fig.tight_layout()
        plt.show()
        print(f"after {n_steps} steps: gradient descent {gd.final_loss:.2e}"
              f"{' (diverged)' if gd.diverged else ''}, momentum {mom.final_loss:.2e}"
              f"{' (diverged)' if mom.diverged else ''}")

    out = W.interactive_output(redraw, {"lr": lr_slider, "beta": beta_slider})
    return W.VBox([W.HBox([lr_slider, beta_slider]), out])
