"""Checks for assignment ps7 (lecture 10: a differentiable memory, sparse coding, elastic averaging SGD).

Every function is compared with the course's reference (:func:`dlcourse.attention.memory_read` at scale 1,
:func:`dlcourse.sparse_coding.shrink` and :func:`~dlcourse.sparse_coding.ista_step`,
:func:`dlcourse.distributed.easgd_round`) on fixed edge cases and on ``n_random`` random shapes and values drawn
from ``seed``: a single query, a single memory slot, scores of +-1000 (the read must stay finite and warning-free),
a 0-d array, a threshold of 0 and one above every entry, a pure gradient step (lam = 0), square dictionaries that
are not symmetric (so that W_d and W_d^T differ), a single worker, alpha = 0 and beta = p alpha = 1 (never more:
the reference refuses beta > 1, and a student's function need not). When a result is wrong and equals what one
typical mistake would give on that input (a softmax down the columns, hard thresholding, the threshold lam
instead of lam / L, the centre updated from the already-updated workers, ...), the feedback names that mistake.

``easgd_round`` must also leave its arguments as they were: the check looks at the arrays it was given as the call
left them, where the call happened (``unchanged`` of :func:`dlcourse.grading.core.check_behaviour`).
"""

from __future__ import annotations

import numpy as np

from .. import attention, distributed, sparse_coding
from .core import Case, as_plain, check_function

RTOL, ATOL = 1e-9, 1e-12  # float64 computations in any order agree far better than this
LARGE = 1000.0  # the scores at which an exp without the max subtracted overflows (or underflows to 0 / 0)

# while ista_step is checked, a correct shrink stands in for the student's (unless theirs passed its own check):
# a wrong shrink costs Question 2 only
SHRINK_HELPER = {"shrink": sparse_coding.shrink}


# --- helpers ---------------------------------------------------------------------------------------------------


def _array(value) -> np.ndarray | None:
    """``value`` as a float64 array, or None when it is not numbers."""
    try:
        arr = np.asarray(as_plain(value))
    except Exception:  # noqa: BLE001 - ragged lists, odd objects: not an array of numbers
        return None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        return None
    return arr.astype(np.float64)


def _same(got, candidate) -> bool:
    """Whether ``got`` equals ``candidate`` (an array, or a tuple of arrays) to the checks' tolerance."""
    if isinstance(candidate, tuple):
        return (isinstance(got, (tuple, list)) and len(got) == len(candidate)
                and all(_same(g, c) for g, c in zip(got, candidate)))
    arr, cand = _array(got), np.asarray(candidate, dtype=np.float64)
    return (arr is not None and arr.shape == cand.shape
            and bool(np.allclose(arr, cand, rtol=RTOL, atol=ATOL, equal_nan=True)))


def _the_one_that_matches(got, candidates: list[tuple[object, str]], expected) -> str | None:
    """The message of the one typical mistake whose result ``got`` is (None when none or several match, and a
    mistake that gives the right result on this input is no candidate)."""
    found = []
    for make, message in candidates:
        try:
            value = make()
        except Exception:  # noqa: BLE001 - the mistake cannot even be computed on this input (e.g. shapes)
            continue
        if not _same(value, expected) and _same(got, value):
            found.append(message)
    return found[0] if len(found) == 1 else None


# --- Question 1: memory_read -----------------------------------------------------------------------------------


def _softmax(S: np.ndarray, axis: int) -> np.ndarray:
    E = np.exp(S - S.max(axis=axis, keepdims=True))
    return E / E.sum(axis=axis, keepdims=True)


