"""Checks for assignment ps6 (generative adversarial networks).

The two losses are compared with :mod:`dlcourse.gans` twice on every input: their value (a 0-dim tensor, finite
and exact at logits of +-100), and their gradients with respect to the logits, computed by ``torch.func.grad``
*where the student's function lives* (the student's kernel under isolated grading, where a tensor's graph cannot
leave): a loss that returns ``.item()`` or is cut off from its inputs fails there. ``optimal_discriminator`` is
compared with the reference, 0.5 where both densities vanish. ``train_gan_2d`` is judged by what its sampler
produces on a ring of Gaussians: the modes it covers and the share of its points near a mode
(:func:`dlcourse.gans.mode_coverage`), that it does not hand back the training points, and that a second short run
with the same seed gives the same samples.
"""

from __future__ import annotations

import numpy as np

from .. import data, gans
from .core import Case, as_plain, check_behaviour, compare_value, describe
from .remote import RemoteError, RemoteObject, RemoteTimeout

GAN_STEPS = 3000  # what the tests pass as steps
TRAIN_SECONDS = 60.0  # per call of train_gan_2d (with its sampling)
MIN_MODES = 6  # of the ring's 8
MIN_QUALITY = 0.70  # share of the samples within 3 std of a mode
N_SAMPLES = 4000  # points drawn from a trained sampler to score it
SHORT_STEPS = 50  # the two short runs that must give the same samples
COPY_SHARE = 0.01  # at least this share of the samples on a training point: the data handed back
LARGE = 100.0  # the logits at which a loss written with log(sigmoid(.)) breaks down


# --- calling the student's code from a check's own wrapper -----------------------------------------------


def _call(fn, *args, **kwargs):
    """A call of the student's code: a time-out in the kernel is a time-out of the check's call."""
    from .guard import TimeLimitExceeded

    try:
        return fn(*args, **kwargs)
    except RemoteTimeout:
        raise TimeLimitExceeded("time limit exceeded in the kernel") from None


def _torch_where(fn):
    """The torch module that ``fn`` runs with: the kernel's under isolated grading, this process's otherwise."""
    if isinstance(fn, RemoteObject):
        return fn._session.get("torch")
    import torch

    return torch


def _is_callable(value) -> bool:
    return value._callable if isinstance(value, RemoteObject) else callable(value)


def _has(value, name: str) -> bool:
    try:
        getattr(value, name)
    except AttributeError:
        return False
    return True


def _words(value) -> str:
    if value is None:
        return "None (a missing `return`?)"
    return describe(value)


# --- Questions 1 and 2: the losses ---------------------------------------------------------------------------


def _logit_cases(rng: np.random.Generator, n_random: int, two: bool) -> list[Case]:
    """Logit tensors: by hand, +-LARGE in float64 and float32, batches of different sizes, random ones."""
    import torch

    def t(values, dtype=torch.float64):
        return torch.tensor(np.asarray(values, dtype=float), dtype=dtype)

    if two:
        cases = [
            Case((t([0.0]), t([0.0])), "real_logits = fake_logits = [0] (by hand: 2 log 2)"),
            Case((t([LARGE, -LARGE, 3.0]), t([-LARGE, LARGE, -2.0])),
                 f"logits of +-{LARGE:g} (float64): a discriminator that is sure, right or wrong"),
            Case((t([[LARGE], [-LARGE]], torch.float32), t([[LARGE], [-LARGE]], torch.float32)),
                 f"float32 logits of shape (2, 1) at +-{LARGE:g}"),
            Case((t(rng.normal(size=(5, 1))), t(rng.normal(size=(12, 1)))),
                 "5 real and 12 fake logits (each term is averaged over its own batch)"),
        ]
    else:
        cases = [
            Case((t([0.0, 2.0]),), "fake_logits = [0, 2] (by hand: (log 2 + log(1 + e^-2)) / 2 = 0.41)"),
            Case((t([-LARGE, LARGE, 1.5]),), f"logits of +-{LARGE:g} (float64)"),
            Case((t([[-LARGE], [LARGE]], torch.float32),), f"float32 logits of shape (2, 1) at +-{LARGE:g}"),
            Case((t(rng.normal(scale=4.0, size=(9, 1))),), "9 random logits of shape (9, 1)"),
        ]
    for i in range(n_random):
        dtype = torch.float32 if i % 2 else torch.float64
        shapes = [(int(rng.integers(1, 40)), 1) if rng.random() < 0.5 else (int(rng.integers(1, 40)),)
                  for _ in range(2 if two else 1)]
        args = tuple(t(rng.normal(scale=rng.choice([1.0, 5.0, 30.0]), size=s), dtype) for s in shapes)
        cases.append(Case(args, f"random logits {i + 1} ({', '.join(str(tuple(a.shape)) for a in args)}, "
                                f"{str(dtype).replace('torch.', '')})"))
    return cases


