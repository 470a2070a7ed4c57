"""Sparse coding (lecture 10): shrink against its definition and torch's softshrink, the ISTA step against the
formula written out component by component, ISTA's fixed point against sklearn's lasso solution, the energy along
ISTA, FISTA's speed-up, and LISTA (untrained = ISTA; trained, a few steps beat ISTA by a wide margin)."""

import numpy as np
import pytest

from dlcourse import sparse_coding as sc

torch = pytest.importorskip("torch")


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py: as the notebooks compute


@pytest.fixture(scope="module")
def problem():
    """An overcomplete dictionary (16 x 32), 700 signals of 3 atoms each, and their optimal codes for lam = 0.1."""
    W_d, Y, Z_true = sc.sparse_problem(n=16, k=32, n_signals=700, sparsity=3, noise=0.01, seed=0)
    return W_d, Y, Z_true, 0.1, sc.fista(Y, W_d, 0.1, 1000)


def by_cases(x, t):
    """Soft thresholding written as its three cases."""
    return np.where(x > t, x - t, np.where(x < -t, x + t, 0.0))


# --- shrink ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(), (7,), (3, 4), (2, 3, 5)])
def test_shrink_matches_its_cases_on_any_shape(shape):
    rng = np.random.default_rng(len(shape))
    x = rng.normal(size=shape)
    for t in (0.0, 0.3, 1.0):
        out = sc.shrink(x, t)
        assert out.shape == x.shape and out.dtype == np.float64
        np.testing.assert_allclose(out, by_cases(x, t), rtol=0, atol=1e-15)


def test_shrink_edge_cases():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_array_equal(sc.shrink(x, 0), x)                       # t = 0: unchanged
    np.testing.assert_array_equal(sc.shrink(x, 2.0), np.zeros(5))           # |x| <= t everywhere: zeros
    np.testing.assert_array_equal(sc.shrink(x, 0.5), [-1.5, 0.0, 0.0, 0.0, 1.5])   # the boundary |x| = t goes to 0
    np.testing.assert_array_equal(sc.shrink([3, -3], 1), [2.0, -2.0])       # ints in, float64 out
    assert sc.shrink(np.float64(-1.25), 0.25) == -1.0 and sc.shrink(-1.25, 0.25).shape == ()


def test_shrink_is_the_proximal_operator_of_the_l1_norm():
    grid = np.linspace(-3, 3, 60001)                                        # spacing 1e-4
    for x, t in ((1.7, 0.4), (-0.9, 0.4), (0.3, 0.4), (-2.2, 1.5)):
        best = grid[np.argmin(0.5 * (grid - x) ** 2 + t * np.abs(grid))]
        assert sc.shrink(x, t) == pytest.approx(best, abs=1e-4)


def test_shrink_refuses_bad_thresholds_and_inputs():
    with pytest.raises(ValueError, match=">= 0"):
        sc.shrink([1.0], -0.1)
    with pytest.raises(ValueError, match="scalar"):
        sc.shrink([1.0, 2.0], [0.1, 0.2])
    with pytest.raises(ValueError, match="numeric"):
        sc.shrink(["a"], 0.1)


def test_torch_shrink_equals_numpy_shrink_and_softshrink():
    x = np.random.default_rng(0).normal(size=(4, 6)) * 2
    for t in (0.0, 0.5, 1.3):
        ours = sc._shrink_torch(torch.from_numpy(x), t).numpy()
        np.testing.assert_allclose(ours, sc.shrink(x, t), rtol=0, atol=1e-15)
        np.testing.assert_allclose(torch.nn.functional.softshrink(torch.from_numpy(x), t).numpy(), ours, atol=1e-15)
    theta = np.linspace(0, 2, 6)                                            # one threshold per unit (column)
    per_unit = sc._shrink_torch(torch.from_numpy(x), torch.from_numpy(theta)).numpy()
    np.testing.assert_allclose(per_unit, by_cases(x, theta), rtol=0, atol=1e-15)


