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


def test_loss_landscape_draws_the_path_and_the_minimum_and_validates():
    ws, bs = np.linspace(-2.0, 2.0, 21), np.linspace(-1.0, 3.0, 11)
    Z = (ws[None, :] - 0.5) ** 2 + (bs[:, None] - 1.0) ** 2
    path = np.array([[-1.5, 2.5], [0.0, 1.5], [0.5, 1.0]])
    fig, ax = plt.subplots()
    filled = plots.loss_landscape(ax, ws, bs, Z, path=path, minimum=(0.5, 1.0), title="bowl")
    assert filled.levels[0] == pytest.approx(Z.min()) and filled.levels[-1] == pytest.approx(Z.max())
    lines = {line.get_label(): line for line in ax.lines}
    np.testing.assert_allclose(np.c_[lines["gradient descent"].get_data()], path.T.reshape(2, -1).T)
    np.testing.assert_allclose(lines["minimum"].get_xydata(), [[0.5, 1.0]])
    assert ax.get_xlim() == (-2.0, 2.0) and ax.get_ylim() == (-1.0, 3.0)
    assert ax.get_xlabel() == "$w$" and ax.get_title() == "bowl"
    with pytest.raises(ValueError, match=r"losses must have shape \(len\(bs\), len\(ws\)\) = \(11, 21\)"):
        plots.loss_landscape(ax, ws, bs, Z.T)
    with pytest.raises(ValueError, match="path must have 2 columns"):
        plots.loss_landscape(ax, ws, bs, Z, path=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="finite"):
        plots.loss_landscape(ax, ws, bs, np.where(Z > 3, np.inf, Z))
    plt.close(fig)


def test_perceptron_state_draws_both_boundaries_the_mistake_and_the_sides():
    X = np.array([[0.5, 0.5], [-0.5, 0.2], [0.1, -0.8]])
    y = np.array([1, -1, -1])
    w, w_prev = np.array([1.0, -1.0, 0.2]), np.array([0.0, 1.0, -0.1])
    fig, ax = plt.subplots()
    plots.perceptron_state(ax, X, y, w, w_prev=w_prev, highlight=1, title="update 1")
    before, after = ax.lines  # the previous boundary is drawn first, dashed
    np.testing.assert_allclose(np.c_[np.vstack(before.get_data()).T, np.ones(2)] @ w_prev, 0.0, atol=1e-12)
    np.testing.assert_allclose(np.c_[np.vstack(after.get_data()).T, np.ones(2)] @ w, 0.0, atol=1e-12)
    assert before.get_linestyle() == "--" and after.get_linestyle() == "-"
    circled = [c for c in ax.collections if c.get_label() == "mistake"]
    assert len(circled) == 1 and np.allclose(circled[0].get_offsets(), [X[1]])
    labels = ax.get_legend_handles_labels()[1]
    assert {"y = −1", "y = +1", "boundary", "before the update", "mistake"} <= set(labels)
    assert ax.get_title() == "update 1" and ax.get_xlabel() == "$x_1$" and ax.get_xlim() == (-1.15, 1.15)
    plt.close(fig)


def test_perceptron_state_with_zero_weights_draws_no_boundary():
    fig, ax = plt.subplots()
    plots.perceptron_state(ax, np.zeros((2, 2)), [1, -1], np.zeros(3))
    assert not ax.lines and "boundary" not in ax.get_legend_handles_labels()[1]
    plt.close(fig)


@pytest.mark.parametrize("kwargs, message", [
    (dict(y=[1, 0]), r"-1 and \+1"),
    (dict(w=[1.0, 1.0]), r"w must have shape \(3,\)"),
    (dict(highlight=2), "highlight must be the index of a row"),
    (dict(w_prev=[1.0, 0.0]), r"w_prev must have shape \(3,\)"),
])
def test_perceptron_state_rejects_bad_input(kwargs, message):
    args = dict(X=np.zeros((2, 2)), y=[1, -1], w=[1.0, 0.0, 0.0]) | kwargs
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match=message):
        plots.perceptron_state(ax, **args)
    plt.close(fig)


# --- lecture 05: draw_graph -------------------------------------------------------------------------------


