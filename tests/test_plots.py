import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlcourse import plots  # noqa: E402


def test_grid():
    xx, yy, pts = plots.grid(lim=2.0, n=5, center=(1.0, 0.0))
    assert xx.shape == (5, 5) and pts.shape == (25, 2)
    assert pts[:, 0].min() == -1.0 and pts[:, 0].max() == 3.0


def test_line_draws_w_x_plus_b_equals_zero():
    fig, ax = plt.subplots()
    plots.line(ax, [1.0, 2.0], -2.0, (-1.0, 3.0))
    x, y = ax.lines[0].get_data()
    np.testing.assert_allclose(1.0 * x + 2.0 * y - 2.0, 0.0)
    plots.line(ax, [2.0, 0.0], -1.0, (-1.0, 3.0))  # vertical boundary x1 = 0.5
    np.testing.assert_allclose(ax.lines[1].get_xdata(), [0.5, 0.5])
    plt.close(fig)


def test_posterior_panel_draws_the_half_probability_contour_on_the_boundary():
    fig, ax = plt.subplots()
    mu0, mu1, S = np.array([-1.0, 0.0]), np.array([1.0, 0.0]), np.eye(2)
    plots.gaussian_posterior_panel(ax, mu0, mu1, S, prior1=0.5, lim=3.0)
    # equal priors and identity covariance: the boundary is the line x1 = 0
    segments = [seg for c in ax.collections if hasattr(c, "get_paths") for p in c.get_paths() for seg in [p.vertices]]
    boundary = [s for s in segments if len(s) > 2 and np.allclose(s[:, 0], 0.0, atol=1e-6)]
    assert boundary, "no p = 0.5 contour along x1 = 0"
    assert ax.get_xlabel() == "$x_1$" and "prior" in ax.get_title()
    plt.close(fig)


@pytest.mark.parametrize("call, message", [
    (lambda ax: plots.grid(lim=-1.0), "lim must be > 0"),
    (lambda ax: plots.grid(n=1), "n must be >= 2"),
    (lambda ax: plots.ellipse(ax, [0.0, 0.0, 0.0], np.eye(2)), r"mu must have shape \(2,\)"),
    (lambda ax: plots.ellipse(ax, [0.0, 0.0], -np.eye(2)), "positive definite"),
    (lambda ax: plots.line(ax, [0.0, 0.0], 1.0, (0, 1)), "w must not be zero"),
    (lambda ax: plots.scatter_classes(ax, np.zeros((3, 3)), [0, 1, 0]), "X must have 2 columns"),
])
def test_bad_input_is_a_clear_value_error(call, message):
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match=message):
        call(ax)
    plt.close(fig)


def test_confusion_and_image_row_draw_and_validate():
    fig, ax = plt.subplots()
    plots.confusion(ax, np.array([[3, 1], [0, 4]]), ["cat", "dog"])
    assert [t.get_text() for t in ax.texts] == ["3", "1", "4"] and ax.get_xlabel() == "predicted class"
    with pytest.raises(ValueError, match="square"):
        plots.confusion(ax, np.zeros((2, 3)))
    fig, axes = plt.subplots(1, 3)
    plots.image_row(axes, np.zeros((2, 64)), titles=["a", "b"], shape=(8, 8))
    assert axes[0].get_title() == "a" and not axes[2].images
    with pytest.raises(ValueError, match="only 3 axes"):
        plots.image_row(axes, np.zeros((4, 8, 8)))
    plt.close("all")
