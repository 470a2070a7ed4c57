"""The perceptron, its convergence bound, and the one learning rule it shares with Adaline and logistic regression.

Reference implementations for lecture 02 and ps2. Notation: ``X`` has shape (n, d) and already holds the bias
as a constant feature (see :func:`with_bias`), so a linear classifier is just ``w`` of shape (d,) and predicts
sign(w @ x). Labels ``y`` are in {-1, +1}. The (functional) margin of example i is y_i * w @ x_i.

* :func:`perceptron_fit` / :func:`perceptron_trace`: Rosenblatt's rule w <- w + y x on every mistake;
  ``trace.update(k)`` is the state after update k.
* :func:`max_margin_separator`, :func:`margin`, :func:`perceptron_bound`: the theorem "at most R^2 / gamma^2
  updates", with gamma from the maximum-margin separator (not from the perceptron's own answer);
  :func:`margin_experiment` runs it on one separable data set.
* :data:`LOSSES`, :func:`hinge_loss`, :func:`hinge_grad`: losses as functions of the margin.
* :func:`delta_rule_fit`: w <- w + lr (y - y_tilde) x for the perceptron, Adaline/LMS and logistic regression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _reference, _validate, data
from ._reference import reference

_reference.reference_module(__name__)


def with_bias(X) -> np.ndarray:
    """Append a constant-1 column: (n, d) -> (n, d + 1). The last weight then plays the role of the bias."""
    X = _validate.as_matrix(X, "X")
    return np.c_[X, np.ones(len(X))]


def _problem(X, y, w=None):
    X = _validate.as_matrix(X, "X")
    y = _validate.as_labels_pm1(y, "y", X.shape[0])
    if w is None:
        return X, y
    return X, y, _validate.as_vector(w, "w", X.shape[1])


# --- Rosenblatt's rule ----------------------------------------------------------------------------------


@reference
def perceptron_fit(X, y, max_epochs: int):
    """The perceptron rule from w = 0: returns ``(w, n_updates)``, w of shape (d,).

    Samples are visited in the given order; a sample with y_i * w @ x_i <= 0 is a mistake (a point on the
    boundary counts as one, so the first sample always is) and triggers w <- w + y_i x_i. Training stops after
    the first epoch without a mistake, or after ``max_epochs`` epochs.
    """
    X, y = _problem(X, y)
    max_epochs = _validate.as_int(max_epochs, "max_epochs", minimum=0)
    w, n_updates = np.zeros(X.shape[1]), 0
    for _ in range(max_epochs):
        mistakes = 0
        for x_i, y_i in zip(X, y):
            if y_i * (w @ x_i) <= 0:
                w = w + y_i * x_i
                mistakes += 1
        n_updates += mistakes
        if mistakes == 0:
            break
    return w, n_updates


@dataclass(frozen=True)
class PerceptronUpdate:
    """The perceptron after update ``k`` of a recorded run: weights ``w`` and ``w_prev`` (d,) after and before
    it, and ``index``, the sample whose mistake caused it (None for k = 0, the starting point w = 0)."""

    k: int
    w: np.ndarray
    w_prev: np.ndarray | None
    index: int | None


@dataclass
class PerceptronTrace:
    """What happened during a run of the perceptron rule.

    ``weights`` (n_updates + 1, d): w before the first update and after each one; ``updated`` (n_updates,): the
    index of the sample that caused each update; ``mistakes`` (n_epochs,): updates per epoch. ``converged``:
    an epoch passed without a mistake. ``cycle``: ``(first, period)`` when the weights at the start of epoch
    ``first + period`` equal those at the start of epoch ``first``; the rule is deterministic, so from then
    on it repeats the same epochs forever and can never converge.
    """

    weights: np.ndarray
    updated: np.ndarray
    mistakes: np.ndarray
    converged: bool
    cycle: tuple[int, int] | None

    @property
    def w(self) -> np.ndarray:
        """The final weights, shape (d,)."""
        return self.weights[-1]

    @property
    def n_updates(self) -> int:
        return len(self.updated)

    def update(self, k: int) -> PerceptronUpdate:
        """The state after update ``k`` (0 to ``n_updates``; 0 is the start, w = 0)."""
        k = _validate.as_int(k, "k", minimum=0)
        if k > self.n_updates:
            raise ValueError(f"k must be between 0 and the number of updates, {self.n_updates}; got {k}")
        if k == 0:
            return PerceptronUpdate(0, self.weights[0], None, None)
        return PerceptronUpdate(k, self.weights[k], self.weights[k - 1], int(self.updated[k - 1]))


def perceptron_trace(X, y, max_epochs: int = 100) -> PerceptronTrace:
    """Run :func:`perceptron_fit`'s rule and record every update; stop at convergence, at a detected cycle or
    after ``max_epochs`` epochs (so it never loops forever on data that is not separable)."""
    X, y = _problem(X, y)
    max_epochs = _validate.as_int(max_epochs, "max_epochs", minimum=1)
    w = np.zeros(X.shape[1])
    weights, updated, mistakes = [w.copy()], [], []
    seen = {w.tobytes(): 0}  # weights at the start of each epoch -> epoch number
    converged, cycle = False, None
    for epoch in range(max_epochs):
        count = 0
        for i, (x_i, y_i) in enumerate(zip(X, y)):
            if y_i * (w @ x_i) <= 0:
                w = w + y_i * x_i
                weights.append(w.copy())
                updated.append(i)
                count += 1
        mistakes.append(count)
        if count == 0:
            converged = True
            break
        key = w.tobytes()
        if key in seen:
            cycle = (seen[key], epoch + 1 - seen[key])
            break
        seen[key] = epoch + 1
    return PerceptronTrace(np.array(weights), np.array(updated, dtype=int), np.array(mistakes, dtype=int),
                           converged, cycle)


# --- the convergence theorem ----------------------------------------------------------------------------


@reference
def margin(X, y, w) -> float:
    """The geometric margin min_i y_i w @ x_i / ||w||: positive iff w separates the data; shape () float."""
    X, y, w = _problem(X, y, w)
    norm = np.linalg.norm(w)
    if norm == 0:
        raise ValueError("w must not be zero: the zero vector defines no boundary and has no margin")
    return float(np.min(y * (X @ w)) / norm)


def max_margin_separator(X, y) -> tuple[np.ndarray, float]:
    """The unit vector w* (shape (d,)) through the origin with the largest margin gamma; returns ``(w*, gamma)``.

    The separator must pass through the origin (the bias is a feature of X), while sklearn's SVC fits an
    unpenalised intercept. Adding the mirror image (-x_i, -y_i) of every example makes the problem symmetric,
    so the SVC's intercept is 0 (up to solver tolerance) and its w is the hard-margin separator we want.
    Raises ``ValueError`` when the data are not linearly separable through the origin.
    """
    from scipy.optimize import linprog
    from sklearn.svm import SVC

    X, y = _problem(X, y)
    # Separable through the origin iff some w has y_i w @ x_i >= 1 for all i: a linear-programming feasibility
    # question, answered in milliseconds (the SVC would iterate for a long time before giving up).
    feasible = linprog(np.zeros(X.shape[1]), A_ub=-(y[:, None] * X), b_ub=-np.ones(len(y)),
                       bounds=[(None, None)] * X.shape[1], method="highs")
    if feasible.status != 0:
        raise ValueError("the data are not linearly separable through the origin; "
                         "did you forget the constant-1 bias column?")
    svc = SVC(kernel="linear", C=1e8, tol=1e-6)
    svc.fit(np.r_[X, -X], np.r_[y, -y])
    w = svc.coef_.ravel()
    norm = np.linalg.norm(w)
    gamma = float(np.min(y * (X @ w)) / norm) if norm > 0 else 0.0
    if gamma <= 0:
        raise ValueError("the data are not linearly separable through the origin (max margin <= 0); "
                         "did you forget the constant-1 bias column?")
    return w / norm, gamma


def perceptron_bound(X, y) -> dict[str, float]:
    """The theorem's ingredients: R = max ||x_i||, gamma of the max-margin separator, and bound = R^2 / gamma^2."""
    X, y = _problem(X, y)
    _, gamma = max_margin_separator(X, y)
    R = float(np.max(np.linalg.norm(X, axis=1)))
    return {"R": R, "gamma": gamma, "bound": R**2 / gamma**2}


