"""Figures that several lectures draw: 2-D data, posteriors and decision boundaries, curves.

Every function draws into a given matplotlib ``Axes`` and labels it; none calls ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import _numerics, _validate, convolution, gans, linear

CLASS_COLORS = ("tab:blue", "tab:orange")


def grid(lim: float = 4.0, n: int = 121, center=(0.0, 0.0)):
    """A square grid around ``center``: returns ``xx, yy`` of shape (n, n) and the points, shape (n*n, 2)."""
    lim = _validate.as_positive_float(lim, "lim")
    n = _validate.as_int(n, "n", minimum=2)
    cx, cy = _validate.as_vector(center, "center", 2)
    xs = np.linspace(cx - lim, cx + lim, n)
    ys = np.linspace(cy - lim, cy + lim, n)
    xx, yy = np.meshgrid(xs, ys)
    return xx, yy, np.c_[xx.ravel(), yy.ravel()]


def scatter_classes(ax, X, y, s: float = 8, alpha: float = 0.5, labels=("y = 0", "y = 1")) -> None:
    """Points of ``X`` (n, 2) coloured by their label ``y`` in {0, 1}."""
    X = _validate.as_matrix(X, "X", 2)
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
    mu = _validate.as_vector(mu, "mu", 2)
    L = np.linalg.cholesky(_validate.as_covariance(Sigma, "Sigma", 2))
    t = np.linspace(0, 2 * np.pi, 100)
    pts = mu[:, None] + _validate.as_positive_float(n_std, "n_std") * L @ np.vstack([np.cos(t), np.sin(t)])
    ax.plot(*pts, lw=1.2, **style)


def line(ax, w, b, xlim, label: str | None = None, **style) -> None:
    """The line w[0] x1 + w[1] x2 + b = 0 across ``xlim`` (vertical if w[1] = 0)."""
    w = _validate.as_vector(w, "w", 2)
    b = _validate.as_scalar(b, "b")
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
    _each_image(axes, images, titles, lambda ax, image: ax.imshow(image, cmap="gray_r"), fontsize=9)


def _each_image(axes, images, titles, show: Callable, fontsize: float) -> None:
    """``show(ax, image)`` for each image on its own axes (the spare axes left blank), without ticks."""
    axes = np.ravel(axes)
    if len(images) > len(axes):
        raise ValueError(f"{len(images)} images but only {len(axes)} axes")
    for k, ax in enumerate(axes):
        ax.axis("off")
        if k < len(images):
            show(ax, images[k])
            if titles is not None:
                ax.set_title(titles[k], fontsize=fontsize)


# --- lecture 03: loss landscapes of two parameters ----------------------------------------------------------


def loss_landscape(ax, ws, bs, losses, path=None, minimum=None, path_label: str = "gradient descent",
                   xlabel: str = "$w$", ylabel: str = "$b$", title: str | None = None):
    """Contours of a loss over a grid of two parameters, with an optimiser's path and the minimum if given.

    ``ws`` (m,) and ``bs`` (k,) are the grid's coordinates and ``losses`` (k, m) the loss there (the layout of
    ``np.meshgrid(ws, bs)``); ``path`` (t, 2) lists the parameter pairs visited, ``minimum`` is a pair. The
    contour levels are spaced quadratically above the lowest value, so the valley floor is resolved even when
    the corners are steep. The axes keep the grid's limits: a path that leaves the grid is clipped.
    Returns the filled contour set (for a colorbar).
    """
    ws = _validate.as_vector(ws, "ws")
    bs = _validate.as_vector(bs, "bs")
    Z = _validate.as_matrix(losses, "losses")
    if Z.shape != (len(bs), len(ws)) or min(Z.shape) < 2:
        raise ValueError(f"losses must have shape (len(bs), len(ws)) = ({len(bs)}, {len(ws)}), at least 2 x 2; "
                         f"got {Z.shape}")
    if not np.all(np.isfinite(Z)):
        raise ValueError("losses must be finite")
    lo, hi = float(Z.min()), float(Z.max())
    levels = lo + max(hi - lo, 1e-12) * np.linspace(0.0, 1.0, 25) ** 2
    filled = ax.contourf(ws, bs, Z, levels=levels, cmap="viridis")
    ax.contour(ws, bs, Z, levels=levels, colors="white", linewidths=0.4, alpha=0.6)
    if path is not None:
        P = _validate.as_matrix(path, "path", 2)
        ax.plot(P[:, 0], P[:, 1], ".-", color="tab:red", lw=1.2, ms=4, label=path_label)
        ax.plot(P[0, 0], P[0, 1], "o", color="white", markeredgecolor="k", label="start")
    if minimum is not None:
        m = _validate.as_vector(minimum, "minimum", 2)
        ax.plot(m[0], m[1], "*", color="gold", markeredgecolor="k", ms=14, label="minimum")
    ax.set(xlim=(ws.min(), ws.max()), ylim=(bs.min(), bs.max()), xlabel=xlabel, ylabel=ylabel,
           title=title or "loss landscape")
    return filled


# --- the perceptron in the plane (lecture 02) ------------------------------------------------------------


def perceptron_state(ax, X, y, w, w_prev=None, highlight: int | None = None, lim: float = 1.15,
                     title: str | None = None) -> None:
    """One state of a linear classifier sign(w1 x1 + w2 x2 + b) in the plane, for the perceptron's updates.

    ``X`` (n, 2) points in the plane, ``y`` (n,) labels in {-1, +1}, ``w`` (3,) = (w1, w2, b): the bias is the
    last weight, as when X carries a constant-1 feature (scaling a row of that feature matrix by a positive
    number, e.g. to unit norm, changes neither its label nor this picture). The half-plane that w predicts +1
    is shaded orange, the one it predicts -1 blue; the boundary is solid, ``w_prev`` (3,) (the weights before
    an update) dashed, and the point ``X[highlight]`` (the mistake that caused the update) circled in red.
    The view is the square [-lim, lim]^2. A zero ``w`` predicts nothing (every point is a mistake) and
    draws no boundary.
    """
    X = _validate.as_matrix(X, "X", 2)
    y = _validate.as_labels_pm1(y, "y", len(X))
    w = _validate.as_vector(w, "w", 3)
    lim = _validate.as_positive_float(lim, "lim")
    if highlight is not None:
        highlight = _validate.as_int(highlight, "highlight", minimum=0)
        if highlight >= len(X):
            raise ValueError(f"highlight must be the index of a row of X (0 to {len(X) - 1}), got {highlight}")
    xx, yy, pts = grid(lim, 161)
    if w.any():
        side = (pts @ w[:2] + w[2] > 0).reshape(xx.shape).astype(float)
        ax.contourf(xx, yy, side, levels=[-0.5, 0.5, 1.5], colors=[CLASS_COLORS[0], CLASS_COLORS[1]], alpha=0.12)
    scatter_classes(ax, X, (y > 0).astype(int), s=22, alpha=0.9, labels=("y = −1", "y = +1"))
    if w_prev is not None:
        w_prev = _validate.as_vector(w_prev, "w_prev", 3)
        if w_prev[:2].any():
            line(ax, w_prev[:2], w_prev[2], (-lim, lim), "before the update", color="gray", ls="--", lw=1.2)
    if w[:2].any():
        line(ax, w[:2], w[2], (-lim, lim), "boundary", color="k", lw=1.8)
    if highlight is not None:
        ax.scatter(*X[highlight], s=160, facecolors="none", edgecolors="red", linewidths=2, label="mistake")
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), title=title or "perceptron")
    ax.set_aspect("equal")


# --- lecture 05: a computation graph with its values and gradients -----------------------------------------

GRAPH_COLORS = {"input": "#d6e9f8", "operation": "#eeeeee", "output": "#fde3c8"}


def draw_graph(ax, root, fmt: str = ".3g", max_nodes: int = 40, title: str | None = None) -> dict:
    """Draw the computation graph of a :class:`dlcourse.autodiff.Value`, each node with its value and gradient.

    The nodes of ``autodiff.trace(root)`` are laid out by depth, the length of the longest path from a leaf to
    the node (the x coordinate): the leaves (inputs, parameters, constants) in column 0 on the left, ``root``
    in the last column on the right; a column is ordered by the mean height of its nodes' inputs, which keeps
    arrows from crossing. Each node is a box ``"label (op) | data | grad"`` with the numbers formatted by
    ``fmt`` (an unlabelled leaf is a constant, shown as ``const``; an unlabelled result shows only its
    operation), coloured by kind (input, operation, output). Each edge (input, result) of the trace is an
    arrow; an input used twice by one operation (``a * a``) gets two arrows, the second one bent below the first;
    an edge that skips columns and would run behind a box on its way bends away from that box.

    Call ``root.backward()`` first to see the gradients d(root)/d(node) (0 before). Graphs of more than
    ``max_nodes`` nodes are refused: they are unreadable as a picture. Returns ``{node: (x, y)}``, the centre
    of every box in data coordinates.
    """
    from .autodiff import Value, trace

    if not isinstance(root, Value):
        raise ValueError(f"root must be a dlcourse.autodiff.Value (the output of a computation), "
                         f"got {type(root).__name__}")
    max_nodes = _validate.as_int(max_nodes, "max_nodes")
    try:
        format(0.5, fmt)
    except (TypeError, ValueError):
        raise ValueError(f"fmt must be a format spec for one float, such as '.3g', got {fmt!r}") from None
    nodes, edges = trace(root)
    if len(nodes) > max_nodes:
        raise ValueError(f"the graph has {len(nodes)} nodes, more than max_nodes = {max_nodes}: too many to draw "
                         "legibly (raise max_nodes to draw it anyway)")
    inputs: dict = {node: [] for node in nodes}
    for child, node in edges:
        inputs[node].append(child)
    depth: dict = {}
    for node in nodes:  # topological order: the inputs of a node already have their depth
        depth[node] = 1 + max((depth[c] for c in inputs[node]), default=-1)
    columns: dict[int, list] = {}
    for node in nodes:
        columns.setdefault(depth[node], []).append(node)
    pos: dict = {}
    for d in sorted(columns):
        column = columns[d]
        if d > 0:  # the highest inputs first (stable: ties keep the topological order)
            column.sort(key=lambda n: -float(np.mean([pos[c][1] for c in inputs[n]])))
        for i, node in enumerate(column):
            pos[node] = (float(d), (len(column) - 1) / 2.0 - i)
    boxes = {}
    for node in nodes:
        op = getattr(node, "_op", "")  # the operation's name ("+", "*", "tanh"); "" for a leaf
        name = (f"{node.label} ({op})" if op else node.label) if node.label else (op or "const")
        kind = "output" if node is root else "operation" if op else "input"
        text = f"{name} | {format(node.data, fmt)} | grad {format(node.grad, fmt)}"
        boxes[node] = ax.text(*pos[node], text, ha="center", va="center", fontsize=9, zorder=3,
                              bbox=dict(boxstyle="round,pad=0.35", fc=GRAPH_COLORS[kind], ec="0.3"))
    repeats: dict = {}
    for child, node in edges:
        k = repeats.get((child, node), 0)
        repeats[(child, node)] = k + 1
        rad = 0.3 * k  # a repeated edge bends below the first one
        side = _box_in_the_way(pos[child], pos[node], columns, pos) if k == 0 else 0
        if side:  # bend away from the box it would run behind, by the same height whatever its length
            rad = 0.6 * side / (pos[node][0] - pos[child][0])
        ax.annotate("", xy=(0.0, 0.5), xycoords=boxes[node], xytext=(1.0, 0.5), textcoords=boxes[child],
                    arrowprops=dict(arrowstyle="-|>", color="0.35", lw=1.0, shrinkA=1, shrinkB=1,
                                    connectionstyle=f"arc3,rad={rad:g}"), zorder=2)
    rows = max(len(column) for column in columns.values())
    ax.set(xlim=(-0.6, max(columns) + 0.6), ylim=(-rows / 2.0, rows / 2.0), xticks=sorted(columns),
           xlabel="depth (longest path from an input): inputs left, output right",
           title=title or f"{len(nodes)} nodes, {len(edges)} edges; boxes: label | data | grad")
    ax.yaxis.set_visible(False)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    return pos


def _box_in_the_way(start, end, columns: dict, pos: dict, clearance: float = 0.3) -> int:
    """Whether the straight edge from ``start`` to ``end`` (x = depth, y) would run behind the box of a node in a
    column it skips over (within ``clearance`` rows of its centre): 0 if not; else the side to bend to, for
    matplotlib's ``arc3`` on a left-to-right edge: +1 (below) when the nearest such box lies above the line, -1
    (above) when it lies below it or on it."""
    (x0, y0), (x1, y1) = start, end
    gaps = [pos[n][1] - (y0 + (y1 - y0) * (d - x0) / (x1 - x0))
            for d in range(int(x0) + 1, int(x1)) for n in columns.get(d, [])]
    gaps = [g for g in gaps if abs(g) < clearance]
    if not gaps:
        return 0
    return 1 if min(gaps, key=abs) > 0 else -1


# --- lecture 06: statistics per layer, learning curves ---------------------------------------------------------


def layer_histograms(ax, values, labels=None, bins: int = 60, log10_abs: bool = False, xlabel: str = "value",
                     title: str | None = None, cmap: str = "viridis"):
    """Overlaid normalised histograms of one array per layer (Glorot & Bengio's figures), first layer darkest.

    ``values`` is a sequence of L arrays of any shapes (e.g. the activations or the gradients of layers 1..L),
    ``labels`` L legend entries (default "layer 1", ...). All layers share the same ``bins`` bins. With
    ``log10_abs`` the histograms are of log10 |v| over the non-zero entries, so that values spread over many
    orders of magnitude stay readable. Returns ``(densities, edges)`` of shapes (L, bins) and (bins + 1,).
    """
    import matplotlib

    arrays = [_validate.as_float_array(v, f"values[{i}]").ravel() for i, v in enumerate(values)]
    if not arrays:
        raise ValueError("values must hold at least one array (one per layer)")
    bins = _validate.as_int(bins, "bins")
    labels = [f"layer {i + 1}" for i in range(len(arrays))] if labels is None else [str(s) for s in labels]
    if len(labels) != len(arrays):
        raise ValueError(f"labels must have one entry per layer ({len(arrays)}), got {len(labels)}")
    if log10_abs:
        arrays = [np.log10(np.abs(v[v != 0])) for v in arrays]
    arrays = [v[np.isfinite(v)] for v in arrays]
    if not any(v.size for v in arrays):
        raise ValueError("values must hold at least one finite" + (" non-zero" if log10_abs else "") + " entry")
    both = np.concatenate(arrays)
    lo, hi = float(both.min()), float(both.max())
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    colors = matplotlib.colormaps[cmap](np.linspace(0.0, 0.85, len(arrays)))
    densities = np.zeros((len(arrays), bins))
    for i, (v, label) in enumerate(zip(arrays, labels)):
        if v.size:
            densities[i], _ = np.histogram(v, bins=edges, density=True)
        ax.stairs(densities[i], edges, color=colors[i], lw=1.5, label=label)
    ax.set(xlabel=f"log10 |{xlabel}|" if log10_abs else xlabel, ylabel="density", title=title or "per layer")
    return densities, edges


def learning_curves(ax, curves: dict, best_epoch: int | None = None, ylabel: str = "loss", title: str | None = None,
                    log: bool = False, styles: dict | None = None) -> None:
    """One line per entry ``{label: values}`` of ``curves`` against the epoch 1, 2, ..., len(values).

    ``best_epoch`` (1-based), if given, is marked by a dotted vertical line ("chosen epoch") and a dot on every
    curve long enough to have it. ``styles`` maps labels to extra keyword arguments of ``ax.plot``
    (e.g. ``{"validation": {"ls": "--"}}``); ``log`` puts the y axis on a log scale.
    """
    if not isinstance(curves, dict) or not curves:
        raise ValueError("curves must be a non-empty dict {label: values per epoch}")
    styles = styles or {}
    series = {str(k): _validate.as_vector(v, f"curves[{k!r}]") for k, v in curves.items()}
    if best_epoch is not None:
        best_epoch = _validate.as_int(best_epoch, "best_epoch")
        if best_epoch > max(len(v) for v in series.values()):
            raise ValueError(f"best_epoch must be an epoch of the curves (1 to {max(len(v) for v in series.values())}),"
                             f" got {best_epoch}")
    for label, v in series.items():
        line, = ax.plot(np.arange(1, len(v) + 1), v, label=label, **styles.get(label, {}))
        if best_epoch is not None and best_epoch <= len(v):
            ax.plot(best_epoch, v[best_epoch - 1], "o", color=line.get_color())
    if best_epoch is not None:
        ax.axvline(best_epoch, color="k", ls=":", lw=1, label=f"chosen epoch {best_epoch}")
    ax.set(xlabel="epoch", ylabel=ylabel, title=title or ylabel)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)


# --- lecture 07: convolutions --------------------------------------------------------------------------------


def receptive_field(ax_in, ax_out, n: int, k: int, stride: int = 1, padding: int = 0, out_pos=(0, 0)) -> int:
    """Where one output of a k x k convolution looks: the input grid and the output grid, side by side.

    ``ax_in`` shows the n x n input inside its frame of ``padding`` zeros (grey cells marked 0), the k x k window
    that produces output cell ``out_pos`` = (row, column) (orange) and the window of its right-hand neighbour
    (dashed: ``stride`` cells further). ``ax_out`` shows the n' x n' output, n' = (n + 2 padding - k) // stride
    + 1, with the same two cells. Input cells that no window covers (when the stride skips them) are hatched.
    Returns n'; raises ``ValueError`` when the kernel does not fit or ``out_pos`` is outside the output.
    """
    from matplotlib.patches import Rectangle

    n_out = convolution.conv_output_size(n, k, stride, padding)
    row, col = (int(v) for v in out_pos)
    if not (0 <= row < n_out and 0 <= col < n_out):
        raise ValueError(f"out_pos must be a cell of the {n_out} x {n_out} output, got {tuple(out_pos)}")
    covered = np.zeros(n + 2 * padding, dtype=bool)
    for i in range(n_out):
        covered[i * stride:i * stride + k] = True
    for i in range(-padding, n + padding):
        for j in range(-padding, n + padding):
            pad = not (0 <= i < n and 0 <= j < n)
            skipped = not (covered[i + padding] and covered[j + padding])
            ax_in.add_patch(Rectangle((j, i), 1, 1, facecolor="0.85" if pad else "white", edgecolor="0.6", lw=0.6,
                                      hatch="///" if skipped else None))
            if pad:
                ax_in.text(j + 0.5, i + 0.5, "0", ha="center", va="center", fontsize=7, color="0.45")
    ax_in.add_patch(Rectangle((-padding, -padding), n + 2 * padding, n + 2 * padding, fill=False, lw=0.8,
                              edgecolor="0.5"))
    ax_in.add_patch(Rectangle((0, 0), n, n, fill=False, lw=1.5, edgecolor="k", label=f"input {n} x {n}"))

    def window(i, j):
        return j * stride - padding, i * stride - padding

    ax_in.add_patch(Rectangle(window(row, col), k, k, facecolor="tab:orange", alpha=0.45, edgecolor="tab:red",
                              lw=2.5, label=f"window of output ({row}, {col})"))
    if col + 1 < n_out:
        ax_in.add_patch(Rectangle(window(row, col + 1), k, k, fill=False, edgecolor="tab:blue", lw=2, ls="--",
                                  label=f"window of output ({row}, {col + 1})"))
    ax_in.set(xlim=(-padding - 0.3, n + padding + 0.3), ylim=(n + padding + 0.3, -padding - 0.3), aspect="equal",
              xticks=[], yticks=[], xlabel="column", ylabel="row",
              title=f"input {n} x {n}, padding {padding}: kernel {k} x {k}, stride {stride}")
    ax_in.legend(loc="upper left", bbox_to_anchor=(0.0, -0.08), fontsize=7, ncol=1, frameon=False)
    for i in range(n_out):
        for j in range(n_out):
            ax_out.add_patch(Rectangle((j, i), 1, 1, facecolor="white", edgecolor="0.4", lw=0.8))
    ax_out.add_patch(Rectangle((col, row), 1, 1, facecolor="tab:orange", alpha=0.45, edgecolor="tab:red", lw=2.5))
    if col + 1 < n_out:
        ax_out.add_patch(Rectangle((col + 1, row), 1, 1, fill=False, edgecolor="tab:blue", lw=2, ls="--"))
    ax_out.set(xlim=(-0.3, n_out + 0.3), ylim=(n_out + 0.3, -0.3), aspect="equal", xticks=[], yticks=[],
               xlabel="column", ylabel="row",
               title=f"output {n_out} x {n_out} = ⌊({n} + 2·{padding} − {k}) / {stride}⌋ + 1")
    return n_out


def signed_images(axes, images, titles=None, cmap: str = "RdBu_r") -> None:
    """Show signed arrays ``images`` (n, h, w) (filters, feature maps), one per axes, each on a colour scale
    symmetric about 0 (white = 0, red > 0, blue < 0 with the default ``cmap``), without ticks."""
    images = _validate.as_float_array(images, "images", ndim=3)

    def show(ax, image):
        lim = float(np.abs(image).max()) or 1.0
        ax.imshow(image, cmap=cmap, vmin=-lim, vmax=lim)

    _each_image(axes, images, titles, show, fontsize=8)


# --- lecture 08: autoencoders --------------------------------------------------------------------------------


def latent_scatter(ax, Z, y, class_names=None, s: float = 6, alpha: float = 0.6, title: str | None = None) -> None:
    """Two-dimensional codes ``Z`` (n, 2) as points coloured by their class ``y`` (n,) in 0..K-1 (K <= 10,
    matplotlib's tab10 colours), one legend entry per class (``class_names``, default the class numbers)."""
    Z = _validate.as_matrix(Z, "Z", 2)
    y = _validate.as_class_labels(y, "y", len(Z))
    k = int(y.max()) + 1
    if k > 10:
        raise ValueError(f"at most 10 classes can be told apart by colour, got labels up to {k - 1}")
    names = [str(c) for c in range(k)] if class_names is None else [str(c) for c in class_names]
    if len(names) < k:
        raise ValueError(f"class_names must name every class 0..{k - 1}, got {len(names)} names")
    for c in range(k):
        ax.scatter(*Z[y == c].T, s=s, alpha=alpha, color=f"C{c}", label=names[c])
    ax.set(xlabel="code $h_1$", ylabel="code $h_2$", title=title or "2-D codes, coloured by class")
    ax.legend(fontsize=7, markerscale=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def denoising_grid(axes, clean, noisy, reconstructed, shape=(28, 28),
                   row_titles=("noisy input", "reconstruction", "clean")) -> tuple[float, float]:
    """Three rows of images, one column per example: the ``noisy`` inputs, the autoencoder's ``reconstructed``
    outputs and the ``clean`` originals (each (m, h*w) or (m, h, w)), in ``axes`` of shape (3, >= m).

    Pixels are shown clipped to [0, 1] on one fixed grey scale (white 0, black 1), so the rows compare; every
    column's squared error against the clean image is written above the noisy and the reconstructed image.
    Returns the mean squared errors ``(noisy vs clean, reconstruction vs clean)`` over all pixels shown.
    """
    arrays = [_validate.as_float_array(a, name) for a, name in
              ((noisy, "noisy"), (reconstructed, "reconstructed"), (clean, "clean"))]
    m = len(arrays[2])
    arrays = [a.reshape(len(a), *shape) for a in arrays]
    if any(len(a) != m for a in arrays):
        raise ValueError(f"noisy, reconstructed and clean must hold the same number of images, got "
                         f"{[len(a) for a in arrays]}")
    axes = np.asarray(axes)
    if axes.ndim != 2 or axes.shape[0] != 3 or axes.shape[1] < m:
        raise ValueError(f"axes must be a (3, >= {m}) grid, got shape {axes.shape}")
    errors = [np.mean((a - arrays[2]) ** 2, axis=(1, 2)) for a in arrays[:2]]
    for row, images in enumerate(arrays):
        for col, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            if col >= m:
                ax.axis("off")
                continue
            ax.imshow(np.clip(images[col], 0.0, 1.0), cmap="gray_r", vmin=0.0, vmax=1.0)
            if row < 2:
                ax.set_title(f"mse {errors[row][col]:.3f}", fontsize=8)
        axes[row, 0].set_ylabel(row_titles[row], fontsize=9)
    return float(np.mean(errors[0])), float(np.mean(errors[1]))


# --- lecture 09: generative adversarial networks ----------------------------------------------------------------


def tile_images(images, ncols: int = 8, gap: int = 1, fill: float = np.nan) -> np.ndarray:
    """Images (n, h, w) or (n, 1, h, w) tiled row by row into one array (rows (h + gap), columns (w + gap), less
    the last gap), ``ncols`` per row; gaps and the spare cells of the last row hold ``fill``."""
    images = _validate.as_float_array(images, "images")
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"images must have shape (n, h, w) or (n, 1, h, w) with n >= 1, got {images.shape}")
    ncols = min(_validate.as_int(ncols, "ncols"), len(images))
    gap = _validate.as_int(gap, "gap", minimum=0)
    n, h, w = images.shape
    nrows = -(-n // ncols)
    out = np.full((nrows * (h + gap) - gap, ncols * (w + gap) - gap), fill)
    for k, image in enumerate(images):
        r, c = divmod(k, ncols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = image
    return out


def sample_grid(ax, images, ncols: int = 8, value_range=(-1.0, 1.0), title: str | None = None) -> None:
    """Generated images (n, h, w) or (n, 1, h, w) as one tiled grid (:func:`tile_images`), ``ncols`` per row, on
    the fixed grey scale ``value_range`` (white = low, black = high, as the other image plots), without ticks."""
    import matplotlib

    lo, hi = (float(v) for v in value_range)
    if not lo < hi:
        raise ValueError(f"value_range must be (low, high) with low < high, got {tuple(value_range)}")
    cmap = matplotlib.colormaps["gray_r"].with_extremes(bad="white")
    ax.imshow(tile_images(images, ncols), cmap=cmap, vmin=lo, vmax=hi)
    ax.set(xticks=[], yticks=[], title=title or f"{len(images)} samples")


def ring_samples(ax, samples, centres, std: float, lim: float | None = None, title: str | None = None,
                 max_points: int = 2000) -> gans.ModeCoverage:
    """2-D ``samples`` (n, 2) over a mixture of isotropic Gaussians (``centres`` (K, 2), standard deviation
    ``std``): each mode's 3σ disc (where a sample counts as high quality) in grey, the centres as black crosses
    and (at most ``max_points`` of) the samples as blue dots; the title gives :func:`dlcourse.gans.mode_coverage`.
    Samples outside the square [-lim, lim]^2 (default: 1.5 times the largest |centre coordinate|) are not shown.
    Returns the coverage."""
    from matplotlib.patches import Circle

    samples = _validate.as_matrix(samples, "samples", 2)
    centres = _validate.as_matrix(centres, "centres", 2)
    score = gans.mode_coverage(samples, centres, std)
    lim = 1.5 * float(np.abs(centres).max()) if lim is None else _validate.as_positive_float(lim, "lim")
    for k, c in enumerate(centres):
        ax.add_patch(Circle(c, 3 * std, facecolor="0.8", edgecolor="0.5", lw=0.6, zorder=1,
                            label="3σ around a mode" if k == 0 else None))
    shown = samples[:max_points]
    ax.scatter(shown[:, 0], shown[:, 1], s=3, alpha=0.5, color="tab:blue", zorder=2, label="generated")
    ax.scatter(centres[:, 0], centres[:, 1], marker="x", s=25, color="k", zorder=3, label="mode centre")
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="$x_1$", ylabel="$x_2$",
           title=title or f"{score.covered}/{len(centres)} modes, {score.high_quality:.0%} within 3σ")
    ax.set_aspect("equal")
    return score


def ring_snapshots(axes, snapshots: dict, centres, std: float, lim: float | None = None) -> list[gans.ModeCoverage]:
    """One :func:`ring_samples` panel per entry ``{step: samples (n, 2)}`` of ``snapshots`` (in step order), each
    titled with its step and score; spare axes are left blank. Returns the coverage at each step."""
    if not isinstance(snapshots, dict) or not snapshots:
        raise ValueError("snapshots must be a non-empty dict {step: samples (n, 2)}")
    axes = np.ravel(axes)
    if len(snapshots) > len(axes):
        raise ValueError(f"{len(snapshots)} snapshots but only {len(axes)} axes")
    scores = []
    for ax, step in zip(axes, sorted(snapshots)):
        score = gans.mode_coverage(snapshots[step], centres, std)
        ring_samples(ax, snapshots[step], centres, std, lim=lim,
                     title=f"step {step}: {score.covered}/{len(score.counts)} modes, {score.high_quality:.0%} in 3σ")
        ax.set(xlabel="", ylabel="")
        scores.append(score)
    for ax in axes[len(snapshots):]:
        ax.axis("off")
    return scores


def discriminator_1d(ax, x, p_data, p_g, d_star=None, d_trained=None, title: str | None = None):
    """The 1-D picture of the optimal discriminator: the densities ``p_data`` and ``p_g`` on the grid ``x`` (m,)
    (filled, left axis) and, on a second y axis from 0 to 1 (returned), D*(x) (``d_star``, default
    :func:`dlcourse.gans.optimal_discriminator` of the two) and a trained discriminator's D(x) (``d_trained``,
    dashed) with the level 1/2 dotted: where D* crosses it the two densities are equal."""
    x = _validate.as_vector(x, "x")
    p_data, p_g = _validate.as_vector(p_data, "p_data", len(x)), _validate.as_vector(p_g, "p_g", len(x))
    d_star = gans.optimal_discriminator(p_data, p_g) if d_star is None else _validate.as_vector(d_star, "d_star",
                                                                                                len(x))
    ax.fill_between(x, p_data, color="tab:blue", alpha=0.3, label="$p_{data}$")
    ax.fill_between(x, p_g, color="tab:orange", alpha=0.3, label="$p_g$ (generator)")
    ax.set(xlabel="x", ylabel="density", xlim=(x.min(), x.max()), ylim=(0, 1.15 * max(p_data.max(), p_g.max())),
           title=title or "the optimal discriminator D* = p_data / (p_data + p_g)")
    bx = ax.twinx()
    bx.plot(x, d_star, color="k", lw=2, label="D*(x)")
    if d_trained is not None:
        bx.plot(x, _validate.as_vector(d_trained, "d_trained", len(x)), color="tab:red", ls="--", lw=1.5,
                label="trained D(x)")
    bx.axhline(0.5, color="0.5", ls=":", lw=1)
    bx.set(ylim=(0, 1.05), ylabel="D(x): probability that x is real")
    handles = [h for a in (ax, bx) for h in a.get_legend_handles_labels()[0]]
    ax.legend(handles, [h.get_label() for h in handles], fontsize=8, loc="upper left")
    return bx


def energy_landscape(ax, discriminator, data, fakes, lim: float = 3.0, n: int = 101, arrows: int = 40,
                     title: str | None = None):
    """The discriminator as an energy E(x) = -logit(x) over the square [-lim, lim]^2 (filled contours, low =
    dark: what it takes for data), the ``data`` (n, 2) as black dots, the generator's samples ``fakes`` (m, 2) as
    orange dots, and at ``arrows`` of them an arrow along -(1 - D) dE/dx, the way the non-saturating generator
    loss moves them (:func:`dlcourse.gans.energy`; arrows scaled together, only their directions and relative
    lengths mean something). Returns the contour set (for a colorbar)."""
    data = _validate.as_matrix(data, "data", 2)
    fakes = _validate.as_matrix(fakes, "fakes", 2)
    xx, yy, pts = grid(lim, n)
    e, _ = gans.energy(discriminator, pts.astype(np.float32))
    e = e.reshape(xx.shape)
    lo, hi = np.percentile(e, [1, 99])
    filled = ax.contourf(xx, yy, np.clip(e, lo, hi), levels=20, cmap="viridis")
    ax.scatter(data[:, 0], data[:, 1], s=2, color="k", alpha=0.4, label="data")
    ax.scatter(fakes[:, 0], fakes[:, 1], s=4, color="tab:orange", alpha=0.7, label="generated")
    if arrows:
        shown = fakes[:_validate.as_int(arrows, "arrows")]
        e_f, grad = gans.energy(discriminator, shown.astype(np.float32))
        push = -(1.0 - _numerics.sigmoid(-e_f))[:, None] * grad
        ax.quiver(shown[:, 0], shown[:, 1], push[:, 0], push[:, 1], color="white", angles="xy", width=0.004,
                  label="generator's step")
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="$x_1$", ylabel="$x_2$",
           title=title or "energy E(x) = −logit D(x): low on data")
    ax.set_aspect("equal")
    return filled
