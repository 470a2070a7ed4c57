"""Interactive sliders for the lectures, and the drawers they redraw.

The rule: what a slider shows is computed by a plain function that lives with its concept (``linear``,
``perceptron``, ``landscapes``, ``approximation``, ``training``, ``autodiff``, ``gans``, ``attention``,
``sparse_coding``, ``distributed``) and is unit-tested there; a builder here only wires sliders to it and redraws
a figure with a ``show_*`` drawer (which lectures also call directly for their static figures). Builders are in
lecture order.
"""

from __future__ import annotations

import threading

import numpy as np

from . import _validate, approximation, autodiff, landscapes, linear, perceptron, plots, training

_DRAWING = threading.RLock()


def _output(redraw, controls: dict):
    """What ``ipywidgets.interactive_output(redraw, controls)`` does, one redraw at a time in the whole kernel.

    JupyterLab 4 and ipykernel 7 deliver widget messages on subshell threads, so two controls moved together, or a
    control that moves another (``easgd_explorer``'s workers slider moves α), redraw in two threads at once, and
    matplotlib's pyplot and mathtext are not thread-safe (lecture 10 failed with a mathtext ParseException). The
    lock must cover ipywidgets' flush of open figures too: ``interactive_output`` flushes before it redraws, and
    that flush drew the figure another thread was still building. Returns the Output widget.
    """
    import ipywidgets as W
    from IPython.display import clear_output
    from ipywidgets.widgets import interaction

    out = W.Output()

    def observer(change=None):
        with _DRAWING:
            values = {name: control.value for name, control in controls.items()}
            with out:
                clear_output(wait=True)
                redraw(**values)
                interaction.show_inline_matplotlib_plots()

    for control in controls.values():
        control.observe(observer, "value")
    observer()
    return out


# --- lecture 01: the posterior of two Gaussian classes -------------------------------------------------


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
        pair = linear.gaussian_pair(**values)
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
        filled = plots.gaussian_posterior_panel(ax, pair.mu0, pair.mu1, pair.Sigma, prior1=pair.prior1, lim=lim)
        fig.colorbar(filled, ax=ax, label="p(y=1 | x)")
        ax.legend(loc="lower right", fontsize=8)
        plt.show()
        print(f"w = {np.round(pair.w, 3)}, b = {pair.b:.3f}")

    out = _output(redraw, sliders)
    return W.HBox([W.VBox(list(sliders.values())), out])


# --- lecture 02: the perceptron, one update at a time, and its margin ------------------------------------


def perceptron_update_explorer(X, y, trace, lim: float = 1.15):
    """A step slider (with a play button) over the updates of a recorded perceptron run on 2-D data.

    ``X`` (n, 2) the points in the plane, ``y`` (n,) in {-1, +1}, ``trace`` the ``perceptron_trace`` of the
    run on them with a constant-1 feature (weights (w1, w2, b)). Each position shows the boundary after
    update k, the one before it, and the misclassified point that caused it.
    """
    import ipywidgets as W
    import matplotlib.pyplot as plt

    X = _validate.as_matrix(X, "X", 2)
    if trace.weights.shape[1] != 3:
        raise ValueError(f"trace must come from 2-D data with a bias feature (weights of shape (3,)), "
                         f"got weights of shape ({trace.weights.shape[1]},)")
    slider = W.IntSlider(value=0, min=0, max=trace.n_updates, step=1, description="update k",
                         continuous_update=True, style={"description_width": "5em"})
    play = W.Play(value=0, min=0, max=trace.n_updates, step=1, interval=700, description="play")
    W.jslink((play, "value"), (slider, "value"))

    def redraw(k):
        step = trace.update(k)
        fig, ax = plt.subplots(figsize=(7, 5))
        what = "start: w = 0" if step.index is None else f"update {k} of {trace.n_updates}: sample {step.index}"
        plots.perceptron_state(ax, X, y, step.w, step.w_prev, step.index, lim=lim, title=what)
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
        fig.tight_layout()
        plt.show()
        print(f"w = {np.round(step.w, 3)}")

    out = _output(redraw, {"k": slider})
    return W.VBox([W.HBox([play, slider]), out])


def perceptron_margin_explorer(n: int = 60, seed: int = 0):
    """A log-scale margin slider: the data, the perceptron's and the max-margin boundaries, and the number of
    updates next to the bound R^2 / gamma^2."""
    import ipywidgets as W
    import matplotlib.pyplot as plt

    slider = W.FloatLogSlider(value=0.1, base=10, min=-2.3, max=-0.6, step=0.05, description="margin",
                              continuous_update=False, readout_format=".3f", style={"description_width": "5em"})

    def redraw(margin):
        run = perceptron.margin_experiment(margin, n=n, seed=seed)
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

    out = _output(redraw, {"margin": slider})
    return W.VBox([slider, out])