def proof_quantities(trace: PerceptronTrace, w_star) -> tuple[np.ndarray, np.ndarray]:
    """Along a run, after k = 0, 1, ... updates: ``(w_k @ w*, ||w_k||^2)``, each shape (n_updates + 1,).

    The proof shows w_k @ w* >= k gamma (each update adds y x @ w* >= gamma) and ||w_k||^2 <= k R^2 (each
    update adds 2 y w @ x <= 0 plus ||x||^2 <= R^2); with Cauchy-Schwarz this gives k <= R^2 / gamma^2.
    """
    w_star = _validate.as_vector(w_star, "w_star", trace.weights.shape[1])
    return trace.weights @ w_star, np.sum(trace.weights**2, axis=1)


@dataclass(frozen=True)
class MarginRun:
    """One separable data set and what the convergence theorem says about it.

    ``X`` (n, d + 1) with the constant-1 feature last, ``y`` (n,) in {-1, +1}; ``trace`` the perceptron's run on
    them; ``w_star`` (d + 1,) the unit max-margin separator and ``gamma`` its margin; ``R`` = max_i ||x_i||;
    ``bound`` = R^2 / gamma^2, the theorem's cap on ``trace.n_updates``.
    """

    X: np.ndarray
    y: np.ndarray
    trace: PerceptronTrace
    w_star: np.ndarray
    gamma: float
    R: float
    bound: float

    @property
    def n_updates(self) -> int:
        return self.trace.n_updates


