"""GAN losses (against their direct formulas, stable at extreme logits, with the right gradients), the optimal
discriminator, and the mode-coverage score on hand-made sample sets."""

import numpy as np
import pytest

from dlcourse import data, gans

torch = pytest.importorskip("torch")


def logits(*values):
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


def num(t) -> float:
    return float(t.detach())


# --- the losses ---------------------------------------------------------------------------------------------


def test_losses_match_their_direct_formulas_at_moderate_logits():
    real, fake = logits(-2.0, 0.3, 1.5, 4.0), logits(-3.0, -0.5, 0.0, 2.5, 1.0)
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected_d = -torch.log(d_real).mean() - torch.log(1 - d_fake).mean()
    assert num(gans.discriminator_loss(real, fake)) == pytest.approx(num(expected_d), rel=1e-12)
    assert num(gans.generator_loss(fake)) == pytest.approx(num(-torch.log(d_fake).mean()), rel=1e-12)
    assert num(gans.minimax_generator_loss(fake)) == pytest.approx(num(torch.log(1 - d_fake).mean()), rel=1e-12)
    # the discriminator loss is -V(D, G); the minimax generator loss is V's generator part
    assert num(gans.discriminator_loss(real, fake)) == pytest.approx(
        -num(torch.log(d_real).mean()) - num(gans.minimax_generator_loss(fake)), rel=1e-12)
    for loss in (gans.discriminator_loss(real, fake), gans.generator_loss(fake), gans.minimax_generator_loss(fake)):
        assert loss.ndim == 0


def test_losses_are_finite_and_exact_at_logits_of_plus_minus_100():
    big = logits(100.0, -100.0)
    d = gans.discriminator_loss(big, big)        # softplus(-100) + softplus(100), softplus(100) + softplus(-100)
    assert torch.isfinite(d) and num(d) == pytest.approx(100.0, rel=1e-12)
    assert num(gans.generator_loss(logits(-100.0))) == pytest.approx(100.0, rel=1e-12)   # -log sigmoid(-100)
    assert num(gans.generator_loss(logits(100.0))) == pytest.approx(np.exp(-100.0), rel=1e-6)
    assert num(gans.minimax_generator_loss(logits(100.0))) == pytest.approx(-100.0, rel=1e-12)  # log(1 - D) = -100
    assert num(gans.minimax_generator_loss(logits(-100.0))) == pytest.approx(-np.exp(-100.0), rel=1e-6)
    naive = torch.log(1 - torch.sigmoid(torch.tensor(100.0)))           # what the stable form avoids
    assert not torch.isfinite(naive)
    for loss in (gans.discriminator_loss(big, big), gans.generator_loss(big), gans.minimax_generator_loss(big)):
        (grad,) = torch.autograd.grad(loss, big)
        assert torch.all(torch.isfinite(grad))
    f32 = torch.tensor([100.0, -100.0])                                  # float32 too
    assert torch.isfinite(gans.discriminator_loss(f32, f32)) and torch.isfinite(gans.minimax_generator_loss(f32))


def test_gradients_are_the_analytic_ones():
    real, fake = logits(-1.0, 0.5, 2.0), logits(-4.0, -1.0, 0.0, 3.0)
    g_real, g_fake = torch.autograd.grad(gans.discriminator_loss(real, fake), (real, fake))
    s_real, s_fake = torch.sigmoid(real).detach(), torch.sigmoid(fake).detach()
    torch.testing.assert_close(g_real, -(1 - s_real) / 3)       # d softplus(-a)/da = -sigmoid(-a)
    torch.testing.assert_close(g_fake, s_fake / 4)              # d softplus(a)/da = sigmoid(a)
    (g_ns,) = torch.autograd.grad(gans.generator_loss(fake), fake)
    torch.testing.assert_close(g_ns, -(1 - s_fake) / 4)
    (g_mm,) = torch.autograd.grad(gans.minimax_generator_loss(fake), fake)
    torch.testing.assert_close(g_mm, -s_fake / 4)
    # where D rejects the fake (logit -4, D = 0.018) the minimax gradient nearly vanishes, the other one does not
    assert abs(num(g_mm[0])) < 0.02 / 4 < 0.98 / 4 < abs(num(g_ns[0]))


def test_losses_refuse_what_is_not_a_float_tensor():
    with pytest.raises(ValueError, match="torch tensor"):
        gans.generator_loss(np.zeros(3))
    with pytest.raises(ValueError, match="floating-point"):
        gans.discriminator_loss(torch.zeros(3, dtype=torch.int64), torch.zeros(3))
    with pytest.raises(ValueError, match="at least one logit"):
        gans.minimax_generator_loss(torch.zeros(0))


# --- the optimal discriminator ------------------------------------------------------------------------------


