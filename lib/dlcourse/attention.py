"""Differentiable memory: attention as a soft hash table (lecture 10, ps7).

A memory holds M pairs of keys K_i (d numbers) and values V_i (m numbers). A query x reads it by comparing itself
with every key, turning the scores into weights with a softmax and returning the weighted mean of the values:

    C_i = exp(s K_i . x) / sum_j exp(s K_j . x),        y = sum_i C_i V_i.

For N queries at once (the rows of X) the weights are C = softmax(s X K^T) row by row, (N, M), and the reads are
Y = C V, (N, m). Every step is smooth, so y is differentiable in the query, the keys *and* the values: a network
can learn what to store, what to ask and how to compare, by gradient descent through the read.

The scale s is an inverse temperature. At s = 0 every slot gets 1/M and the read is the mean of the values; as s
grows the weights concentrate on the key most similar to the query and, in the limit, the read is the stored
value of that key: an ordinary RAM (a hash-table lookup), which has no useful gradient. How sharp a read is, is
the entropy of its weights (:func:`attention_entropy`): log M nats when uniform, 0 when it picks one slot;
:func:`sharpness_sweep` computes both for a range of scales. The softmax is the stable one of
:mod:`dlcourse._numerics` (it subtracts each row's maximum score), so scores of +-1000 are fine.

Bahdanau, Cho and Bengio (2014) used exactly this read in translation: the decoder's state is the query, the
encoder's states at the source words are the keys and the values, and the read replaces the single fixed-size
vector that the encoder used to pass on (they scored with a small network, v^T tanh(W q + U k); scaled dot
products are Luong et al.'s (2015) and the Transformer's, whose softmax(Q K^T / sqrt(d)) V is this read with
s = 1 / sqrt(d)).

    C, Y = attention.memory_read(X, K, V, scale=4.0)                # numpy, float64
    C, Y = attention.memory_read_torch(Xt, Kt, Vt, scale=4.0)       # torch, batched, differentiable
    X, y, slot = attention.recall_task(4000, pairs=8, dim=16, classes=8, noise=0.5, seed=0)
    net = attention.build_memory_model(dim=16, classes=8, seed=0)   # vs build_summary_model(...)
    torch_training.fit(net, X, y, epochs=8, lr=1e-2, device="cpu")
    weights = attention.recall_weights(net, X[:20])                 # (20, 8): a heat map of where it looked

**Associative recall** (:func:`recall_task`): each example stores ``pairs`` random keys, each with a value class,
and asks for the class of one of them through a noisy copy of its key. The memory model reads the stored pairs
through learned query and key projections; the baseline first squeezes the pairs into one fixed-size summary
(a learned embedding of each pair, averaged), the bottleneck that Bahdanau et al. removed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from . import _numerics, _reference, _validate, runtime
from ._reference import reference

_reference.reference_module(__name__)


def _check_finite(A: np.ndarray, name: str) -> np.ndarray:
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} must be finite, got nan or inf")
    return A


def _memory(K, V) -> tuple[np.ndarray, np.ndarray]:
    """Validated keys (M, d) and values (M, m), float64."""
    K = _check_finite(_validate.as_matrix(K, "K"), "K")
    V = _validate.as_float_array(V, "V", ndim=2)
    if V.shape[0] != K.shape[0]:
        raise ValueError(f"V must have one row per key: {K.shape[0]} rows (the rows of K), got shape {V.shape}")
    if K.shape[1] == 0 or V.shape[1] == 0:
        raise ValueError(f"K and V must have at least one column, got shapes {K.shape} and {V.shape}")
    return K, _check_finite(V, "V")


@reference
def memory_read(X, K, V, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Read a memory of keys ``K`` (M, d) and values ``V`` (M, m) with the queries ``X`` (N, d).

    Returns ``(C, Y)``: the attention weights C = softmax(``scale`` X K^T) over each row, (N, M), each row >= 0
    and summing to 1, and the reads Y = C V, (N, m), both float64. ``scale`` >= 0 is the inverse temperature
    (0: every read is the mean of the values). Stable for scores of any size that float64 holds (+-1000 included).
    """
    K, V = _memory(K, V)
    X = _check_finite(_validate.as_matrix(X, "X"), "X")
    if X.shape[1] != K.shape[1]:
        raise ValueError(f"X and K must have the same number of columns (the dimension d of queries and keys), "
                         f"got shapes {X.shape} and {K.shape}")
    scale = _validate.as_nonnegative_float(scale, "scale")
    with np.errstate(over="ignore", invalid="ignore"):
        scores = scale * (X @ K.T)
    if not np.all(np.isfinite(scores)):
        raise ValueError("the scores scale * X K^T overflow float64: use smaller queries, keys or scale")
    C = _numerics.softmax(scores, axis=1)
    return C, C @ V


