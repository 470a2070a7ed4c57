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

Around them, for lecture 09:

    G, D = gans.build_mlp_generator(latent_dim=8), gans.build_mlp_discriminator(2)       # 2-D toy data
    G, D = gans.build_dcgan_generator(latent_dim=64, width=32), gans.build_dcgan_discriminator(width=32)  # 28x28
    hist = gans.train_gan(G, D, X, steps=2000, snapshot_at=(0, 1000, 2000))   # {"d loss": [...], "g loss": [...], ...}
    images = gans.sample(G, gans.latents(64, G.latent_dim, seed=1))

the 1-D example of the optimal discriminator (:class:`Mixture1D`, :func:`fit_discriminator`, :func:`discriminate`,
:func:`value_function`, :func:`criterion_at_optimum`), the gradients of the two generator losses
(:func:`generator_gradients`), the discriminator read as an energy (:func:`energy`), and walks in the latent space
(:func:`interpolate_latents`, :func:`latent_arithmetic`). torch is imported by the functions that need it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _numerics, _reference, _validate, information, linear, progress, runtime, torch_training
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


# --- the networks -------------------------------------------------------------------------------------------

def _mlp(widths) -> list:
    """Linear layers through ``widths`` with a ReLU between consecutive ones (none after the last)."""
    from torch import nn

    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return layers


def _seeded(build, seed):
    """``build()`` with torch's generator seeded from ``seed`` (restored afterwards); ``seed=None``: as is."""
    if seed is None:
        return build()
    with runtime.torch_seeded(seed):
        return build()


def build_mlp_generator(latent_dim: int = 8, hidden=(128, 128), out_dim: int = 2, seed: int | None = 0):
    """A fully connected generator for 2-D toy data: latents (N, ``latent_dim``) -> samples (N, ``out_dim``),
    ReLU between the ``hidden`` layers, a linear output. ``model.latent_dim`` records the latent size.
    Initialised from ``seed`` (``None``: from torch's generator as it is)."""
    from torch import nn

    latent_dim, out_dim = _validate.as_int(latent_dim, "latent_dim"), _validate.as_int(out_dim, "out_dim")
    hidden = [_validate.as_int(h, "hidden width") for h in hidden]
    model = _seeded(lambda: nn.Sequential(*_mlp([latent_dim, *hidden, out_dim])), seed)
    model.latent_dim = latent_dim
    return model


def build_mlp_discriminator(in_dim: int = 2, hidden=(128, 128), seed: int | None = 0):
    """A fully connected discriminator: samples (N, ``in_dim``) -> logits (N,) (no sigmoid: the losses take
    logits), ReLU between the ``hidden`` layers. Initialised from ``seed``."""
    from torch import nn

    in_dim = _validate.as_int(in_dim, "in_dim")
    hidden = [_validate.as_int(h, "hidden width") for h in hidden]
    return _seeded(lambda: nn.Sequential(*_mlp([in_dim, *hidden, 1]), nn.Flatten(0)), seed)


def _dcgan_init(model) -> None:
    """Radford et al.'s initialisation: conv and linear weights N(0, 0.02^2), batch-norm scales N(1, 0.02^2),
    every bias 0."""
    from torch import nn

    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def build_dcgan_generator(latent_dim: int = 64, width: int = 32, seed: int | None = 0):
    """A DCGAN generator (Radford, Metz and Chintala 2015) for 28x28 one-channel images: latents
    (N, ``latent_dim``) -> images (N, 1, 28, 28) in [-1, 1].

    No pooling and no fully connected hidden layer: the latent vector is projected to 4 ``width`` maps of 7x7 (a
    transposed convolution with a 7x7 kernel on a 1x1 input), then two transposed convolutions with stride 2
    (4x4 kernels, padding 1) double the resolution, 7 -> 14 -> 28, halving the channels, 4w -> 2w -> 1. Batch
    normalisation and ReLU after every layer but the last, which ends in tanh. Weights as in the paper
    (N(0, 0.02^2)). Train it on images scaled to [-1, 1] (:func:`to_tanh_range`). ``model.latent_dim`` records
    the latent size.
    """
    from torch import nn

    latent_dim, width = _validate.as_int(latent_dim, "latent_dim"), _validate.as_int(width, "width")

    def build():
        model = nn.Sequential(
            nn.Unflatten(1, (latent_dim, 1, 1)),
            nn.ConvTranspose2d(latent_dim, 4 * width, 7, 1, 0, bias=False), nn.BatchNorm2d(4 * width), nn.ReLU(),
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, 1, 4, 2, 1), nn.Tanh())
        _dcgan_init(model)
        return model

    model = _seeded(build, seed)
    model.latent_dim = latent_dim
    return model