def test_optimal_discriminator_is_the_density_ratio_with_one_half_where_both_vanish():
    p_data, p_g = np.array([0.2, 0.0, 0.0, 1.0, 3.0]), np.array([0.2, 0.5, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(gans.optimal_discriminator(p_data, p_g), [0.5, 0.0, 0.5, 1.0, 0.75])
    # broadcasting: one generator density against a column of data densities
    d = gans.optimal_discriminator(np.array([[1.0], [3.0]]), np.array([1.0, 0.0]))
    np.testing.assert_allclose(d, [[0.5, 1.0], [0.75, 1.0]])
    # D* maximises p_data log D + p_g log(1 - D) pointwise
    grid = np.linspace(0.001, 0.999, 999)
    best = grid[np.argmax(0.3 * np.log(grid) + 0.7 * np.log(1 - grid))]
    assert gans.optimal_discriminator(0.3, 0.7) == pytest.approx(best, abs=1e-3)


@pytest.mark.parametrize("p_data, p_g, message", [
    ([0.1, -0.2], [0.1, 0.1], "p_data must be >= 0"),
    ([0.1, 0.2], [0.1, np.nan], "p_g must be finite"),
    ([0.1, 0.2, 0.3], [0.1, 0.2], "same shape"),
    (["a"], [0.1], "p_data must be numeric"),
])
def test_optimal_discriminator_rejects_what_is_not_a_pair_of_densities(p_data, p_g, message):
    with pytest.raises(ValueError, match=message):
        gans.optimal_discriminator(p_data, p_g)


# --- mode coverage ------------------------------------------------------------------------------------------

STD = 0.02


@pytest.fixture(scope="module")
def ring():
    return data.ring_of_gaussians(4000, modes=8, radius=2.0, std=STD, rng=0)


def test_samples_of_the_mixture_cover_every_mode_with_high_quality(ring):
    X, centres = ring
    score = gans.mode_coverage(X, centres, STD)
    assert score.covered == 8 and score.high_quality > 0.98           # P(r <= 3σ) = 1 - e^-4.5 = 0.989 in 2-D
    assert score.counts.shape == (8,) and score.counts.sum() == round(score.high_quality * len(X))
    assert np.all(np.abs(score.counts / score.counts.sum() - 1 / 8) < 0.02)
    assert "8 of 8 modes covered" in score.summary()


def test_a_collapsed_generator_covers_one_mode(ring):
    _, centres = ring
    one_mode = centres[3] + STD * np.random.default_rng(1).standard_normal((1000, 2))
    score = gans.mode_coverage(one_mode, centres, STD)
    assert score.covered == 1 and score.counts[3] == score.counts.sum() and score.high_quality > 0.98


def test_noise_around_the_ring_covers_nothing_and_has_low_quality(ring):
    _, centres = ring
    noise = np.random.default_rng(2).uniform(-2.5, 2.5, size=(2000, 2))
    score = gans.mode_coverage(noise, centres, STD)
    # each 3σ disc holds pi (0.06)^2 / 25 = 0.05 % of the box: about 1 sample per mode, below 1 % of 2000
    assert score.covered == 0 and score.high_quality < 0.01


def test_few_samples_need_one_per_mode_and_broken_samples_are_not_high_quality(ring):
    _, centres = ring
    samples = np.r_[centres[:5], [[np.nan, 0.0], [np.inf, 1.0], [1e200, 1e200]]]
    score = gans.mode_coverage(samples, centres, STD)        # min_share n = 0.08 < 1: one sample suffices
    assert score.covered == 5 and score.high_quality == pytest.approx(5 / 8)
    assert score.counts.tolist() == [1, 1, 1, 1, 1, 0, 0, 0]
    assert gans.mode_coverage(samples, centres, STD, min_share=0.2).covered == 0   # 0.2 * 8 = 1.6 > 1


def test_mode_coverage_works_in_any_dimension_and_checks_its_input():
    centres = np.eye(5)
    samples = np.repeat(centres[:2], 10, axis=0) + 0.001
    score = gans.mode_coverage(samples, centres, 0.01)
    assert score.covered == 2 and score.counts.tolist() == [10, 10, 0, 0, 0]
    with pytest.raises(ValueError, match="centres must have 5 columns"):
        gans.mode_coverage(samples, np.zeros((3, 2)), 0.01)
    with pytest.raises(ValueError, match="std must be > 0"):
        gans.mode_coverage(samples, centres, 0.0)
    with pytest.raises(ValueError, match="min_share"):
        gans.mode_coverage(samples, centres, 0.1, min_share=2.0)
    with pytest.raises(ValueError, match="samples must be a 2-D array"):
        gans.mode_coverage(np.zeros(5), centres, 0.1)