def memory_read_torch(X, K, V, scale=1.0):
    """:func:`memory_read` in torch, batched and differentiable in ``X``, ``K``, ``V`` (and ``scale``).

    ``X`` (..., N, d), ``K`` (..., M, d), ``V`` (..., M, m) are floating-point tensors whose leading (batch) axes
    match; ``scale`` is a number or a scalar tensor (a learnable one too). Returns the weights
    C = softmax(scale X K^T) (..., N, M) and the reads Y = C V (..., N, m). Values are not checked for nan
    (this is the training path); shapes are.
    """
    import torch

    for t, name in ((X, "X"), (K, "K"), (V, "V")):
        if not isinstance(t, torch.Tensor) or not torch.is_floating_point(t):
            raise ValueError(f"{name} must be a floating-point torch tensor, got {type(t).__name__}"
                             f"{' of dtype ' + str(t.dtype) if isinstance(t, torch.Tensor) else ''}")
        if t.ndim < 2 or t.shape[-2] == 0 or t.shape[-1] == 0:
            raise ValueError(f"{name} must have shape (..., rows, columns) with rows, columns >= 1, "
                             f"got {tuple(t.shape)}")
    if X.shape[-1] != K.shape[-1]:
        raise ValueError(f"X and K must have the same last axis (the dimension d), got shapes "
                         f"{tuple(X.shape)} and {tuple(K.shape)}")
    if V.shape[-2] != K.shape[-2]:
        raise ValueError(f"V must have one row per key ({K.shape[-2]}), got shape {tuple(V.shape)}")
    if not (X.shape[:-2] == K.shape[:-2] == V.shape[:-2]):
        raise ValueError(f"X, K and V must have the same batch axes, got shapes {tuple(X.shape)}, "
                         f"{tuple(K.shape)} and {tuple(V.shape)}")
    if isinstance(scale, torch.Tensor):
        if scale.numel() != 1:
            raise ValueError(f"scale must be a number or a one-element tensor, got shape {tuple(scale.shape)}")
    else:
        scale = _validate.as_nonnegative_float(scale, "scale")
    C = torch.softmax(scale * (X @ K.transpose(-2, -1)), dim=-1)
    return C, C @ V


def attention_entropy(C) -> np.ndarray:
    """The entropy in nats of each row of attention weights ``C`` (N, M), shape (N,): log M for a uniform read,
    0 for a read of one slot; exp of it is the effective number of slots read. Rows must be >= 0 and sum to 1
    to within 1e-5 (float32 weights from a network are fine)."""
    C = _check_finite(_validate.as_float_array(C, "C", ndim=2), "C")
    if C.shape[1] == 0 or np.any(C < 0) or not np.allclose(C.sum(axis=1), 1.0, rtol=0, atol=1e-5):
        raise ValueError(f"C must hold attention weights: rows of numbers >= 0 that sum to 1, got shape {C.shape}")
    return -_numerics.xlogy(C, C).sum(axis=1)


@dataclass(frozen=True)
class Sweep:
    """What :func:`sharpness_sweep` computed: ``scales`` (S,), ``weights`` (S, N, M), ``reads`` (S, N, m) and
    ``entropy`` (S, N) in nats, one entry per scale."""

    scales: np.ndarray
    weights: np.ndarray
    reads: np.ndarray
    entropy: np.ndarray


def sharpness_sweep(X, K, V, scales) -> Sweep:
    """:func:`memory_read` of one memory with the queries ``X`` (N, d) at each of ``scales`` (S,) >= 0: from a
    blurred average (scale 0) to a hard lookup of the most similar key (large scales)."""
    scales = _check_finite(_validate.as_float_array(scales, "scales", ndim=1), "scales")
    if scales.size == 0 or np.any(scales < 0):
        raise ValueError(f"scales must be a non-empty vector of numbers >= 0, got {scales}")
    reads = [memory_read(X, K, V, s) for s in scales]
    weights = np.stack([C for C, _ in reads])
    return Sweep(scales, weights, np.stack([Y for _, Y in reads]), np.stack([attention_entropy(C) for C in weights]))


def recall_task(n: int, pairs: int = 8, dim: int = 16, classes: int = 8, noise: float = 0.5, seed=0):
    """``n`` examples of associative recall, ``(X, y, slot)``.

    Each example stores ``pairs`` keys drawn from N(0, I / ``dim``) (length about 1), each with a value class
    drawn uniformly from 0..``classes``-1, and queries the key of a random ``slot`` plus noise of standard
    deviation ``noise`` / sqrt(``dim``) per coordinate. ``X`` (n, pairs + 1, dim + classes) float32 packs it for
    one-tensor models: row i < pairs is [key i, one-hot value i], the last row is [query, zeros]. ``y`` (n,) int64
    is the class stored at ``slot`` (n,) int64. ``seed``: an integer or a numpy Generator.
    """
    n, pairs, dim = _validate.as_int(n, "n"), _validate.as_int(pairs, "pairs"), _validate.as_int(dim, "dim")
    classes = _validate.as_int(classes, "classes", minimum=2)
    noise = _validate.as_nonnegative_float(noise, "noise")
    rng = _validate.as_rng(seed, "seed")
    keys = rng.normal(0.0, 1.0 / np.sqrt(dim), size=(n, pairs, dim))
    values = rng.integers(0, classes, size=(n, pairs))
    slot = rng.integers(0, pairs, size=n)
    rows = np.arange(n)
    query = keys[rows, slot] + rng.normal(0.0, noise / np.sqrt(dim), size=(n, dim))
    X = np.zeros((n, pairs + 1, dim + classes), dtype=np.float32)
    X[:, :pairs, :dim] = keys
    X[:, :pairs, dim:] = np.eye(classes)[values]
    X[:, pairs, :dim] = query
    return X, values[rows, slot].astype(np.int64), slot.astype(np.int64)