# --- the ISTA step, the energy, ISTA and FISTA -------------------------------------------------------------------


def test_ista_step_is_a_gradient_step_then_a_componentwise_proximal_step():
    rng = np.random.default_rng(1)
    n, k, lam, L = 5, 8, 0.3, 4.0
    W_d, Z, Y = rng.normal(size=(n, k)), rng.normal(size=k), rng.normal(size=n)
    residual = [sum(W_d[i, j] * Z[j] for j in range(k)) - Y[i] for i in range(n)]
    expected = []
    for j in range(k):
        v = Z[j] - sum(W_d[i, j] * residual[i] for i in range(n)) / L
        expected.append(v - lam / L if v > lam / L else v + lam / L if v < -lam / L else 0.0)
    out = sc.ista_step(Z, Y, W_d, lam, L)
    assert out.shape == (k,)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sc.ista_step(Z, Y, W_d, 0, L), Z - W_d.T @ (W_d @ Z - Y) / L, rtol=1e-12)


def test_ista_step_refuses_bad_arguments():
    W_d, Z, Y = np.ones((4, 6)), np.zeros(6), np.zeros(4)
    with pytest.raises(ValueError, match=r"Z must have shape \(6,\)"):
        sc.ista_step(np.zeros(4), Y, W_d, 0.1, 1.0)
    with pytest.raises(ValueError, match=r"Y must have shape \(4,\)"):
        sc.ista_step(Z, np.zeros(6), W_d, 0.1, 1.0)
    with pytest.raises(ValueError, match="W_d must be a 2-D"):
        sc.ista_step(Z, Y, np.ones(6), 0.1, 1.0)
    with pytest.raises(ValueError, match="Z must be a 1-D"):
        sc.ista_step(np.zeros((2, 6)), Y, W_d, 0.1, 1.0)
    with pytest.raises(ValueError, match="lam must be >= 0"):
        sc.ista_step(Z, Y, W_d, -0.1, 1.0)
    for L in (0.0, -1.0):
        with pytest.raises(ValueError, match="L must be > 0"):
            sc.ista_step(Z, Y, W_d, 0.1, L)


def test_energy_and_lipschitz_against_direct_formulas():
    rng = np.random.default_rng(2)
    W_d, Z, Y = rng.normal(size=(5, 9)), rng.normal(size=(3, 9)), rng.normal(size=(3, 5))
    energies = sc.sparse_energy(Z, Y, W_d, 0.7)
    assert energies.shape == (3,)
    for i in range(3):
        direct = 0.5 * np.linalg.norm(Y[i] - W_d @ Z[i]) ** 2 + 0.7 * np.abs(Z[i]).sum()
        assert energies[i] == pytest.approx(direct, rel=1e-12)
        assert sc.sparse_energy(Z[i], Y[i], W_d, 0.7) == pytest.approx(direct, rel=1e-12)
    assert sc.lipschitz(W_d) == pytest.approx(np.linalg.eigvalsh(W_d.T @ W_d)[-1], rel=1e-10)
    with pytest.raises(ValueError, match=r"Z must have shape \(3, 9\)"):
        sc.sparse_energy(Z[:, :5], Y, W_d, 0.7)
    with pytest.raises(ValueError, match=r"Y must be a signal of shape \(5,\)"):
        sc.sparse_energy(Z, Y[:, :4], W_d, 0.7)


def test_ista_converges_to_sklearns_lasso_solution():
    from sklearn.linear_model import Lasso

    W_d, Y, _ = sc.sparse_problem(n=12, k=20, n_signals=4, sparsity=3, noise=0.05, seed=3)
    lam = 0.1
    Z = sc.ista(Y, W_d, lam, 5000)
    for y, z in zip(Y, Z):
        lasso = Lasso(alpha=lam / len(y), fit_intercept=False, tol=1e-14, max_iter=200_000).fit(W_d, y)
        np.testing.assert_allclose(z, lasso.coef_, atol=1e-8)    # measured: 2e-14
        assert 0 < np.count_nonzero(z) < len(z)                             # a genuinely sparse solution
        np.testing.assert_allclose(sc.ista_step(z, y, W_d, lam, sc.lipschitz(W_d)), z, atol=1e-9)  # a fixed point