def _differentiated(fn, n_args: int):
    """A wrapper that calls the student's loss twice on copies of the logits: for its value, and through
    ``torch.func.grad`` (run where the function lives) for its gradients, or the reason they could not be had."""

    def value_and_gradients(*logits):
        value = _call(fn, *(x.clone() for x in logits))
        try:
            torch = _torch_where(fn)
        except KeyError:  # the student's notebook no longer has the setup cell's torch
            return value, "NameError: name 'torch' is not defined in your notebook"
        try:
            grads = _call(torch.func.grad(fn, argnums=tuple(range(n_args))), *(x.clone() for x in logits))
        except RemoteError as err:
            grads = f"{err.ename}: {err}"
        except Exception as err:  # noqa: BLE001 - the student's loss could not be differentiated: say why
            grads = f"{type(err).__name__}: {err}"
        return value, grads

    return value_and_gradients


def _scalar_tensor_problem(value) -> str | None:
    if value is None:
        return "the loss: got None. Did you forget a `return`?"
    if not (type(value).__module__.split(".")[0] == "torch" and hasattr(value, "detach")):
        if isinstance(value, (float, int, np.floating, np.integer)):
            return (f"the loss must be a torch tensor, got the number {describe(value)} (.item() or float()): "
                    f"return the tensor itself, so that loss.backward() reaches the networks' weights")
        return f"the loss must be a 0-dim torch tensor, got {_words(value)}"
    if value.numel() != 1:
        return (f"the loss must be a single number as a 0-dim tensor (what .mean() gives), got a tensor of shape "
                f"{tuple(value.shape)}")
    return None  # shape () or (1,): the gradient step decides (torch.func.grad refuses (1,): SCALAR_NEEDED)


SCALAR_NEEDED = ("the loss must be a single number as a 0-dim tensor (what .mean() gives), not a tensor of shape (1,) "
                 "(loss.backward() needs a 0-dim tensor)")


def _the_one_that_matches(got: float, candidates: list[tuple[float, str]], right: float) -> str | None:
    """The message of the one typical mistake whose value ``got`` is (None when none, or several, match, or when
    the mistake gives the right value on this input)."""
    tol = 1e-5 * max(1.0, abs(got))
    found = [message for value, message in candidates if abs(got - value) < tol and abs(value - right) >= tol]
    return found[0] if len(found) == 1 else None


def _at_kinks(logits, expected, got):
    """The expected gradient, with the student's own value where a logit is exactly 0: a softplus written by hand
    (max(a, 0) + log1p(exp(-|a|))) is exact there, but autograd picks a one-sided derivative of max and |a|."""
    import torch

    if not _is_tensor_like(got) or tuple(np.shape(as_plain(got))) != tuple(expected.shape):
        return expected
    return torch.where(logits == 0, torch.as_tensor(as_plain(got), dtype=expected.dtype), expected)


def _is_tensor_like(value) -> bool:
    plain = as_plain(value)
    return isinstance(plain, np.ndarray) and plain.dtype.kind == "f"


def _check_loss(student, reference, cases: list[Case], names: tuple[str, ...], name: str,
                hint) -> None:
    import torch

    def judge(case: Case, result):
        value, grads = result
        problem = _scalar_tensor_problem(value)
        if problem:
            return problem
        low = any(x.dtype == torch.float32 for x in case.args)
        rtol, atol = (1e-5, 1e-6) if low else (1e-8, 1e-10)
        expected = float(reference(*case.args))
        value = value.reshape(())
        wrong = compare_value(expected, value, "the loss", rtol, atol)
        if wrong:
            got = float(as_plain(value))
            extra = hint(case, got) or _stability_hint(case, got, expected)
            return [wrong] + ([extra] if extra else [])
        if isinstance(grads, str) and "return a scalar Tensor" in grads:
            return SCALAR_NEEDED
        if isinstance(grads, str):
            return (f"the loss has the right value but torch cannot differentiate it ({grads}): compute it with "
                    f"torch operations on the logit tensors themselves (no .item(), numpy or torch.tensor(...))")
        expected_grads = torch.func.grad(reference, argnums=tuple(range(len(names))))(*case.args)
        if not isinstance(grads, (tuple, list)) or len(grads) != len(names):
            return f"the loss's gradients could not be read back (got {_words(grads)})"
        problems = [p for n, x, e, g in zip(names, case.args, expected_grads, grads)
                    if (p := compare_value(_at_kinks(x, e, g), g, f"d loss / d {n}", rtol, atol))]
        if problems and all(not np.any(as_plain(g)) for g in grads):
            problems.append("every gradient is 0: the value is cut off from the logits (.item(), .detach(), numpy "
                            "or a new torch.tensor(...) on the way); keep it a torch computation on the inputs")
        return problems

    _warm_up_gradients(student)
    check_behaviour(_named(_differentiated(student, len(names)), names, student), cases, judge, name=name)


