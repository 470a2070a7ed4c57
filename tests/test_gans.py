"""GAN losses (against their direct formulas, stable at extreme logits, with the right gradients), the optimal
discriminator, and the mode-coverage score on hand-made sample sets."""

import numpy as np
import pytest

from dlcourse import data, gans

torch = pytest.importorskip("torch")


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py: as the notebooks compute


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


# --- the networks -------------------------------------------------------------------------------------------


def test_mlp_networks_map_latents_to_points_and_points_to_logits():
    G = gans.build_mlp_generator(latent_dim=4, hidden=(16, 16), seed=0)
    D = gans.build_mlp_discriminator(2, hidden=(16,), seed=0)
    z = torch.randn(7, 4)
    assert G.latent_dim == 4 and G(z).shape == (7, 2) and D(G(z)).shape == (7,)
    same = gans.build_mlp_generator(latent_dim=4, hidden=(16, 16), seed=0)
    assert all(torch.equal(a, b) for a, b in zip(G.parameters(), same.parameters()))
    other = gans.build_mlp_generator(latent_dim=4, hidden=(16, 16), seed=1)
    assert not all(torch.equal(a, b) for a, b in zip(G.parameters(), other.parameters()))
    with pytest.raises(ValueError, match="hidden width must be >= 1"):
        gans.build_mlp_discriminator(2, hidden=(0,))


