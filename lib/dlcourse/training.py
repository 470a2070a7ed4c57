"""Training numpy networks built from :mod:`dlcourse.layers`: build, evaluate, fit (lecture 06).

    net = training.build_mlp([64, 128, 10], act=layers.ReLU, init="he", p_drop=0.0, seed=0)
    history = training.fit(net, optim.Adam(1e-3), X, y, epochs=20, val=(X_val, y_val), title="MLP")

``fit`` is the loop every experiment of lecture 06 uses: each epoch shuffles the rows (one Generator from
``seed`` for the run), takes one optimiser step per mini-batch, then records the loss and error on the training
and validation sets with dropout off, and the norm of the weights. It keeps a copy of the parameters of the
epoch with the lowest validation loss (early stopping).
"""

from __future__ import annotations

import contextlib

import numpy as np

from . import _checks, layers, progress

HISTORY_KEYS = ("train loss", "train error", "val loss", "val error", "weight norm")


def build_mlp(widths, act=layers.ReLU, init: str = "he", p_drop: float = 0.0, seed=0) -> layers.Sequential:
    """Linear(widths[0], widths[1]), act, [Dropout(p_drop)], ..., Linear(widths[-2], widths[-1]) -> logits.

    ``widths`` lists the input size, the hidden widths and the number of classes (at least two numbers).
    """
    widths = [_checks.as_int(w, "widths") for w in widths]
    if len(widths) < 2:
        raise ValueError(f"widths must list at least the input size and the output size, got {widths}")
    rng = np.random.default_rng(seed)
    stack = []
    for d_in, d_out in zip(widths[:-2], widths[1:-1]):
        stack += [layers.Linear(d_in, d_out, rng, init=init), act()]
        if p_drop:
            stack.append(layers.Dropout(p_drop, rng))
    stack.append(layers.Linear(widths[-2], widths[-1], rng, init=init))
    return layers.Sequential(*stack)


def evaluate(net: layers.Sequential, X, y) -> tuple[float, float]:
    """(mean cross-entropy, error rate) of ``net`` on ``X`` (n, d), ``y`` (n,), with dropout off."""
    net.eval()
    try:
        logits = net.forward(_checks.as_matrix(X, "X"))
    finally:
        net.train()
    loss = layers.SoftmaxCrossEntropy().forward(logits, y)
    return float(loss), float(np.mean(logits.argmax(axis=1) != np.asarray(y)))


def weight_norm(net: layers.Sequential) -> float:
    """sqrt of the sum of squares of every weight matrix (biases excluded)."""
    return float(np.sqrt(sum(np.sum(p**2) for k, p in net.params().items() if k.endswith("W"))))


def fit(net: layers.Sequential, opt, X, y, epochs: int, batch_size: int = 32, seed: int = 0, val=None,
        schedule=None, title: str | None = None) -> dict:
    """Mini-batch training on the mean softmax cross-entropy; returns the history.

    ``opt`` is an optimiser of :mod:`dlcourse.optim`; ``schedule(epoch)``, if given, sets ``opt.lr`` before each
    epoch; ``val = (X_val, y_val)`` adds validation curves; ``title`` shows a :class:`progress.LiveLoss` display.
    The history maps each of :data:`HISTORY_KEYS` to one value per epoch, plus ``"best epoch"`` (1-based) and
    ``"best params"`` (a copy of the parameters at the lowest validation loss; None without ``val``).
    """
    X = _checks.as_matrix(X, "X")
    y = np.asarray(y)
    epochs = _checks.as_int(epochs, "epochs", minimum=0)
    batch_size = _checks.as_int(batch_size, "batch_size")
    rng = np.random.default_rng(seed)
    ce = layers.SoftmaxCrossEntropy()
    hist = {k: [] for k in HISTORY_KEYS}
    best = (np.inf, 0, None)
    live_display = progress.LiveLoss(total=max(epochs, 1), title=title) if title else contextlib.nullcontext()
    with live_display as live:
        for epoch in range(epochs):
            if schedule is not None:
                opt.lr = schedule(epoch)
            order = rng.permutation(len(y))
            for start in range(0, len(y), batch_size):
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
    hist["best epoch"], hist["best params"] = best[1], best[2]
    return hist


def backprop_per_layer(net: layers.Sequential, X, y) -> dict:
    """One forward and backward pass on a batch; what every hidden layer saw.

    Returns ``loss`` and, per hidden layer l, ``h`` (its activations, the input of the next Linear), ``dA``
    (dL/d(its pre-activation output), as returned by the activation's backward) and ``dW`` (the gradient of
    every Linear's weights, the output layer's last).
    """
    ce = layers.SoftmaxCrossEntropy()
    loss = ce.forward(net.forward(_checks.as_matrix(X, "X")), y)
    dout, grads_a = ce.backward(), []
    for layer in reversed(net.layers):
        dout = layer.backward(dout)
        if isinstance(layer, (layers.Sigmoid, layers.Tanh, layers.ReLU)):
            grads_a.insert(0, dout)
    linears = [layer for layer in net.layers if isinstance(layer, layers.Linear)]
    return dict(loss=float(loss), h=[layer.cache for layer in linears[1:]], dA=grads_a,
                dW=[layer.grads["W"] for layer in linears])