def _memory_cases(rng: np.random.Generator, n_random: int) -> list[Case]:
    X2 = np.array([[1.0, 0.0], [0.0, 2.0]])
    K3 = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]])
    V3 = np.array([[1.0, 0.0, 2.0, -1.0], [0.0, 1.0, 0.0, 3.0], [2.0, 2.0, -1.0, 0.0]])
    cases = [
        Case((np.zeros((1, 2)), K3, V3), "a single query orthogonal to every key (by hand: weights 1/3 each, Y the "
                                         "mean of the values)"),
        Case((X2, K3, V3), "2 queries, 3 memory slots of 4 values each (by hand)"),
        Case((np.array([[10.0, 0.0], [0.0, -10.0], [-10.0, 0.0]]),
              np.array([[100.0, 0.0], [-100.0, 0.0], [0.0, 100.0]]), V3[:, :2]),
             f"scores of +-{LARGE:g} (X K^T has rows (1000, -1000, 0), (0, 0, -1000), (-1000, 1000, 0)): exp overflows "
             f"unless each row's largest score is subtracted first"),
        Case((np.array([[-100.0]]), np.array([[10.0], [10.0]]), np.array([[1.0, 2.0], [3.0, 5.0]])),
             f"every score -{LARGE:g}: exp underflows to 0 (and 0/0 = nan) unless each row's largest score is "
             f"subtracted first"),
        Case((rng.normal(size=(4, 3)), rng.normal(size=(1, 3)), rng.normal(size=(1, 2))),
             "a single memory slot (M = 1): every weight is 1"),
        Case((rng.normal(size=(3, 2)), rng.normal(size=(3, 2)), rng.normal(size=(3, 5))),
             "as many queries as slots (N = M = 3): C is square"),
    ]
    for i in range(n_random):
        N, M, d, m = (int(rng.integers(1, k)) for k in (7, 8, 6, 5))
        scale = float(rng.choice([0.3, 1.0, 3.0]))
        cases.append(Case((scale * rng.normal(size=(N, d)), rng.normal(size=(M, d)), rng.normal(size=(M, m))),
                          f"random memory {i + 1}: N = {N} queries, M = {M} slots, d = {d}, m = {m}"))
    return cases


def check_memory_read(memory_read, seed: int = 0, n_random: int = 6) -> None:
    """(C, Y): C = softmax(X K^T) row by row (N, M), Y = C V (N, m); finite and warning-free at scores of +-1000."""
    rng = np.random.default_rng(seed)

    def hint(case: Case, expected, got) -> str | None:
        X, K, V = case.args
        C, Y = expected
        S = X @ K.T
        if not isinstance(got, (tuple, list)):
            if _same(got, Y):
                return "this is Y alone: return the weights too, as the tuple (C, Y)"
            if _same(got, C):
                return "this is C alone: return the reads too, as the tuple (C, Y)"
            return None
        if len(got) == 2 and _same(got[0], Y) and _same(got[1], C):
            return "C and Y are swapped: return (C, Y), the weights first"
        if len(got) != 2:
            return None
        arr = _array(got[0])
        if arr is not None and not np.all(np.isfinite(arr)) and np.max(np.abs(S)) >= LARGE / 2:
            return (f"exp of a score of +-{LARGE:g} overflows to inf (or underflows to 0, and 0/0 = nan): subtract "
                    f"each row's largest score before exp (the softmax does not change: the factor cancels)")
        if arr is not None and arr.shape == C.T.shape and C.shape != C.T.shape:
            return (f"C must have one row per query and one column per memory slot, shape (N, M) = {C.shape}: "
                    f"yours is transposed")
        if arr is not None and arr.shape == C.shape == (1, C.shape[1]) and C.shape[1] > 1 and np.all(arr == 1):
            return ("every weight is 1, but a query's weights over the M memory slots must sum to 1: take the "
                    "softmax of each row (axis=1); a softmax down each column (over the queries) gives 1 everywhere "
                    "when there is a single query")
        return _the_one_that_matches(got[0], [
            (lambda: _softmax(S, axis=0),
             "the weights sum to 1 down each column (over the queries): take the softmax of each row (axis=1), so "
             "that each query's weights over the M memory slots sum to 1"),
            (lambda: C.T, "C is transposed: one row per query, one column per memory slot"),
            (lambda: np.exp(S - S.max(axis=1, keepdims=True)),
             "the weights are not normalised: divide each row by its sum"),
        ], C)

    check_function(memory_read, attention.memory_read, _memory_cases(rng, n_random), name="memory_read",
                   outputs=("C", "Y"), rtol=RTOL, atol=ATOL, forbid_warnings=True, hint=hint)


# --- Question 2: shrink ----------------------------------------------------------------------------------------