def _warm_up_gradients(fn) -> None:
    """One ``torch.func.grad`` where ``fn`` runs, before any time limit starts. Its first call imports
    torch._dynamo: 3 s on an idle 2-core machine, 4.7 s at load 4, and longer than the check's 10 s time limit in
    a loaded test run, where the limit interrupted the import and left a half-imported module behind, so that every later gradient of an honest answer failed
    (AttributeError: module 'torch._dynamo' has no attribute 'compiled_autograd')."""
    import torch as local

    try:
        torch = _torch_where(fn)
        torch.func.grad(torch.sum)(local.ones(2, dtype=local.float64))
    except Exception:  # noqa: BLE001 - no torch where the student's function runs: the check itself says so
        pass


def _named(wrapper, names, student):
    """The wrapper with the student's parameter names (for the feedback) and the student's function's name (so
    that a traceback starts at the student's frames)."""
    import inspect

    wrapper.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
    wrapper.__name__ = getattr(student, "__name__", wrapper.__name__)
    return wrapper


def _stability_hint(case: Case, got: float, expected: float) -> str | None:
    """Why a loss computed through log(sigmoid(.)) is off: log 0 at large logits, or an epsilon everywhere."""
    softplus = ("write -log sigmoid(a) = softplus(-a) and -log(1 - sigmoid(a)) = softplus(a) "
                "(torch.nn.functional.softplus, or F.logsigmoid, F.binary_cross_entropy_with_logits)")
    if any(float(x.abs().max()) >= LARGE for x in case.args):
        return (f"at logits of +-{LARGE:g}, sigmoid rounds to exactly 0 or 1 and log(sigmoid(a)) or "
                f"log(1 - sigmoid(a)) to log 0 (or to your epsilon): {softplus}")
    if np.isfinite(got) and abs(got - expected) <= 1e-4 * abs(expected):
        return f"close, but not exact: an epsilon added inside a log shifts every value a little; {softplus}"
    return None


def check_discriminator_loss(discriminator_loss, seed: int = 0, n_random: int = 4) -> None:
    """mean softplus(-real_logits) + mean softplus(fake_logits): its value (a 0-dim tensor, exact at +-100) and
    its gradients with respect to both logit tensors."""
    import torch.nn.functional as F

    rng = np.random.default_rng(seed)

    def hint(case: Case, got: float) -> str | None:
        real, fake = case.args
        both = np.r_[as_plain(real).ravel(), -as_plain(fake).ravel()].astype(np.float64)
        return _the_one_that_matches(got, [
            (float(gans.discriminator_loss(fake, real)),
             "real and fake are swapped: the discriminator is trained to call the data real (label 1, large logits) "
             "and the generated points fake (label 0)"),
            (float(F.softplus(-real).sum() + F.softplus(fake).sum()),
             "a sum, not a mean: average each term over its own batch"),
            (float(np.logaddexp(0, -both).mean()),
             "one mean over both batches together: average each term over its own batch, then add the two means"),
            (-float(gans.discriminator_loss(real, fake)),
             "the sign is flipped: the loss is minus the log-likelihood, -log D(x) - log(1 - D(G(z)))"),
        ], float(gans.discriminator_loss(real, fake)))

    _check_loss(discriminator_loss, gans.discriminator_loss, _logit_cases(rng, n_random, two=True),
                ("real_logits", "fake_logits"), "discriminator_loss", hint)


