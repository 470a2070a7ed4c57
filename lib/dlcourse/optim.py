"""Gradient-descent optimisers and learning-rate schedules, in numpy (lecture 06).

Every optimiser has the same tiny interface::

    opt = Adam(lr=1e-3)
    opt.step(params, grads)     # params, grads: dicts {name: array} with the same keys and shapes

``step`` updates the arrays of ``params`` in place and keeps its state (velocities, moment estimates) per
key, so one optimiser serves one model. The learning rate is the attribute ``opt.lr``; a schedule sets it
once per epoch::

    schedule = step_schedule(lr0=0.1, drop=0.5, every=10)
    for epoch in range(n_epochs):
        opt.lr = schedule(epoch)
        ...

**Weight decay** (every optimiser): ``weight_decay = λ`` adds the penalty λ‖w‖² to the loss ℓ, i.e. the
gradient 2λw to ∇ℓ, for every array passed to ``step`` (pass only the weights to spare the biases). For plain
SGD with learning rate ε one step is then

    w ← w − ε(∇ℓ + 2λw) = (1 − 2ελ) w − ε∇ℓ,

the weights shrink by the factor (1 − 2ελ) before the gradient step. (torch's ``weight_decay`` argument is
the coefficient of w in the gradient, i.e. 2λ here.)

Notation: g is the gradient of the (penalised) loss, t the number of steps taken for this key (1, 2, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import _reference, _validate

_reference.reference_module(__name__)


def _beta(x, name: str) -> float:
    value = _validate.as_scalar(x, name)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must satisfy 0 <= {name} < 1, got {value}")
    return value


class Optimizer:
    """Base class: ``lr``, ``weight_decay``, per-key ``state``, and ``step(params, grads)``."""

    def __init__(self, lr: float, weight_decay: float = 0.0) -> None:
        self.lr = _validate.as_positive_float(lr, "lr")
        self.weight_decay = _validate.as_nonnegative_float(weight_decay, "weight_decay")
        self.state: dict[str, dict] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Update every array of ``params`` in place from the gradient under the same key in ``grads``."""
        if not isinstance(params, dict) or not isinstance(grads, dict):
            raise ValueError("params and grads must be dicts {name: array}")
        if set(params) != set(grads):
            raise ValueError(f"params and grads must have the same keys, got {sorted(params)} and {sorted(grads)}")
        for key, w in params.items():
            if not isinstance(w, np.ndarray) or not np.issubdtype(w.dtype, np.floating):
                raise ValueError(f"params[{key!r}] must be a float numpy array (it is updated in place)")
            g = _validate.as_float_array(grads[key], f"grads[{key!r}]")
            if g.shape != w.shape:
                raise ValueError(f"grads[{key!r}] must have the shape of params[{key!r}], {w.shape}; got {g.shape}")
            if self.weight_decay:
                g = g + 2.0 * self.weight_decay * w
            self._update(w, g, self.state.setdefault(key, {}))

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v}" for k, v in vars(self).items() if k != "state")
        return f"{type(self).__name__}({fields})"


class SGD(Optimizer):
    """Plain gradient descent: w ← w − ε g."""

    def _update(self, w, g, state):
        w -= self.lr * g


class Momentum(Optimizer):
    """Gradient descent with (heavy-ball) momentum, the velocity written as a step:

        v ← β v − ε g,    w ← w + v,     (v = 0 at the start)

    torch.optim.SGD(momentum=β) keeps instead b ← β b + g and steps w ← w − ε b: with a constant ε the two are
    the same (v = −ε b); when a schedule changes ε, the velocity here keeps the old step sizes, torch's rescales
    them.
    """

    def __init__(self, lr: float, beta: float = 0.9, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.beta = _beta(beta, "beta")

    def _update(self, w, g, state):
        v = state.setdefault("v", np.zeros_like(w))
        v *= self.beta
        v -= self.lr * g
        w += v


class Adagrad(Optimizer):
    """Per-coordinate step sizes shrinking with the gradients seen so far:

        r ← r + g²,    w ← w − ε g / (√r + δ)     (r = 0 at the start; δ = ``eps``)

    (torch.optim.Adagrad with ``initial_accumulator_value=0`` and the same ``eps``.)
    """

    def __init__(self, lr: float, eps: float = 1e-10, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.eps = _validate.as_positive_float(eps, "eps")

    def _update(self, w, g, state):
        r = state.setdefault("r", np.zeros_like(w))
        r += g * g
        w -= self.lr * g / (np.sqrt(r) + self.eps)


class Adam(Optimizer):
    """Momentum and Adagrad-like scaling, with bias-corrected moment estimates:

        m ← β1 m + (1 − β1) g,    s ← β2 s + (1 − β2) g²,
        m̂ = m / (1 − β1^t),      ŝ = s / (1 − β2^t),      w ← w − ε m̂ / (√ŝ + δ)    (δ = ``eps``)

    (torch.optim.Adam with the same hyperparameters.)
    """

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.beta1, self.beta2 = _beta(beta1, "beta1"), _beta(beta2, "beta2")
        self.eps = _validate.as_positive_float(eps, "eps")

    def _update(self, w, g, state):
        if not state:
            state.update(t=0, m=np.zeros_like(w), s=np.zeros_like(w))
        state["t"] += 1
        m, s, t = state["m"], state["s"], state["t"]
        m *= self.beta1
        m += (1.0 - self.beta1) * g
        s *= self.beta2
        s += (1.0 - self.beta2) * g * g
        m_hat, s_hat = m / (1.0 - self.beta1**t), s / (1.0 - self.beta2**t)
        w -= self.lr * m_hat / (np.sqrt(s_hat) + self.eps)


# --- learning-rate schedules: callables epoch -> lr -------------------------------------------------------


@dataclass(frozen=True)
class StepSchedule:
    """lr(epoch) = lr0 · drop^(epoch // every): constant for ``every`` epochs, then multiplied by ``drop``."""

    lr0: float
    drop: float
    every: int

    def __call__(self, epoch: int) -> float:
        return self.lr0 * self.drop ** (_validate.as_int(epoch, "epoch", minimum=0) // self.every)


@dataclass(frozen=True)
class ExponentialSchedule:
    """lr(epoch) = lr0 · gamma^epoch."""

    lr0: float
    gamma: float

    def __call__(self, epoch: int) -> float:
        return self.lr0 * self.gamma ** _validate.as_int(epoch, "epoch", minimum=0)


def step_schedule(lr0: float, drop: float, every: int) -> Callable[[int], float]:
    """Step decay: epoch -> lr0 · drop^(epoch // every) (epochs counted from 0; like torch's ``StepLR``)."""
    lr0 = _validate.as_positive_float(lr0, "lr0")
    drop = _validate.as_positive_float(drop, "drop")
    return StepSchedule(lr0, drop, _validate.as_int(every, "every"))


def exponential_schedule(lr0: float, gamma: float) -> Callable[[int], float]:
    """Exponential decay: epoch -> lr0 · gamma^epoch (epochs counted from 0; like torch's ``ExponentialLR``)."""
    return ExponentialSchedule(_validate.as_positive_float(lr0, "lr0"), _validate.as_positive_float(gamma, "gamma"))
