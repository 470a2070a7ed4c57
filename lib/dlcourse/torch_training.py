"""The one torch training loop of the course (lectures 07-09), and what is measured around it.

    history = torch_training.fit(model, X_train, y_train, epochs=5, val=(X_val, y_val), title="LeNet")
    history = torch_training.fit(autoencoder, X_train, epochs=10, val=X_val, loss="mse", title="AE")  # y=None

``fit`` moves the model and the data to ``device`` (``runtime.device()`` unless given), then for each epoch
shuffles the rows with a ``torch.Generator`` seeded from ``seed``, takes one optimiser step per mini-batch and
evaluates the validation set in evaluation mode (batch norm on its running statistics, dropout off). Dropout,
the ``corrupt`` noise and anything else drawn from torch's global generator during the run are seeded from
``seed`` too, inside a fork of that generator, so the caller's random state is left as it was: on the CPU two
runs from the same initial model and seed give identical histories.

**The loss.** With integer labels ``y`` the model outputs class scores (logits, (N, K)) and the default loss is
the mean softmax cross-entropy; accuracies are recorded. With ``y=None`` the target is the input itself (an
autoencoder) and the default loss is the mean squared error; ``corrupt(x)``, if given, is applied to each
input batch, never to its target (a denoising autoencoder). ``loss`` may also be ``"cross_entropy"``,
``"mse"``, ``"bce"`` (binary cross-entropy of outputs in [0, 1]), ``"bce_logits"``, or any function
``loss(output, target) -> scalar tensor`` (the output may be whatever the model returns, e.g. a tuple).

**The history** is a dict of lists, one entry per epoch: ``"train loss"`` (the mean of the epoch's mini-batch
losses, in training mode, so it lags the end-of-epoch model a little), ``"val loss"``, ``"train accuracy"`` and
``"val accuracy"`` (classification only; the training one also over the epoch's mini-batches) and
``"seconds"`` (wall time of the epoch, validation included), plus ``"device"`` (a string).

Around it: :func:`outputs`, :func:`predict`, :func:`accuracy`, :func:`confusion_matrix` (batched, evaluation
mode, numpy in and out), :func:`n_parameters`, and :func:`grad_norms` (the norm of every weight's gradient
on one batch, at the current parameters: how well the gradient reaches each layer).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import numpy as np

from . import _reference, _validate, progress, runtime

_reference.reference_module(__name__)  # a graded training function may not call this loop

OPTIMIZERS = ("adam", "sgd", "adamw")
LOSSES = ("cross_entropy", "mse", "bce", "bce_logits")
EVAL_BATCH = 1000


def _device(device):
    import torch

    return runtime.device() if device is None else torch.device(device)


def _as_tensor(a, dtype, device, name: str):
    """``a`` (numpy array, list or tensor) as a tensor of ``dtype`` on ``device`` (no copy when it already is)."""
    import torch

    if isinstance(a, torch.Tensor):
        t = a.detach()
    else:
        arr = np.asarray(a)
        if arr.dtype == object:
            raise ValueError(f"{name} must be a numeric array or tensor")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    return t.to(device=device, dtype=dtype)


def _inputs(X, device, name: str = "X"):
    import torch

    X = _as_tensor(X, torch.float32, device, name)
    if X.ndim < 2 or len(X) == 0:
        raise ValueError(f"{name} must hold at least one example along its first axis, got shape {tuple(X.shape)}")
    return X


def _labels(y, n: int, device, name: str = "y"):
    import torch

    arr = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if arr.shape != (n,):
        raise ValueError(f"{name} must be a vector of {n} integer labels, got shape {arr.shape}")
    if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "f" and np.all(arr == np.round(arr))):
        raise ValueError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must hold class labels 0..K-1, got {arr.min()}")
    return torch.from_numpy(arr.astype(np.int64)).to(device)


def _loss_fn(loss, classify: bool) -> Callable:
    import torch.nn.functional as F

    if loss is None:
        loss = "cross_entropy" if classify else "mse"
    if callable(loss):
        return loss
    table = {"cross_entropy": F.cross_entropy, "mse": F.mse_loss, "bce": F.binary_cross_entropy,
             "bce_logits": F.binary_cross_entropy_with_logits}
    if loss not in table:
        raise ValueError(f"loss must be one of {LOSSES} or a function loss(output, target), got {loss!r}")
    if loss == "cross_entropy" and not classify:
        raise ValueError("loss='cross_entropy' needs integer labels y")
    return table[loss]


def make_optimizer(model, optimizer: str = "adam", lr: float = 1e-3, weight_decay: float = 0.0,
                   momentum: float = 0.9):
    """``torch.optim.Adam`` / ``SGD`` (with ``momentum``) / ``AdamW`` over ``model.parameters()``."""
    import torch

    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS} or a torch.optim.Optimizer, got {optimizer!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    params = model.parameters()
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def fit(model, X, y=None, *, epochs: int = 5, batch_size: int = 64, optimizer="adam", lr: float = 1e-3,
        weight_decay: float = 0.0, momentum: float = 0.9, loss=None, val=None, seed: int = 0, device=None,
        corrupt: Callable | None = None, title: str | None = "training",
        on_epoch: Callable[[int, dict], None] | None = None) -> dict:
    """Train ``model`` in place on ``X`` (N, ...) and labels ``y`` (N,), or on ``X`` itself when ``y`` is None.

    ``optimizer`` is ``"adam"``, ``"sgd"`` (with ``momentum``), ``"adamw"`` (built with ``lr`` and
    ``weight_decay``), or a ready ``torch.optim.Optimizer`` over the model's parameters. ``val`` is
    ``(X_val, y_val)`` (or ``X_val`` alone when ``y`` is None). ``title`` shows a :class:`progress.LiveLoss`
    (bar and live curves; ``None``: nothing shown). ``on_epoch(epoch, history)`` is called after each epoch
    (1, 2, ...). Returns the history described in the module's docstring.
    """
    import torch

    epochs = _validate.as_int(epochs, "epochs", minimum=0)
    batch_size = _validate.as_int(batch_size, "batch_size")
    seed = _validate.as_int(seed, "seed", minimum=0)
    device = _device(device)
    classify = y is not None
    X = _inputs(X, device)
    n = len(X)
    y = _labels(y, n, device) if classify else None
    if val is not None:
        if classify:
            if not isinstance(val, (tuple, list)) or len(val) != 2:
                raise ValueError("val must be a pair (X_val, y_val) when training on labels")
            X_val = _inputs(val[0], device, "X_val")
            val = (X_val, _labels(val[1], len(X_val), device, "y_val"))
        else:
            X_val = _inputs(val, device, "X_val")
            val = (X_val, None)
    loss_fn = _loss_fn(loss, classify)
    model.to(device)
    opt = make_optimizer(model, optimizer, lr, weight_decay, momentum) if isinstance(optimizer, str) else optimizer
    shuffle = torch.Generator().manual_seed(seed)
    keys = ["train loss", "val loss"] + (["train accuracy", "val accuracy"] if classify else []) + ["seconds"]
    hist: dict = {k: [] for k in keys}
    hist["device"] = str(device)
    live_display = progress.LiveLoss(total=max(epochs, 1), title=title) if title else contextlib.nullcontext()
    with runtime.torch_seeded(seed, device), live_display as live:
        for epoch in range(epochs):
            start = time.perf_counter()
            model.train()
            order = torch.randperm(n, generator=shuffle).to(device)
            total, correct = torch.zeros((), device=device), torch.zeros((), device=device, dtype=torch.int64)
            for i in range(0, n, batch_size):
                idx = order[i:i + batch_size]
                xb = X[idx]
                target = y[idx] if classify else xb
                out = model(corrupt(xb) if corrupt is not None else xb)
                batch_loss = loss_fn(out, target)
                opt.zero_grad(set_to_none=True)
                batch_loss.backward()
                opt.step()
                total += batch_loss.detach() * len(idx)
                if classify:
                    correct += (out.detach().argmax(dim=1) == target).sum()
            hist["train loss"].append(float(total) / n)
            if classify:
                hist["train accuracy"].append(int(correct) / n)
            if val is not None:
                v_loss, v_acc = _evaluate(model, val[0], val[1], loss_fn)
                hist["val loss"].append(v_loss)
                if classify:
                    hist["val accuracy"].append(v_acc)
            hist["seconds"].append(time.perf_counter() - start)
            if live:
                shown = {"train_loss": hist["train loss"][-1]}
                if val is not None:
                    shown["val_loss"] = hist["val loss"][-1]
                    if classify:
                        shown["val_acc"] = hist["val accuracy"][-1]
                live.update(**shown)
            if on_epoch is not None:
                on_epoch(epoch + 1, hist)
    model.eval()
    return hist


def _evaluate(model, X, y, loss_fn) -> tuple[float, float | None]:
    """Mean loss (and accuracy with labels) of ``model`` on tensors already on its device, evaluation mode."""
    import torch

    was_training = model.training
    model.eval()
    total, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(X), EVAL_BATCH):
            xb = X[i:i + EVAL_BATCH]
            target = y[i:i + EVAL_BATCH] if y is not None else xb
            out = model(xb)
            total += float(loss_fn(out, target)) * len(xb)
            if y is not None:
                correct += int((out.argmax(dim=1) == target).sum())
    model.train(was_training)
    return total / len(X), (correct / len(X) if y is not None else None)


def _model_device(model):
    import torch

    first = next(iter(model.parameters()), None)
    return first.device if first is not None else torch.device("cpu")


def outputs(model, X, batch_size: int = EVAL_BATCH) -> np.ndarray:
    """``model(X)`` as a float numpy array, computed in batches in evaluation mode without gradients.

    ``X`` goes to the model's device; the model's mode (training or evaluation) is restored afterwards.
    """
    import torch

    batch_size = _validate.as_int(batch_size, "batch_size")
    X = _inputs(X, _model_device(model))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            parts = [model(X[i:i + batch_size]).float().cpu() for i in range(0, len(X), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(parts).numpy()


def predict(model, X, batch_size: int = EVAL_BATCH) -> np.ndarray:
    """The predicted class of every row of ``X``: argmax of the model's scores, int64 (N,)."""
    return outputs(model, X, batch_size).argmax(axis=1).astype(np.int64)