def check_shrink(shrink, seed: int = 0, n_random: int = 6) -> None:
    """sign(x) max(|x| - t, 0) elementwise, for x of any shape (0-d too) and t >= 0."""
    rng = np.random.default_rng(seed)
    cases = [
        Case((np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0]), 1.0),
             "by hand, t = 1: (-3, -1, -0.5, 0, 0.5, 1, 3) -> (-2, 0, 0, 0, 0, 0, 2)"),
        Case((rng.normal(size=(3, 4)), 0.0), "t = 0 (nothing is shrunk: shrink returns x)"),
        Case((rng.uniform(-1.0, 1.0, size=(2, 3, 2)), 5.0), "t = 5, larger than every |x| (every entry becomes 0)"),
        Case((np.array(-2.5), 0.5), "a 0-d array (a single number), -2.5 with t = 0.5"),
        Case((np.array([[4.0, -4.0], [0.25, -0.25]]), 0.25), "a (2, 2) array with entries at exactly +-t"),
    ]
    for i in range(n_random):
        shape = tuple(int(s) for s in rng.integers(1, 6, size=int(rng.integers(1, 4))))
        scale = float(rng.choice([0.5, 2.0, 10.0]))
        t = float(rng.uniform(0.0, 1.5 * scale))
        cases.append(Case((scale * rng.normal(size=shape), t), f"random input {i + 1}: shape {shape}, t = {t:.3g}"))

    def hint(case: Case, expected, got) -> str | None:
        x, t = case.args
        return _the_one_that_matches(got, [
            (lambda: np.maximum(x - t, 0.0),
             "the negative entries became 0: max(x - t, 0) only shrinks the positive side; soft thresholding is "
             "symmetric, sign(x) max(|x| - t, 0), so -3 with t = 1 gives -2"),
            (lambda: x * (np.abs(x) > t),
             "entries with |x| > t came back unchanged: that is hard thresholding; soft thresholding also moves them "
             "t closer to 0, sign(x) max(|x| - t, 0)"),
            (lambda: np.maximum(np.abs(x) - t, 0.0),
             "the signs are lost: max(|x| - t, 0) is the size of the result; multiply by sign(x)"),
            (lambda: x - t * np.sign(x), "entries with |x| <= t must become 0, not cross over to the other sign"),
        ], expected)

    check_function(shrink, sparse_coding.shrink, cases, name="shrink", rtol=RTOL, atol=ATOL, hint=hint)


# --- Question 3: ista_step -------------------------------------------------------------------------------------


def _soft(x: np.ndarray, t: float) -> np.ndarray:
    return np.sign(x) * np.maximum(np.abs(x) - t, 0.0)


def _ista_cases(rng: np.random.Generator, n_random: int) -> list[Case]:
    W_sq = np.array([[1.0, 0.5], [0.0, 1.0]])  # square and not symmetric: W_d and W_d^T differ
    W_over = rng.normal(size=(3, 5))
    W_over /= np.linalg.norm(W_over, axis=0)  # unit-norm atoms, as in the lecture
    L_over = 1.2 * sparse_coding.lipschitz(W_over)
    cases = [
        Case((np.array([0.5, -0.2]), np.array([1.0, -1.0]), W_sq, 0.1, 2.5),
             "by hand: a square, non-symmetric W_d = [[1, 0.5], [0, 1]], lam = 0.1, L = 2.5"),
        Case((np.zeros(5), rng.normal(size=3), W_over, 0.05, L_over),
             "the first step from Z = 0, an overcomplete dictionary (n = 3, k = 5)"),
        Case((rng.normal(size=5), rng.normal(size=3), W_over, 0.0, L_over), "lam = 0: a plain gradient step"),
        Case((0.1 * rng.normal(size=5), 0.1 * rng.normal(size=3), W_over, 10.0, L_over),
             "lam = 10: every entry is thresholded to 0"),
        Case((rng.normal(size=4), rng.normal(size=4), rng.normal(size=(4, 4)), 0.3, 50.0),
             "a square random W_d, L = 50 (a small step)"),
    ]
    for i in range(n_random):
        n = int(rng.integers(1, 7))
        k = int(rng.integers(1, 2 * n + 3)) if i % 3 else n  # every third one square
        W = rng.normal(size=(n, k))
        Z = rng.normal(size=k) * (rng.random(k) < 0.6)  # some entries already 0
        L = float(sparse_coding.lipschitz(W) * rng.uniform(1.0, 3.0))
        lam = float(rng.uniform(0.0, 0.5))
        cases.append(Case((Z, rng.normal(size=n), W, lam, L),
                          f"random problem {i + 1}: n = {n}, k = {k}, lam = {lam:.3g}, L = {L:.3g}"))
    return cases


def check_ista_step(ista_step, seed: int = 0, n_random: int = 6) -> None:
    """shrink_{lam/L}(Z - (1/L) W_d^T (W_d Z - Y)), shape (k,); a correct shrink is lent."""
    rng = np.random.default_rng(seed)

    def hint(case: Case, expected, got) -> str | None:
        Z, Y, W, lam, L = case.args
        r = W @ Z - Y
        return _the_one_that_matches(got, [
            (lambda: _soft(Z - W @ r / L, lam / L),
             "the residual W_d Z - Y was multiplied by W_d instead of its transpose: the gradient of "
             "1/2 ||Y - W_d Z||^2 with respect to Z is W_d^T (W_d Z - Y), a vector of k entries"),
            (lambda: _soft(Z - W.T @ r / L, lam),
             "the threshold is lam: after a gradient step of size 1/L the threshold is lam / L"),
            (lambda: _soft(Z + W.T @ r / L, lam / L),
             "the gradient step goes uphill: subtract (1/L) W_d^T (W_d Z - Y), it is the gradient of the error"),
            (lambda: _soft(Z - W.T @ r, lam / L),
             "the gradient step is missing its size 1/L: Z - (1/L) W_d^T (W_d Z - Y)"),
            (lambda: Z - W.T @ r / L, "no shrinkage: the gradient step must go through shrink with threshold lam / L"),
        ], expected)

    check_function(ista_step, sparse_coding.ista_step, _ista_cases(rng, n_random), name="ista_step", rtol=RTOL,
                   atol=ATOL, lend=SHRINK_HELPER, hint=hint)