def check_generator_loss(generator_loss, seed: int = 0, n_random: int = 4) -> None:
    """The non-saturating mean softplus(-fake_logits) = mean -log D(G(z)): value and gradient."""
    import torch.nn.functional as F

    rng = np.random.default_rng(seed)

    def hint(case: Case, got: float) -> str | None:
        (fake,) = case.args
        return _the_one_that_matches(got, [
            (float(gans.minimax_generator_loss(fake)),
             "this is the original minimax loss mean log(1 - D(G(z))): it saturates (its gradient vanishes where the "
             "discriminator rejects the fakes); use the non-saturating mean -log D(G(z))"),
            (float(F.softplus(fake).mean()),
             "this is mean -log(1 - D(G(z))), the discriminator's term for fakes: the generator wants D to call its "
             "points real, -log D(G(z))"),
            (-float(gans.generator_loss(fake)),
             "the sign is flipped: the generator minimises -log D(G(z)), a positive number"),
            (float(F.softplus(-fake).sum()), "a sum, not a mean: average over the batch"),
        ], float(gans.generator_loss(fake)))

    _check_loss(generator_loss, gans.generator_loss, _logit_cases(rng, n_random, two=False), ("fake_logits",),
                "generator_loss", hint)


# --- Question 3: the optimal discriminator -------------------------------------------------------------------


