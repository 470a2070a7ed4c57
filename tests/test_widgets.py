import ipywidgets
import matplotlib
import numpy as np
import pytest

from dlcourse import autodiff, data, landscapes, optim, perceptron, training, widgets


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


@pytest.fixture(scope="module")
def one_feature():
    X, y = data.gaussian_classes(200, [1.0], [2.5], [[1.0]], rng=1)
    return X[:, 0], y


def test_learning_rate_explorer_redraws_when_the_slider_moves(monkeypatch, one_feature):
    matplotlib.use("Agg")
    drawn = []
    monkeypatch.setattr(widgets, "show_descent",
                        lambda ax_path, ax_loss, land, run: drawn.append((run.lr, len(run.path), land.lr_stable)))
    box = widgets.learning_rate_explorer(*one_feature, n_steps=10, ws=np.linspace(-1, 7, 5), bs=np.linspace(-8, 2, 5))
    slider = box.children[0]
    assert isinstance(slider, ipywidgets.FloatLogSlider) and slider.description == "lr"
    slider.value = 3.0
    assert drawn[-1][0] == pytest.approx(3.0) and drawn[-1][1] == 11
    assert drawn[-1][2] > 2.0
    with pytest.raises(ValueError, match="low < high"):
        widgets.learning_rate_explorer(*one_feature, lr_range=(2.0, 1.0))


def test_perceptron_widgets_redraw_when_their_slider_moves(monkeypatch):
    matplotlib.use("Agg")
    drawn = []
    monkeypatch.setattr(widgets.plots, "perceptron_state",
                        lambda ax, X, y, w, w_prev=None, highlight=None, lim=1.15, title=None:
                        drawn.append((w.copy(), highlight)) or ax.plot([0], [0], label="stand-in"))
    X, y, _ = data.separable(20, 2, 0.1, rng=1)
    trace = perceptron.perceptron_trace(X, y)
    box = widgets.perceptron_update_explorer(X[:, :2], y, trace)
    slider = box.children[0].children[1]
    assert isinstance(slider, ipywidgets.IntSlider) and slider.max == trace.n_updates
    slider.value = 2
    np.testing.assert_allclose(drawn[-1][0], trace.weights[2])
    assert drawn[-1][1] == trace.updated[1]
    with pytest.raises(ValueError, match="2-D data"):
        widgets.perceptron_update_explorer(X[:, :2], y, perceptron.perceptron_trace(np.c_[X, X[:, :1]], y))

    runs = []
    real_run = perceptron.margin_experiment
    monkeypatch.setattr(perceptron, "margin_experiment", lambda m, **kw: runs.append(m) or real_run(m, **kw))
    margin_box = widgets.perceptron_margin_explorer(n=40, seed=3)
    margin_box.children[0].value = 0.02
    assert runs[-1] == pytest.approx(0.02)
    np.testing.assert_allclose(drawn[-1][0], real_run(0.02, n=40, seed=3).trace.w)


def test_graph_explorer_reruns_backward_when_a_slider_moves(monkeypatch):
    matplotlib.use("Agg")
    drawn = []
    monkeypatch.setattr(widgets.plots, "draw_graph", lambda ax, root, title=None: drawn.append(root))
    box = widgets.graph_explorer()
    x_slider, y_slider, z_slider = box.children[0].children
    assert isinstance(z_slider, ipywidgets.FloatSlider) and (x_slider.value, z_slider.value) == (-2.0, -4.0)
    z_slider.value = 2.0
    assert drawn[-1].data == pytest.approx(6.0)  # (-2 + 5) * 2
    x_slider.value = 1.0
    assert drawn[-1].data == pytest.approx(12.0)
    with pytest.raises(ValueError, match=r"x must lie in \[-lim, lim\]"):
        widgets.graph_explorer(x=10.0)


def _bumpy(x):
    return np.sin(2 * x) + 0.3 * x


