"""Entropy, cross-entropy and KL divergence of discrete distributions (lecture 03).

Distributions are arrays whose last axis sums to 1; results are in nats. With p the empirical distribution of
the data and q the model, distribution_cross_entropy(p, q) = entropy(p) + kl_divergence(p, q): maximising the
likelihood (minimising the cross-entropy) is minimising the KL divergence from the data to the model, since
entropy(p) does not depend on the model.
"""

from __future__ import annotations

import numpy as np

from . import _numerics, _reference, _validate

_reference.reference_module(__name__)


def as_distribution(p, name: str) -> np.ndarray:
    """A float array whose entries are >= 0 and whose last axis sums to 1 (to 1e-9)."""
    p = _validate.as_float_array(p, name)
    if p.ndim == 0 or p.shape[-1] == 0:
        raise ValueError(f"{name} must be a distribution over at least one outcome (last axis), got shape {p.shape}")
    if np.any(p < 0) or not np.allclose(p.sum(axis=-1), 1.0, rtol=0, atol=1e-9):
        raise ValueError(f"{name} must be non-negative and sum to 1 along its last axis")
    return p


def entropy(p) -> np.ndarray:
    """H(p) = -sum_k p_k log p_k over the last axis."""
    p = as_distribution(p, "p")
    return -_numerics.xlogy(p, p).sum(axis=-1)


def distribution_cross_entropy(p, q) -> np.ndarray:
    """H(p, q) = -sum_k p_k log q_k over the last axis (inf where q_k = 0 < p_k).

    (:func:`dlcourse.softmax.cross_entropy` is the same quantity for one-hot p given as integer labels,
    averaged over the rows.)
    """
    p, q = as_distribution(p, "p"), as_distribution(q, "q")
    return -_numerics.xlogy(p, q).sum(axis=-1)


def kl_divergence(p, q) -> np.ndarray:
    """KL(p || q) = sum_k p_k log(p_k / q_k) = H(p, q) - H(p) >= 0, with equality iff p = q."""
    return distribution_cross_entropy(p, q) - entropy(p)
