"""Losses of two parameters and the paths optimisers take on them (lectures 03 and 06).

Two parameters fit in a picture, so every question about a learning rate, momentum or a saddle point can be
watched. A :class:`Surface` is a loss of w = (w1, w2) with its gradient and Hessian:

* :func:`logistic_surface`: the mean NLL of sigmoid(w x + b) on 1-D data (lecture 03; convex),
* :func:`ravine`: an ill-conditioned quadratic bowl (lecture 06; momentum, Adagrad, Adam),
* :func:`one_one_one`: LeCun's 1-1-1 network (lecture 06; a saddle and a valley of minima).

:func:`descent_path` runs any optimiser of :mod:`dlcourse.optim` on a surface and records a :class:`Path`
(the one path type of the course), optionally with noisy gradients and a learning-rate schedule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import _numerics, _reference, _validate, linear, optim

_reference.reference_module(__name__)


def _points(P, name: str = "P") -> np.ndarray:
    P = _validate.as_float_array(P, name)
    if P.ndim == 0 or P.shape[-1] != 2:
        raise ValueError(f"{name} must hold points of two coordinates, shape (..., 2); got {P.shape}")
    return P


def _point(w, name: str = "w") -> np.ndarray:
    w = _validate.as_vector(w, name, 2)
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name} must be finite, got {w}")
    return w


@dataclass(frozen=True)
class Surface:
    """A loss of two parameters w = (w1, w2), to watch optimisers on.

    ``loss(P)`` maps points P of shape (..., 2) to their losses (...); ``grad(w)`` and ``hessian(w)`` map one
    point (2,) to the gradient (2,) and the Hessian (2, 2); ``minimum`` (2,) is one minimiser (its loss is
    ``min_loss``), or None when it was not computed; ``name`` is a title for plots.
    """

    name: str
    loss: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]
    hessian: Callable[[np.ndarray], np.ndarray]
    minimum: np.ndarray | None

    @property
    def min_loss(self) -> float:
        if self.minimum is None:
            raise ValueError(f"the minimum of {self.name!r} was not computed")
        return float(self.loss(self.minimum))

    def curvature(self, w) -> float:
        """The largest eigenvalue of the Hessian at ``w`` (2,): gradient descent there is stable below 2 / it."""
        return float(np.linalg.eigvalsh(self.hessian(_point(w)))[-1])

    def grid(self, xs, ys) -> np.ndarray:
        """The loss on the grid ``xs`` (m,) x ``ys`` (k,): shape (k, m), the layout of ``np.meshgrid(xs, ys)``
        that :func:`dlcourse.plots.loss_landscape` takes."""
        xs, ys = _validate.as_vector(xs, "xs"), _validate.as_vector(ys, "ys")
        xx, yy = np.meshgrid(xs, ys)
        return self.loss(np.stack([xx, yy], axis=-1))


# --- lecture 03: logistic regression on one feature -------------------------------------------------------


def _one_feature_problem(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = _validate.as_vector(x, "x")
    if x.shape[0] == 0:
        raise ValueError("x must hold at least one example")
    return x, _validate.as_labels01(y, "y", x.shape[0])


def logistic_surface(x, y, minimum: bool = True, n_iter: int = 5000) -> Surface:
    """The mean NLL of sigmoid(w x + b) on inputs ``x`` (n,) and labels ``y`` (n,) in {0, 1}, over (w, b).

    Its value at (w, b) is ``linear.nll([w], b, x[:, None], y)``, its gradient ``linear.nll_grad`` and its
    Hessian ``linear.logistic_hessian``. With ``minimum`` the minimiser is found by ``n_iter`` steps of
    gradient descent at the always-safe rate 1/L, L being the curvature at (0, 0) (the largest anywhere);
    on separable data there is no minimiser and this raises ``ValueError``.
    """
    x, y = _one_feature_problem(x, y)
    X = x[:, None]

    def loss(P):
        P = _points(P)
        flat = P.reshape(-1, 2)
        out = np.concatenate([_numerics.bce_with_logits(np.outer(chunk[:, 0], x) + chunk[:, 1:], y, axis=1)
                              for chunk in np.array_split(flat, max(1, len(flat) * len(x) // 500_000))])
        return out.reshape(P.shape[:-1]) if P.ndim > 1 else float(out[0])

    def grad(w):
        dw, db = linear.nll_grad(_point(w)[:1], w[1], X, y)
        return np.array([dw[0], db])

    def hessian(w):
        return linear.logistic_hessian(_point(w)[:1], w[1], X)

    w_star = None
    if minimum:
        if np.all(y == y[0]) or (x[y == 1].min() > x[y == 0].max()) or (x[y == 0].min() > x[y == 1].max()):
            raise ValueError("the data are separable (or one-class): the NLL has no minimiser")
        L = float(np.linalg.eigvalsh(hessian(np.zeros(2)))[-1])
        w_fit, b_fit = linear.fit_logistic(X, y, lr=1.0 / L, n_iter=_validate.as_int(n_iter, "n_iter"))
        w_star = np.array([w_fit[0], b_fit])
    return Surface("mean NLL of sigmoid(w x + b)", loss, grad, hessian, w_star)


@dataclass(frozen=True)
class LogisticLandscape:
    """What lecture 03 draws of :func:`logistic_surface`: the loss on a grid and the two curvature thresholds.

    ``ws`` (m,), ``bs`` (k,), ``losses`` (k, m); ``curvature_start`` the largest Hessian eigenvalue at (0, 0),
    which is the global bound L; ``curvature_min`` the largest one at the minimum.
    """

    surface: Surface
    ws: np.ndarray
    bs: np.ndarray
    losses: np.ndarray
    curvature_start: float
    curvature_min: float

    @property
    def w_star(self) -> float:
        return float(self.surface.minimum[0])

    @property
    def b_star(self) -> float:
        return float(self.surface.minimum[1])

    @property
    def loss_min(self) -> float:
        return self.surface.min_loss

    @property
    def lr_monotone(self) -> float:
        """2 / L: below it every gradient step lowers the loss, wherever it starts."""
        return 2.0 / self.curvature_start

    @property
    def lr_stable(self) -> float:
        """2 / (curvature at the minimum): below it gradient descent settles at the minimum, above it cannot."""
        return 2.0 / self.curvature_min


def logistic_landscape(x, y, ws, bs, n_iter: int = 5000) -> LogisticLandscape:
    """The loss surface of sigmoid(w x + b) on the grid ``ws`` x ``bs``, its minimum (see
    :func:`logistic_surface`) and the curvatures at (0, 0) and at the minimum."""
    surface = logistic_surface(x, y, n_iter=n_iter)
    ws, bs = _validate.as_vector(ws, "ws"), _validate.as_vector(bs, "bs")
    return LogisticLandscape(surface, ws, bs, surface.grid(ws, bs), surface.curvature(np.zeros(2)),
                             surface.curvature(surface.minimum))


def gd_logistic_1d(x, y, lr: float, n_steps: int) -> Path:
    """Gradient descent with step size ``lr`` on sigmoid(w x + b) from (w, b) = (0, 0): the steps of
    :func:`dlcourse.linear.fit_logistic`, recorded as a :class:`Path` (what lecture 03's slider shows)."""
    lr = _validate.as_positive_float(lr, "lr")
    surface = logistic_surface(x, y, minimum=False)
    return descent_path(surface, optim.SGD(lr), np.zeros(2), n_steps, label=f"lr = {lr:.3g}", max_loss=np.inf)


# --- lecture 06: surfaces to race optimisers on -----------------------------------------------------------


def ravine(kappa: float = 50.0, angle: float = 30.0) -> Surface:
    """An ill-conditioned quadratic bowl L(w) = ½ wᵀ A w with A = R diag(1, 1/kappa) Rᵀ, R the rotation by
    ``angle`` degrees: curvature 1 across the valley, 1/``kappa`` along it (condition number ``kappa`` >= 1).

    Its minimum is 0 at the origin; the gradient is A w and the Hessian A everywhere, so gradient descent is
    stable for learning rates below 2 (= 2 / largest curvature).
    """
    kappa = _validate.as_scalar(kappa, "kappa")
    if kappa < 1.0:
        raise ValueError(f"kappa (the condition number) must be >= 1, got {kappa}")
    t = np.deg2rad(_validate.as_scalar(angle, "angle"))
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


# --- paths ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Path:
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

    @property
    def lr(self) -> float:
        """The learning rate of the first step (the only one, without a schedule); nan for an empty path."""
        return float(self.lrs[0]) if len(self.lrs) else float("nan")


def descent_path(surface: Surface, optimizer, start, n_steps: int, *, noise: float = 0.0, rng=0,
                 schedule: Callable[[int], float] | None = None, steps_per_epoch: int = 1,
                 label: str | None = None, max_loss: float = 1e6) -> Path:
    """Run ``optimizer`` (a fresh :mod:`dlcourse.optim` optimiser; its ``lr`` and state are used and updated)
    on ``surface`` from ``start`` (2,) for ``n_steps`` steps; return the :class:`Path`.

    ``noise`` > 0 adds N(0, noise² I) to every gradient, drawn from ``rng`` (a seed or a Generator): a model of
    the noise of mini-batch gradients. ``schedule(epoch)``, if given, sets ``optimizer.lr`` before step k
    (k = 0, 1, ...) with epoch = k // ``steps_per_epoch``. The run stops early, marked ``diverged``, once the
    loss exceeds ``max_loss`` (or is nan).
    """
    w = _point(start, "start").copy()
    n_steps = _validate.as_int(n_steps, "n_steps", minimum=0)
    noise = _validate.as_scalar(noise, "noise")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    steps_per_epoch = _validate.as_int(steps_per_epoch, "steps_per_epoch")
    if not max_loss > 0:
        raise ValueError(f"max_loss must be > 0, got {max_loss}")
    if not (hasattr(optimizer, "step") and hasattr(optimizer, "lr")):
        raise ValueError(f"optimizer must be a dlcourse.optim optimiser, got {type(optimizer).__name__}")
    rng = _validate.as_rng(rng)
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
    return Path(label or type(optimizer).__name__, np.array(path), np.array(losses), np.array(lrs), diverged)


def gd_and_momentum(surface: Surface, lr: float, beta: float, start, n_steps: int) -> tuple[Path, Path]:
    """Gradient descent ``SGD(lr)`` and heavy-ball ``Momentum(lr, beta)`` on ``surface``, both from ``start``
    (2,) for ``n_steps`` steps: what lecture 06's learning-rate and momentum sliders show."""
    gd = descent_path(surface, optim.SGD(lr), start, n_steps, label=f"gradient descent, lr = {lr:.3g}")
    mom = descent_path(surface, optim.Momentum(lr, beta), start, n_steps,
                       label=f"momentum, lr = {lr:.3g}, β = {beta:.2f}")
    return gd, mom