def test_staircase_explorer_redraws_when_a_slider_moves(monkeypatch):
    matplotlib.use("Agg")
    drawn = []
    monkeypatch.setattr(widgets, "show_staircase",
                        lambda ax_fit, ax_err, fit, errors=None: drawn.append((fit.n_units, fit.weight, errors)))
    box = widgets.staircase_explorer(_bumpy, -3.0, 3.0, n_values=(2, 4, 8), steepness=10.0)
    n_slider, s_slider = box.children[0].children
    assert isinstance(n_slider, ipywidgets.SelectionSlider) and list(n_slider.options) == [2, 4, 8]
    n_slider.value = 8
    assert drawn[-1][0] == 8 and drawn[-1][1] == pytest.approx(10.0 / (6.0 / 9))
    assert sorted(drawn[-1][2]) == [2, 4, 8] and drawn[-1][2][8] < drawn[-1][2][2]
    s_slider.value = 50.0
    assert drawn[-1][1] == pytest.approx(50.0 / (6.0 / 9))


def test_width_explorer_only_redraws(monkeypatch):
    matplotlib.use("Agg")
    X, y = data.moons(60, 0.1, rng=0)
    nets = {w: training.build_mlp([2, w, 2], seed=0) for w in (1, 4, 16)}
    for net in nets.values():
        training.fit(net, optim.Adam(0.02), X, y, epochs=20, batch_size=None)
    shown = []
    monkeypatch.setattr(widgets, "show_net", lambda ax, net, X, y, lim, center: shown.append(net) or
                        ax.plot([0], [0], label="stand-in"))
    monkeypatch.setattr(training, "fit", lambda *a, **k: pytest.fail("the slider must not train"))
    box = widgets.width_explorer(X, y, nets)
    slider = box.children[0]
    assert list(slider.options) == [1, 4, 16]
    slider.value = 16
    assert shown[-1] is nets[16]
    slider.value = 1
    assert shown[-1] is nets[1]
    with pytest.raises(ValueError, match="at least one"):
        widgets.width_explorer(X, y, {})


def test_show_net_draws_the_boundary_where_the_net_is_undecided():
    import matplotlib.pyplot as plt

    X, y = data.moons(100, 0.1, rng=0)
    net = training.build_mlp([2, 8, 2], seed=0)
    training.fit(net, optim.Adam(0.05), X, y, epochs=200, batch_size=None)
    fig, ax = plt.subplots()
    widgets.show_net(ax, net, X, y)
    boundary = [c for c in ax.collections if hasattr(c, "allsegs") and c.levels.tolist() == [0.5]]
    points = np.vstack([seg for seg in boundary[0].allsegs[0]])
    np.testing.assert_allclose(training.predict_proba(net, points)[:, 1], 0.5, atol=0.05)
    assert ax.get_title() == f"8 hidden units: {training.n_parameters(net)} parameters"
    assert "boundary p = 0.5" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)


def test_show_paths_draws_every_path_and_its_loss():
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    s = landscapes.one_one_one()
    runs = [landscapes.descent_path(s, optim.SGD(0.1), start, 30, label=f"from {start}")
            for start in ([0.5, -0.4], [-1.5, -0.3])]
    fig, (ax, bx) = plt.subplots(1, 2)
    widgets.show_paths(ax, bx, s, runs, np.linspace(-2, 2, 21), np.linspace(-2, 2, 21))
    drawn = {line.get_label(): line for line in ax.lines}
    np.testing.assert_allclose(drawn["from [0.5, -0.4]"].get_xydata(), runs[0].path)
    assert [line.get_label() for line in bx.lines] == ["from [0.5, -0.4]", "from [-1.5, -0.3]"]
    assert bx.get_yscale() == "log" and ax.get_xlabel() == "$w_1$"
    assert ax.get_legend() is not None and bx.get_legend() is not None
    plt.close(fig)


def test_show_paths_keeps_every_path_distinct_and_the_first_on_top():
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    s = landscapes.ravine()
    runs = [landscapes.descent_path(s, optim.SGD(0.5), [-3.0, 1.0], 10, label=f"path {i}") for i in range(6)]
    fig, (ax, bx) = plt.subplots(1, 2)
    widgets.show_paths(ax, bx, s, runs, np.linspace(-3.5, 3.5, 21), np.linspace(-2.5, 2.5, 21))
    lines = [next(line for line in ax.lines if line.get_label() == run.label) for run in runs]
    looks = {(mcolors.to_hex(line.get_color()), line.get_linestyle(), line.get_marker()) for line in lines}
    assert len({c for c, _, _ in looks}) == 6 and len({(ls, m) for _, ls, m in looks}) == 6
    assert lines[0].get_linestyle() == "--"  # identical paths: the first, dashed, lies on top of all the others
    assert all(lines[0].get_zorder() > line.get_zorder() for line in lines[1:])
    losses = [next(line for line in bx.lines if line.get_label() == run.label) for run in runs]
    assert mcolors.to_hex(losses[0].get_color()) != "#ffffff"  # a white path is drawn black on the loss axes
    assert [line.get_linestyle() for line in losses] == [line.get_linestyle() for line in lines]
    plt.close(fig)


