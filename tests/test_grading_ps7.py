"""The ps7 checks accept correct answers written independently of the lib, and reject the usual mistakes.

Correct but different: the memory read with scipy's softmax, with logsumexp, with einsum and a loop over queries,
and in torch; shrink with np.where, np.clip, a loop and torch's softshrink; the ISTA step with einsum and with the
threshold applied by hand; the elastic round worker by worker in a loop, and as "centre + alpha * sum" (the same
update). Mistakes: a softmax down the columns, an exp without the shift (overflow, 0/0), Y alone, C transposed, C
and Y swapped; max(x - t, 0), hard thresholding, the lost sign; W_d instead of W_d^T, the threshold lam instead of
lam / L, the step uphill; the centre from the updated workers, beta = alpha, arguments changed in place. Each fails
with feedback that names it. The in-place check is also run against a real worker process (isolated grading).
"""

import textwrap

import numpy as np
import pytest
import scipy.special

from dlcourse import attention, distributed, sparse_coding
from dlcourse.grading import CheckFailed, guard
from dlcourse.grading import ps7 as checks

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py: as the notebooks compute

HIDDEN = dict(seed=7171, n_random=16)  # what the notebook's hidden tests pass (seeds differ per question)


# --- independent correct answers (not the lib's code) ----------------------------------------------------


def memory_read_scipy(X, K, V):
    C = scipy.special.softmax(X @ K.T, axis=1)
    return C, C @ V


def memory_read_logsumexp(X, K, V):
    S = np.einsum("nd,md->nm", X, K)
    C = np.exp(S - scipy.special.logsumexp(S, axis=1, keepdims=True))
    return C, np.einsum("nm,mk->nk", C, V)


def memory_read_loop(X, K, V):
    """One query at a time, the shift by the row's maximum written out, a list of rows for C."""
    rows, reads = [], []
    for x in X:
        scores = [float(k @ x) for k in K]
        top = max(scores)
        e = [np.exp(s - top) for s in scores]
        weights = [w / sum(e) for w in e]
        rows.append(weights)
        reads.append(sum(w * v for w, v in zip(weights, V)))
    return np.array(rows), np.array(reads)


def memory_read_torch(X, K, V):
    Xt, Kt, Vt = (torch.from_numpy(np.asarray(a)) for a in (X, K, V))
    C = torch.softmax(Xt @ Kt.T, dim=1)
    return C, C @ Vt  # float64 tensors: accepted as well as arrays


def shrink_where(x, t):
    x = np.asarray(x, dtype=float)
    return np.where(x > t, x - t, np.where(x < -t, x + t, 0.0))


def shrink_clip(x, t):
    return x - np.clip(x, -t, t)


def shrink_loop(x, t):
    out = np.array(x, dtype=float)
    for idx in np.ndindex(out.shape):
        v = out[idx]
        out[idx] = v - t if v > t else v + t if v < -t else 0.0
    return out


def shrink_torch(x, t):
    return torch.nn.functional.softshrink(torch.as_tensor(np.asarray(x, dtype=float)), float(t)).numpy() \
        if t > 0 else np.array(x, dtype=float)  # softshrink refuses lambd = 0? it accepts it; keep both paths


def ista_step_einsum(Z, Y, W_d, lam, L):
    gradient = np.einsum("nk,n->k", W_d, np.einsum("nk,k->n", W_d, Z) - Y)
    return shrink_clip(Z - gradient / L, lam / L)


def ista_step_by_hand(Z, Y, W_d, lam, L):
    v = Z - (W_d.T @ W_d @ Z - W_d.T @ Y) / L
    theta = lam / L
    return np.sign(v) * np.maximum(np.abs(v) - theta, 0)


def ista_step_calls_shrink(Z, Y, W_d, lam, L):
    return shrink(Z - W_d.T @ (W_d @ Z - Y) / L, lam / L)  # noqa: F821 - the notebook's shrink (lent in the check)


def easgd_round_loop(workers, center, grads, eta, alpha):
    p = len(workers)
    mean = sum(workers) / p
    new_workers = np.array([x - eta * g - alpha * (x - center) for x, g in zip(workers, grads)])
    return new_workers, (1 - p * alpha) * center + p * alpha * mean