def build_dcgan_discriminator(width: int = 32, seed: int | None = 0):
    """A DCGAN discriminator for (N, 1, 28, 28) images in [-1, 1] -> logits (N,).

    The mirror image of :func:`build_dcgan_generator`: strided convolutions instead of pooling (4x4 kernels,
    stride 2, padding 1: 28 -> 14 -> 7, 1 -> w -> 2w channels) with LeakyReLU(0.2), batch normalisation on every
    layer but the first (as in the paper), and a 7x7 convolution to one logit. Weights N(0, 0.02^2).
    """
    from torch import nn

    width = _validate.as_int(width, "width")

    def build():
        model = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 1, 7, 1, 0), nn.Flatten(0))
        _dcgan_init(model)
        return model

    return _seeded(build, seed)


def to_tanh_range(images) -> np.ndarray:
    """Pixels in [0, 1] -> [-1, 1] (2x - 1, float32), the range of a tanh generator."""
    return (2.0 * _validate.as_float_array(images, "images") - 1.0).astype(np.float32)


def from_tanh_range(images) -> np.ndarray:
    """Pixels in [-1, 1] -> [0, 1] ((x + 1) / 2, clipped, float32), for showing generated images."""
    return np.clip((_validate.as_float_array(images, "images") + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)


# --- training -------------------------------------------------------------------------------------------------

GENERATOR_LOSSES = ("non-saturating", "minimax")


def _latent_dim(generator, latent_dim) -> int:
    if latent_dim is None:
        latent_dim = getattr(generator, "latent_dim", None)
        if latent_dim is None:
            raise ValueError("latent_dim must be given for a generator that does not record it (model.latent_dim)")
    return _validate.as_int(latent_dim, "latent_dim")


def latents(n: int, latent_dim: int, seed: int = 0) -> np.ndarray:
    """``n`` latent vectors (n, ``latent_dim``) from N(0, I), float32, drawn from ``seed`` alone (numpy)."""
    n, latent_dim = _validate.as_int(n, "n"), _validate.as_int(latent_dim, "latent_dim")
    return _validate.as_rng(seed, "seed").standard_normal((n, latent_dim)).astype(np.float32)


def sample(generator, z) -> np.ndarray:
    """``generator(z)`` as a float32 numpy array, in evaluation mode (batch norm on its running statistics), no
    gradient; ``z`` (n, latent_dim) an array or tensor."""
    return torch_training.outputs(generator, z)


def train_gan(generator, discriminator, X, *, steps: int, batch_size: int = 64, lr_g: float = 2e-4,
              lr_d: float = 2e-4, betas=(0.5, 0.999), loss: str = "non-saturating", d_steps: int = 1,
              latent_dim: int | None = None, seed: int = 0, device=None, snapshot_at=(), snapshot_z=None,
              title: str | None = "GAN") -> dict:
    """Train ``generator`` and ``discriminator`` in place against each other on the data ``X`` (N, ...).

    Each of the ``steps`` steps makes ``d_steps`` Adam steps on :func:`discriminator_loss` (a batch of real rows,
    and a batch of fakes G(z), z ~ N(0, I), detached from G), then one Adam step on the generator's ``loss``,
    ``"non-saturating"`` (:func:`generator_loss`) or ``"minimax"`` (:func:`minimax_generator_loss`), of the last
    batch of fakes as the updated discriminator now judges it (as in the DCGAN reference code). Real rows
    come in mini-batches of ``batch_size`` from a reshuffled pass over X (an epoch) after another. Adam uses
    ``lr_g``, ``lr_d`` and ``betas`` (DCGAN's 2e-4 and (0.5, 0.999) by default).

    Seeded from ``seed`` like :func:`dlcourse.torch_training.fit` (the order of the rows and every latent drawn,
    inside a fork of torch's generator); on ``device`` (``runtime.device()`` unless given). ``title`` shows a
    :class:`dlcourse.progress.LiveLoss` over the steps (``None``: nothing shown). ``snapshot_at`` lists steps
    (0 = before training) at which ``sample(generator, snapshot_z)`` is recorded; ``snapshot_z`` (m, latent_dim)
    defaults to :func:`latents` (64, latent_dim, seed).

    Returns the history: lists with one entry per step, ``"d loss"``, ``"g loss"`` (the generator's ``loss``
    on its batch), ``"d real"`` and ``"d fake"`` (the mean of D(x) on the real batch and of D(G(z)) on the fake
    batch, at the discriminator's last step); ``"snapshots"`` {step: array (m, ...)}; ``"seconds"`` (total wall
    time) and ``"device"``. Both networks are left in evaluation mode.
    """
    import contextlib
    import time

    import torch

    steps = _validate.as_int(steps, "steps", minimum=0)
    batch_size = _validate.as_int(batch_size, "batch_size")
    d_steps = _validate.as_int(d_steps, "d_steps")
    seed = _validate.as_int(seed, "seed", minimum=0)
    lr_g, lr_d = _validate.as_positive_float(lr_g, "lr_g"), _validate.as_positive_float(lr_d, "lr_d")
    if loss not in GENERATOR_LOSSES:
        raise ValueError(f"loss must be one of {GENERATOR_LOSSES}, got {loss!r}")
    g_loss_fn = generator_loss if loss == "non-saturating" else minimax_generator_loss
    latent_dim = _latent_dim(generator, latent_dim)
    snapshot_at = sorted({_validate.as_int(s, "snapshot step", minimum=0) for s in snapshot_at})
    if snapshot_at and snapshot_at[-1] > steps:
        raise ValueError(f"snapshot_at lists step {snapshot_at[-1]}, after the last step ({steps})")
    if snapshot_z is None:
        snapshot_z = latents(64, latent_dim, seed)
    device = runtime.device() if device is None else torch.device(device)
    X = torch_training._inputs(X, device)
    n = len(X)
    if n < batch_size:
        raise ValueError(f"X holds {n} rows, fewer than one batch of {batch_size}")
    snapshot_z = torch_training._inputs(snapshot_z, device, "snapshot_z")
    if snapshot_z.ndim != 2 or snapshot_z.shape[1] != latent_dim:
        raise ValueError(f"snapshot_z must have shape (m, {latent_dim}), got {tuple(snapshot_z.shape)}")
    generator.to(device)
    discriminator.to(device)
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr_g, betas=tuple(betas))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr_d, betas=tuple(betas))
    shuffle = torch.Generator().manual_seed(seed)
    order, cursor = torch.randperm(n, generator=shuffle).to(device), 0
    hist: dict = {"d loss": [], "g loss": [], "d real": [], "d fake": [], "snapshots": {}, "device": str(device)}

    def real_batch():
        nonlocal order, cursor
        if cursor + batch_size > n:  # a new epoch: reshuffle (the last incomplete batch is dropped)
            order, cursor = torch.randperm(n, generator=shuffle).to(device), 0
        cursor += batch_size
        return X[order[cursor - batch_size:cursor]]

    def snapshot(step):
        if step in snapshot_at:
            hist["snapshots"][step] = sample(generator, snapshot_z)
            generator.train()

    live_display = progress.LiveLoss(total=max(steps, 1), title=title, unit="step") if title else \
        contextlib.nullcontext()
    start = time.perf_counter()
    with runtime.torch_seeded(seed, device), live_display as live:
        generator.train()
        discriminator.train()
        snapshot(0)
        for step in range(1, steps + 1):
            for k in range(d_steps):
                real = real_batch()
                z = torch.randn(batch_size, latent_dim, device=device)
                if k < d_steps - 1:
                    with torch.no_grad():
                        fake = generator(z)
                else:  # the last batch of fakes serves the generator's step too
                    fake = generator(z)
                real_logits, fake_logits = discriminator(real), discriminator(fake.detach())
                d_loss = discriminator_loss(real_logits, fake_logits)
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()
            g_loss = g_loss_fn(discriminator(fake))  # judged by the discriminator just updated
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            values = torch.stack([d_loss.detach(), g_loss.detach(), torch.sigmoid(real_logits.detach()).mean(),
                                  torch.sigmoid(fake_logits.detach()).mean()]).tolist()
            for key, value in zip(("d loss", "g loss", "d real", "d fake"), values):
                hist[key].append(value)
            if live:
                live.update(d_loss=values[0], g_loss=values[1], D_real=values[2], D_fake=values[3])
            snapshot(step)
    hist["seconds"] = time.perf_counter() - start
    generator.eval()
    discriminator.eval()
    return hist