def margin_experiment(margin: float, n: int = 60, d: int = 2, seed: int = 0, max_epochs: int = 100_000) -> MarginRun:
    """``data.separable(n, d, margin, rng=seed)``, the perceptron run on it, and gamma, R and R^2 / gamma^2 with
    gamma from the max-margin separator (not from the perceptron's answer).

    The same ``seed`` draws the same separating hyperplane and mostly the same points for every ``margin``:
    changing the margin only removes or lets in the points near the hyperplane.
    """
    margin = _validate.as_positive_float(margin, "margin")
    seed = _validate.as_int(seed, "seed", minimum=0)
    X, y, _ = data.separable(n, d, margin, rng=seed)
    trace = perceptron_trace(X, y, max_epochs=max_epochs)
    w_star, gamma = max_margin_separator(X, y)
    R = float(np.max(np.linalg.norm(X, axis=1)))
    return MarginRun(X, y, trace, w_star, gamma, R, R**2 / gamma**2)


# --- losses as functions of the margin m = y w @ x ------------------------------------------------------

LOSSES = {
    "zero-one": lambda m: (np.asarray(m) <= 0).astype(float),
    "perceptron": lambda m: np.maximum(0.0, -np.asarray(m)),
    "hinge": lambda m: np.maximum(0.0, 1.0 - np.asarray(m)),
    "squared": lambda m: (1.0 - np.asarray(m)) ** 2,
    "logistic": lambda m: np.logaddexp(0.0, -np.asarray(m)) / np.log(2.0),
}
"""Each loss of one example as a function of its margin m = y * w @ x, for labels in {-1, +1}.

The squared loss (y - w @ x)^2 equals (1 - m)^2 because y^2 = 1; the logistic loss is scaled by 1 / log 2 so
that, like the hinge loss, it is an upper bound of the zero-one loss that passes through (0, 1)."""


@reference
def hinge_loss(w, X, y) -> float:
    """Mean hinge loss (1/n) sum_i max(0, 1 - y_i w @ x_i); a float."""
    X, y, w = _problem(X, y, w)
    return float(np.mean(np.maximum(0.0, 1.0 - y * (X @ w))))


@reference
def hinge_grad(w, X, y) -> np.ndarray:
    """A subgradient of :func:`hinge_loss`, shape (d,): -(1/n) sum over examples with 1 - y_i w @ x_i > 0 of
    y_i x_i. At the kink (1 - y_i w @ x_i = 0 exactly) the example contributes 0."""
    X, y, w = _problem(X, y, w)
    active = (1.0 - y * (X @ w)) > 0
    return -(X.T @ (y * active)) / len(y)


# --- one rule, three models -----------------------------------------------------------------------------

DELTA_RULES = {
    "perceptron": np.sign,          # y~ = sign(w @ x): updates only on mistakes, by 2 lr y x (lr y x at a tie)
    "adaline": lambda a: a,         # y~ = w @ x: LMS, stochastic gradient of (y - w @ x)^2 / 2
    "logistic": np.tanh,            # y~ = tanh(w @ x): stochastic gradient of log(1 + exp(-2 y w @ x))
}


def delta_rule_fit(X, y, rule: str, lr: float = 0.1, epochs: int = 10, w0=None) -> np.ndarray:
    """w <- w + lr (y_i - y~_i) x_i over the samples in order, ``epochs`` times; returns w (shape (d,)).

    ``rule`` picks y~ from :data:`DELTA_RULES`. Each rule is stochastic gradient descent on its own loss,
    whose gradient is -(y - y~) x for every one of them.
    """
    X, y = _problem(X, y)
    if rule not in DELTA_RULES:
        raise ValueError(f"rule must be one of {', '.join(DELTA_RULES)}, got {rule!r}")
    lr = _validate.as_positive_float(lr, "lr")
    epochs = _validate.as_int(epochs, "epochs", minimum=0)
    predict = DELTA_RULES[rule]
    w = np.zeros(X.shape[1]) if w0 is None else _validate.as_vector(w0, "w0", X.shape[1]).copy()
    for _ in range(epochs):
        for x_i, y_i in zip(X, y):
            w = w + lr * (y_i - predict(w @ x_i)) * x_i
    return w