def _graph_drawing(root, **kwargs):
    from matplotlib.text import Annotation

    fig, ax = plt.subplots(figsize=(8, 3))
    pos = plots.draw_graph(ax, root, **kwargs)
    fig.canvas.draw()  # the arrows are attached to the boxes: this fails if one cannot be placed
    boxes = {t.get_text(): t for t in ax.texts if not isinstance(t, Annotation)}
    arrows = [t for t in ax.texts if isinstance(t, Annotation)]
    return fig, ax, pos, boxes, arrows


def test_draw_graph_shows_the_worked_example_with_values_and_gradients():
    from dlcourse.autodiff import Value

    x, y, z = Value(-2.0, "x"), Value(5.0, "y"), Value(-4.0, "z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    f.backward()
    fig, ax, pos, boxes, arrows = _graph_drawing(f)
    assert set(boxes) == {"x | -2 | grad -4", "y | 5 | grad -4", "z | -4 | grad 3", "q (+) | 3 | grad -4",
                          "f (*) | -12 | grad 1"}
    assert [pos[v][0] for v in (x, y, z, q, f)] == [0.0, 0.0, 0.0, 1.0, 2.0]  # inputs left, output right
    assert len(arrows) == 4
    drawn = {(a.anncoords.get_text().split(" |")[0], a.xycoords.get_text().split(" |")[0]) for a in arrows}
    assert drawn == {("x", "q (+)"), ("y", "q (+)"), ("q (+)", "f (*)"), ("z", "f (*)")}
    assert boxes["f (*) | -12 | grad 1"].get_bbox_patch().get_facecolor() != \
        boxes["x | -2 | grad -4"].get_bbox_patch().get_facecolor()
    assert "depth" in ax.get_xlabel() and "5 nodes, 4 edges" in ax.get_title()
    plt.close(fig)


def test_draw_graph_depth_is_the_longest_path_and_repeated_inputs_get_two_arrows():
    from dlcourse.autodiff import Value

    a = Value(3.0, "a")
    out = (a * a).tanh() + a + 1.0  # a feeds depth 1 (twice) and depth 3; the constant 1.0 has no label
    out.backward()
    fig, ax, pos, boxes, arrows = _graph_drawing(out, fmt=".2f", title="reuse")
    assert pos[a][0] == 0.0 and pos[out][0] == 4.0
    assert sorted(x for x, _ in pos.values()) == [0.0, 0.0, 1.0, 2.0, 3.0, 4.0]
    assert "const | 1.00 | grad 1.00" in boxes and "* | 9.00 | grad 0.00" in boxes
    assert len(arrows) == 7  # a -> * twice, * -> tanh, tanh -> +, a -> +, + -> +, const -> +
    bends = sorted(getattr(a.arrow_patch.get_connectionstyle(), "rad", 0.0) for a in arrows)
    # a -> + would run behind tanh (bends above, rad < 0), as would const -> + (below); the second a -> * bends below
    assert bends == pytest.approx([-0.2, 0.0, 0.0, 0.0, 0.0, 0.15, 0.3])
    plt.close(fig)


def test_draw_graph_bends_an_edge_that_would_hide_behind_a_box():
    from dlcourse.autodiff import Value

    a, b = Value(2.0, "a"), Value(3.0, "b")
    q = a * b
    q.label = "q"
    out = q * q + q  # q -> out skips the column of q * q, on the same row
    out.label = "out"
    out.backward()
    fig, ax, pos, boxes, arrows = _graph_drawing(out)
    assert pos[q][1] == pos[out][1] == 0.0
    rad = {(a_.anncoords.get_text().split(" |")[0], a_.xycoords.get_text().split(" |")[0]):
           getattr(a_.arrow_patch.get_connectionstyle(), "rad", 0.0) for a_ in arrows}
    assert rad[("q (*)", "out (+)")] == pytest.approx(-0.3)  # over the box of q * q
    assert rad[("a", "q (*)")] == rad[("b", "q (*)")] == rad[("*", "out (+)")] == 0.0
    assert "q (*) | 6 | grad 13" in boxes and "a | 2 | grad 39" in boxes
    plt.close(fig)


@pytest.mark.parametrize("kwargs, message", [
    (dict(root=2.0), "root must be a dlcourse.autodiff.Value"),
    (dict(max_nodes=2), "more than max_nodes = 2"),
    (dict(fmt="%d"), "fmt must be a format spec"),
])
def test_draw_graph_rejects_bad_input(kwargs, message):
    from dlcourse.autodiff import Value

    args = dict(root=Value(1.0, "u") * Value(2.0, "v")) | kwargs
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match=message):
        plots.draw_graph(ax, **args)
    plt.close(fig)


