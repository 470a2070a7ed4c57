"""Generative adversarial networks (lecture 09, ps6): the losses, the optimal discriminator, mode coverage.

A generator G maps noise z ~ p_z to samples G(z); a discriminator D maps a sample x to a logit a(x), with
D(x) = sigmoid(a(x)) the probability that x is real. Goodfellow et al. (2014) play the minimax game

    min_G max_D  V(D, G) = E_{x ~ p_data} log D(x) + E_{z ~ p_z} log(1 - D(G(z))).

Every loss here takes the discriminator's *logits* (torch tensors of any shape, averaged over every entry) and is
written with softplus(t) = log(1 + e^t), which torch evaluates without overflow, since

    -log D = -log sigmoid(a) = softplus(-a)      and      -log(1 - D) = -log sigmoid(-a) = softplus(a):

* :func:`discriminator_loss` = mean softplus(-a(x_real)) + mean softplus(a(x_fake)), i.e. -V (D maximises V);
* :func:`minimax_generator_loss` = mean log(1 - D(G(z))) = -mean softplus(a(G(z))), the generator's own part of V
  (it saturates: its gradient vanishes where D rejects the fakes, at the start of training);
* :func:`generator_loss` = mean -log D(G(z)) = mean softplus(-a(G(z))), the *non-saturating* loss used in
  practice: same fixed point, strong gradient where D(G(z)) is near 0.

For a fixed G, the best discriminator is D*(x) = p_data(x) / (p_data(x) + p_g(x)) (:func:`optimal_discriminator`),
and at D* the generator's criterion is V(D*, G) = 2 JSD(p_data, p_g) - log 4.

:func:`mode_coverage` scores samples of a mixture such as :func:`dlcourse.data.ring_of_gaussians`: how many of its
modes a generator reaches, and how many of its samples land near a mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _reference, _validate
from ._reference import reference

_reference.reference_module(__name__)


def _logits(x, name: str):
    """``x`` as a non-empty floating-point torch tensor (any shape); a clear error for anything else."""
    import torch

    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch tensor of discriminator logits, got {type(x).__name__} "
                         f"(convert an array with torch.as_tensor(x, dtype=torch.float32))")
    if not torch.is_floating_point(x):
        raise ValueError(f"{name} must be a floating-point tensor (logits), got dtype {x.dtype}")
    if x.numel() == 0:
        raise ValueError(f"{name} must hold at least one logit, got shape {tuple(x.shape)}")
    return x


@reference
def discriminator_loss(real_logits, fake_logits):
    """The discriminator's loss -V: mean softplus(-real_logits) + mean softplus(fake_logits), a scalar tensor.

    ``real_logits`` a(x) on data and ``fake_logits`` a(G(z)) on generated samples (tensors of any shapes, each
    averaged over its entries): the binary cross-entropy of "real" (label 1) on the first and "fake" (label 0) on
    the second. Written with softplus, it stays finite and exact at logits of +-100 (log sigmoid would round to
    log 0). Gradients flow to both inputs.
    """
    import torch.nn.functional as F

    real_logits, fake_logits = _logits(real_logits, "real_logits"), _logits(fake_logits, "fake_logits")
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


@reference
def generator_loss(fake_logits):
    """The non-saturating generator loss, mean -log D(G(z)) = mean softplus(-fake_logits), a scalar tensor."""
    import torch.nn.functional as F

    return F.softplus(-_logits(fake_logits, "fake_logits")).mean()


def minimax_generator_loss(fake_logits):
    """The original (saturating) generator loss, mean log(1 - D(G(z))) = -mean softplus(fake_logits), a scalar
    tensor that the generator *minimises*. Its gradient in a logit a is -sigmoid(a) = -D(G(z)): close to 0 when
    the discriminator confidently rejects the fakes."""
    import torch.nn.functional as F

    return -F.softplus(_logits(fake_logits, "fake_logits")).mean()


@reference
def optimal_discriminator(p_data, p_g) -> np.ndarray:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)) elementwise (float64, the broadcast shape), 0.5 where both are 0.

    ``p_data`` and ``p_g`` are densities (or probabilities) at the same points: arrays of non-negative finite
    numbers whose shapes broadcast together. Where neither distribution puts any mass, every D does equally well;
    0.5 is the convention (the discriminator cannot tell).
    """
    p_data = _validate.as_float_array(p_data, "p_data")
    p_g = _validate.as_float_array(p_g, "p_g")
    try:
        shape = np.broadcast_shapes(p_data.shape, p_g.shape)
    except ValueError:
        raise ValueError(f"p_data and p_g must have the same shape (or shapes that broadcast), got {p_data.shape} "
                         f"and {p_g.shape}") from None
    for p, name in ((p_data, "p_data"), (p_g, "p_g")):
        if not np.all(np.isfinite(p)):
            raise ValueError(f"{name} must be finite (a density at each point), got nan or inf")
        if np.any(p < 0):
            raise ValueError(f"{name} must be >= 0 (a density), got {p.min():g}")
    total = np.broadcast_to(p_data + p_g, shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.broadcast_to(p_data, shape) / np.where(total > 0, total, 1.0), 0.5)