# --- Question 4: easgd_round -----------------------------------------------------------------------------------

EASGD_ARGS = ("workers", "center", "grads", "eta", "alpha")


def _easgd_cases(rng: np.random.Generator, n_random: int) -> list[Case]:
    cases = [
        Case((np.array([[1.0, 2.0], [3.0, 0.0]]), np.array([0.0, 1.0]), np.array([[0.5, -1.0], [1.0, 1.0]]), 0.1,
              0.25), "by hand: p = 2 workers, d = 2, eta = 0.1, alpha = 0.25 (beta = 0.5)"),
        Case((rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(3, 4)), 0.2, 0.0),
             "alpha = 0: plain SGD for each worker, the centre stays where it is"),
        Case((rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=(4, 3)), 0.05, 0.25),
             "beta = p alpha = 1 (p = 4, alpha = 0.25): the centre jumps to the workers' mean"),
        Case((rng.normal(size=(1, 3)), rng.normal(size=3), rng.normal(size=(1, 3)), 0.1, 0.6),
             "a single worker (p = 1, alpha = beta = 0.6)"),
        Case((rng.normal(size=(5, 1)), rng.normal(size=1), rng.normal(size=(5, 1)), 0.3, 0.1),
             "one parameter (d = 1), p = 5 workers, alpha = 0.1 (beta = 0.5)"),
    ]
    for i in range(n_random):
        p, d = int(rng.integers(1, 9)), int(rng.integers(1, 11))
        eta, alpha = float(rng.uniform(0.01, 0.5)), float(rng.uniform(0.0, 1.0 / p))  # beta = p alpha <= 1
        cases.append(Case((rng.normal(size=(p, d)), rng.normal(size=d), rng.normal(size=(p, d)), eta, alpha),
                          f"random round {i + 1}: p = {p}, d = {d}, eta = {eta:.3g}, alpha = {alpha:.3g} "
                          f"(beta = {p * alpha:.3g})"))
    return cases


def _round(W, c, G, eta, alpha, beta, *, sequential=False, sign=1.0):
    """The elastic round written out, with the switches of its typical mistakes."""
    new_W = W - eta * G - sign * alpha * (W - c)
    return new_W, (1 - beta) * c + beta * (new_W if sequential else W).mean(axis=0)


def check_easgd_round(easgd_round, seed: int = 0, n_random: int = 6) -> None:
    """(new_workers (p, d), new_center (d,)) of one synchronous elastic round, every right-hand side from the
    values before the round, with beta = p alpha <= 1; the arguments must be left unchanged."""
    rng = np.random.default_rng(seed)
    cases = _easgd_cases(rng, n_random)

    def hint(case: Case, expected, got) -> str | None:
        W, c, G, eta, alpha = case.args
        p = W.shape[0]
        return _the_one_that_matches(got, [
            (lambda: _round(W, c, G, eta, alpha, p * alpha, sequential=True),
             "the centre moved towards the workers' mean *after* their update: in a synchronous round every "
             "right-hand side uses the values before the round; take mean_i x_i from the workers you were given"),
            (lambda: _round(W, c, G, eta, alpha, alpha),
             "the centre moved by alpha (mean - centre): each of the p workers pulls it with force alpha, so it "
             "moves by beta = p alpha"),
            (lambda: _round(W, c, G, eta, alpha, p * alpha, sign=-1.0),
             "the elastic term pushes the workers away from the centre: x_i - eta g_i - alpha (x_i - centre)"),
            (lambda: _round(W, c, G, eta, alpha, p * alpha, sequential=True, sign=-1.0),
             "the elastic term pushes the workers away from the centre, and the centre uses the updated workers"),
        ], expected)

    check_function(easgd_round, distributed.easgd_round, cases, name="easgd_round", outputs=("new_workers", "new_center"),
                   rtol=RTOL, atol=ATOL, hint=hint, unchanged=EASGD_ARGS[:3])