def test_layer_histograms_normalises_each_layer_on_shared_bins():
    rng = np.random.default_rng(0)
    values = [rng.normal(scale=s, size=(50, 20)) for s in (1.0, 0.1, 0.01)]
    values[2][0, :5] = 0.0
    fig, ax = plt.subplots()
    dens, edges = plots.layer_histograms(ax, values, bins=30, log10_abs=True, xlabel="gradient")
    assert dens.shape == (3, 30) and edges.shape == (31,)
    np.testing.assert_allclose(dens @ np.diff(edges), 1.0)  # each layer's histogram integrates to 1
    assert edges[0] == pytest.approx(np.log10(np.abs(values[2][values[2] != 0]).min()))  # zeros dropped
    centres = (edges[:-1] + edges[1:]) / 2
    peaks = centres[dens.argmax(axis=1)]
    assert peaks[0] > peaks[1] > peaks[2]  # each layer 10x smaller: one decade to the left
    assert ax.get_legend_handles_labels()[1] == ["layer 1", "layer 2", "layer 3"]
    assert ax.get_xlabel() == "log10 |gradient|"
    with pytest.raises(ValueError, match="one entry per layer"):
        plots.layer_histograms(ax, values, labels=["a"])
    with pytest.raises(ValueError, match="at least one array"):
        plots.layer_histograms(ax, [])
    with pytest.raises(ValueError, match="non-zero"):
        plots.layer_histograms(ax, [np.zeros(4)], log10_abs=True)
    plt.close(fig)


def test_learning_curves_marks_the_chosen_epoch():
    fig, ax = plt.subplots()
    train, val = [1.0, 0.5, 0.3, 0.2], [1.1, 0.7, 0.6, 0.8]
    plots.learning_curves(ax, {"train": train, "validation": val}, best_epoch=3, styles={"validation": {"ls": "--"}})
    lines = {line.get_label(): line for line in ax.lines}
    np.testing.assert_allclose(lines["validation"].get_xydata(), np.c_[[1, 2, 3, 4], val])
    assert lines["validation"].get_linestyle() == "--"
    assert "chosen epoch 3" in lines and lines["chosen epoch 3"].get_xdata()[0] == 3
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    assert sorted(float(d.get_ydata()[0]) for d in dots) == [0.3, 0.6]
    assert ax.get_xlabel() == "epoch"
    with pytest.raises(ValueError, match="best_epoch must be an epoch"):
        plots.learning_curves(ax, {"train": train}, best_epoch=5)
    with pytest.raises(ValueError, match="non-empty dict"):
        plots.learning_curves(ax, {})
    plt.close(fig)


def test_receptive_field_draws_the_window_of_one_output():
    fig, (ax_in, ax_out) = plt.subplots(1, 2)
    n_out = plots.receptive_field(ax_in, ax_out, n=7, k=3, stride=2, padding=1, out_pos=(1, 2))
    assert n_out == 4
    windows = [p for p in ax_in.patches if p.get_width() == 3]
    assert [(p.get_x(), p.get_y()) for p in windows] == [(3, 1), (5, 1)]    # (col*2 - 1, row*2 - 1), its neighbour
    assert len([p for p in ax_out.patches if p.get_width() == 1]) == 16 + 2
    assert sum(t.get_text() == "0" for t in ax_in.texts) == 9 * 9 - 7 * 7     # the padding frame
    assert "output 4 x 4" in ax_out.get_title() and "stride 2" in ax_in.get_title()
    with pytest.raises(ValueError, match="out_pos"):
        plots.receptive_field(ax_in, ax_out, n=7, k=3, out_pos=(5, 0))
    with pytest.raises(ValueError, match="does not fit"):
        plots.receptive_field(ax_in, ax_out, n=3, k=5)
    plt.close(fig)


