"""The one-hidden-layer perceptron of ps3: numpy reference, and the same network in torch.

The model maps a batch ``X`` (N, D) to class scores (logits)

    logits = relu(X W1 + b1) W2 + b2        W1 (D, H), b1 (H,), W2 (H, K), b2 (K,)

and is trained on the mean softmax cross-entropy of integer labels ``y`` (N,) in 0..K-1. Its parameters are a
dict ``{"W1", "b1", "W2", "b2"}`` of float64 arrays. In torch it is ``nn.Sequential(Linear(D, H), ReLU(),
Linear(H, K))``; :func:`params_to_torch` and :func:`params_from_torch` copy the parameters across (torch
stores each weight transposed, as (out, in)).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import _numerics, _reference, _validate, layers, optim, training
from ._reference import reference

_reference.reference_module(__name__)

PARAM_NAMES = _validate.MLP_PARAM_NAMES
BATCH_SIZE = 32


def init_mlp(D: int, H: int, K: int, seed=0) -> dict[str, np.ndarray]:
    """He-initialised parameters: W1 ~ N(0, 2/D) (D, H), W2 ~ N(0, 2/H) (H, K), b1 = 0 (H,), b2 = 0 (K,).

    ``seed`` is an integer or a numpy Generator; W1 is drawn first, then W2.
    """
    D, H, K = _validate.as_int(D, "D"), _validate.as_int(H, "H"), _validate.as_int(K, "K")
    return _params_of(training.build_mlp([D, H, K], activation="relu", init="he", seed=seed))


def _params_of(net: layers.Sequential) -> dict[str, np.ndarray]:
    """The W1, b1, W2, b2 dict of a Linear-ReLU-Linear ``Sequential`` (copies)."""
    p = net.params()
    return {"W1": p["0.W"].copy(), "b1": p["0.b"].copy(), "W2": p["2.W"].copy(), "b2": p["2.b"].copy()}


def _check_data(params, X, y=None):
    p = _validate.as_mlp_params(params)
    X = _validate.as_matrix(X, "X", p["W1"].shape[0])
    if y is not None:
        y = _validate.as_class_labels(y, "y", X.shape[0], p["W2"].shape[1])
    return p, X, y


def mlp_forward(params, X) -> np.ndarray:
    """Logits relu(X W1 + b1) W2 + b2 of shape (N, K) for X (N, D)."""
    p, X, _ = _check_data(params, X)
    return np.maximum(X @ p["W1"] + p["b1"], 0.0) @ p["W2"] + p["b2"]


def predict(params, X) -> np.ndarray:
    """Predicted classes argmax of the logits, shape (N,), int64."""
    return np.argmax(mlp_forward(params, X), axis=1)


def accuracy(params, X, y) -> float:
    """Fraction of the rows of X whose predicted class is the label in y (N,)."""
    p, X, y = _check_data(params, X, y)
    return float(np.mean(predict(p, X) == y))


def mlp_loss(params, X, y) -> float:
    """Mean softmax cross-entropy of the labels y (N,) under the MLP's logits."""
    p, X, y = _check_data(params, X, y)
    return _numerics.softmax_cross_entropy(mlp_forward(p, X), y)[0]


@reference
def mlp_gradients(params, X, y) -> dict[str, np.ndarray]:
    """Gradients of :func:`mlp_loss` by backpropagation: a dict with the keys and shapes of ``params``.

    Forward: a = X W1 + b1, h = relu(a), logits = h W2 + b2; then backward through the same three layers from
    dlogits = (softmax(logits) - onehot(y)) / N.
    """
    p, X, y = _check_data(params, X, y)
    a = layers.linear_forward(X, p["W1"], p["b1"])
    h = layers.relu_forward(a)
    logits = layers.linear_forward(h, p["W2"], p["b2"])
    _, dlogits = layers.softmax_cross_entropy(logits, y)
    dh, dW2, db2 = layers.linear_backward(dlogits, h, p["W2"])
    da = layers.relu_backward(dh, a)
    _, dW1, db1 = layers.linear_backward(da, X, p["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def _check_training(X, y, hidden, lr, epochs, batch_size, n_classes):
    X = _validate.as_matrix(X, "X")
    y = _validate.as_class_labels(y, "y", X.shape[0])
    K = int(y.max()) + 1 if n_classes is None else _validate.as_int(n_classes, "n_classes")
    y = _validate.as_class_labels(y, "y", X.shape[0], K)
    hidden = _validate.as_int(hidden, "hidden")
    lr = _validate.as_positive_float(lr, "lr")
    epochs = _validate.as_int(epochs, "epochs", minimum=0)
    batch_size = _validate.as_int(batch_size, "batch_size")
    return X, y, K, hidden, lr, epochs, batch_size


@reference
def train_mlp(X, y, hidden: int, lr: float, epochs: int, seed: int = 0, *, batch_size: int = BATCH_SIZE,
              n_classes: int | None = None, on_epoch: Callable[[int, float], None] | None = None):
    """Mini-batch SGD on the mean cross-entropy; returns the trained params dict.

    With ``rng = np.random.default_rng(seed)``: the parameters start at ``init_mlp(D, hidden, K, rng)`` (the
    same as ``init_mlp(D, hidden, K, seed)``); each epoch visits the rows in the order ``rng.permutation(N)``,
    in batches of ``batch_size`` (default 32; the last one may be smaller), with one step
    ``w <- w - lr * grad`` per batch. K = ``n_classes``, by default max(y) + 1. X (N, D), y (N,).

    Silent; ``on_epoch(epoch, loss)``, if given, is called after each epoch (1, 2, ...) with the mean loss on
    the whole of (X, y).
    """
    X, y, K, hidden, lr, epochs, batch_size = _check_training(X, y, hidden, lr, epochs, batch_size, n_classes)
    rng = np.random.default_rng(_validate.as_int(seed, "seed", minimum=0))
    net = training.build_mlp([X.shape[1], hidden, K], activation="relu", init="he", seed=rng)  # = init_mlp
    report = None if on_epoch is None else (lambda epoch, hist: on_epoch(epoch, hist["train loss"][-1]))
    training.fit(net, optim.SGD(lr), X, y, epochs, batch_size=batch_size, seed=rng, on_epoch=report)
    return _params_of(net)


# --- the same network in torch ----------------------------------------------------------------------------


def torch_mlp(D: int, H: int, K: int, seed=None):
    """``nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, K))`` on the CPU, float32.

    ``seed=None``: torch's default initialisation (from torch's global generator, which
    ``runtime.setup`` seeds). An integer or numpy Generator: the parameters of ``init_mlp(D, H, K, seed)``.
    """
    import torch
    from torch import nn

    D, H, K = _validate.as_int(D, "D"), _validate.as_int(H, "H"), _validate.as_int(K, "K")
    if seed is None:
        return nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, K))
    skip = torch.nn.utils.skip_init
    model = nn.Sequential(skip(nn.Linear, D, H), nn.ReLU(), skip(nn.Linear, H, K))
    return params_to_torch(init_mlp(D, H, K, seed), model)