# --- lecture 03: the learning rate of gradient descent on sigmoid(w x + b) ----------------------------------


def show_descent(ax_path, ax_loss, land: landscapes.LogisticLandscape, run: landscapes.Path, title: str | None = None) -> None:
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

    lo, hi = (_validate.as_positive_float(v, "lr_range") for v in lr_range)
    if not lo < hi:
        raise ValueError(f"lr_range must be (low, high) with low < high, got {lr_range}")
        ws = np.linspace(-1.0, 7.0, 121) if ws is None else ws
    bs = np.linspace(-8.0, 2.0, 121) if bs is None else bs
    land = landscapes.logistic_landscape(x, y, ws, bs)
    slider = W.FloatLogSlider(value=lr, base=10, min=np.log10(lo), max=np.log10(hi), step=0.02,
                              description="lr", continuous_update=False, readout_format=".3g",
                              layout=W.Layout(width="60%"))

    def redraw(lr):
        run = landscapes.gd_logistic_1d(x, y, lr, n_steps)
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        show_descent(axes[0], axes[1], land, run)
        fig.tight_layout()
        plt.show()
        print(f"lr = {lr:.3g}:  2/L = {land.lr_monotone:.3g} (below: the loss falls at every step),  "
              f"2/λ* = {land.lr_stable:.3g} (above: no convergence)")

    out = _output(redraw, {"lr": slider})
    return W.VBox([slider, out])


# --- lecture 04: universal approximation, one hidden layer at a time ----------------------------------------


def show_staircase(ax_fit, ax_err, fit: approximation.SigmoidStaircase, errors: dict[int, float] | None = None,
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

    n_values = [_validate.as_int(n, "n_values") for n in n_values]
    if not n_values:
        raise ValueError("n_values must list at least one number of hidden units")
    n_slider = W.SelectionSlider(options=n_values, value=n_values[len(n_values) // 2], description="units N",
                                 continuous_update=False, style={"description_width": "6em"})
    s_slider = W.FloatLogSlider(value=_validate.as_positive_float(steepness, "steepness"), base=10, min=0, max=2.5,
                                step=0.05, description="steepness", continuous_update=False, readout_format=".3g",
                                style={"description_width": "6em"})

    def redraw(n_units, steepness):
        errors = {n: approximation.sigmoid_staircase(f, a, b, n, steepness).max_error for n in n_values}
        fit = approximation.sigmoid_staircase(f, a, b, n_units, steepness)
        fig, (ax_fit, ax_err) = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [1.6, 1]})
        show_staircase(ax_fit, ax_err, fit, errors)
        fig.tight_layout()
        plt.show()
        print(f"N = {n_units}, steepness {steepness:.3g}: input weight {fit.weight:.3g}, "
              f"max error {fit.max_error:.4f}")

    out = _output(redraw, {"n_units": n_slider, "steepness": s_slider})
    return W.VBox([W.HBox([n_slider, s_slider]), out])


def show_net(ax, net, X, y, lim: float = 1.8, center=(0.5, 0.25), title: str | None = None, legend: bool = True):
    """The probability map p(y=1 | x) of a two-class network ``net`` (a :class:`dlcourse.layers.Sequential`
    from :func:`dlcourse.training.build_mlp`), its p = 0.5 boundary and the data ``X`` (n, 2), ``y`` (n,) in
    {0, 1}, with a legend; returns the contour set (for a colorbar)."""
    filled = plots.probability_map(ax, lambda P: training.predict_proba(net, P)[:, 1], lim=lim, center=center, n=101,
                                   boundary_label="boundary p = 0.5")
    plots.scatter_classes(ax, X, y, s=8, alpha=0.7)
    hidden = " x ".join(map(str, training.hidden_widths(net))) or "no"
    ax.set_title(title or f"{hidden} hidden units: {training.n_parameters(net)} parameters")
    if legend:
        ax.legend(loc="lower left", fontsize=7)
    return filled


