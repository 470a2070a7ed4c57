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