def accuracy(model, X, y, batch_size: int = EVAL_BATCH) -> float:
    """The fraction of the rows of ``X`` whose predicted class is their label in ``y`` (N,)."""
    y = np.asarray(y)
    pred = predict(model, X, batch_size)
    if y.shape != pred.shape:
        raise ValueError(f"y must be a vector of {len(pred)} labels, got shape {y.shape}")
    return float(np.mean(pred == y))


def confusion_matrix(model, X, y, n_classes: int | None = None, batch_size: int = EVAL_BATCH) -> np.ndarray:
    """Counts ``C[i, j]`` of examples of true class i predicted as j, (K, K) int64 (what ``plots.confusion`` draws).

    ``K`` is ``n_classes``, or the number of the model's outputs.
    """
    scores = outputs(model, X, batch_size)
    y = np.asarray(y)
    if y.shape != (len(scores),):
        raise ValueError(f"y must be a vector of {len(scores)} labels, got shape {y.shape}")
    k = scores.shape[1] if n_classes is None else _validate.as_int(n_classes, "n_classes")
    if y.min() < 0 or y.max() >= k:
        raise ValueError(f"labels must lie in 0..{k - 1}, got {y.min()}..{y.max()}")
    C = np.zeros((k, k), dtype=np.int64)
    np.add.at(C, (y.astype(np.int64), scores.argmax(axis=1)), 1)
    return C