def test_batched_ista_is_the_single_step_repeated(problem):
    W_d, Y, _, lam, _ = problem
    L = 1.5 * sc.lipschitz(W_d)
    path = sc.ista(Y[:3], W_d, lam, 4, L=L, history=True)
    assert path.shape == (5, 3, 32)
    for i in range(3):
        z = np.zeros(32)
        np.testing.assert_array_equal(path[0, i], z)
        for t in range(1, 5):
            z = sc.ista_step(z, Y[i], W_d, lam, L)
            np.testing.assert_allclose(path[t, i], z, rtol=0, atol=1e-13)
        np.testing.assert_allclose(sc.ista(Y[i], W_d, lam, 4, L=L), z, atol=1e-13)   # a single signal: (k,)
    assert sc.ista(Y[0], W_d, lam, 3, history=True).shape == (4, 32)
    np.testing.assert_array_equal(sc.fista(Y[:2], W_d, lam, 0), np.zeros((2, 32)))
    # FISTA's first step has no momentum yet: it is ISTA's
    np.testing.assert_allclose(sc.fista(Y[:3], W_d, lam, 1), sc.ista(Y[:3], W_d, lam, 1), atol=1e-15)


def test_energy_decreases_along_ista_and_fista_gets_there_faster(problem):
    W_d, Y, _, lam, Z_star = problem
    Y, Z_star = Y[:50], Z_star[:50]
    path = sc.ista(Y, W_d, lam, 200, history=True)
    energies = np.stack([sc.sparse_energy(Z, Y, W_d, lam) for Z in path])          # (201, 50)
    assert np.all(np.diff(energies, axis=0) <= 1e-12)
    assert np.all(energies[-1] < energies[0])
    E_star = sc.sparse_energy(Z_star, Y, W_d, lam)
    assert np.all(E_star <= energies[-1] + 1e-12)
    for steps in (50, 100):
        gap_ista = np.sum(energies[steps] - E_star)
        gap_fista = np.sum(sc.sparse_energy(sc.fista(Y, W_d, lam, steps), Y, W_d, lam) - E_star)
        err_ista = np.sum((path[steps] - Z_star) ** 2)
        err_fista = np.sum((sc.fista(Y, W_d, lam, steps) - Z_star) ** 2)
        assert gap_fista < gap_ista / 50 and err_fista < err_ista / 50       # measured: 378x and 390x at 50


# --- the synthetic problem ---------------------------------------------------------------------------------------


