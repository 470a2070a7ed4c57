"""Interactive sliders for the lectures.

The rule: what a slider computes is a plain function here (unit-tested like any other), and the widget
builder only wires sliders to it and redraws a figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _checks, linear, plots

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
