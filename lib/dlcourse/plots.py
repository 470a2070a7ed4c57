"""Figures that several lectures draw: 2-D data, posteriors and decision boundaries, curves.

Every function draws into a given matplotlib ``Axes`` and labels it; none calls ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import _checks, linear

CLASS_COLORS = ("tab:blue", "tab:orange")


def grid(lim: float = 4.0, n: int = 121, center=(0.0, 0.0)):
    """A square grid around ``center``: returns ``xx, yy`` of shape (n, n) and the points, shape (n*n, 2)."""
    lim = _checks.as_positive_float(lim, "lim")
    n = _checks.as_int(n, "n", minimum=2)
    cx, cy = _checks.as_vector(center, "center", 2)
    xs = np.linspace(cx - lim, cx + lim, n)
    ys = np.linspace(cy - lim, cy + lim, n)
    xx, yy = np.meshgrid(xs, ys)
    return xx, yy, np.c_[xx.ravel(), yy.ravel()]


def scatter_classes(ax, X, y, s: float = 8, alpha: float = 0.5, labels=("y = 0", "y = 1")) -> None:
    """Points of ``X`` (n, 2) coloured by their label ``y`` in {0, 1}."""
    X = _checks.as_matrix(X, "X", 2)
    y = np.asarray(y)
    for k in (0, 1):
        ax.scatter(*X[y == k].T, s=s, alpha=alpha, color=CLASS_COLORS[k], label=labels[k])
    ax.set(xlabel="$x_1$", ylabel="$x_2$")


def probability_map(ax, prob: Callable[[np.ndarray], np.ndarray], lim: float = 4.0, center=(0.0, 0.0),
                    n: int = 121, boundary_label: str = "p = 0.5"):
    """Filled contours of p(y=1|x) = ``prob(points)`` on a grid, with the p = 0.5 boundary; returns the contour set."""
    xx, yy, pts = grid(lim, n, center)
    p = np.asarray(prob(pts)).reshape(xx.shape)
    filled = ax.contourf(xx, yy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    lines = ax.contour(xx, yy, p, levels=[0.5], colors="k", linewidths=1.5)
    if lines.allsegs[0]:
        ax.plot([], [], "k-", label=boundary_label)
    ax.set(xlabel="$x_1$", ylabel="$x_2$", xlim=(xx.min(), xx.max()), ylim=(yy.min(), yy.max()))
    ax.set_aspect("equal")
    return filled


def gaussian_posterior_panel(ax, mu0, mu1, Sigma0, Sigma1=None, prior1: float = 0.5, lim: float = 4.0,
                             title: str | None = None):
    """The Bayes posterior of two Gaussian classes, their means and 1-sigma ellipses; returns the contour set."""
    mu0, mu1 = np.asarray(mu0, float), np.asarray(mu1, float)
    center = tuple((mu0 + mu1) / 2)
    filled = probability_map(ax, lambda P: linear.gaussian_posterior(P, mu0, mu1, Sigma0, Sigma1, prior1),
                             lim=lim, center=center, boundary_label="Bayes boundary")
    for k, (mu, S) in enumerate([(mu0, Sigma0), (mu1, Sigma0 if Sigma1 is None else Sigma1)]):
        ellipse(ax, mu, S, color=CLASS_COLORS[k])
        ax.plot(*mu, "o", color=CLASS_COLORS[k], markeredgecolor="k", label=f"$\\mu_{k}$")
    ax.set_title(title or f"p(y=1 | x), prior P(y=1) = {prior1:.2f}")
    return filled


def ellipse(ax, mu, Sigma, n_std: float = 1.0, **style) -> None:
    """The ``n_std`` contour ellipse of N(mu, Sigma) in 2-D."""
    mu = _checks.as_vector(mu, "mu", 2)
    L = np.linalg.cholesky(_checks.as_covariance(Sigma, "Sigma", 2))
    t = np.linspace(0, 2 * np.pi, 100)
    pts = mu[:, None] + _checks.as_positive_float(n_std, "n_std") * L @ np.vstack([np.cos(t), np.sin(t)])
    ax.plot(*pts, lw=1.2, **style)


def line(ax, w, b, xlim, label: str | None = None, **style) -> None:
    """The line w[0] x1 + w[1] x2 + b = 0 across ``xlim`` (vertical if w[1] = 0)."""
    w = _checks.as_vector(w, "w", 2)
    b = _checks.as_scalar(b, "b")
    if not w.any():
        raise ValueError("w must not be zero: w @ x + b = 0 is then not a line")
    if abs(w[1]) > 1e-12 * max(1.0, abs(w[0])):
        x1 = np.asarray(xlim, float)
        ax.plot(x1, -(w[0] * x1 + b) / w[1], label=label, **style)
    else:
        ax.axvline(-b / w[0], label=label, **style)


def confusion(ax, C, class_names=None, title: str = "Confusion matrix") -> None:
    """A confusion matrix ``C`` (K, K) (rows: true class, columns: predicted) with the counts written in."""
    C = np.asarray(C)
    if C.ndim != 2 or C.shape[0] != C.shape[1]:
        raise ValueError(f"C must be a square (K, K) matrix of counts, got shape {C.shape}")
    names = [str(k) for k in range(len(C))] if class_names is None else [str(c) for c in class_names]
    ax.imshow(C, cmap="Blues")
    for i, j in np.ndindex(C.shape):
        if C[i, j]:
            ax.text(j, i, str(C[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if C[i, j] > C.max() / 2 else "black")
    ax.set(xticks=range(len(C)), yticks=range(len(C)), xticklabels=names, yticklabels=names,
           xlabel="predicted class", ylabel="true class", title=title)


def image_row(axes, images, titles=None, shape=None) -> None:
    """Show ``images`` (n, h, w), or flat rows reshaped to ``shape``, one per axes, in grey, without ticks."""
    images = np.asarray(images)
    if shape is not None:
        images = images.reshape(len(images), *shape)
    axes = np.ravel(axes)
    if len(images) > len(axes):
        raise ValueError(f"{len(images)} images but only {len(axes)} axes")
    for k, ax in enumerate(axes):
        ax.axis("off")
        if k < len(images):
            ax.imshow(images[k], cmap="gray_r")
            if titles is not None:
                ax.set_title(titles[k], fontsize=9)