def test_sparse_problem_makes_what_it_says():
    W_d, Y, Z = sc.sparse_problem(n=10, k=25, n_signals=40, sparsity=4, noise=0.0, seed=5)
    assert W_d.shape == (10, 25) and Y.shape == (40, 10) and Z.shape == (40, 25)
    np.testing.assert_allclose(np.linalg.norm(W_d, axis=0), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(np.count_nonzero(Z, axis=1), 4)
    np.testing.assert_allclose(Y, Z @ W_d.T, rtol=1e-12)
    noisy = sc.sparse_problem(n=10, k=25, n_signals=40, sparsity=4, noise=0.1, seed=5)
    np.testing.assert_array_equal(noisy[0], W_d)                             # the same draws, plus noise
    assert 0.05 < np.std(noisy[1] - Z @ W_d.T) < 0.15
    again = sc.sparse_problem(n=10, k=25, n_signals=40, sparsity=4, noise=0.0, seed=5)
    for a, b in zip(again, (W_d, Y, Z)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="sparsity must be at most k = 25"):
        sc.sparse_problem(n=10, k=25, sparsity=26)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        sc.sparse_problem(noise=-1.0)


# --- LISTA -------------------------------------------------------------------------------------------------------


def test_untrained_lista_computes_exactly_the_ista_steps(problem):
    W_d, Y, _, lam, _ = problem
    model = sc.build_lista(W_d, lam, 6)
    params = dict(model.named_parameters())
    assert {name: tuple(p.shape) for name, p in params.items()} == {"W_e": (32, 16), "S": (32, 32), "theta": (32,)}
    path = sc.ista(Y[:100], W_d, lam, 6, history=True)
    with torch.no_grad():
        for depth in range(7):
            out = model(torch.from_numpy(Y[:100]), steps=depth)
            assert out.shape == (100, 32) and out.dtype == torch.float64
            np.testing.assert_allclose(out.numpy(), path[depth], rtol=0, atol=1e-12)
        np.testing.assert_allclose(model(Y[:100]).numpy(), path[6], atol=1e-12)    # arrays too; all 6 steps
    with pytest.raises(ValueError, match="at most the model's 6 steps"):
        model(Y[:2], steps=7)
    with pytest.raises(ValueError, match="lam must be >= 0"):
        sc.build_lista(W_d, -1.0, 3)


def test_trained_lista_beats_ista_at_the_same_depth(problem):
    W_d, Y, _, lam, Z_star = problem
    Y_train, Y_test, Z_train, Z_test = Y[:500], Y[500:], Z_star[:500], Z_star[500:]

    def error(Z):
        return np.sum((Z - Z_test) ** 2) / np.sum(Z_test ** 2)

    model = sc.build_lista(W_d, lam, 5)
    losses = sc.train_lista(model, Y_train, Z_train, epochs=40, seed=0)
    assert len(losses) == 40 and losses[-1] < losses[0]
    with torch.no_grad():
        lista = error(model(torch.from_numpy(Y_test)).numpy())
    ista = error(sc.ista(Y_test, W_d, lam, 5))
    assert lista < ista / 3                                 # measured: 0.10 vs 0.44 (4.2-5.7x over 4 problems)
    assert lista < error(sc.ista(Y_test, W_d, lam, 15))     # ... and ISTA needs more than 3x the steps to match
    again = sc.build_lista(W_d, lam, 5)
    assert sc.train_lista(again, Y_train, Z_train, epochs=3, seed=0) == losses[:3]    # seeded


def test_train_lista_refuses_mismatched_data(problem):
    W_d, Y, _, lam, Z_star = problem
    model = sc.build_lista(W_d, lam, 2)
    with pytest.raises(ValueError, match="one row per signal"):
        sc.train_lista(model, Y[:10], Z_star[:9], epochs=1)
    with pytest.raises(ValueError, match="Z_target must have 32 columns"):
        sc.train_lista(model, Y[:10], Z_star[:10, :16], epochs=1)
    with pytest.raises(ValueError, match="Y must have 16 columns"):
        sc.train_lista(model, Z_star[:10], Z_star[:10], epochs=1)


def test_code_error_curves(problem):
    W_d, Y, _, lam, _ = problem
    curves = sc.code_error_curves(W_d, Y[:300], Y[600:], lam, max_steps=10, lista_depths=(1, 3), epochs=20,
                                  optimum_steps=1000)
    assert curves["steps"].tolist() == list(range(11))
    assert curves["ista"].shape == curves["fista"].shape == (11,)
    assert curves["ista"][0] == curves["fista"][0] == 1.0                  # Z = 0
    assert np.all(np.diff(curves["ista"]) <= 1e-12)                         # ISTA never moves away from z*
    assert curves["fista"][10] < curves["ista"][10]
    assert curves["lista_depths"].tolist() == [1, 3] and curves["lista"].shape == (2,)
    assert curves["lista"][0] < curves["ista"][1] and curves["lista"][1] < 0.75 * curves["ista"][3]
    with pytest.raises(ValueError, match="every optimal code"):
        sc.code_error_curves(W_d, Y[:10], Y[10:20], 1e6, lista_depths=())