def width_explorer(X, y, nets: dict, lim: float = 1.8, center=(0.5, 0.25)):
    """A slider over networks trained beforehand, ``nets`` = {hidden units: network}: redraws the decision
    boundary of the chosen one on the data ``X`` (n, 2), ``y`` (n,) with :func:`show_net`. Moving it trains
    nothing."""
    import ipywidgets as W
    import matplotlib.pyplot as plt

    if not nets:
        raise ValueError("nets must hold at least one trained network {hidden units: network}")
    widths = sorted(nets)
    slider = W.SelectionSlider(options=widths, value=widths[len(widths) // 2], description="hidden units",
                               continuous_update=True, style={"description_width": "7em"})

    def redraw(width):
        net = nets[width]
        fig, ax = plt.subplots(figsize=(6, 4.5))
        show_net(ax, net, X, y, lim, center)
        fig.tight_layout()
        plt.show()
        loss, error = training.evaluate(net, X, y)
        print(f"{width} hidden units, {training.n_parameters(net)} parameters: training loss {loss:.3f}, "
              f"training accuracy {1 - error:.3f}")

    out = _output(redraw, {"width": slider})
    return W.VBox([slider, out])


# --- lecture 05: backpropagation on the worked example f = (x + y)·z ----------------------------------------


def graph_explorer(x: float = -2.0, y: float = 5.0, z: float = -4.0, lim: float = 6.0):
    """Sliders for the inputs x, y, z (in [-lim, lim]) of f = (x + y)·z: each move re-runs the forward and the
    backward pass (:func:`dlcourse.autodiff.worked_example`) and redraws the graph with every node's value and gradient
    (:func:`dlcourse.plots.draw_graph`)."""
    import ipywidgets as W
    import matplotlib.pyplot as plt

    lim = _validate.as_positive_float(lim, "lim")
    start = {"x": x, "y": y, "z": z}
    for name, value in start.items():
        if not -lim <= _validate.as_scalar(value, name) <= lim:
            raise ValueError(f"{name} must lie in [-lim, lim] = [{-lim:g}, {lim:g}], got {value}")
    sliders = {name: W.FloatSlider(value=value, min=-lim, max=lim, step=0.5, description=name,
                                   continuous_update=False) for name, value in start.items()}

    def redraw(x, y, z):
        g = autodiff.worked_example(x, y, z)
        fig, ax = plt.subplots(figsize=(9, 3))
        plots.draw_graph(ax, g["f"], title=f"f = (x + y)·z at (x, y, z) = ({x:g}, {y:g}, {z:g})")
        fig.tight_layout()
        plt.show()
        print(f"f = {g['f'].data:.3g};  df/dx = {g['x'].grad:.3g},  df/dy = {g['y'].grad:.3g},  "
              f"df/dz = {g['z'].grad:.3g}")

    out = _output(redraw, sliders)
    return W.VBox([W.HBox(list(sliders.values())), out])


# --- lecture 06: optimisers on loss surfaces of two parameters ----------------------------------------------


_PATH_STYLES = (
    {"color": "white", "ls": "--", "marker": "o"},
    {"color": "tab:orange", "ls": "-", "marker": "s"},
    {"color": "deepskyblue", "ls": "-.", "marker": "^"},
    {"color": "magenta", "ls": ":", "marker": "D"},
    {"color": "tab:red", "ls": "-", "marker": "v"},
    {"color": "lime", "ls": "--", "marker": "P"},
)
"""Path i gets style i (cycled): colours that stand out on the viridis contours and from each other, each with
its own line style and marker, so that two paths can be told apart even where they overlap."""
_LOSS_COLORS = {"white": "black"}  # a white path shows on the contours, not on the white loss axes


def show_paths(ax_map, ax_loss, surface: landscapes.Surface, paths, xs, ys, title: str | None = None) -> None:
    """Draw optimisers' :class:`dlcourse.landscapes.Path` runs ``paths`` on the contours of ``surface`` over the grid ``xs`` x ``ys``
    (``ax_map``; points outside the grid are clipped) and their loss − ``surface.min_loss`` against the step on a
    log scale (``ax_loss``; skipped if None). Each panel gets a legend.

    Path i is drawn in style i of :data:`_PATH_STYLES` (colour, line style, marker), and earlier paths lie on top
    of later ones: the first one, dashed, stays visible even when a later one retraces it (gradient descent
    under momentum with a small β)."""
    paths = list(paths)
    plots.loss_landscape(ax_map, xs, ys, surface.grid(xs, ys), minimum=surface.minimum, xlabel="$w_1$",
                         ylabel="$w_2$", title=title or surface.name)
    for i, run in enumerate(paths):
        style, on_top = _PATH_STYLES[i % len(_PATH_STYLES)], 3 + len(paths) - i
        ax_map.plot(run.path[:, 0], run.path[:, 1], color=style["color"], ls=style["ls"], marker=style["marker"],
                    lw=1.8 if i == 0 else 1.3, ms=3.5, mec="k", mew=0.3, zorder=on_top, label=run.label)
        ax_map.plot(*run.path[0], "o", color=style["color"], markeredgecolor="k", ms=7, zorder=on_top)
    ax_map.legend(loc="lower left", fontsize=7)
    if ax_loss is not None:
        for i, run in enumerate(paths):
            style = _PATH_STYLES[i % len(_PATH_STYLES)]
            excess = np.maximum(run.losses - surface.min_loss, 1e-16)
            ax_loss.semilogy(np.arange(len(excess)), excess, color=_LOSS_COLORS.get(style["color"], style["color"]),
                             ls=style["ls"], lw=1.8 if i == 0 else 1.3, zorder=3 + len(paths) - i,
                             label=run.label + (" (diverged)" if run.diverged else ""))
        ax_loss.set(xlabel="step", ylabel="loss − minimum (log scale)", title="loss along the path")
        ax_loss.grid(True, which="major", alpha=0.3)
        ax_loss.legend(fontsize=7)


def optimizer_explorer(surface: landscapes.Surface | None = None, start=(-3.0, 1.0), n_steps: int = 60, xs=None, ys=None,
                       lr: float = 0.5, beta: float = 0.5):
    """A log-scale learning-rate slider and a momentum slider β: redraws gradient descent and momentum from
    ``start`` on ``surface`` (default :func:`dlcourse.landscapes.ravine`) and their losses, and prints the final losses.

    Gradient descent is drawn first (:func:`show_paths`): white and dashed, on top of momentum, so it stays in
    sight where the two paths coincide (β near 0)."""
    import ipywidgets as W
    import matplotlib.pyplot as plt

    surface = landscapes.ravine() if surface is None else surface
    start = _validate.as_vector(start, "start", 2)
    n_steps = _validate.as_int(n_steps, "n_steps")
    xs = np.linspace(-3.5, 3.5, 141) if xs is None else xs
    ys = np.linspace(-2.5, 2.5, 101) if ys is None else ys
    lr_slider = W.FloatLogSlider(value=lr, base=10, min=-2, max=np.log10(2.5), step=0.02, description="lr",
                                 continuous_update=False, readout_format=".3g", style={"description_width": "3em"})
    beta_slider = W.FloatSlider(value=beta, min=0.0, max=0.99, step=0.01, description="β",
                                continuous_update=False, readout_format=".2f", style={"description_width": "3em"})

    def redraw(lr, beta):
        gd, mom = landscapes.gd_and_momentum(surface, lr, beta, start, n_steps)
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1.3, 1]})
        show_paths(axes[0], axes[1], surface, [gd, mom], xs, ys)
        fig.tight_layout()
        plt.show()
        print(f"after {n_steps} steps: gradient descent {gd.final_loss:.2e}"
              f"{' (diverged)' if gd.diverged else ''}, momentum {mom.final_loss:.2e}"
              f"{' (diverged)' if mom.diverged else ''}")

    out = _output(redraw, {"lr": lr_slider, "beta": beta_slider})
    return W.VBox([W.HBox([lr_slider, beta_slider]), out])