def test_receptive_field_hatches_the_inputs_a_large_stride_skips():
    fig, (ax_in, ax_out) = plt.subplots(1, 2)
    assert plots.receptive_field(ax_in, ax_out, n=6, k=2, stride=3) == 2       # windows cover columns 0-1, 3-4
    hatched = {(int(p.get_x()), int(p.get_y())) for p in ax_in.patches if p.get_hatch()}
    assert (2, 0) in hatched and (5, 5) in hatched and (0, 0) not in hatched and (4, 3) not in hatched
    plt.close(fig)


def test_signed_images_use_a_symmetric_scale():
    fig, axes = plt.subplots(1, 3)
    plots.signed_images(axes, np.array([[[1.0, -3.0]], [[0.5, 0.2]]]), titles=["a", "b"])
    assert axes[0].images[0].get_clim() == (-3.0, 3.0) and axes[1].images[0].get_clim() == (-0.5, 0.5)
    assert not axes[2].images and axes[1].get_title() == "b"
    with pytest.raises(ValueError, match="axes"):
        plots.signed_images(axes[:1], np.zeros((2, 2, 2)))
    plt.close(fig)


def test_latent_scatter_colours_each_class():
    fig, ax = plt.subplots()
    Z = np.arange(12.0).reshape(6, 2)
    plots.latent_scatter(ax, Z, [0, 1, 2, 0, 1, 2], class_names=["a", "b", "c"])
    assert [c.get_label() for c in ax.collections] == ["a", "b", "c"]
    np.testing.assert_array_equal(ax.collections[1].get_offsets(), Z[[1, 4]])
    assert ax.get_xlabel() == "code $h_1$" and ax.get_legend() is not None
    with pytest.raises(ValueError, match="name every class"):
        plots.latent_scatter(ax, Z, [0, 1, 2, 0, 1, 2], class_names=["a"])
    with pytest.raises(ValueError, match="at most 10 classes"):
        plots.latent_scatter(ax, Z, [0, 1, 2, 0, 1, 11])
    plt.close(fig)


def test_denoising_grid_shows_three_rows_on_one_scale_and_returns_the_errors():
    fig, axes = plt.subplots(3, 3)
    clean = np.full((2, 4), 0.5)
    noisy, restored = clean + 1.0, clean + 0.1                          # noisy goes outside [0, 1]: clipped
    before, after = plots.denoising_grid(axes, clean, noisy, restored, shape=(2, 2))
    assert before == pytest.approx(1.0) and after == pytest.approx(0.01)
    assert axes[0, 0].images[0].get_clim() == (0.0, 1.0) and axes[0, 0].images[0].get_array().max() == 1.0
    assert axes[1, 1].get_title() == "mse 0.010" and axes[2, 0].get_title() == ""
    assert [axes[r, 0].get_ylabel() for r in range(3)] == ["noisy input", "reconstruction", "clean"]
    assert not axes[0, 2].images and not axes[0, 2].axison                 # a spare column stays empty
    with pytest.raises(ValueError, match=r"\(3, >= 2\) grid"):
        plots.denoising_grid(axes[:2], clean, noisy, restored, shape=(2, 2))
    with pytest.raises(ValueError, match="same number of images"):
        plots.denoising_grid(axes, clean, noisy[:1], restored, shape=(2, 2))
    plt.close(fig)


# --- lecture 09: GANs --------------------------------------------------------------------------------------------


def test_tile_images_lays_out_rows_with_gaps():
    images = np.arange(5 * 2 * 3, dtype=float).reshape(5, 1, 2, 3)     # (n, 1, h, w) as a generator returns
    tiled = plots.tile_images(images, ncols=2, gap=1)
    assert tiled.shape == (3 * 3 - 1, 2 * 4 - 1)
    np.testing.assert_array_equal(tiled[0:2, 4:7], images[1, 0])         # second image: first row, second cell
    np.testing.assert_array_equal(tiled[6:8, 0:3], images[4, 0])         # fifth image: third row
    assert np.isnan(tiled[2]).all() and np.isnan(tiled[6:8, 4:7]).all()   # gaps and the spare cell
    assert plots.tile_images(images[:2, 0], ncols=8).shape == (2, 7)      # fewer images than columns
    with pytest.raises(ValueError, match=r"\(n, h, w\)"):
        plots.tile_images(np.zeros((2, 3, 4, 4)))