def test_dcgan_networks_follow_radford_et_al():
    from torch import nn

    G = gans.build_dcgan_generator(latent_dim=10, width=4, seed=0)
    D = gans.build_dcgan_discriminator(width=4, seed=0)
    images = G(torch.randn(3, 10))
    assert images.shape == (3, 1, 28, 28) and float(images.detach().abs().max()) <= 1.0        # tanh output
    assert D(images).shape == (3,)
    kinds = {type(m) for m in G.modules()} | {type(m) for m in D.modules()}
    assert {nn.ConvTranspose2d, nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.LeakyReLU, nn.Tanh} <= kinds
    assert not kinds & {nn.MaxPool2d, nn.AvgPool2d, nn.Linear}                    # strided convolutions only
    strides = [m.stride for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert strides[:2] == [(2, 2), (2, 2)]
    assert not isinstance(D[1], nn.BatchNorm2d) and isinstance(D[3], nn.BatchNorm2d)  # no BN on D's first layer
    weights = torch.cat([m.weight.detach().flatten() for m in G.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert float(weights.std()) == pytest.approx(0.02, rel=0.1)                      # N(0, 0.02^2)
    again = gans.build_dcgan_discriminator(width=4, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(D.parameters(), again.parameters()))


def test_tanh_range_round_trip():
    x = np.array([[0.0, 0.25, 1.0]])
    np.testing.assert_allclose(gans.to_tanh_range(x), [[-1.0, -0.5, 1.0]])
    np.testing.assert_allclose(gans.from_tanh_range(gans.to_tanh_range(x)), x)
    assert gans.from_tanh_range(np.array([-3.0, 3.0])).tolist() == [0.0, 1.0]


# --- training -----------------------------------------------------------------------------------------------


def tiny_ring_gan(steps=60, **kw):
    X, centres = data.ring_of_gaussians(512, std=0.05, rng=0)
    G = gans.build_mlp_generator(latent_dim=4, hidden=(32,), seed=0)
    D = gans.build_mlp_discriminator(2, hidden=(32,), seed=1)
    hist = gans.train_gan(G, D, X, steps=steps, batch_size=64, lr_g=1e-3, lr_d=1e-3, device="cpu", title=None, **kw)
    return G, D, hist, centres


def test_train_gan_records_both_losses_and_snapshots_and_is_deterministic():
    z = gans.latents(50, 4, seed=3)
    G, D, hist, _ = tiny_ring_gan(snapshot_at=(0, 30, 60), snapshot_z=z)
    assert all(len(hist[k]) == 60 for k in ("d loss", "g loss", "d real", "d fake"))
    assert sorted(hist["snapshots"]) == [0, 30, 60] and hist["snapshots"][60].shape == (50, 2)
    np.testing.assert_allclose(hist["snapshots"][60], gans.sample(G, z), atol=1e-6)   # the final generator
    assert not np.allclose(hist["snapshots"][0], hist["snapshots"][60])
    assert hist["device"] == "cpu" and hist["seconds"] > 0 and not G.training and not D.training
    assert np.all(np.isfinite(hist["d loss"])) and all(0 < v < 1 for v in hist["d real"] + hist["d fake"])
    # the first discriminator loss is about 2 log 2: a fresh D cannot tell
    assert hist["d loss"][0] == pytest.approx(2 * np.log(2), abs=0.1)
    again = tiny_ring_gan(snapshot_at=(60,), snapshot_z=z)[2]
    assert again["d loss"] == hist["d loss"] and again["g loss"] == hist["g loss"]
    np.testing.assert_array_equal(again["snapshots"][60], hist["snapshots"][60])
    assert tiny_ring_gan(seed=1)[2]["d loss"] != hist["d loss"]


def test_the_discriminator_learns_and_the_minimax_loss_is_reported_as_such():
    _, _, hist, _ = tiny_ring_gan(steps=80, loss="minimax")
    assert all(v <= 0 for v in hist["g loss"])                             # log(1 - D) <= 0
    assert np.mean(hist["d real"][-10:]) > np.mean(hist["d fake"][-10:])   # D tells them apart


def test_train_gan_rejects_bad_settings():
    X = np.zeros((100, 2), dtype=np.float32)
    G, D = gans.build_mlp_generator(4, (8,)), gans.build_mlp_discriminator(2, (8,))
    with pytest.raises(ValueError, match="loss must be one of"):
        gans.train_gan(G, D, X, steps=1, loss="wasserstein", title=None)
    with pytest.raises(ValueError, match="fewer than one batch"):
        gans.train_gan(G, D, X, steps=1, batch_size=128, title=None)
    with pytest.raises(ValueError, match="after the last step"):
        gans.train_gan(G, D, X, steps=5, snapshot_at=(10,), title=None)
    with pytest.raises(ValueError, match=r"snapshot_z must have shape \(m, 4\)"):
        gans.train_gan(G, D, X, steps=5, snapshot_at=(5,), snapshot_z=np.zeros((3, 5)), title=None)
    with pytest.raises(ValueError, match="latent_dim must be given"):
        gans.train_gan(torch.nn.Linear(4, 2), D, X, steps=1, title=None)


def test_latents_are_seeded_gaussians():
    z = gans.latents(4000, 3, seed=0)
    assert z.shape == (4000, 3) and z.dtype == np.float32
    assert abs(z.mean()) < 0.05 and z.std() == pytest.approx(1.0, abs=0.03)
    np.testing.assert_array_equal(z, gans.latents(4000, 3, seed=0))


# --- generator gradients, the optimal discriminator on a line, the JSD identity ------------------------------


def test_generator_gradients_are_minus_d_and_minus_one_minus_d():
    d = np.array([1e-4, 0.1, 0.5, 0.9])
    grads = gans.generator_gradients(d)
    np.testing.assert_allclose(grads["minimax"], -d, rtol=1e-9)
    np.testing.assert_allclose(grads["non-saturating"], -(1 - d), rtol=1e-9)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        gans.generator_gradients([0.0, 0.5])


def test_mixture_density_integrates_to_one_and_its_samples_follow_it():
    mix = gans.mixture_1d([-1.0, 2.0], [0.5, 1.0], [1.0, 3.0])
    assert mix.weights == (0.25, 0.75)
    x = np.linspace(-8, 10, 3601)
    assert np.sum(mix.pdf(x)) * (x[1] - x[0]) == pytest.approx(1.0, abs=1e-6)
    assert mix.pdf(np.array([[-1.0]])).shape == (1, 1)
    samples = mix.sample(20000, rng=0)
    assert samples.shape == (20000, 1)
    assert samples.mean() == pytest.approx(0.25 * -1.0 + 0.75 * 2.0, abs=0.03)
    with pytest.raises(ValueError, match="stds"):
        gans.mixture_1d([0.0], [0.0])
    with pytest.raises(ValueError, match="weights"):
        gans.mixture_1d([0.0, 1.0], [1.0, 1.0], [0.0, 0.0])


def test_at_the_optimal_discriminator_the_criterion_is_2_jsd_minus_log_4():
    from dlcourse import information

    x = np.linspace(-6, 6, 1201)
    p_data, p_g = gans.mixture_1d([-1.5, 1.0], [0.4, 0.6]).pdf(x), gans.mixture_1d([0.5], [1.0]).pdf(x)
    value, jsd = gans.criterion_at_optimum(p_data, p_g)
    assert value == pytest.approx(2 * jsd - np.log(4), abs=1e-12)
    assert 0 < jsd < np.log(2)
    p, q = p_data / p_data.sum(), p_g / p_g.sum()
    assert jsd == pytest.approx(float(information.jensen_shannon(p, q)))
    # D* maximises V: any other discriminator does worse
    d_star = gans.optimal_discriminator(p, q)
    for other in (np.full_like(p, 0.5), np.clip(d_star + 0.05, 0, 1), d_star ** 2):
        assert gans.value_function(p, q, other) < value
    assert gans.value_function(p, q, np.full_like(p, 0.5)) == pytest.approx(-np.log(4))
    # a perfect generator: V(D*, G) = -log 4, the global minimum
    assert gans.criterion_at_optimum(p_data, p_data)[0] == pytest.approx(-np.log(4))
    # densities with a step dx: the same value as the masses
    dx = x[1] - x[0]
    assert gans.value_function(p / dx, q / dx, d_star, dx=dx) == pytest.approx(value)
    with pytest.raises(ValueError, match="one shape"):
        gans.value_function(p, q[:-1], d_star)
    with pytest.raises(ValueError, match=r"d must lie in \[0, 1\]"):
        gans.value_function(p, q, d_star + 1)


def test_a_trained_discriminator_approaches_the_optimal_one():
    p_data, p_g = gans.mixture_1d([-1.0, 1.5], [0.4, 0.5]), gans.mixture_1d([0.0], [1.5])
    D = gans.build_mlp_discriminator(1, hidden=(16, 16), seed=0)
    losses = gans.fit_discriminator(D, p_data.sample(4000, 1), p_g.sample(4000, 2), steps=400, batch_size=256,
                                    lr=3e-3, seed=0, device="cpu")
    assert len(losses) == 400 and np.mean(losses[-20:]) < np.mean(losses[:20])
    x = np.linspace(-2.5, 2.5, 101)
    d_star = gans.optimal_discriminator(p_data.pdf(x), p_g.pdf(x))
    d = gans.discriminate(D, x[:, None])
    assert d.shape == (101,) and np.mean(np.abs(d - d_star)) < 0.06
    untrained = gans.discriminate(gans.build_mlp_discriminator(1, hidden=(16, 16), seed=0), x[:, None])
    assert np.mean(np.abs(untrained - d_star)) > 2 * np.mean(np.abs(d - d_star))
    with pytest.raises(ValueError, match="rows of one shape"):
        gans.fit_discriminator(D, np.zeros((10, 1)), np.zeros((10, 2)), steps=1)


# --- energy, interpolation, arithmetic ------------------------------------------------------------------------


def test_energy_is_minus_the_logit_and_its_gradient_matches_finite_differences():
    D = gans.build_mlp_discriminator(2, hidden=(8,), seed=0).double()
    x = np.random.default_rng(0).normal(size=(5, 2))
    e, grad = gans.energy(D, x)
    with torch.no_grad():
        logits = D(torch.tensor(x)).numpy()
    np.testing.assert_allclose(e, -logits, rtol=1e-6)
    h = 1e-5
    for j in range(2):
        step = np.zeros(2)
        step[j] = h
        numeric = (gans.energy(D, x + step)[0] - gans.energy(D, x - step)[0]) / (2 * h)
        np.testing.assert_allclose(grad[:, j], numeric, rtol=1e-4, atol=1e-6)


def test_interpolation_goes_from_one_latent_to_the_other():
    z0, z1 = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    line = gans.interpolate_latents(z0, z1, steps=5)
    assert line.shape == (5, 3) and line.dtype == np.float32
    np.testing.assert_allclose(line[[0, -1]], [z0, z1])
    np.testing.assert_allclose(line[2], [0.5, 0.5, 0.0])
    arc = gans.interpolate_latents(z0, z1, steps=5, spherical=True)
    np.testing.assert_allclose(arc[[0, -1]], [z0, z1], atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(arc, axis=1), 1.0, rtol=1e-6)   # on the great circle
    assert np.linalg.norm(line[2]) < 0.75                                        # the straight line shrinks
    np.testing.assert_allclose(gans.interpolate_latents(z0, 2 * z0, 3, spherical=True)[1], 1.5 * z0)
    with pytest.raises(ValueError, match="z1 must have shape"):
        gans.interpolate_latents(z0, np.zeros(4))


def test_latent_arithmetic_averages_each_concept():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([1.0, 1.0])
    c = np.array([[0.0, 10.0], [0.0, 20.0], [0.0, 30.0]])
    np.testing.assert_allclose(gans.latent_arithmetic(a, b, c), [2 - 1 + 0, 3 - 1 + 20])
    with pytest.raises(ValueError, match="one latent size"):
        gans.latent_arithmetic(a, np.zeros(3), c)