def _unpack(X, dim: int, classes: int):
    """keys (B, P, dim), one-hot values (B, P, classes), queries (B, 1, dim) of a batch packed by recall_task."""
    if X.ndim != 3 or X.shape[1] < 2 or X.shape[2] != dim + classes:
        raise ValueError(f"X must be packed by recall_task with dim={dim}, classes={classes}: shape (n, pairs + 1, "
                         f"{dim + classes}) with pairs >= 1, got {tuple(X.shape)}")
    return X[:, :-1, :dim], X[:, :-1, dim:], X[:, -1:, :dim]


@functools.cache
def _models():
    """The two recall models (defined on first use, so that importing this module does not import torch)."""
    import torch
    from torch import nn

    class MemoryModel(nn.Module):
        """Reads the stored one-hot values with C = softmax(s (Q q) . (W k_i)); a linear layer scores the read."""

        def __init__(self, dim: int, classes: int, width: int):
            super().__init__()
            self.dim, self.classes = dim, classes
            self.query, self.key = nn.Linear(dim, width, bias=False), nn.Linear(dim, width, bias=False)
            self.log_scale = nn.Parameter(torch.zeros(()))
            self.out = nn.Linear(classes, classes)

        def attend(self, X):
            keys, values, query = _unpack(X, self.dim, self.classes)
            return memory_read_torch(self.query(query), self.key(keys), values, self.log_scale.exp())

        def forward(self, X):
            _, Y = self.attend(X)
            return self.out(Y[:, 0])

    class SummaryModel(nn.Module):
        """Averages an embedding of every stored pair into one ``width`` vector, then an MLP of [summary, query]."""

        def __init__(self, dim: int, classes: int, width: int, hidden: int):
            super().__init__()
            self.dim, self.classes = dim, classes
            self.embed = nn.Sequential(nn.Linear(dim + classes, hidden), nn.ReLU(), nn.Linear(hidden, width))
            self.head = nn.Sequential(nn.Linear(width + dim, hidden), nn.ReLU(), nn.Linear(hidden, classes))

        def forward(self, X):
            keys, values, query = _unpack(X, self.dim, self.classes)
            summary = self.embed(torch.cat([keys, values], dim=-1)).mean(dim=1)
            return self.head(torch.cat([summary, query[:, 0]], dim=-1))

    return MemoryModel, SummaryModel


def _build(make, seed):
    if seed is None:
        return make()
    with runtime.torch_seeded(seed):
        return make()


def build_memory_model(dim: int = 16, classes: int = 8, width: int = 16, seed: int | None = 0):
    """The attention model for :func:`recall_task` batches (B, pairs + 1, dim + classes) -> class scores
    (B, classes): learned query and key projections to ``width`` numbers, a learned scale, a read of the
    one-hot values by :func:`memory_read_torch`, a linear layer. Any number of pairs. Initialised from ``seed``."""
    dim, classes = _validate.as_int(dim, "dim"), _validate.as_int(classes, "classes", minimum=2)
    width = _validate.as_int(width, "width")
    return _build(lambda: _models()[0](dim, classes, width), seed)


def build_summary_model(dim: int = 16, classes: int = 8, width: int = 16, hidden: int = 64,
                        seed: int | None = 0):
    """The fixed-size-summary baseline for :func:`recall_task`: every pair [key, value] goes through an MLP
    (``hidden`` units) to ``width`` numbers, averaged over the pairs; an MLP of [summary, query] gives the class
    scores (B, classes). Initialised from ``seed``."""
    dim, classes = _validate.as_int(dim, "dim"), _validate.as_int(classes, "classes", minimum=2)
    width, hidden = _validate.as_int(width, "width"), _validate.as_int(hidden, "hidden")
    return _build(lambda: _models()[1](dim, classes, width, hidden), seed)


def recall_weights(model, X) -> np.ndarray:
    """The attention weights (n, pairs) of a :func:`build_memory_model` model on ``X`` (n, pairs + 1, dim +
    classes): row e is where example e's query looked. Evaluation mode, no gradient; the mode is restored."""
    import torch

    if not hasattr(model, "attend"):
        raise ValueError(f"model must be built by build_memory_model, got {type(model).__name__}")
    param = next(model.parameters())
    X = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X, dtype=param.dtype,
                        device=param.device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            C, _ = model.attend(X)
    finally:
        model.train(was_training)
    return C[:, 0].cpu().numpy().astype(np.float64)