def check_optimal_discriminator(optimal_discriminator, seed: int = 0, n_random: int = 4) -> None:
    """p_data / (p_data + p_g) elementwise, 0.5 where both densities are 0."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(-45.0, 45.0, 31)
    cases = [
        Case((np.array([0.2, 0.5, 0.0, 1.0]), np.array([0.2, 0.0, 0.5, 3.0])),
             "by hand: equal densities, only data, only generated, 1 against 3"),
        Case((np.array([0.0, 0.3, 0.0]), np.array([0.0, 0.1, 0.0])), "both densities 0 at two of the points"),
        Case((np.exp(-0.5 * (grid - 1.0) ** 2) / np.sqrt(2 * np.pi), np.exp(-0.5 * (grid + 1.0) ** 2) / np.sqrt(2 * np.pi)),
             "two Gaussian densities N(1, 1) and N(-1, 1) on a grid from -45 to 45 (both underflow to 0 at the ends)"),
        Case((np.full((2, 3), 1e-300), np.full((2, 3), 3e-300)), "tiny densities (1e-300), shape (2, 3)"),
    ]
    for i in range(n_random):
        shape = tuple(int(s) for s in rng.integers(1, 6, size=int(rng.integers(1, 3))))
        p, q = rng.exponential(size=shape), rng.exponential(size=shape)
        p[rng.random(shape) < 0.3] = 0.0
        q[rng.random(shape) < 0.3] = 0.0
        cases.append(Case((p, q), f"random densities {i + 1}, shape {shape}, some of them 0"))

    def judge(case: Case, got):
        p, q = case.args
        expected = gans.optimal_discriminator(p, q)
        wrong = compare_value(expected, got, "the result", rtol=1e-9, atol=1e-12)
        if not wrong:
            return None
        arr = np.asarray(as_plain(got)) if got is not None else None
        both_zero = (p == 0) & (q == 0)
        hint = None
        if arr is not None and arr.shape == expected.shape and arr.dtype.kind in "fiub":
            arr = arr.astype(np.float64)
            rest = ~both_zero
            if both_zero.any() and np.allclose(arr[rest], expected[rest], rtol=1e-9, atol=1e-12):
                hint = (f"right wherever a density is positive, but at the points where p_data = p_g = 0 you return "
                        f"{describe(arr[both_zero][:3])}: 0/0 is undefined there, and D* is 0.5 by convention "
                        f"(np.where(total > 0, ..., 0.5), dividing only where total > 0)")
            elif np.allclose(arr[rest], 1 - expected[rest], rtol=1e-9, atol=1e-12):
                hint = "this is p_g / (p_data + p_g) = 1 - D*: D* is the probability that a point is *real*"
            else:
                small = rest & (p + q < 1e-6)
                large = rest & ~small
                if (small.any() and np.allclose(arr[large], expected[large], rtol=1e-6, atol=1e-9)
                        and not np.allclose(arr[small], expected[small], rtol=1e-6, atol=1e-9)):
                    hint = ("right where the densities are large, wrong where they are tiny: an epsilon added to "
                            "the denominator swamps them; divide by p_data + p_g itself, only where it is positive")
        return [wrong] + ([hint] if hint else [])

    check_behaviour(optimal_discriminator, cases, judge, name="optimal_discriminator")


# --- Question 4: a GAN on a ring of Gaussians -------------------------------------------------------------------


def _copies(samples: np.ndarray, X: np.ndarray) -> float:
    """The share of ``samples`` that lie on a training point (to float32 rounding, relative to the data's scale)."""
    tol = 1e-5 * max(1.0, float(np.max(np.abs(X))))
    hits = 0
    for i in range(0, len(samples), 512):
        part = samples[i:i + 512]
        d2 = np.sum((part[:, None, :] - X[None, :, :]) ** 2, axis=2)
        hits += int(np.sum(d2.min(axis=1) <= tol ** 2))
    return hits / len(samples)


def _points(value, n: int) -> tuple[np.ndarray | None, str | None]:
    arr = np.asarray(as_plain(value)) if value is not None else None
    if arr is None or arr.dtype == object or arr.dtype.kind not in "fiu" or arr.shape != (n, 2):
        return None, f"sample({n}) must return an array of shape ({n}, 2), got {_words(value)}"
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        return None, f"sample({n}) returned nan or inf: did the training diverge?"
    return arr, None


def check_train_gan_2d(train_gan_2d, steps: int = GAN_STEPS, n: int = 2000, radius: float = 3.0, std: float = 0.2,
                       ring_seed: int = 0, seeds=(0,), repeat: bool = True) -> None:
    """For each seed, ``sample = train_gan_2d(X, steps, seed)`` on ``n`` points of a ring of 8 Gaussians
    (:func:`dlcourse.data.ring_of_gaussians`); ``sample(4000)`` must cover at least 6 modes with at least 70 % of
    its points within 3 std of a mode, without handing back training points. With ``repeat``, two short runs
    (50 steps) with the first seed, made first, must give the same samples."""
    X, centres = data.ring_of_gaussians(n, radius=radius, std=std, rng=ring_seed)
    ring = f"a ring of 8 Gaussians (radius {radius:g}, std {std:g}, {n} points)"
    cases = [Case((X, steps, s), f"{ring}, {steps} steps, seed {s}") for s in seeds]
    short = []
    if repeat:
        args = (X, SHORT_STEPS, seeds[0])
        short = [Case(args, f"{ring}, a short run of {SHORT_STEPS} steps, seed {seeds[0]}"),
                 Case(args, f"{ring}, the same short run again (the same samples?)")]
    first: list[np.ndarray] = []

    def trained(X, steps, seed):
        sample = _call(train_gan_2d, X, steps, seed)
        if not _is_callable(sample):
            return f"train_gan_2d must return the function sample(n), got {_words(sample)}"
        if all(_has(sample, name) for name in ("parameters", "forward")):
            return ("train_gan_2d returned a torch module (the generator?): return a function sample(n) that draws "
                    "n noise vectors, runs them through the generator and returns an (n, 2) numpy array")
        return _call(sample, N_SAMPLES), _call(sample, 3)

    def judge(case: Case, result):
        if isinstance(result, str):
            return result
        points, problem = _points(result[0], N_SAMPLES)
        problem = problem or _points(result[1], 3)[1]
        if problem:
            return problem
        if any(case is c for c in short):
            if first and not np.array_equal(first[0], points):
                return ("two trainings with the same seed gave different samples: seed torch at the start of "
                        "train_gan_2d (torch.manual_seed(seed)) and draw the sampler's noise from seed too (e.g. a "
                        "torch.Generator().manual_seed(seed)), never from an unseeded generator")
            first.append(points)
            return None
        copied = _copies(points, X)
        if copied >= COPY_SHARE:
            return (f"{copied:.0%} of the generated points are training points: sample(n) must push fresh noise "
                    f"through the trained generator, not hand back (or resample) the data")
        score = gans.mode_coverage(points, centres, std)
        if score.covered >= MIN_MODES and score.high_quality >= MIN_QUALITY:
            return None
        spread, expected = (float(np.median(np.linalg.norm(P - X.mean(axis=0), axis=1))) for P in (points, X))
        advice = []
        if score.covered < MIN_MODES:
            advice.append("mode collapse: the generator puts its points on a few modes only")
        if not 0.9 < spread / expected < 1.1:
            advice.append(f"your points lie at a median distance {spread:.3g} from the data's mean, the data at "
                          f"{expected:.3g}: if you standardised the data, scale the samples back")
        advice.append(f"check the training loop (a discriminator step, then a generator step, each with "
                      f"zero_grad/backward/step, the fakes detached for the discriminator) and the losses; "
                      f"Adam with a learning rate around 1e-3 and LeakyReLU networks train in {steps} steps")
        counts = ", ".join(str(int(c)) for c in score.counts)
        return [f"{score.summary()} (at least {MIN_MODES} modes and {MIN_QUALITY:.0%} needed; points near each "
                f"mode: {counts})", *advice]

    # the short runs first: a sampler that is not reproducible fails before the long training
    check_behaviour(_named(trained, ("data", "steps", "seed"), train_gan_2d), short + cases, judge,
                    name="train_gan_2d on a ring of Gaussians", seconds=TRAIN_SECONDS)