# --- lecture 07: what one output of a convolution sees --------------------------------------------------------


def receptive_field_explorer(n: int = 7, k: int = 3, stride: int = 1, padding: int = 0, max_kernel: int = 7,
                             max_stride: int = 4, max_padding: int = 3):
    """Sliders for the kernel size, the stride, the padding and the output cell: redraws the input grid with
    that cell's window and the output grid (:func:`dlcourse.plots.receptive_field`) for an n x n input, and
    prints the output size n' = (n + 2 padding - k) // stride + 1. The output-cell slider runs over the n'^2
    cells row by row, and its range follows the other three."""
    import ipywidgets as W
    import matplotlib.pyplot as plt

    n = _validate.as_int(n, "n")
    style = {"description_width": "6em"}
    sliders = {
        "k": W.IntSlider(value=k, min=1, max=max_kernel, description="kernel size", continuous_update=False,
                         style=style),
        "stride": W.IntSlider(value=stride, min=1, max=max_stride, description="stride", continuous_update=False,
                              style=style),
        "padding": W.IntSlider(value=padding, min=0, max=max_padding, description="padding",
                               continuous_update=False, style=style),
        "cell": W.IntSlider(value=0, min=0, max=0, description="output cell", continuous_update=False,
                            style=style),
    }

    def n_out(k, stride, padding):
        return (n + 2 * padding - k) // stride + 1 if n + 2 * padding >= k else 0

    def follow(_=None):
        size = n_out(sliders["k"].value, sliders["stride"].value, sliders["padding"].value)
        sliders["cell"].max = max(size * size - 1, 0)

    for name in ("k", "stride", "padding"):
        sliders[name].observe(follow, names="value")
    follow()

    def redraw(k, stride, padding, cell):
        size = n_out(k, stride, padding)
        if size == 0:
            print(f"a {k} x {k} kernel does not fit in the {n + 2 * padding} x {n + 2 * padding} padded input")
            return
        cell = min(cell, size * size - 1)
        fig, (ax_in, ax_out) = plt.subplots(1, 2, figsize=(10, 5), gridspec_kw={"width_ratios": [n + 2 * padding,
                                                                                                max(size, 3)]})
        plots.receptive_field(ax_in, ax_out, n, k, stride, padding, out_pos=divmod(cell, size))
        fig.tight_layout()
        plt.show()
        print(f"n' = ({n} + 2*{padding} - {k}) // {stride} + 1 = {size}: {size * size} outputs, "
              f"each a weighted sum of {k * k} inputs per channel")

    out = _output(redraw, sliders)
    return W.VBox([W.HBox([W.VBox([sliders["k"], sliders["stride"]]), W.VBox([sliders["padding"], sliders["cell"]])]),
                   out])