def n_parameters(model) -> int:
    """The number of trainable numbers in ``model``."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def grad_norms(model, X, y=None, loss=None) -> dict[str, float]:
    """The Frobenius norm of the gradient of every weight (each parameter with 2 or more axes: conv kernels and
    linear matrices; biases and normalisation scales are left out), ``{parameter name: norm}``, input side first.

    One forward and backward pass of the mean loss over the whole batch ``X`` (labels ``y``; ``y=None``: the
    input is the target, as in :func:`fit`) at the model's current parameters, in training mode (batch norm
    uses the batch's statistics, as during training). The model's gradients, buffers (batch norm's running
    statistics) and mode are left as they were.
    """
    import torch

    device = _model_device(model)
    X = _inputs(X, device)
    classify = y is not None
    target = _labels(y, len(X), device) if classify else X
    loss_fn = _loss_fn(loss, classify)
    params = [(name, p) for name, p in model.named_parameters() if p.requires_grad and p.ndim >= 2]
    if not params:
        raise ValueError("the model has no weight with 2 or more axes")
    was_training = model.training
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    model.train()
    try:
        value = loss_fn(model(X), target)
        grads = torch.autograd.grad(value, [p for _, p in params])
    finally:
        model.train(was_training)
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(buffers[name])
    return {name: float(g.norm()) for (name, _), g in zip(params, grads)}