def _linears(model):
    from torch import nn

    if not (isinstance(model, nn.Sequential) and len(model) == 3 and isinstance(model[0], nn.Linear)
            and isinstance(model[1], nn.ReLU) and isinstance(model[2], nn.Linear)):
        raise ValueError("model must be nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, K)), "
                         "as made by torch_mlp")
    return model[0], model[2]


def params_to_torch(params, model=None, *, device=None, dtype=None):
    """Copy numpy ``params`` into a torch MLP (``model``, or a new ``torch_mlp``) and return it.

    Weights go in transposed (torch's ``Linear`` stores (out, in)). ``device``/``dtype`` (e.g.
    ``torch.float64``), if given, move the model; otherwise a new model is float32 on the CPU and a given
    model keeps its own.
    """
    import torch

    p = _validate.as_mlp_params(params)
    D, H = p["W1"].shape
    K = p["W2"].shape[1]
    if model is None:
        skip = torch.nn.utils.skip_init
        model = torch.nn.Sequential(skip(torch.nn.Linear, D, H), torch.nn.ReLU(), skip(torch.nn.Linear, H, K))
    first, second = _linears(model)
    if (first.in_features, first.out_features, second.in_features, second.out_features) != (D, H, H, K):
        raise ValueError(f"model has layers {first.in_features}->{first.out_features}->{second.out_features}, "
                         f"params are {D}->{H}->{K}")
    if device is not None or dtype is not None:
        model = model.to(device=device, dtype=dtype)
    with torch.no_grad():
        for layer, W, b in ((first, p["W1"], p["b1"]), (second, p["W2"], p["b2"])):
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            layer.bias.copy_(torch.from_numpy(b))
    return model


def params_from_torch(model) -> dict[str, np.ndarray]:
    """The parameters of a torch MLP as a numpy dict W1 (D, H), b1 (H,), W2 (H, K), b2 (K,), float64."""
    first, second = _linears(model)

    def arr(t):
        return t.detach().cpu().double().numpy().copy()

    return {"W1": arr(first.weight).T.copy(), "b1": arr(first.bias),
            "W2": arr(second.weight).T.copy(), "b2": arr(second.bias)}


def train_torch_mlp(X, y, hidden: int, lr: float, epochs: int, seed: int = 0, device=None, *,
                    batch_size: int = BATCH_SIZE, n_classes: int | None = None, dtype=None,
                    on_epoch: Callable[[int, float], None] | None = None):
    """:func:`train_mlp` in torch: same initialisation, same batches, ``torch.optim.SGD``; returns the model.

    Runs on ``device`` (default :func:`dlcourse.runtime.device`) in ``dtype`` (default float32; with
    ``torch.float64`` on the CPU it reproduces :func:`train_mlp` to rounding). The model is returned in eval
    mode on that device; :func:`params_from_torch` gives its numpy parameters. Silent; ``on_epoch`` as in
    :func:`train_mlp`.
    """
    import torch
    import torch.nn.functional as F

    from . import runtime

    X, y, K, hidden, lr, epochs, batch_size = _check_training(X, y, hidden, lr, epochs, batch_size, n_classes)
    rng = np.random.default_rng(_validate.as_int(seed, "seed", minimum=0))
    device = runtime.device() if device is None else torch.device(device)
    dtype = torch.float32 if dtype is None else dtype
    model = params_to_torch(init_mlp(X.shape[1], hidden, K, rng), device=device, dtype=dtype)
    Xt = torch.as_tensor(X, dtype=dtype, device=device)
    yt = torch.as_tensor(y, device=device)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    model.train()
    for epoch in range(epochs):
        order = torch.as_tensor(rng.permutation(X.shape[0]), device=device)
        for start in range(0, X.shape[0], batch_size):
            batch = order[start:start + batch_size]
            loss = F.cross_entropy(model(Xt[batch]), yt[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if on_epoch is not None:
            with torch.no_grad():
                on_epoch(epoch + 1, float(F.cross_entropy(model(Xt), yt)))
    return model.eval()