# --- lecture 08: a denoising autoencoder against the noise level ---------------------------------------------


def denoising_explorer(models: dict, X, shape=(28, 28), level: float = 0.3, max_level: float = 0.9,
                       seed: int = 0):
    """A noise-kind menu and a noise-level slider over trained denoising autoencoders.

    ``models`` maps a kind of :func:`dlcourse.autoencoders.corrupt` (``"gaussian"``, ``"mask"``) to the model
    trained on that kind of noise; ``X`` (m, h*w) holds the clean test images shown (a handful). Each change
    corrupts them afresh (:func:`dlcourse.autoencoders.denoise`, always from ``seed``, so only the level
    differs between two positions), redraws noisy / reconstructed / clean (:func:`dlcourse.plots.denoising_grid`)
    and prints the two mean squared errors.
    """
    import ipywidgets as W
    import matplotlib.pyplot as plt

    from . import autoencoders

    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict {noise kind: trained denoising autoencoder}")
    unknown = set(models) - set(autoencoders.CORRUPTIONS)
    if unknown:
        raise ValueError(f"models' keys must be kinds of noise among {autoencoders.CORRUPTIONS}, got {sorted(unknown)}")
    X = _validate.as_matrix(X, "X")
    kind_menu = W.Dropdown(options=list(models), value=next(iter(models)), description="noise",
                           style={"description_width": "5em"})
    level_slider = W.FloatSlider(value=level, min=0.0, max=max_level, step=0.05, description="level",
                                 continuous_update=False, readout_format=".2f", style={"description_width": "5em"})

    def redraw(kind, level):
        noisy, restored = autoencoders.denoise(models[kind], X, kind, level, seed=seed)
        fig, axes = plt.subplots(3, len(X), figsize=(1.6 * len(X), 5.2), squeeze=False)
        before, after = plots.denoising_grid(axes, X, noisy, restored, shape=shape)
        what = f"std {level:.2f}" if kind == "gaussian" else f"each pixel zeroed with probability {level:.2f}"
        fig.suptitle(f"{kind} noise, {what}: trained on its own kind of noise")
        fig.tight_layout()
        plt.show()
        print(f"mean squared error against the clean images: noisy {before:.4f}, reconstructed {after:.4f}")

    out = _output(redraw, {"kind": kind_menu, "level": level_slider})
    return W.VBox([W.HBox([kind_menu, level_slider]), out])


# --- lecture 09: the optimal discriminator on a line, and GAN training snapshots --------------------------------


def optimal_discriminator_explorer(p_data, x=None, mean: float = 0.0, std: float = 1.2):
    """Sliders for the mean and standard deviation of a Gaussian generator p_g against the data density
    ``p_data`` (a :class:`dlcourse.gans.Mixture1D`), on the grid ``x`` (default 1,001 points on [-5, 5]).

    Each change redraws both densities and the optimal discriminator D* (:func:`dlcourse.plots.discriminator_1d`)
    and prints the generator's criterion against D*, computed both ways (:func:`dlcourse.gans.criterion_at_optimum`):
    V(D*, G) and 2 JSD - log 4, which reach their minimum -log 4 only when p_g = p_data.
    """
    import ipywidgets as W
    import matplotlib.pyplot as plt

    from . import gans

    if not isinstance(p_data, gans.Mixture1D):
        raise ValueError(f"p_data must be a dlcourse.gans.Mixture1D (see gans.mixture_1d), got {type(p_data).__name__}")
    x = np.linspace(-5.0, 5.0, 1001) if x is None else _validate.as_vector(x, "x")
    data_density = p_data.pdf(x)

    def slider(value, lo, hi, step, label):
        return W.FloatSlider(value=value, min=lo, max=hi, step=step, description=label, continuous_update=False,
                             readout_format=".2f", style={"description_width": "7em"})

    sliders = {"mean": slider(mean, -3.0, 3.0, 0.05, "generator mean"),
               "std": slider(std, 0.1, 2.5, 0.05, "generator std")}

    def redraw(mean, std):
        g_density = gans.mixture_1d([mean], [std]).pdf(x)
        value, jsd = gans.criterion_at_optimum(data_density, g_density)
        fig, ax = plt.subplots(figsize=(9, 3.8))
        plots.discriminator_1d(ax, x, data_density, g_density,
                               title=f"generator N({mean:.2f}, {std:.2f}²): JSD = {jsd:.4f}")
        fig.tight_layout()
        plt.show()
        print(f"V(D*, G) = {value:.4f};  2·JSD − log 4 = {2 * jsd - np.log(4):.4f};  minimum −log 4 = "
              f"{-np.log(4):.4f}")

    out = _output(redraw, sliders)
    return W.VBox([W.HBox(list(sliders.values())), out])


