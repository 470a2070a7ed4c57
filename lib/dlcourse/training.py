"""Training numpy networks built from :mod:`dlcourse.layers`: the one builder and the one training loop.

    net = training.build_mlp([64, 128, 10], activation="relu", p_drop=0.0, seed=0)
    history = training.fit(net, optim.Adam(1e-3), X, y, epochs=20, val=(X_val, y_val), title="MLP")

``build_mlp`` makes every fully connected network of the lectures (one hidden layer or ten, ReLU, tanh or
sigmoid, with or without dropout). ``fit`` is the loop every numpy experiment uses: each epoch shuffles the
rows (one Generator from ``seed`` for the run), takes one optimiser step per mini-batch, then records the loss
and error on the training and validation sets with dropout off, and the norm of the weights. It keeps a copy
of the parameters of the epoch with the lowest validation loss (early stopping). ``batch_size=None`` is
full-batch gradient descent (one step per epoch, no shuffling): what the small 2-D problems use. Two hooks
let an experiment watch more without a second loop: ``metrics`` adds per-epoch numbers to the history, and
``on_step`` sees every mini-batch (its loss and the network's fresh gradients) and may change the learning
rate or stop the run.

The diagnostics of "when training fails" are built on them: :func:`lr_range_test` (the loss while the
learning rate grows geometrically, step by step), :func:`suggest_lr` (a rate well below where that loss
blows up) and :func:`layer_grad_norms` (the size of every layer's weight gradient, to watch during training).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np

from . import _numerics, _reference, _validate, layers, optim, progress

_reference.reference_module(__name__)

HISTORY_KEYS = ("train loss", "train error", "val loss", "val error", "weight norm")

ACTIVATIONS = {"relu": (layers.ReLU, "he"), "tanh": (layers.Tanh, "glorot"), "sigmoid": (layers.Sigmoid, "glorot")}
"""activation name -> (layer class, its default initialisation: He for ReLU, Glorot for tanh and sigmoid)."""


def build_mlp(widths, activation: str = "relu", init: str | None = None, p_drop: float = 0.0,
              seed=0) -> layers.Sequential:
    """Linear(widths[0], widths[1]), act, [Dropout(p_drop)], ..., Linear(widths[-2], widths[-1]) -> logits.

    ``widths`` lists the input size, the hidden widths and the number of outputs (at least two numbers; two
    is a linear model). ``activation`` is ``"relu"``, ``"tanh"`` or ``"sigmoid"``. ``init`` is a scheme of
    :func:`dlcourse.layers.init_weights` for every Linear layer; by default (None) each hidden layer gets its
    activation's (He for ReLU, Glorot otherwise) and the output layer, which no activation follows, Glorot.
    Weights are drawn layer by layer from ``seed`` (an integer or a Generator); biases start at 0; dropout
    masks come from the same Generator.
    """
    widths = [_validate.as_int(w, "widths") for w in widths]
    if len(widths) < 2:
        raise ValueError(f"widths must list at least the input size and the output size, got {widths}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(map(repr, ACTIVATIONS))}; got {activation!r}")
    act, hidden_init = ACTIVATIONS[activation]
    hidden_init, output_init = (hidden_init, "glorot") if init is None else (init, init)
    rng = _validate.as_rng(seed, "seed")
    stack = []
    for d_in, d_out in zip(widths[:-2], widths[1:-1]):
        stack += [layers.Linear(d_in, d_out, rng, init=hidden_init), act()]
        if p_drop:
            stack.append(layers.Dropout(p_drop, rng))
    stack.append(layers.Linear(widths[-2], widths[-1], rng, init=output_init))
    return layers.Sequential(*stack)


def n_parameters(net: layers.Sequential) -> int:
    """The number of trainable numbers (weights and biases) of a network."""
    return int(sum(p.size for p in net.params().values()))


def hidden_widths(net: layers.Sequential) -> list[int]:
    """The widths of the hidden layers (the outputs of every Linear layer but the last)."""
    return [layer.params["W"].shape[1] for layer in net.layers if isinstance(layer, layers.Linear)][:-1]


def weight_norm(net: layers.Sequential) -> float:
    """sqrt of the sum of squares of every weight matrix (biases excluded)."""
    return float(np.sqrt(sum(np.sum(p**2) for k, p in net.params().items() if k.endswith("W"))))


def _eval_logits(net: layers.Sequential, X) -> np.ndarray:
    """The output of ``net`` on ``X`` (n, d) with dropout off; the previous modes are restored."""
    modes = [layer.training for layer in net.layers]
    net.eval()
    try:
        return net.forward(_validate.as_matrix(X, "X"))
    finally:
        for layer, mode in zip(net.layers, modes):
            layer.training = mode


def predict_proba(net: layers.Sequential, X) -> np.ndarray:
    """Class probabilities softmax(logits) of shape (n, K) for ``X`` (n, d), with dropout off."""
    return _numerics.softmax(_eval_logits(net, X), axis=1)


def evaluate(net: layers.Sequential, X, y) -> tuple[float, float]:
    """(mean cross-entropy, error rate) of ``net`` on ``X`` (n, d), ``y`` (n,), with dropout off."""
    logits = _eval_logits(net, X)
    loss = layers.SoftmaxCrossEntropy().forward(logits, y)
    return float(loss), float(np.mean(logits.argmax(axis=1) != np.asarray(y)))


def accuracy(net: layers.Sequential, X, y) -> float:
    """The fraction of the rows of ``X`` (n, d) whose most probable class is the label in ``y`` (n,)."""
    return 1.0 - evaluate(net, X, y)[1]


def fit(net: layers.Sequential, opt, X, y, epochs: int, batch_size: int | None = 32, seed=0, val=None,
        schedule: Callable[[int], float] | None = None, title: str | None = None,
        on_epoch: Callable[[int, dict], None] | None = None,
        metrics: dict[str, Callable[[layers.Sequential], float]] | None = None,
        on_step: Callable[[int, float, layers.Sequential], bool | None] | None = None) -> dict:
    """Mini-batch training on the mean softmax cross-entropy; returns the history.

    ``opt`` is an optimiser of :mod:`dlcourse.optim`; ``batch_size=None`` means full batch; ``seed`` (an
    integer or a Generator) draws the order of the rows in every epoch; ``schedule(epoch)``, if given, sets
    ``opt.lr`` before each epoch; ``val = (X_val, y_val)`` adds validation curves; ``title`` shows a
    :class:`progress.LiveLoss` display; ``on_epoch(epoch, history)`` is called after each epoch (1, 2, ...).
    The history maps each of :data:`HISTORY_KEYS` to one value per epoch, plus ``"best epoch"`` (1-based) and
    ``"best params"`` (a copy of the parameters at the lowest validation loss; None without ``val``).

    ``metrics = {name: f}`` adds ``history[name]``, the float ``f(net)`` after each epoch (e.g.
    ``lambda net: accuracy(net, X_sub, y_sub)``). ``on_step(step, loss, net)`` is called after every backward
    pass, before the optimiser step: ``step`` counts the mini-batches of the whole run (1, 2, ...), ``loss`` is
    the mini-batch loss and ``net.grads()`` hold its gradient. It may set ``opt.lr`` for this step; if it
    returns True, the run stops there (no update, and the unfinished epoch is not recorded).
    """
    X = _validate.as_matrix(X, "X")
    y = np.asarray(y)
    n = len(X)
    epochs = _validate.as_int(epochs, "epochs", minimum=0)
    batch_size = n if batch_size is None else _validate.as_int(batch_size, "batch_size")
    rng = _validate.as_rng(seed, "seed")
    metrics = _check_metrics(metrics)
    ce = layers.SoftmaxCrossEntropy()
    hist = {k: [] for k in (*HISTORY_KEYS, *metrics)}
    best = (np.inf, 0, None)
    step, stopped = 0, False
    live_display = progress.LiveLoss(total=max(epochs, 1), title=title) if title else contextlib.nullcontext()
    with live_display as live:
        for epoch in range(epochs):
            if schedule is not None:
                opt.lr = schedule(epoch)
            order = rng.permutation(n) if batch_size < n else np.arange(n)
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                loss = ce.forward(net.forward(X[idx]), y[idx])
                net.backward(ce.backward())
                step += 1
                if on_step is not None and on_step(step, float(loss), net):
                    stopped = True
                    break
                opt.step(net.params(), net.grads())
            if stopped:
                break
            for key, value in zip(("train loss", "train error"), evaluate(net, X, y)):
                hist[key].append(value)
            hist["weight norm"].append(weight_norm(net))
            if val is not None:
                for key, value in zip(("val loss", "val error"), evaluate(net, *val)):
                    hist[key].append(value)
                if hist["val loss"][-1] < best[0]:
                    best = (hist["val loss"][-1], epoch + 1, {k: p.copy() for k, p in net.params().items()})
            for name, f in metrics.items():
                hist[name].append(float(f(net)))
            if live:
                live.update(train_loss=hist["train loss"][-1],
                            **({"val_loss": hist["val loss"][-1]} if val is not None else {}))
            if on_epoch is not None:
                on_epoch(epoch + 1, hist)
    hist["best epoch"], hist["best params"] = best[1], best[2]
    return hist


def _check_metrics(metrics) -> dict:
    """``metrics`` of :func:`fit` as a dict {name: callable}, its names distinct from the history's own keys."""
    if metrics is None:
        return {}
    if not isinstance(metrics, dict) or not all(callable(f) for f in metrics.values()):
        raise ValueError("metrics must be a dict {name: f} of functions f(net) -> float")
    taken = set(metrics) & {*HISTORY_KEYS, "best epoch", "best params"}
    if taken:
        raise ValueError(f"metrics must not reuse the history's own keys, got {sorted(taken)}")
    return dict(metrics)