def easgd_round_sum(workers, center, grads, eta, alpha):
    spring = alpha * (workers - center)  # the force on each worker; the centre feels all of them, opposite
    return workers - eta * grads - spring, center + spring.sum(axis=0)


def easgd_round_copy_then_in_place(workers, center, grads, eta, alpha):
    """In-place arithmetic on its own copies: the caller's arrays are untouched."""
    W, c = workers.copy(), center.copy()
    mean = W.mean(axis=0)
    W -= eta * grads + alpha * (W - center)
    c *= 1 - len(W) * alpha
    c += len(W) * alpha * mean
    return W, c


# --- the correct answers pass ----------------------------------------------------------------------------


@pytest.mark.parametrize("check, fn", [
    (checks.check_memory_read, memory_read_scipy),
    (checks.check_memory_read, memory_read_logsumexp),
    (checks.check_memory_read, memory_read_loop),
    (checks.check_memory_read, memory_read_torch),
    (checks.check_shrink, shrink_where),
    (checks.check_shrink, shrink_clip),
    (checks.check_shrink, shrink_loop),
    (checks.check_shrink, shrink_torch),
    (checks.check_ista_step, ista_step_einsum),
    (checks.check_ista_step, ista_step_by_hand),
    (checks.check_easgd_round, easgd_round_loop),
    (checks.check_easgd_round, easgd_round_sum),
    (checks.check_easgd_round, easgd_round_copy_then_in_place),
])
@pytest.mark.parametrize("seed", [0, 7, 2024])
def test_correct_answers_pass_visible_and_hidden_style_checks(check, fn, seed, capsys):
    check(fn, seed=seed, n_random=10)
    out = capsys.readouterr().out
    assert out.startswith("✓") and "✗" not in out and "note:" not in out, out


def test_ista_step_gets_a_correct_shrink_whatever_the_notebooks_shrink_does(capsys):
    """A wrong shrink costs Question 2 only: while ista_step is checked, the notebook's shrink is a correct one."""
    ista_step_calls_shrink.__globals__["shrink"] = lambda x, t: x  # the notebook's (wrong) shrink
    try:
        checks.check_ista_step(ista_step_calls_shrink, **HIDDEN)
    finally:
        del ista_step_calls_shrink.__globals__["shrink"]
    assert capsys.readouterr().out.startswith("✓ ista_step")


def test_the_hidden_cases_hold_the_edge_cases_and_keep_beta_at_most_1():
    cases = checks._easgd_cases(np.random.default_rng(HIDDEN["seed"]), 200)
    assert max(c.args[0].shape[0] * c.args[4] for c in cases) <= 1.0
    for case in cases:  # the reference accepts every case (it refuses beta > 1)
        distributed.easgd_round(*case.args)
    labels = " ".join(c.label for c in checks._memory_cases(np.random.default_rng(0), 0))
    assert "a single query" in labels and "single memory slot" in labels and "+-1000" in labels


# --- the usual mistakes ----------------------------------------------------------------------------------


def memory_read_columns(X, K, V):
    C = scipy.special.softmax(X @ K.T, axis=0)  # each slot's weights over the queries
    return C, C @ V


def memory_read_naive(X, K, V):
    E = np.exp(X @ K.T)  # overflows at 1000, 0/0 at -1000
    C = E / E.sum(axis=1, keepdims=True)
    return C, C @ V


def memory_read_naive_torch(X, K, V):  # no numpy warning: the nan itself is reported
    E = torch.exp(torch.from_numpy(X @ K.T))
    C = E / E.sum(dim=1, keepdim=True)
    return C.numpy(), (C @ torch.from_numpy(V)).numpy()


def memory_read_only_Y(X, K, V):
    return memory_read_scipy(X, K, V)[1]


def memory_read_transposed(X, K, V):
    C, Y = memory_read_scipy(X, K, V)
    return C.T, Y