def snapshot_explorer(runs: dict, centres, std: float, lim: float | None = None):
    """A step slider over the samples recorded while GANs trained on a mixture (the ring of Gaussians).

    ``runs`` maps a run's name to its snapshots ``{step: samples (n, 2)}`` (the ``"snapshots"`` of
    :func:`dlcourse.gans.train_gan`; every run recorded at the same steps); the panels, one per run, show the
    samples at the chosen step with their score (:func:`dlcourse.plots.ring_samples`).
    """
    import ipywidgets as W
    import matplotlib.pyplot as plt

    if not isinstance(runs, dict) or not runs or not all(isinstance(v, dict) and v for v in runs.values()):
        raise ValueError("runs must be a non-empty dict {run name: {step: samples (n, 2)}}")
    steps = sorted(next(iter(runs.values())))
    if any(sorted(v) != steps for v in runs.values()):
        raise ValueError("every run must have snapshots at the same steps")
    slider = W.SelectionSlider(options=steps, value=steps[-1], description="step", continuous_update=False,
                               style={"description_width": "5em"})

    def redraw(step):
        fig, axes = plt.subplots(1, len(runs), figsize=(4.6 * len(runs), 4.6), squeeze=False)
        for ax, (name, snaps) in zip(axes[0], runs.items()):
            score = plots.ring_samples(ax, snaps[step], centres, std, lim=lim)
            ax.set_title(f"{name}, step {step}: {score.covered}/{len(score.counts)} modes, "
                         f"{score.high_quality:.0%} in 3σ", fontsize=9)
        fig.tight_layout()
        plt.show()

    out = _output(redraw, {"step": slider})
    return W.VBox([slider, out])


# --- lecture 10: a soft memory read, the shrinkage threshold, elastic averaging ------------------------------


def show_memory_read(ax_weights, ax_entropy, sweep, i: int, query: int = 0) -> None:
    """Draw position ``i`` of a :class:`dlcourse.attention.Sweep` for query ``query``: the weights C_i of every
    memory slot as bars (the slot that the largest scale of the sweep reads, the best-matching key, in orange),
    and the entropy of the read against the scale (log scale, scale 0 left out) with this position marked.
    Either axes may be None: that panel is not drawn."""
    C, H = sweep.weights[i, query], sweep.entropy[:, query]
    M, scale = len(C), float(sweep.scales[i])
    if ax_weights is not None:
        best = int(sweep.weights[-1, query].argmax())
        colors = ["tab:orange" if j == best else "tab:blue" for j in range(M)]
        bars = ax_weights.bar(np.arange(M), C, color=colors)
        bars[best].set_label("best-matching key")
        ax_weights.axhline(1 / M, color="k", ls=":", lw=1, label=f"uniform 1/M = {1 / M:.3g}")
        ax_weights.set(xticks=np.arange(M), ylim=(0, 1.05), xlabel="memory slot i", ylabel="weight $C_i$",
                       title=f"scale s = {scale:.3g}: entropy {H[i]:.2f} nats")
        ax_weights.legend(fontsize=7, loc="upper left")
    if ax_entropy is None:
        return
    order = [j for j in np.argsort(sweep.scales, kind="stable") if sweep.scales[j] > 0]
    ax_entropy.semilogx(sweep.scales[order], H[order], color="tab:blue", label="entropy of the read")
    ax_entropy.axhline(np.log(M), color="k", ls=":", lw=1, label=f"log M = {np.log(M):.2f}: uniform average")
    ax_entropy.axhline(0.0, color="tab:orange", ls="--", lw=1, label="0: one slot, a hard lookup")
    if scale > 0:
        ax_entropy.plot([scale], [H[i]], "o", color="tab:red", ms=8, label="this scale")
    ax_entropy.set(xlabel="scale s (inverse temperature, log scale)", ylabel="entropy (nats)",
                   ylim=(-0.1, np.log(M) + 0.2), title="from a blurred average to a RAM")
    ax_entropy.legend(fontsize=7, loc="lower left")