# --- what a generator's gradient looks like (the saturation of the minimax loss) -------------------------------


def generator_gradients(d_fake) -> dict[str, np.ndarray]:
    """The derivative of each generator loss with respect to the discriminator's logit a, for one fake whose
    D(G(z)) = sigmoid(a) is each value of ``d_fake`` (any shape, in (0, 1)): ``{"minimax": ..., "non-saturating":
    ...}``, arrays of ``d_fake``'s shape, computed by autograd through :func:`minimax_generator_loss` and
    :func:`generator_loss`. Analytically -D and -(1 - D): where the discriminator rejects a fake (D near 0), the
    minimax gradient vanishes and the non-saturating one is close to -1.
    """
    import torch

    d_fake = _validate.as_float_array(d_fake, "d_fake")
    if np.any(d_fake <= 0) or np.any(d_fake >= 1):
        raise ValueError("d_fake must lie strictly between 0 and 1 (probabilities that a fake is real)")
    out = {}
    for name, fn in (("minimax", minimax_generator_loss), ("non-saturating", generator_loss)):
        a = torch.tensor(np.log(d_fake) - np.log1p(-d_fake), dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(fn(a.reshape(-1)) * max(a.numel(), 1), a)  # undo the mean: one fake each
        out[name] = grad.numpy()
    return out


# --- the optimal discriminator on a line (lecture 09) ------------------------------------------------------------


@dataclass(frozen=True)
class Mixture1D:
    """A mixture of 1-D Gaussians: component k has weight ``weights[k]``, mean ``means[k]`` and standard deviation
    ``stds[k]``. Build it with :func:`mixture_1d`."""

    means: tuple[float, ...]
    stds: tuple[float, ...]
    weights: tuple[float, ...]

    def pdf(self, x) -> np.ndarray:
        """The density at each point of ``x`` (any shape), float64 of the same shape."""
        x = _validate.as_float_array(x, "x")
        col = x.reshape(-1, 1)
        total = sum(w * np.exp(linear.gaussian_log_density(col, [m], [[s * s]]))
                    for m, s, w in zip(self.means, self.stds, self.weights))
        return np.asarray(total).reshape(x.shape)

    def sample(self, n: int, rng=0) -> np.ndarray:
        """``n`` draws as a column (n, 1) float64 (one feature, ready for a network): a component by its weight,
        then its Gaussian."""
        n = _validate.as_int(n, "n")
        rng = _validate.as_rng(rng)
        k = rng.choice(len(self.weights), size=n, p=np.asarray(self.weights))
        return (np.asarray(self.means)[k] + np.asarray(self.stds)[k] * rng.standard_normal(n))[:, None]


def mixture_1d(means, stds, weights=None) -> Mixture1D:
    """A :class:`Mixture1D` of Gaussians with these ``means`` and ``stds`` (> 0), equally weighted unless
    ``weights`` (>= 0, normalised here) are given."""
    means = _validate.as_vector(means, "means")
    stds = _validate.as_vector(stds, "stds", len(means))
    if np.any(stds <= 0) or not np.all(np.isfinite(np.r_[means, stds])):
        raise ValueError("means must be finite and stds finite and > 0")
    weights = np.ones(len(means)) if weights is None else _validate.as_vector(weights, "weights", len(means))
    if np.any(weights < 0) or not weights.sum() > 0:
        raise ValueError("weights must be >= 0 and not all 0")
    weights = weights / weights.sum()
    return Mixture1D(tuple(map(float, means)), tuple(map(float, stds)), tuple(map(float, weights)))


def value_function(p_data, p_g, d, dx: float = 1.0) -> float:
    """The GAN value V(D, G) = sum over a grid of dx [p_data log D + p_g log(1 - D)], the integral
    E_data log D(x) + E_g log(1 - D(x)) on a grid of step ``dx``.

    ``p_data``, ``p_g`` and ``d`` (discriminator outputs in [0, 1]) are arrays of one shape (densities at the grid
    points with the grid's ``dx``, or probabilities with ``dx = 1``). A term whose weight is 0 counts 0 whatever D
    is (0 log 0 = 0), so D* = 0 where p_data = 0 costs nothing; -inf where D says "fake" for certain about data.
    At D = D* (:func:`optimal_discriminator`) and with masses that sum to 1, V = 2 JSD(p_data, p_g) - log 4
    (:func:`dlcourse.information.jensen_shannon`).
    """
    p_data = _validate.as_float_array(p_data, "p_data")
    p_g = _validate.as_float_array(p_g, "p_g")
    d = _validate.as_float_array(d, "d")
    if not p_data.shape == p_g.shape == d.shape:
        raise ValueError(f"p_data, p_g and d must have one shape, got {p_data.shape}, {p_g.shape}, {d.shape}")
    if np.any(p_data < 0) or np.any(p_g < 0):
        raise ValueError("p_data and p_g must be >= 0")
    if np.any(d < 0) or np.any(d > 1):
        raise ValueError("d must lie in [0, 1] (the probability that a point is real)")
    dx = _validate.as_positive_float(dx, "dx")
    return float(dx * np.sum(_numerics.xlogy(p_data, d) + _numerics.xlogy(p_g, 1.0 - d)))


def criterion_at_optimum(p_data, p_g) -> tuple[float, float]:
    """The generator's criterion against the optimal discriminator, computed both ways, on a grid: returns
    ``(V(D*, G), JSD(p_data, p_g))`` for densities (or masses) ``p_data`` and ``p_g`` at the same grid points.

    Both are normalised to masses that sum to 1 over the grid (what the grid can represent), D* is
    :func:`optimal_discriminator`, V is :func:`value_function` with dx = 1 and the JSD is
    :func:`dlcourse.information.jensen_shannon`; Goodfellow et al.'s identity says V(D*, G) = 2 JSD - log 4.
    """
    p_data = _validate.as_vector(p_data, "p_data")
    p_g = _validate.as_vector(p_g, "p_g", len(p_data))
    if np.any(p_data < 0) or np.any(p_g < 0) or not (p_data.sum() > 0 and p_g.sum() > 0):
        raise ValueError("p_data and p_g must be >= 0, each with some mass on the grid")
    p_data, p_g = p_data / p_data.sum(), p_g / p_g.sum()
    value = value_function(p_data, p_g, optimal_discriminator(p_data, p_g))
    return value, float(information.jensen_shannon(p_data, p_g))


def discriminate(discriminator, x) -> np.ndarray:
    """D(x) = sigmoid(logit) of a discriminator for the rows of ``x`` (n, ...), float64 (n,), in evaluation mode."""
    logits = torch_training.outputs(discriminator, x).astype(np.float64)
    return _numerics.sigmoid(logits.reshape(len(logits)))


def fit_discriminator(discriminator, X_real, X_fake, *, steps: int, batch_size: int = 128, lr: float = 1e-3,
                      seed: int = 0, device=None, title: str | None = None) -> list[float]:
    """Train ``discriminator`` alone against a *fixed* generator: Adam on :func:`discriminator_loss` with
    mini-batches of ``batch_size`` rows of ``X_real`` (data) and of ``X_fake`` (samples of the generator's
    distribution), each drawn at random from its set at every one of ``steps`` steps. Seeded from ``seed``; on
    ``device``. Returns the loss at each step; the model is left in evaluation mode. Trained long enough, a
    flexible discriminator approaches :func:`optimal_discriminator` of the two densities."""
    import contextlib

    import torch

    steps = _validate.as_int(steps, "steps")
    batch_size = _validate.as_int(batch_size, "batch_size")
    lr = _validate.as_positive_float(lr, "lr")
    seed = _validate.as_int(seed, "seed", minimum=0)
    device = runtime.device() if device is None else torch.device(device)
    real = torch_training._inputs(X_real, device, "X_real")
    fake = torch_training._inputs(X_fake, device, "X_fake")
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(f"X_real and X_fake must hold rows of one shape, got {tuple(real.shape[1:])} and "
                         f"{tuple(fake.shape[1:])}")
    discriminator.to(device)
    opt = torch.optim.Adam(discriminator.parameters(), lr=lr)
    pick = torch.Generator().manual_seed(seed)
    losses = []
    live_display = progress.LiveLoss(total=steps, title=title, unit="step") if title else contextlib.nullcontext()
    with runtime.torch_seeded(seed, device), live_display as live:
        discriminator.train()
        for _ in range(steps):
            i = torch.randint(len(real), (batch_size,), generator=pick).to(device)
            j = torch.randint(len(fake), (batch_size,), generator=pick).to(device)
            loss = discriminator_loss(discriminator(real[i]), discriminator(fake[j]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            if live:
                live.update(d_loss=losses[-1])
    discriminator.eval()
    return losses


# --- the energy-based view (LeCun) ------------------------------------------------------------------------------


def energy(discriminator, x) -> tuple[np.ndarray, np.ndarray]:
    """The discriminator read as an energy, E(x) = -logit(x) (low on what it takes for data), and its gradient:
    returns ``(E (n,), dE/dx (n, ...))`` float64 for the rows of ``x`` (n, ...), computed in the model's dtype, in
    evaluation mode.

    The discriminator's loss lowers E on data and raises it on the generator's samples (D = sigmoid(-E)); the
    non-saturating generator loss, softplus(E(G(z))), moves each sample x = G(z) along -(1 - D(x)) dE/dx: downhill
    in energy, and fastest where D rejects the sample.
    """
    import torch

    first = next(iter(discriminator.parameters()), None)
    dtype = first.dtype if first is not None else torch.float32
    x = torch_training._as_tensor(x, dtype, torch_training._model_device(discriminator), "x")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must hold at least one point along its first axis, got shape {tuple(x.shape)}")
    x.requires_grad_(True)
    was_training = discriminator.training
    discriminator.eval()
    try:
        e = -discriminator(x).reshape(len(x))
        (grad,) = torch.autograd.grad(e.sum(), x)
    finally:
        discriminator.train(was_training)
    return e.detach().cpu().double().numpy(), grad.cpu().double().numpy()


# --- navigating the latent space (Radford et al.) ----------------------------------------------------------------


def interpolate_latents(z0, z1, steps: int = 8, spherical: bool = False) -> np.ndarray:
    """``steps`` latent vectors (steps, latent_dim) float32 from ``z0`` to ``z1`` (both (latent_dim,)), ends
    included: on the straight line (1 - t) z0 + t z1 (Radford et al.), or with ``spherical`` along the great
    circle (slerp, White 2016), which keeps the norm typical of a Gaussian latent instead of shrinking it
    midway."""
    z0 = _validate.as_vector(z0, "z0")
    z1 = _validate.as_vector(z1, "z1", len(z0))
    steps = _validate.as_int(steps, "steps", minimum=2)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    if not spherical:
        return ((1 - t) * z0 + t * z1).astype(np.float32)
    cos = np.dot(z0, z1) / (np.linalg.norm(z0) * np.linalg.norm(z1))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:  # (almost) the same direction: slerp is the straight line
        return ((1 - t) * z0 + t * z1).astype(np.float32)
    return ((np.sin((1 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)).astype(np.float32)


def latent_arithmetic(a, b, c) -> np.ndarray:
    """mean(a) - mean(b) + mean(c), float32 (latent_dim,): Radford et al.'s vector arithmetic ("man with glasses"
    - "man" + "woman"), each concept the average of a few latent vectors (rows of (k, latent_dim) arrays, or one
    (latent_dim,) vector) so that the attribute, not one sample's quirks, is carried over."""
    means = []
    for z, name in ((a, "a"), (b, "b"), (c, "c")):
        z = _validate.as_float_array(z, name)
        z = z[None] if z.ndim == 1 else z
        if z.ndim != 2 or len(z) == 0:
            raise ValueError(f"{name} must be one latent vector or a non-empty (k, latent_dim) array, got {z.shape}")
        means.append(z.mean(axis=0))
    if len({m.shape for m in means}) != 1:
        raise ValueError(f"a, b and c must have one latent size, got {[m.shape[0] for m in means]}")
    return (means[0] - means[1] + means[2]).astype(np.float32)