def memory_read_swapped(X, K, V):
    C, Y = memory_read_scipy(X, K, V)
    return Y, C


def memory_read_unnormalised(X, K, V):
    S = X @ K.T
    C = np.exp(S - S.max(axis=1, keepdims=True))
    return C, C @ V


def shrink_positive_only(x, t):
    return np.maximum(x - t, 0)


def shrink_hard(x, t):
    return x * (np.abs(x) > t)


def shrink_no_sign(x, t):
    return np.maximum(np.abs(x) - t, 0)


def ista_step_not_transposed(Z, Y, W_d, lam, L):
    return shrink_clip(Z - W_d @ (W_d @ Z - Y) / L, lam / L)


def ista_step_threshold_lam(Z, Y, W_d, lam, L):
    return shrink_clip(Z - W_d.T @ (W_d @ Z - Y) / L, lam)


def ista_step_uphill(Z, Y, W_d, lam, L):
    return shrink_clip(Z + W_d.T @ (W_d @ Z - Y) / L, lam / L)


def easgd_sequential(workers, center, grads, eta, alpha):
    new_workers = workers - eta * grads - alpha * (workers - center)
    beta = len(workers) * alpha
    return new_workers, (1 - beta) * center + beta * new_workers.mean(axis=0)  # the updated workers


def easgd_beta_is_alpha(workers, center, grads, eta, alpha):
    return workers - eta * grads - alpha * (workers - center), (1 - alpha) * center + alpha * workers.mean(axis=0)


def easgd_in_place(workers, center, grads, eta, alpha):
    beta = len(workers) * alpha
    new_center = (1 - beta) * center + beta * workers.mean(axis=0)
    workers -= eta * grads + alpha * (workers - center)  # the caller's array
    return workers, new_center


def easgd_centre_in_place(workers, center, grads, eta, alpha):
    beta = len(workers) * alpha
    new_workers = workers - eta * grads - alpha * (workers - center)
    center *= 1 - beta
    center += beta * workers.mean(axis=0)
    return new_workers, center


@pytest.mark.parametrize("check, fn, messages", [
    (checks.check_memory_read, memory_read_columns, ["C is wrong", "a softmax down each column", "axis=1"]),
    (checks.check_memory_read, memory_read_naive, ["memory_read emitted a warning", "overflow",
                                                   "largest score is subtracted first"]),
    (checks.check_memory_read, memory_read_naive_torch, ["contains nan", "subtract each row's largest score"]),
    (checks.check_memory_read, memory_read_only_Y, ["expected a tuple (C, Y)", "this is Y alone"]),
    (checks.check_memory_read, memory_read_transposed, ["C: expected shape (1, 3), got shape (3, 1)",
                                                        "yours is transposed", "Y is right"]),
    (checks.check_memory_read, memory_read_swapped, ["C and Y are swapped"]),
    (checks.check_memory_read, memory_read_unnormalised, ["must sum to 1"]),
    (checks.check_shrink, shrink_positive_only, ["the negative entries became 0", "sign(x) max(|x| - t, 0)"]),
    (checks.check_shrink, shrink_hard, ["hard thresholding"]),
    (checks.check_shrink, shrink_no_sign, ["the signs are lost"]),
    (checks.check_ista_step, ista_step_not_transposed, ["square, non-symmetric", "instead of its transpose"]),
    (checks.check_ista_step, ista_step_threshold_lam, ["the threshold is lam: ", "lam / L"]),
    (checks.check_ista_step, ista_step_uphill, ["goes uphill"]),
    (checks.check_easgd_round, easgd_sequential, ["new_center is wrong", "new_workers is right", "*after* their update"]),
    (checks.check_easgd_round, easgd_beta_is_alpha, ["new_center is wrong", "beta = p alpha"]),
    (checks.check_easgd_round, easgd_in_place, ["easgd_round is not correct",
                                                "changed its argument workers in place", "workers -= ..."]),
    (checks.check_easgd_round, easgd_centre_in_place, ["changed its argument center in place"]),
])
def test_usual_mistakes_fail_and_say_what_is_wrong(check, fn, messages):
    for kwargs in ({}, HIDDEN):
        with pytest.raises(CheckFailed) as info:
            check(fn, **kwargs)
        for message in messages:
            assert message in str(info.value), str(info.value)


