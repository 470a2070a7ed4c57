"""Training numpy networks built from :mod:`dlcourse.layers`: the one builder and the one training loop.

    net = training.build_mlp([64, 128, 10], activation="relu", p_drop=0.0, seed=0)
    history = training.fit(net, optim.Adam(1e-3), X, y, epochs=20, val=(X_val, y_val), title="MLP")

``build_mlp`` makes every fully connected network of the lectures (one hidden layer or ten, ReLU, tanh or
sigmoid, with or without dropout). ``fit`` is the loop every numpy experiment uses: each epoch shuffles the
rows (one Generator from ``seed`` for the run), takes one optimiser step per mini-batch, then records the loss
and error on the training and validation sets with dropout off, and the norm of the weights. It keeps a copy
of the parameters of the epoch with the lowest validation loss (early stopping). ``batch_size=None`` is
full-batch gradient descent (one step per epoch, no shuffling): what the small 2-D problems use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np

from . import _numerics, _reference, _validate, layers, progress

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
        on_epoch: Callable[[int, dict], None] | None = None) -> dict:
    """Mini-batch training on the mean softmax cross-entropy; returns the history.

    ``opt`` is an optimiser of :mod:`dlcourse.optim`; ``batch_size=None`` means full batch; ``seed`` (an
    integer or a Generator) draws the order of the rows in every epoch; ``schedule(epoch)``, if given, sets
    ``opt.lr`` before each epoch; ``val = (X_val, y_val)`` adds validation curves; ``title`` shows a
    :class:`progress.LiveLoss` display; ``on_epoch(epoch, history)`` is called after each epoch (1, 2, ...).
    The history maps each of :data:`HISTORY_KEYS` to one value per epoch, plus ``"best epoch"`` (1-based) and
    ``"best params"`` (a copy of the parameters at the lowest validation loss; None without ``val``).
    """
    X = _validate.as_matrix(X, "X")
    y = np.asarray(y)
    n = len(X)
    epochs = _validate.as_int(epochs, "epochs", minimum=0)
    batch_size = n if batch_size is None else _validate.as_int(batch_size, "batch_size")
    rng = _validate.as_rng(seed, "seed")
    ce = layers.SoftmaxCrossEntropy()
    hist = {k: [] for k in HISTORY_KEYS}
    best = (np.inf, 0, None)
    live_display = progress.LiveLoss(total=max(epochs, 1), title=title) if title else contextlib.nullcontext()
    with live_display as live:
        for epoch in range(epochs):
            if schedule is not None:
                opt.lr = schedule(epoch)
            order = rng.permutation(n) if batch_size < n else np.arange(n)
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                ce.forward(net.forward(X[idx]), y[idx])
                net.backward(ce.backward())
                opt.step(net.params(), net.grads())
            for key, value in zip(("train loss", "train error"), evaluate(net, X, y)):
                hist[key].append(value)
            hist["weight norm"].append(weight_norm(net))
            if val is not None:
                for key, value in zip(("val loss", "val error"), evaluate(net, *val)):
                    hist[key].append(value)
                if hist["val loss"][-1] < best[0]:
                    best = (hist["val loss"][-1], epoch + 1, {k: p.copy() for k, p in net.params().items()})
            if live:
                live.update(train_loss=hist["train loss"][-1],
                            **({"val_loss": hist["val loss"][-1]} if val is not None else {}))
            if on_epoch is not None:
                on_epoch(epoch + 1, hist)
    hist["best epoch"], hist["best params"] = best[1], best[2]
    return hist


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