# --- when training fails: diagnostics ---------------------------------------------------------------------


def layer_grad_norms(net: layers.Sequential) -> np.ndarray:
    """The Frobenius norm of dL/dW of every Linear layer (L,), input side first, from the last backward pass.

    Called from ``fit(..., on_step=...)`` it watches the gradients during training: norms that shrink layer by
    layer towards the input mean vanishing gradients; norms that grow step after step, a learning rate too large.
    """
    return np.array([np.linalg.norm(layer.grads["W"]) for layer in net.layers if isinstance(layer, layers.Linear)])


def lr_range_test(net_factory: Callable[[], layers.Sequential], X, y, lr_min: float = 1e-4, lr_max: float = 10.0,
                  n_steps: int = 100, batch_size: int = 32, optimizer: Callable[[float], object] = optim.SGD,
                  seed=0, stop_factor: float = 4.0, smoothing: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """The learning-rate range test: one short run of :func:`fit` whose learning rate grows at every step.

    A fresh network ``net_factory()`` takes up to ``n_steps`` mini-batch steps (``batch_size`` rows of ``X``
    (n, d), ``y`` (n,), order drawn from ``seed``) with ``optimizer(lr)``, lr rising geometrically from
    ``lr_min`` to ``lr_max``. Returns ``lrs`` (m,) and ``losses`` (m,), the rate of each step and the loss
    of its mini-batch before the update. The run stops early (m < n_steps) once the loss, smoothed by
    :func:`smooth_losses` (``smoothing``) to see through the mini-batch noise, exceeds ``stop_factor`` times
    its lowest value so far, or a loss is not finite: it has blown up. See :func:`suggest_lr`.
    """
    lr_min, lr_max = _validate.as_positive_float(lr_min, "lr_min"), _validate.as_positive_float(lr_max, "lr_max")
    if not lr_min < lr_max:
        raise ValueError(f"lr_min must be below lr_max, got {lr_min} and {lr_max}")
    n_steps = _validate.as_int(n_steps, "n_steps", minimum=2)
    batch_size = _validate.as_int(batch_size, "batch_size")
    stop_factor = _validate.as_positive_float(stop_factor, "stop_factor")
    smooth_losses([1.0], smoothing)  # checks smoothing before the run
    schedule = lr_min * (lr_max / lr_min) ** np.linspace(0.0, 1.0, n_steps)
    opt = optimizer(lr_min)
    lrs, losses = [], []

    def watch(step: int, loss: float, net) -> bool:
        opt.lr = float(schedule[step - 1])
        lrs.append(opt.lr)
        losses.append(loss)
        if step == n_steps or not np.isfinite(loss):
            return True
        smoothed = smooth_losses(losses, smoothing)
        return bool(smoothed[-1] > stop_factor * smoothed.min())

    X = _validate.as_matrix(X, "X")
    steps_per_epoch = -(-len(X) // batch_size)
    fit(net_factory(), opt, X, y, epochs=-(-n_steps // steps_per_epoch), batch_size=batch_size, seed=seed,
        on_step=watch)
    return np.array(lrs), np.array(losses)


def smooth_losses(losses, smoothing: float = 0.8) -> np.ndarray:
    """Exponential moving average of ``losses`` (m,) with bias correction (as Adam's):
    s_t = smoothing s_(t-1) + (1 - smoothing) loss_t, returned as s_t / (1 - smoothing^t), shape (m,)."""
    losses = _validate.as_vector(losses, "losses")
    smoothing = _validate.as_scalar(smoothing, "smoothing")
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must satisfy 0 <= smoothing < 1, got {smoothing}")
    out, s = np.empty_like(losses), 0.0
    for t, value in enumerate(losses, start=1):
        s = smoothing * s + (1.0 - smoothing) * value
        out[t - 1] = s / (1.0 - smoothing**t)
    return out


def suggest_lr(lrs, losses, smoothing: float = 0.8, factor: float = 10.0) -> tuple[float, float]:
    """From an :func:`lr_range_test`: ``(edge, pick)``. ``edge`` is the rate at which the smoothed loss
    (:func:`smooth_losses`) is lowest, beyond which it rises and blows up; ``pick = edge / factor`` is the
    rule of thumb's choice, well inside the stable range. ``lrs`` and ``losses`` are (m,) arrays."""
    lrs = _validate.as_vector(lrs, "lrs")
    losses = _validate.as_vector(losses, "losses", len(lrs))
    factor = _validate.as_positive_float(factor, "factor")
    finite = np.isfinite(losses)
    if not finite.any():
        raise ValueError("losses must hold at least one finite value")
    smoothed = smooth_losses(losses[finite], smoothing)
    edge = float(lrs[finite][np.argmin(smoothed)])
    return edge, edge / factor


def backprop_per_layer(net: layers.Sequential, X, y) -> dict:
    """One forward and backward pass on a batch; what every hidden layer saw.

    Returns ``loss`` and, per hidden layer l, ``h`` (its activations, the input of the next Linear), ``dA``
    (dL/d(its pre-activation output), as returned by the activation's backward) and ``dW`` (the gradient of
    every Linear's weights, the output layer's last).
    """
    ce = layers.SoftmaxCrossEntropy()
    loss = ce.forward(net.forward(_validate.as_matrix(X, "X")), y)
    dout, grads_a = ce.backward(), []
    for layer in reversed(net.layers):
        dout = layer.backward(dout)
        if isinstance(layer, (layers.Sigmoid, layers.Tanh, layers.ReLU)):
            grads_a.insert(0, dout)
    linears = [layer for layer in net.layers if isinstance(layer, layers.Linear)]
    return dict(loss=float(loss), h=[layer.cache for layer in linears[1:]], dA=grads_a,
                dW=[layer.grads["W"] for layer in linears])