def test_the_non_square_transposition_mistake_is_a_shape_error_with_the_students_line():
    def not_transposed(Z, Y, W_d, lam, L):
        if W_d.shape[0] == W_d.shape[1]:
            return ista_step_einsum(Z, Y, W_d, lam, L)  # right on square dictionaries: only the error shows
        return ista_step_not_transposed(Z, Y, W_d, lam, L)

    with pytest.raises(CheckFailed, match=r"ista_step raised ValueError: matmul") as info:
        checks.check_ista_step(not_transposed)
    assert "W_d @ (W_d @ Z - Y)" in str(info.value)


def test_calling_the_course_code_is_reported():
    with pytest.raises(CheckFailed, match=r"memory_read calls dlcourse\.attention\.memory_read"):
        checks.check_memory_read(lambda X, K, V: attention.memory_read(X, K, V))
    with pytest.raises(CheckFailed, match=r"shrink calls dlcourse\.sparse_coding\.shrink"):
        checks.check_shrink(sparse_coding.shrink)
    with pytest.raises(CheckFailed, match=r"ista_step calls dlcourse\.sparse_coding\.ista_step"):
        checks.check_ista_step(sparse_coding.ista_step)
    with pytest.raises(CheckFailed, match=r"easgd_round calls dlcourse\.distributed\.easgd_round"):
        checks.check_easgd_round(distributed.easgd_round)


# --- the in-place check under isolated grading: the student's function in another process --------------------

STUDENT = textwrap.dedent('''
    import numpy as np

    def easgd_round(workers, center, grads, eta, alpha):
        beta = len(workers) * alpha
        return workers - eta * grads - alpha * (workers - center), (1 - beta) * center + beta * workers.mean(axis=0)

    def easgd_in_place(workers, center, grads, eta, alpha):
        beta = len(workers) * alpha
        new_center = (1 - beta) * center + beta * workers.mean(axis=0)
        workers -= eta * grads + alpha * (workers - center)
        return workers, new_center

    def easgd_fails(workers, center, grads, eta, alpha):
        return workers[99], center

    def easgd_sequential(workers, center, grads, eta, alpha):
        new_workers = workers - eta * grads - alpha * (workers - center)
        return new_workers, (1 - len(workers) * alpha) * center + len(workers) * alpha * new_workers.mean(axis=0)
''')


@pytest.fixture
def session(student_process):
    return student_process(STUDENT)


def test_arguments_changed_in_place_are_seen_in_the_students_kernel(session, capsys):
    with guard.remote_mode(session):
        checks.check_easgd_round(session.get("easgd_round"))
        out = capsys.readouterr().out
        assert out.startswith("✓ easgd_round: all 11 checks passed")
        with pytest.raises(CheckFailed, match="changed its argument workers in place"):
            checks.check_easgd_round(session.get("easgd_in_place"))
        with pytest.raises(CheckFailed, match=r"raised IndexError(.|\n)*in easgd_fails"):
            checks.check_easgd_round(session.get("easgd_fails"))


def test_something_that_is_not_a_function_is_named():
    with pytest.raises(CheckFailed, match="should be a function, but it is 3"):
        checks.check_easgd_round(3)


def test_the_in_place_check_needs_nothing_from_the_students_namespace(student_process, capsys):
    """The arguments come back from the kernel's call itself: a notebook without `np` is checked the same."""
    s = student_process("import numpy\n" + STUDENT.replace("import numpy as np", "").replace("np.", "numpy."))
    with guard.remote_mode(s):
        with pytest.raises(CheckFailed, match="changed its argument workers in place"):
            checks.check_easgd_round(s.get("easgd_in_place"))
        with pytest.raises(CheckFailed, match="new_center is wrong"):
            checks.check_easgd_round(s.get("easgd_sequential"))
        checks.check_easgd_round(s.get("easgd_round"))
    assert "✓ easgd_round" in capsys.readouterr().out