def test_optimizer_explorer_redraws_when_a_slider_moves(monkeypatch):
    matplotlib.use("Agg")
    drawn = []
    monkeypatch.setattr(widgets, "show_paths", lambda ax_map, ax_loss, surface, paths, xs, ys: drawn.append(paths))
    box = widgets.optimizer_explorer(n_steps=10)
    lr_slider, beta_slider = box.children[0].children
    assert isinstance(lr_slider, ipywidgets.FloatLogSlider) and isinstance(beta_slider, ipywidgets.FloatSlider)
    beta_slider.value = 0.9
    gd, mom = drawn[-1]
    assert "β = 0.90" in mom.label and len(gd.losses) == 11
    lr_slider.value = 0.1
    assert "lr = 0.1" in drawn[-1][0].label


def test_optimizer_explorer_shows_gradient_descent_above_momentum():
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    box = widgets.optimizer_explorer()
    box.children[0].children[1].value = 0.0  # beta = 0: momentum retraces gradient descent exactly
    ax = plt.gcf().axes[0]
    gd = next(line for line in ax.lines if line.get_label().startswith("gradient descent"))
    mom = next(line for line in ax.lines if line.get_label().startswith("momentum"))
    np.testing.assert_allclose(gd.get_xydata(), mom.get_xydata())
    assert gd.get_zorder() > mom.get_zorder() and gd.get_linestyle() == "--" and gd.get_color() != mom.get_color()
    box.children[0].children[1].value = 0.5  # the default: the two paths part
    ax = plt.gcf().axes[0]
    gd, mom = (next(line for line in ax.lines if line.get_label().startswith(k)) for k in ("gradient", "momentum"))
    assert not np.allclose(gd.get_xydata(), mom.get_xydata())