def memory_read_explorer(X, K, V, scales=None, scale: float = 1.0):
    """A scale slider (and a query slider when ``X`` holds several queries) over
    :func:`dlcourse.attention.sharpness_sweep` of the queries ``X`` (N, d) in the memory ``K`` (M, d), ``V`` (M, m)
    at ``scales`` (default 0 and 29 values from 0.1 to 316, log-spaced; the sweep is computed once): redraws the
    weights and the entropy (:func:`show_memory_read`) and prints the read."""
    import ipywidgets as W
    import matplotlib.pyplot as plt

    from . import attention

    scales = np.r_[0.0, np.logspace(-1.0, 2.5, 29)] if scales is None else scales
    sweep = attention.sharpness_sweep(X, K, V, scales)
    n_queries = sweep.weights.shape[1]
    start = int(np.argmin(np.abs(sweep.scales - _validate.as_nonnegative_float(scale, "scale"))))
    slider = W.SelectionSlider(options=[(f"{s:.3g}", i) for i, s in enumerate(sweep.scales)], value=start,
                               description="scale s", continuous_update=False, style={"description_width": "5em"},
                               layout=W.Layout(width="60%"))
    query = W.IntSlider(value=0, min=0, max=n_queries - 1, description="query", continuous_update=False,
                        style={"description_width": "5em"}, layout=W.Layout(display=None if n_queries > 1 else "none"))

    def redraw(i, q):
        fig, (ax_w, ax_h) = plt.subplots(1, 2, figsize=(12, 3.8))
        show_memory_read(ax_w, ax_h, sweep, i, q)
        fig.tight_layout()
        plt.show()
        H = sweep.entropy[i, q]
        print(f"scale {sweep.scales[i]:.3g}: read y = {np.round(sweep.reads[i, q], 3)}; entropy {H:.3f} nats, "
              f"about {np.exp(H):.2f} of the {sweep.weights.shape[2]} slots read; at scale "
              f"{sweep.scales[-1]:.3g} the read is {np.round(sweep.reads[-1, q], 3)}, the best key's value")

    out = _output(redraw, {"i": slider, "q": query})
    return W.VBox([W.HBox([slider, query]), out])


def show_shrink(ax, t: float, lim: float = 1.5) -> None:
    """Draw soft thresholding shrink_t(x) (:func:`dlcourse.sparse_coding.shrink`) on [-lim, lim], the identity, and
    the dead zone |x| <= t that it sets to 0."""
    from . import sparse_coding

    x = np.linspace(-lim, lim, 601)
    ax.axvspan(-t, t, color="0.9", label="|x| ≤ t: set to 0")
    ax.plot(x, x, color="k", ls=":", lw=1, label="identity")
    ax.plot(x, sparse_coding.shrink(x, t), color="tab:red", lw=2, label="$\\mathrm{shrink}_t(x)$")
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="x", ylabel="$\\mathrm{shrink}_t(x)$",
           title=f"soft thresholding, t = {t:.3g}")
    ax.set_aspect("equal")
    ax.legend(fontsize=7, loc="upper left")


def show_code(ax, z, z_true=None, title: str | None = None) -> None:
    """Draw a sparse code ``z`` (k,) as stems, and the code that made the signal, ``z_true`` (k,), as circles."""
    z = _validate.as_vector(z, "z")
    ax.axhline(0, color="k", lw=0.6)
    ax.vlines(np.arange(len(z)), 0, z, color="tab:blue", lw=2)
    ax.plot(np.arange(len(z)), np.where(z != 0, z, np.nan), "o", color="tab:blue", ms=4, label="code found")
    if z_true is not None:
        z_true = _validate.as_vector(z_true, "z_true", len(z))
        on = z_true != 0
        ax.plot(np.flatnonzero(on), z_true[on], "o", mfc="none", mec="k", ms=9, label="true code")
    ax.set(xlabel="atom j (column of $W_d$)", ylabel="$z_j$",
           title=title or f"{np.count_nonzero(z)} non-zero entries of {len(z)}")
    ax.legend(fontsize=7, loc="upper right")


def shrink_explorer(W_d, y, z_true=None, lam: float = 0.1, lam_range=(1e-3, 2.0), steps: int = 500):
    """A log-scale slider for the sparsity weight lam of the energy 1/2 ||y - W_d z||^2 + lam ||z||_1: redraws
    shrink_t at ISTA's threshold t = lam / L (:func:`show_shrink`) and the code of the signal ``y`` (n,) in the
    dictionary ``W_d`` (n, k) after ``steps`` steps of :func:`dlcourse.sparse_coding.fista` (:func:`show_code`,
    with ``z_true`` (k,) if given), and prints its sparsity, residual and energy."""
    import ipywidgets as W
    import matplotlib.pyplot as plt

    from . import sparse_coding

    W_d = _validate.as_matrix(W_d, "W_d")
    y = _validate.as_vector(y, "y", W_d.shape[0])
    lo, hi = (_validate.as_positive_float(v, "lam_range") for v in lam_range)
    if not lo < hi:
        raise ValueError(f"lam_range must be (low, high) with low < high, got {lam_range}")
    L = sparse_coding.lipschitz(W_d)
    slider = W.FloatLogSlider(value=lam, base=10, min=np.log10(lo), max=np.log10(hi), step=0.05, description="λ",
                              continuous_update=False, readout_format=".3g", layout=W.Layout(width="60%"))

    def redraw(lam):
        z = sparse_coding.fista(y, W_d, lam, steps)
        fig, (ax_s, ax_z) = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [1, 2]})
        show_shrink(ax_s, lam / L)
        show_code(ax_z, z, z_true)
        fig.tight_layout()
        plt.show()
        print(f"λ = {lam:.3g}, threshold λ/L = {lam / L:.3g} (L = {L:.3g}): {np.count_nonzero(z)} non-zero of "
              f"{len(z)}, residual ||y − W_d z|| = {np.linalg.norm(y - W_d @ z):.3f}, "
              f"energy {sparse_coding.sparse_energy(z, y, W_d, lam):.4f}")

    out = _output(redraw, {"lam": slider})
    return W.VBox([slider, out])