@dataclass(frozen=True)
class ModeCoverage:
    """What :func:`mode_coverage` measured on n samples of a mixture with K modes.

    ``covered``: the number of modes reached by at least max(1, min_share n) high-quality samples;
    ``high_quality``: the fraction of the n samples within 3 standard deviations of their nearest mode;
    ``counts`` (K,) int64: the high-quality samples of each mode.
    """

    covered: int
    high_quality: float
    counts: np.ndarray

    def summary(self) -> str:
        return (f"{self.covered} of {len(self.counts)} modes covered, "
                f"{self.high_quality:.1%} of the samples within 3σ of a mode")


@reference
def mode_coverage(samples, centres, std: float, min_share: float = 0.01, batch: int = 4096) -> ModeCoverage:
    """Score ``samples`` (n, d) against a mixture of isotropic Gaussians of standard deviation ``std`` centred at
    ``centres`` (K, d) (the measure of Metz et al. 2016 / Srivastava et al. 2017 on the ring of Gaussians).

    Each sample goes to its nearest centre (Euclidean distance; ties: the lower index); it is *high quality* when
    that distance is at most 3 ``std``. A mode is *covered* when at least max(1, ``min_share`` n) high-quality
    samples go to it. Samples with a nan or inf coordinate count as not high quality (a diverged generator scores
    0). Distances are computed ``batch`` samples at a time. Returns a :class:`ModeCoverage`.
    """
    samples = _validate.as_matrix(samples, "samples")
    centres = _validate.as_matrix(centres, "centres", samples.shape[1])
    if not np.all(np.isfinite(centres)):
        raise ValueError("centres must be finite")
    std = _validate.as_positive_float(std, "std")
    min_share = _validate.as_nonnegative_float(min_share, "min_share")
    if min_share > 1:
        raise ValueError(f"min_share is a fraction of the samples, in [0, 1], got {min_share}")
    batch = _validate.as_int(batch, "batch")
    n, k = len(samples), len(centres)
    counts = np.zeros(k, dtype=np.int64)
    good = 0
    for i in range(0, n, batch):
        part = samples[i:i + batch]
        finite = np.all(np.isfinite(part), axis=1)
        part = part[finite]
        with np.errstate(over="ignore"):  # a huge (finite) sample is simply far from every mode
            dist2 = np.sum((part[:, None, :] - centres[None, :, :]) ** 2, axis=2)  # (m, K)
        nearest = np.argmin(dist2, axis=1)
        close = dist2[np.arange(len(part)), nearest] <= (3.0 * std) ** 2
        counts += np.bincount(nearest[close], minlength=k)
        good += int(close.sum())
    threshold = max(1.0, min_share * n)
    return ModeCoverage(covered=int(np.sum(counts >= threshold)), high_quality=good / n, counts=counts)