@pytest.fixture(autouse=True)
def _close_figures_after_each_test():
    """Explorers draw with pyplot; under Agg nothing closes their figures, so close them after every test."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_receptive_field_explorer_follows_its_sliders(monkeypatch):
    matplotlib.use("Agg")
    drawn = []
    monkeypatch.setattr(widgets.plots, "receptive_field",
                        lambda ax_in, ax_out, n, k, stride, padding, out_pos: drawn.append((n, k, stride, padding,
                                                                                            out_pos)))
    box = widgets.receptive_field_explorer(n=7)
    sliders = {s.description: s for column in box.children[0].children for s in column.children}
    assert set(sliders) == {"kernel size", "stride", "padding", "output cell"}
    assert sliders["output cell"].max == 5 * 5 - 1
    sliders["stride"].value = 2                       # (7 - 3) // 2 + 1 = 3
    assert sliders["output cell"].max == 8 and drawn[-1] == (7, 3, 2, 0, (0, 0))
    sliders["output cell"].value = 5
    assert drawn[-1][-1] == (1, 2)
    sliders["padding"].value = 1                      # (7 + 2 - 3) // 2 + 1 = 4
    assert sliders["output cell"].max == 15 and drawn[-1][3] == 1
    sliders["padding"].value = 0
    sliders["stride"].value = 1
    sliders["kernel size"].value = 7                  # a 1 x 1 output: the cell slider shrinks to 0
    assert sliders["output cell"].max == 0 and drawn[-1] == (7, 7, 1, 0, (0, 0))


def test_denoising_explorer_follows_the_noise_kind_and_level(monkeypatch):
    from dlcourse import autoencoders

    matplotlib.use("Agg")
    drawn = []
    real = widgets.plots.denoising_grid
    monkeypatch.setattr(widgets.plots, "denoising_grid",
                        lambda axes, clean, noisy, restored, shape: drawn.append(noisy) or real(axes, clean, noisy,
                                                                                                 restored, shape))
    models = {"gaussian": autoencoders.build_autoencoder(16, 4, seed=0),
              "mask": autoencoders.build_autoencoder(16, 4, seed=1)}
    X = np.random.default_rng(0).random((3, 16)) + 0.1
    box = widgets.denoising_explorer(models, X, shape=(4, 4), level=0.2)
    menu, slider = box.children[0].children
    assert isinstance(menu, ipywidgets.Dropdown) and list(menu.options) == ["gaussian", "mask"]
    assert isinstance(slider, ipywidgets.FloatSlider) and slider.value == pytest.approx(0.2)
    menu.value = "mask"
    assert drawn[-1].shape == (3, 16) and np.any(drawn[-1] == 0) and not np.any(X == 0)
    slider.value = 0.0                                                      # no noise: the clean images
    np.testing.assert_allclose(drawn[-1], X.astype(np.float32))
    with pytest.raises(ValueError, match="kinds of noise"):
        widgets.denoising_explorer({"blur": models["mask"]}, X, shape=(4, 4))


def test_optimal_discriminator_explorer_prints_the_criterion_both_ways(monkeypatch, capsys):
    from dlcourse import gans

    matplotlib.use("Agg")
    drawn = []
    real = widgets.plots.discriminator_1d
    monkeypatch.setattr(widgets.plots, "discriminator_1d",
                        lambda ax, x, p_data, p_g, title=None: drawn.append(p_g) or real(ax, x, p_data, p_g,
                                                                                          title=title))
    p_data = gans.mixture_1d([0.5], [0.8])
    x = np.linspace(-4, 4, 201)
    box = widgets.optimal_discriminator_explorer(p_data, x=x, mean=-1.0, std=1.0)
    mean_slider, std_slider = box.children[0].children
    assert isinstance(mean_slider, ipywidgets.FloatSlider) and mean_slider.value == -1.0
    capsys.readouterr()
    mean_slider.value, std_slider.value = 0.5, 0.8                        # the generator becomes the data
    np.testing.assert_allclose(drawn[-1], p_data.pdf(x))
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "V(D*, G) = -1.3863" in last and "2·JSD − log 4 = -1.3863" in last
    mean_slider.value = 2.0
    value = float(capsys.readouterr().out.split("V(D*, G) = ")[-1].split(";")[0])
    assert value > -1.38
    with pytest.raises(ValueError, match="Mixture1D"):
        widgets.optimal_discriminator_explorer(np.zeros(3))


def test_snapshot_explorer_shows_every_run_at_the_chosen_step(monkeypatch):
    matplotlib.use("Agg")
    drawn = []
    real = widgets.plots.ring_samples
    monkeypatch.setattr(widgets.plots, "ring_samples",
                        lambda ax, samples, centres, std, lim=None: drawn.append(samples) or real(ax, samples, centres,
                                                                                                  std, lim=lim))
    X, centres = data.ring_of_gaussians(200, std=0.05, rng=0)
    runs = {"covers": {0: X * 0, 100: X}, "collapses": {0: X * 0, 100: X[:1] + 0 * X}}
    box = widgets.snapshot_explorer(runs, centres, 0.05)
    slider = box.children[0]
    assert isinstance(slider, ipywidgets.SelectionSlider) and list(slider.options) == [0, 100] and slider.value == 100
    slider.value = 0
    assert len(drawn) == 4 and drawn[-2] is runs["covers"][0] and drawn[-1] is runs["collapses"][0]
    with pytest.raises(ValueError, match="same steps"):
        widgets.snapshot_explorer({"a": {0: X}, "b": {1: X}}, centres, 0.05)


def test_memory_read_explorer_shows_the_sweep_at_the_chosen_scale_and_query(monkeypatch, capsys):
    from dlcourse import attention

    matplotlib.use("Agg")
    drawn = []
    real = widgets.show_memory_read
    monkeypatch.setattr(widgets, "show_memory_read",
                        lambda ax_w, ax_h, sweep, i, query=0: drawn.append((sweep, i, query)) or real(ax_w, ax_h, sweep,
                                                                                                     i, query))
    angles = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    K, V = np.c_[np.cos(angles), np.sin(angles)], np.arange(6.0)[:, None]
    X = np.array([[1.0, 0.1], [-0.2, -1.0]])
    box = widgets.memory_read_explorer(X, K, V, scale=1.0)
    scale, query = box.children[0].children
    assert isinstance(scale, ipywidgets.SelectionSlider) and isinstance(query, ipywidgets.IntSlider)
    sweep = drawn[-1][0]
    assert sweep.scales[0] == 0 and sweep.scales[scale.value] == pytest.approx(1.0) and query.max == 1
    scale.value = len(sweep.scales) - 1                                   # the sharpest read: slot 0 for query 0
    assert drawn[-1][1:] == (len(sweep.scales) - 1, 0)
    assert "read y = [0.]" in capsys.readouterr().out.strip().splitlines()[-1]
    query.value = 1                                                       # query 1 is closest to key 4 (-0.5, -0.87)
    C, Y = attention.memory_read(X[1:], K, V, sweep.scales[-1])
    np.testing.assert_allclose(drawn[-1][0].weights[-1, 1], C[0])
    assert drawn[-1][1:] == (len(sweep.scales) - 1, 1) and C[0].argmax() == 4
    scale.value = 0                                                       # scale 0: the mean of the values
    assert f"read y = [{V.mean():.1f}]" in capsys.readouterr().out.strip().splitlines()[-1]
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    real(ax, None, sweep, 0, 1)                                           # the bars alone
    assert [round(b.get_height(), 12) for b in ax.patches] == [round(1 / 6, 12)] * 6
    plt.close(fig)
    fig, ax = plt.subplots()
    real(None, ax, sweep, 3, 0)                                           # the entropy alone, this scale marked
    assert ax.lines[-1].get_xdata()[0] == sweep.scales[3] and ax.lines[-1].get_ydata()[0] == sweep.entropy[3, 0]
    plt.close(fig)
    single = widgets.memory_read_explorer(X[:1], K, V, scales=[0.0, 2.0])
    assert single.children[0].children[1].layout.display == "none"       # no query slider for one query


def test_shrink_explorer_recomputes_the_code_at_the_chosen_lambda(monkeypatch, capsys):
    from dlcourse import sparse_coding as sc

    matplotlib.use("Agg")
    drawn = []
    monkeypatch.setattr(widgets, "show_shrink", lambda ax, t, lim=1.5: drawn.append(("shrink", t)))
    monkeypatch.setattr(widgets, "show_code", lambda ax, z, z_true=None, title=None: drawn.append(("code", z)))
    W_d, Y, Z = sc.sparse_problem(n=8, k=12, n_signals=3, sparsity=2, seed=1)
    box = widgets.shrink_explorer(W_d, Y[0], Z[0], lam=0.05, steps=50)
    slider = box.children[0]
    assert isinstance(slider, ipywidgets.FloatLogSlider) and slider.description == "λ"
    slider.value = 0.5
    L = sc.lipschitz(W_d)
    assert drawn[-2] == ("shrink", pytest.approx(0.5 / L))
    np.testing.assert_allclose(drawn[-1][1], sc.fista(Y[0], W_d, 0.5, 50))
    assert f"{np.count_nonzero(drawn[-1][1])} non-zero of 12" in capsys.readouterr().out
    assert np.abs(W_d.T @ Y[0]).max() < 1.0
    slider.value = 1.0                                                    # past lam = max |W_d^T y|: the code is 0
    assert not np.any(drawn[-1][1])
    with pytest.raises(ValueError, match="low < high"):
        widgets.shrink_explorer(W_d, Y[0], lam_range=(1.0, 0.1))
    with pytest.raises(ValueError, match="y must have shape"):
        widgets.shrink_explorer(W_d, Y[0][:5])


def test_show_shrink_and_show_code_draw_what_they_say():
    import matplotlib.pyplot as plt

    from dlcourse import sparse_coding as sc

    matplotlib.use("Agg")
    fig, (ax1, ax2) = plt.subplots(1, 2)
    widgets.show_shrink(ax1, 0.4)
    x, y = ax1.lines[-1].get_data()
    np.testing.assert_allclose(y, sc.shrink(x, 0.4))
    z, z_true = np.array([0.0, 1.5, 0.0, -0.2]), np.array([0.0, 1.7, 0.0, 0.0])
    widgets.show_code(ax2, z, z_true)
    assert ax2.get_title() == "2 non-zero entries of 4"
    assert sorted(t.get_text() for t in ax2.get_legend().get_texts()) == ["code found", "true code"]
    plt.close(fig)


def test_easgd_explorer_simulates_the_chosen_settings_and_keeps_beta(monkeypatch, capsys):
    from dlcourse import distributed

    matplotlib.use("Agg")
    calls = []
    real = distributed.simulate
    monkeypatch.setattr(distributed, "simulate", lambda method, **kw: calls.append((method, kw)) or real(method, **kw))
    shown = []
    monkeypatch.setattr(widgets, "show_distributed", lambda ax1, ax2, runs: shown.append(runs))
    split = data.digits_split()
    box = widgets.easgd_explorer(workers=2, tau=4, epochs=2, lr=0.5, split=split)
    p, tau, beta = box.children[0].children
    assert (p.value, tau.value, beta.value, beta.max) == (2, 4, pytest.approx(0.9), pytest.approx(1.0))
    assert [c[0] for c in calls] == ["sync", "easgd"]
    tau.value = 16
    assert calls[-1] == ("easgd", dict(workers=2, tau=16, alpha=pytest.approx(0.45), epochs=2, lr=0.5, split=split))
    assert [c[0] for c in calls].count("sync") == 1                       # the baseline is simulated once per p
    easgd = list(shown[-1].values())[1]
    assert easgd["messages"][-1] == (2 * 21) // 16
    assert f"EASGD {easgd['test accuracy'][-1]:.3f} with 2 " in capsys.readouterr().out.strip().splitlines()[-1]
    p.value = 3                                                           # beta = 0.9 kept: alpha 0.3
    assert beta.value == pytest.approx(0.9)
    assert calls[-1][1]["workers"] == 3 and calls[-1][1]["alpha"] == pytest.approx(0.3)
    beta.value = 0.6
    assert calls[-1][1]["workers"] == 3 and calls[-1][1]["alpha"] == pytest.approx(0.2)


def test_show_distributed_draws_accuracy_against_epochs_and_messages():
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    hist = {"epoch": [0, 1, 2], "test accuracy": [0.1, 0.8, 0.9], "messages": [0, 5, 10]}
    fig, (ax1, ax2) = plt.subplots(1, 2)
    widgets.show_distributed(ax1, ax2, {"a": hist})
    assert list(ax1.lines[0].get_xdata()) == [0, 1, 2] and list(ax2.lines[0].get_xdata()) == [0, 5, 10]
    assert ax2.get_xscale() == "symlog"
    plt.close(fig)
    with pytest.raises(ValueError, match="non-empty dict"):
        widgets.show_distributed(ax1, ax2, {})


def test_two_controls_moved_from_two_threads_redraw_one_at_a_time(monkeypatch):
    """Widget messages arrive on ipykernel's subshell threads: neither the redraws nor ipywidgets' flush of open
    figures may overlap (matplotlib is not thread-safe), while a redraw that moves another control still redraws
    (same thread, no deadlock)."""
    import threading
    import time

    from ipywidgets.widgets import interaction

    active, most, calls = [0], [0], []

    def busy(seconds):
        active[0] += 1
        most[0] = max(most[0], active[0])
        time.sleep(seconds)
        active[0] -= 1

    monkeypatch.setattr(interaction, "show_inline_matplotlib_plots", lambda: busy(0.05))
    slider_a, slider_b = ipywidgets.IntSlider(value=0), ipywidgets.IntSlider(value=0)

    def redraw(a, b):
        calls.append((a, b))
        busy(0.05)
        if a == 1 and b == 0:
            slider_b.value = 5  # a redraw that moves another control, in its own thread

    out = widgets._output(redraw, {"a": slider_a, "b": slider_b})
    assert isinstance(out, ipywidgets.Output) and calls == [(0, 0)]
    threads = [threading.Thread(target=setattr, args=(slider_a, "value", 1)),
               threading.Thread(target=setattr, args=(slider_b, "value", 2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    assert most[0] == 1
    assert len(calls) >= 3  # the first draw and both moves