def show_distributed(ax_epochs, ax_messages, runs: dict, ylim=(0.0, 1.0)) -> None:
    """Draw distributed training runs, ``runs`` = {label: history of :func:`dlcourse.distributed.train_distributed`
    or :func:`dlcourse.distributed.simulate`}: the test accuracy of the centre variable against the epoch, and
    against the all-reduces each worker sent (symmetric log scale: 0 messages at the start), both within ``ylim``."""
    if not isinstance(runs, dict) or not runs:
        raise ValueError("runs must be a non-empty dict {label: history}")
    for label, hist in runs.items():
        ax_epochs.plot(hist["epoch"], hist["test accuracy"], "o-", ms=3, label=label)
        ax_messages.plot(hist["messages"], hist["test accuracy"], "o-", ms=3, label=label)
    ax_epochs.set(xlabel="epoch", ylabel="test accuracy of the centre", ylim=ylim,
                  title="accuracy against the data seen")
    ax_messages.set_xscale("symlog", linthresh=1)
    ax_messages.set(xlabel="all-reduces sent by each worker (symlog scale)", ylabel="test accuracy of the centre",
                    ylim=ylim, title="accuracy against the communication")
    for ax in (ax_epochs, ax_messages):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")


def easgd_explorer(workers: int = 2, tau: int = 4, alpha=None, epochs: int = 10, lr: float = 0.5, split=None,
                   max_workers: int = 8, taus=(1, 2, 4, 8, 16, 32, 64, 128)):
    """Sliders for the number of workers p, the communication period tau and beta = p alpha (in [0, 1], so the
    elastic coefficient alpha = beta / p is at most 1 / p), over :func:`dlcourse.distributed.simulate` (one
    process, numpy: the same numbers as the real run): redraws EASGD against synchronous SGD with the same p
    (:func:`show_distributed`) and prints the final accuracies and the messages. ``alpha`` None: 0.9 / p. Moving
    p keeps beta, so alpha follows; no slider moves another (widget callbacks run on ipykernel's subshell threads,
    and a slider that moved another raced in matplotlib)."""
    import ipywidgets as W
    import matplotlib.pyplot as plt

    from . import data, distributed

    split = data.digits_split() if split is None else split
    taus = [_validate.as_int(t, "taus") for t in taus]
    style = {"description_width": "6em"}
    p_slider = W.IntSlider(value=_validate.as_int(workers, "workers"), min=1, max=max_workers,
                           description="workers p", continuous_update=False, style=style)
    tau_slider = W.SelectionSlider(options=taus, value=_validate.as_int(tau, "tau"), description="period τ",
                                   continuous_update=False, style=style)
    b_slider = W.FloatSlider(value=0.9 if alpha is None else alpha * workers, min=0.0, max=1.0, step=0.01,
                             description="β = pα", continuous_update=False, readout_format=".2f", style=style)
    sync_runs: dict[int, dict] = {}

    def redraw(p, tau, beta):
        alpha = beta / p
        if p not in sync_runs:
            sync_runs[p] = distributed.simulate("sync", workers=p, epochs=epochs, lr=lr, split=split)
        sync = sync_runs[p]
        easgd = distributed.simulate("easgd", workers=p, tau=tau, alpha=alpha, epochs=epochs, lr=lr, split=split)
        fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
        show_distributed(axes[0], axes[1], {f"synchronous SGD, p = {p}": sync,
                                            f"EASGD, p = {p}, τ = {tau}, α = {alpha:.3f} (β = {p * alpha:.2f})": easgd})
        fig.tight_layout()
        plt.show()
        print(f"after {epochs} epochs: synchronous SGD {sync['test accuracy'][-1]:.3f} with {sync['messages'][-1]} "
              f"all-reduces; EASGD {easgd['test accuracy'][-1]:.3f} with {easgd['messages'][-1]} "
              f"({easgd['floats'][-1]:,} floats sent by each worker)")

    out = _output(redraw, {"p": p_slider, "tau": tau_slider, "beta": b_slider})
    return W.VBox([W.HBox([p_slider, tau_slider, b_slider]), out])