def test_sample_grid_shows_one_image_on_a_fixed_scale():
    fig, ax = plt.subplots()
    plots.sample_grid(ax, -np.ones((6, 4, 4)), ncols=3, title="samples")
    assert len(ax.images) == 1 and ax.images[0].get_clim() == (-1.0, 1.0) and ax.get_title() == "samples"
    assert ax.images[0].get_array().shape == (9, 14)
    with pytest.raises(ValueError, match="low < high"):
        plots.sample_grid(ax, np.zeros((2, 4, 4)), value_range=(1, 0))
    plt.close(fig)


def test_ring_samples_draws_the_modes_and_scores_the_samples():
    from dlcourse import data

    X, centres = data.ring_of_gaussians(800, std=0.05, rng=0)
    fig, ax = plt.subplots()
    score = plots.ring_samples(ax, X, centres, 0.05)
    assert score.covered == 8 and "8/8 modes" in ax.get_title()
    assert len(ax.patches) == 8 and ax.patches[0].get_radius() == pytest.approx(0.15)   # the 3σ discs
    assert ax.get_xlim() == (-3.0, 3.0)
    fig, axes = plt.subplots(1, 3)
    scores = plots.ring_snapshots(axes, {500: X, 0: centres[:1] + np.zeros((800, 2))}, centres, 0.05)
    assert [s.covered for s in scores] == [1, 8]                         # in step order
    assert axes[0].get_title().startswith("step 0: 1/8") and not axes[2].axison
    with pytest.raises(ValueError, match="only 3 axes"):
        plots.ring_snapshots(axes, {k: X for k in range(4)}, centres, 0.05)
    plt.close("all")


def test_discriminator_1d_draws_densities_and_d_star_on_a_second_axis():
    from dlcourse import gans

    x = np.linspace(-3, 3, 61)
    p_data, p_g = gans.mixture_1d([-1.0], [0.5]).pdf(x), gans.mixture_1d([1.0], [0.5]).pdf(x)
    fig, ax = plt.subplots()
    bx = plots.discriminator_1d(ax, x, p_data, p_g, d_trained=np.full(61, 0.4))
    d_star = bx.lines[0].get_ydata()
    np.testing.assert_allclose(d_star, gans.optimal_discriminator(p_data, p_g))
    assert d_star[30] == pytest.approx(0.5) and d_star[0] > 0.99 > 0.01 > d_star[-1]   # equal densities at 0
    assert [ln.get_label() for ln in bx.lines[:2]] == ["D*(x)", "trained D(x)"] and bx.get_ylim() == (0, 1.05)
    assert len(ax.get_legend().get_texts()) == 4
    with pytest.raises(ValueError, match=r"p_g must have shape \(61,\)"):
        plots.discriminator_1d(ax, x, p_data, p_g[:-1])
    plt.close(fig)


def test_energy_landscape_draws_minus_the_logit_and_pushes_samples_downhill():
    import torch

    from dlcourse import gans

    D = gans.build_mlp_discriminator(2, hidden=(8,), seed=0)
    with torch.no_grad():                                  # logit = -(x1 + 10): the energy is x1 + 10
        for p in D.parameters():
            p.zero_()
        D[0].weight[0, 0], D[0].bias[0], D[2].weight[0, 0] = 1.0, 10.0, -1.0
    fig, ax = plt.subplots()
    filled = plots.energy_landscape(ax, D, np.zeros((5, 2)), np.ones((4, 2)), lim=2.0, n=11, arrows=3)
    assert filled.levels.min() == pytest.approx(8.0, abs=0.1) and filled.levels.max() == pytest.approx(12.0, abs=0.1)
    arrows = ax.collections[-1]
    assert len(arrows.get_offsets()) == 3                  # at 3 of the generated samples
    assert np.all(arrows.U < 0) and np.allclose(arrows.V, 0)   # downhill: towards smaller x1
    assert ax.get_xlim() == (-2.0, 2.0) and "energy" in ax.get_title()
    plt.close(fig)
