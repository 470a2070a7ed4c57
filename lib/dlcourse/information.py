"""Entropy, cross-entropy and KL divergence of discrete distributions (lecture 03).

Distributions are arrays whose last axis sums to 1; results are in nats. With p the empirical distribution of
the data and q the model, distribution_cross_entropy(p, q) = entropy(p) + kl_divergence(p, q): maximising the
likelihood (minimising the cross-entropy) is minimising the KL divergence from the data to the model, since
entropy(p) does not depend on the model.

The Jensen-Shannon divergence JSD(p, q) = KL(p || m) / 2 + KL(q || m) / 2 with m = (p + q) / 2 is symmetric,
finite and at most log 2; it is what a GAN's generator minimises against the optimal discriminator (lecture 09).
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


def jensen_shannon(p, q) -> np.ndarray:
    """JSD(p, q) = KL(p || m) / 2 + KL(q || m) / 2 with the mixture m = (p + q) / 2, over the last axis.

    Symmetric, 0 iff p = q, and at most log 2 (reached when p and q have disjoint supports); finite even where
    one of them is 0, since m > 0 wherever p or q is.
    """
    p, q = as_distribution(p, "p"), as_distribution(q, "q")
    m = 0.5 * (p + q)
    return 0.5 * kl_divergence(p, m) + 0.5 * kl_divergence(q, m)
