import ipywidgets
import matplotlib
import numpy as np
import pytest

from dlcourse import linear, widgets


def test_covariance_2d():
    S = widgets.covariance_2d(2.0, 0.5, -0.3)
    np.testing.assert_allclose(S, [[4.0, -0.3], [-0.3, 0.25]])
    assert np.all(np.linalg.eigvalsh(S) > 0)
    with pytest.raises(ValueError, match="rho"):
        widgets.covariance_2d(1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="s1 must be > 0"):
        widgets.covariance_2d(0.0, 1.0, 0.0)


def test_gaussian_pair_is_the_bayes_posterior():
    pair = widgets.gaussian_pair(-1.0, 0.0, 1.0, 0.5, 1.2, 0.7, 0.4, 0.3)
    rng = np.random.default_rng(0)
    X = rng.normal(scale=2.0, size=(100, 2))
    np.testing.assert_allclose(linear.sigmoid(X @ pair.w + pair.b),
                               linear.gaussian_posterior(X, pair.mu0, pair.mu1, pair.Sigma, prior1=0.3), atol=1e-12)
    x0 = pair.boundary_point()
    assert linear.gaussian_posterior(x0[None, :], pair.mu0, pair.mu1, pair.Sigma, prior1=0.3)[0] == pytest.approx(0.5)


def test_the_prior_moves_the_boundary_along_w_only():
    low, high = (widgets.gaussian_pair(0, 0, 1, 1, 1, 1, 0.2, p) for p in (0.2, 0.8))
    np.testing.assert_allclose(low.w, high.w)
    shift = high.boundary_point() - low.boundary_point()
    assert abs(shift @ np.array([-low.w[1], low.w[0]])) < 1e-12  # no component along the boundary
    assert shift @ low.w < 0  # a likelier class 1 pushes the boundary towards class 0


def test_posterior_explorer_redraws_when_a_slider_moves(monkeypatch):
    matplotlib.use("Agg")
    drawn = []
    monkeypatch.setattr(widgets.plots, "gaussian_posterior_panel",
                        lambda ax, mu0, mu1, Sigma, prior1, lim: drawn.append((mu0.copy(), prior1)) or
                        ax.plot([0], [0], label="stand-in") and ax.contourf([[0, 1], [1, 0]]))
    box = widgets.posterior_explorer()
    sliders = {s.description: s for s in box.children[0].children}
    assert len(sliders) == 8 and all(isinstance(s, ipywidgets.FloatSlider) for s in sliders.values())
    sliders["P(y=1)"].value = 0.8
    sliders["μ₀ x₁"].value = -2.0
    assert drawn[-2][1] == pytest.approx(0.8)
    assert drawn[-1][0][0] == pytest.approx(-2.0)
