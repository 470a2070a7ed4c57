"""Checks for assignment ps4 (convolution and pooling in numpy, a LeNet on the digits in torch).

The numpy functions are compared with :mod:`dlcourse.convolution` on fixed and random shapes, strides and
paddings: 1x1 kernels, a stride larger than the kernel, a stride that does not divide (the floor in the output
size), padding that makes the output larger than the input, non-square images and kernels, and inputs with tied
maxima for pooling. Feedback names the case and each wrong output ("dw is wrong ... dx and db are right"); a
hint adds what the wrong result looks like (the kernel flipped, the padding not cut off, a tie).

``build_lenet`` / ``train_lenet`` are judged by what they achieve, never by their architecture: logits of shape
(N, n_classes) for (N, 1, 8, 8) images, at least 97 % accuracy on the held-out digits, and the same predictions
from two trainings with the same seed. The tests build every model as ``torch.manual_seed(seed); model =
build_lenet(10)`` (seeding the student's torch: the kernel's when grading is isolated) and evaluate it as
``model.eval(); model(torch.as_tensor(X, dtype=torch.float32))``.
"""

from __future__ import annotations

import numpy as np

from .. import convolution, data
from .core import Case, as_plain, check_behaviour, check_function, describe
from .remote import RemoteObject, RemoteTimeout

DIGITS_ACCURACY = 0.97
TRAIN_SECONDS = 60  # per training (build, train, predict), as the notebook says
N_CLASSES = 10

# while one function is checked, the helpers it may call are correct ones (unless the student's passed their own
# check): a wrong conv_output_size costs Question 2 only, not every question that uses it
SIZE_HELPER = {"conv_output_size": convolution.conv_output_size}
CONV_HELPERS = {**SIZE_HELPER, "conv2d_forward": convolution.conv2d_forward}
POOL_HELPERS = {**SIZE_HELPER, "maxpool2d_forward": convolution.maxpool2d_forward}


# --- Question 1: conv1d -----------------------------------------------------------------------------------


def _flipped_hint(reference, flip):
    """A hint for a result that equals the *convolution* (the kernel flipped) instead of the cross-correlation."""
    def hint(case: Case, expected, got) -> str | None:
        try:
            flipped = reference(*flip(case.args))
            got = np.asarray(as_plain(got), dtype=float)
        except Exception:
            return None
        if got.shape == flipped.shape and np.allclose(got, flipped, rtol=1e-9, atol=1e-12):
            return ("your result is the convolution with the kernel flipped; the lecture's ⊛ is a cross-correlation: "
                    "slide the kernel as it is, without flipping it")
        return None
    return hint


def check_conv1d(conv1d, seed: int = 0, n_random: int = 6) -> None:
    """Valid cross-correlation (x ⊛ u)_i = sum_b x_{i+b} u_b, length M - k + 1."""
    rng = np.random.default_rng(seed)
    cases = [
        Case((np.array([0.0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4]), np.array([-1.0, 1.0])),
             "the lecture's example (0,0,0,0,1,2,3,4,4,4,4) ⊛ (-1, 1)"),
        Case((np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([1.0, 0.0, -2.0])), "an asymmetric kernel of length 3"),
        Case((np.array([2.0, -1.0, 0.5]), np.array([1.0, 2.0, 3.0])), "a kernel as long as x (one output)"),
        Case((np.array([1.0, -2.0, 3.0]), np.array([2.0])), "a kernel of length 1"),
    ]
    for i in range(n_random):
        M = int(rng.integers(1, 21))
        k = int(rng.integers(1, M + 1))
        cases.append(Case((rng.normal(size=M), rng.normal(size=k)), f"random input {i + 1}: M = {M}, k = {k}"))
    check_function(conv1d, convolution.conv1d, cases, name="conv1d", rtol=1e-9, atol=1e-12,
                   hint=_flipped_hint(convolution.conv1d, lambda args: (args[0], args[1][::-1])))


# --- Question 2: the output size --------------------------------------------------------------------------

SIZE_CASES = [
    ((5, 3, 1, 0), "n = 5, k = 3, no stride, no padding"),
    ((8, 3, 1, 1), "n = 8, k = 3, padding 1 ('same' size)"),
    ((7, 3, 2, 0), "n = 7, k = 3, stride 2"),
    ((8, 3, 2, 0), "n = 8, k = 3, stride 2: the last window does not fit (floor)"),
    ((6, 1, 1, 0), "a 1x1 kernel"),
    ((7, 2, 3, 0), "stride 3 larger than the kernel 2"),
    ((3, 3, 1, 2), "padding 2 makes the output larger than the input"),
    ((1, 1, 1, 0), "n = 1, k = 1"),
    ((10, 4, 3, 1), "n = 10, k = 4, stride 3, padding 1 (floor)"),
]


def check_conv_output_size(conv_output_size, seed: int = 0, n_random: int = 10) -> None:
    """(n + 2 padding - k) // stride + 1."""
    rng = np.random.default_rng(seed)
    cases = [Case(args, label) for args, label in SIZE_CASES]
    for i in range(n_random):
        p, s = int(rng.integers(0, 4)), int(rng.integers(1, 5))
        n = int(rng.integers(1, 30))
        k = int(rng.integers(1, n + 2 * p + 1))
        cases.append(Case((n, k, s, p), f"random sizes {i + 1}: n = {n}, k = {k}, stride {s}, padding {p}"))

    def hint(case: Case, expected, got) -> str | None:
        n, k, s, p = case.args
        try:
            value = float(as_plain(got))
        except (TypeError, ValueError):
            return None
        if value != int(value):
            return "the size must be a whole number: the last window that does not fit is dropped (floor division //)"
        if p and value == (n + p - k) // s + 1:
            return "the padding goes on both sides: 2 * padding"
        if value == expected - 1:
            return "one too few: the first window also counts (+ 1)"
        if value == expected + 1 and (n + 2 * p - k) % s:
            return "one too many: a window that sticks out of the (padded) input does not count (round down)"
        return None

    check_function(conv_output_size, convolution.conv_output_size, cases, name="conv_output_size", rtol=0, atol=0,
                   hint=hint)


# --- Questions 3 and 4: 2-D convolution, forward and backward ---------------------------------------------

# (N, C, H, W, F, HH, WW, stride, padding, label)
CONV_SHAPES = [
    (2, 3, 5, 5, 4, 1, 1, 1, 0, "a 1x1 kernel"),
    (2, 2, 6, 6, 3, 3, 3, 2, 1, "stride 2, padding 1"),
    (1, 2, 7, 7, 2, 2, 2, 3, 0, "stride 3 larger than the kernel 2x2"),
    (2, 1, 3, 3, 2, 2, 2, 1, 2, "padding 2 makes the output (6x6) larger than the input (3x3)"),
    (2, 2, 6, 4, 3, 3, 2, 1, 0, "a non-square image (6x4) and kernel (3x2)"),
    (3, 2, 8, 7, 2, 3, 3, 2, 0, "stride 2 that does not divide: the last row and column are not used"),
    (3, 3, 5, 5, 2, 3, 3, 1, 1, "a batch of 3 with 3 channels, padding 1"),
]


def _conv_shapes(rng: np.random.Generator, n_random: int):
    """The fixed shapes, then random ones (every random kernel fits the padded input)."""
    for shape in CONV_SHAPES:
        yield shape
    for i in range(n_random):
        N, C, F = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 5))
        p, s = int(rng.integers(0, 3)), int(rng.integers(1, 4))
        H, W = int(rng.integers(1, 10)), int(rng.integers(1, 10))
        HH, WW = int(rng.integers(1, min(H + 2 * p, 5) + 1)), int(rng.integers(1, min(W + 2 * p, 5) + 1))
        yield N, C, H, W, F, HH, WW, s, p, f"random shapes {i + 1}"


def _conv_label(N, C, H, W, F, HH, WW, s, p, label) -> str:
    return f"{label}: x ({N}, {C}, {H}, {W}), w ({F}, {C}, {HH}, {WW}), stride {s}, padding {p}"


def check_conv2d_forward(conv2d_forward, seed: int = 0, n_random: int = 6) -> None:
    """out[n, f, i, j] = b_f + sum_{c,a,b} x_pad[n, c, s i + a, s j + b] w[f, c, a, b]."""
    rng = np.random.default_rng(seed)
    cases = [Case((np.arange(9.0).reshape(1, 1, 3, 3), np.array([[[[1.0, 0.0], [0.0, -2.0]]]]), np.array([0.5]), 1, 0),
                  "one 3x3 image, one asymmetric 2x2 kernel, stride 1, no padding")]
    for N, C, H, W, F, HH, WW, s, p, label in _conv_shapes(rng, n_random):
        cases.append(Case((rng.normal(size=(N, C, H, W)), rng.normal(size=(F, C, HH, WW)), rng.normal(size=F), s, p),
                          _conv_label(N, C, H, W, F, HH, WW, s, p, label)))
    check_function(conv2d_forward, convolution.conv2d_forward, cases, name="conv2d_forward", rtol=1e-9, atol=1e-12,
                   lend=SIZE_HELPER, hint=_flipped_hint(convolution.conv2d_forward,
                                      lambda a: (a[0], a[1][:, :, ::-1, ::-1], *a[2:])))


def check_conv2d_backward(conv2d_backward, seed: int = 0, n_random: int = 6) -> None:
    """(dx, dw, db) of conv2d_forward for an upstream gradient dout of the output's shape."""
    rng = np.random.default_rng(seed)
    cases = [Case((np.array([[[[1.0, -1.0], [2.0, 0.5]]]]), np.arange(9.0).reshape(1, 1, 3, 3),
                   np.array([[[[1.0, 0.0], [0.0, -2.0]]]]), 1, 0),
                  "one 3x3 image, one asymmetric 2x2 kernel, stride 1, no padding")]
    for N, C, H, W, F, HH, WW, s, p, label in _conv_shapes(rng, n_random):
        Ho, Wo = (H + 2 * p - HH) // s + 1, (W + 2 * p - WW) // s + 1
        cases.append(Case((rng.normal(size=(N, F, Ho, Wo)), rng.normal(size=(N, C, H, W)),
                           rng.normal(size=(F, C, HH, WW)), s, p),
                          _conv_label(N, C, H, W, F, HH, WW, s, p, label)))
    check_function(conv2d_backward, convolution.conv2d_backward, cases, name="conv2d_backward",
                   outputs=("dx", "dw", "db"), rtol=1e-9, atol=1e-12, lend=CONV_HELPERS,
                   hint=_conv_backward_hint)


def _conv_backward_hint(case: Case, expected, got) -> str | None:
    dout, x, w, s, p = case.args
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return None
    try:
        dx, dw, db = (np.asarray(as_plain(v), dtype=float) for v in got)
    except (TypeError, ValueError):
        return None
    hints = []
    if p and dx.shape == (x.shape[0], x.shape[1], x.shape[2] + 2 * p, x.shape[3] + 2 * p):
        hints.append(f"dx has the shape of the padded input: cut the padding off (the {p} rows and columns of "
                     f"zeros on each side are not inputs of the layer)")
    if dw.shape == expected[1].shape and x.shape[0] > 1 and not np.allclose(dw, expected[1], rtol=1e-9, atol=1e-12):
        if np.allclose(dw * x.shape[0], expected[1], rtol=1e-9, atol=1e-12):
            hints.append("dw is the batch's mean: the loss sums over the batch, so dw sums over the N images")
        else:
            single = [convolution.conv2d_backward(dout[n:n + 1], x[n:n + 1], w, s, p)[1] for n in range(x.shape[0])]
            if any(np.allclose(dw, d, rtol=1e-9, atol=1e-12) for d in single):
                hints.append("dw is the gradient of a single image: add up the contributions of all N images")
    if db.shape != expected[2].shape:
        hints.append(f"db has one entry per filter (shape {expected[2].shape}): sum dout over every axis but the "
                     f"filters' (axes 0, 2 and 3)")
    return "; ".join(hints) or None


# --- Question 5: max pooling ------------------------------------------------------------------------------

# (N, C, H, W, size, stride, label)
POOL_SHAPES = [
    (1, 1, 4, 4, 2, 2, "2x2 windows, stride 2"),
    (2, 2, 5, 5, 3, 1, "overlapping 3x3 windows, stride 1"),
    (1, 2, 7, 7, 2, 3, "stride 3 larger than the window 2x2"),
    (2, 1, 5, 5, 2, 2, "5x5 images, 2x2 windows, stride 2: the last row and column are not used"),
    (1, 2, 3, 4, 1, 1, "1x1 windows (the identity)"),
    (2, 3, 6, 4, 3, 2, "a non-square image, 3x3 windows, stride 2"),
]


def _pool_cases(rng: np.random.Generator, n_random: int, with_dout: bool, ties: bool) -> list[Case]:
    cases = []

    def add(N, C, H, W, size, stride, label, values):
        x = values((N, C, H, W))
        Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
        args = (rng.normal(size=(N, C, Ho, Wo)), x, size, stride) if with_dout else (x, size, stride)
        cases.append(Case(args, f"{label}: x ({N}, {C}, {H}, {W}), size {size}, stride {stride}"))

    for N, C, H, W, size, stride, label in POOL_SHAPES:
        add(N, C, H, W, size, stride, label, lambda shape: rng.normal(size=shape))
    if ties:
        for N, C, H, W, size, stride, label in POOL_SHAPES[:4]:
            add(N, C, H, W, size, stride, label + ", integer values with tied maxima",
                lambda shape: rng.integers(0, 3, size=shape).astype(float))
    for i in range(n_random):
        size, stride = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        N, C = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        H, W = int(rng.integers(size, 10)), int(rng.integers(size, 10))
        tied = ties and i % 2 == 1
        add(N, C, H, W, size, stride, f"random input {i + 1}" + (" with tied maxima" if tied else ""),
            (lambda shape: rng.integers(-2, 2, size=shape).astype(float)) if tied
            else (lambda shape: rng.normal(size=shape)))
    return cases


def check_maxpool2d_forward(maxpool2d_forward, seed: int = 0, n_random: int = 4) -> None:
    """The maximum of every size x size window at the given stride, no padding."""
    rng = np.random.default_rng(seed)
    cases = [Case((np.arange(16.0).reshape(1, 1, 4, 4) % 7, 2, 2), "one 4x4 image, 2x2 windows, stride 2")]
    cases += _pool_cases(rng, n_random, with_dout=False, ties=False)
    check_function(maxpool2d_forward, convolution.maxpool2d_forward, cases, name="maxpool2d_forward",
                   rtol=0, atol=0, lend=SIZE_HELPER)


def check_maxpool2d_backward(maxpool2d_backward, seed: int = 0, n_random: int = 4) -> None:
    """Each window's dout goes to its maximum (the first in row-major order on ties); overlapping windows add."""
    rng = np.random.default_rng(seed)
    cases = [Case((np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), np.array([[[[1.0, 5.0, 2.0, 0.0], [3.0, 0.0, 1.0, 6.0],
                                                                         [0.0, 1.0, 7.0, 2.0], [8.0, 1.0, 0.0, 0.0]]]]),
                   2, 2), "one 4x4 image without ties, 2x2 windows, stride 2"),
             Case((np.array([[[[10.0]]]]), np.ones((1, 1, 2, 2)), 2, 2),
                  "one 2x2 window of four equal values (the gradient goes to the first, x[0, 0, 0, 0])")]
    cases += _pool_cases(rng, n_random, with_dout=True, ties=True)
    check_function(maxpool2d_backward, convolution.maxpool2d_backward, cases, name="maxpool2d_backward",
                   rtol=1e-12, atol=1e-12, lend=POOL_HELPERS, hint=_pool_backward_hint)


def _pool_backward_hint(case: Case, expected, got) -> str | None:
    """Whether the wrong entries all lie in windows whose maximum is tied."""
    dout, x, size, stride = case.args
    try:
        dx = np.asarray(as_plain(got), dtype=float)
    except (TypeError, ValueError):
        return None
    if dx.shape != x.shape:
        return None
    wrong = ~np.isclose(dx, expected, rtol=1e-12, atol=1e-12)
    windows = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    top = windows.max(axis=(4, 5), keepdims=True)
    n_top = (windows == top).sum(axis=(4, 5))
    in_tied = np.zeros(x.shape, dtype=bool)
    for n, c, i, j in np.argwhere(n_top > 1):
        in_tied[n, c, i * stride:i * stride + size, j * stride:j * stride + size] = True
    if wrong.any() and not (wrong & ~in_tied).any():
        return ("every wrong entry is in a window where several entries tie for the maximum: there, the whole "
                "gradient goes to ONE of them, the first in row-major order (np.argmax of the flattened window)")
    return None


# --- Question 6: LeNet on the digits (torch) --------------------------------------------------------------


def _torch_of(fn):
    """The torch module the student's code uses: the kernel's when grading is isolated (None if it has none)."""
    if isinstance(fn, RemoteObject):
        try:
            return fn._session.get("torch")
        except KeyError:
            return None
    import torch

    return torch


def _logits(model, X: np.ndarray):
    """``model.eval(); model(X as a float32 tensor)``, as a numpy array (or what came back, if not a tensor). A
    model trained on a GPU is moved to the CPU first (in place, as ``nn.Module.cpu`` does)."""
    import torch

    if hasattr(model, "cpu"):
        model.cpu()
    model.eval()
    out = model(torch.as_tensor(np.asarray(X), dtype=torch.float32))
    return as_plain(out)


def _what(value) -> str:
    """What came back instead of a model or logits, in words."""
    if value is None:
        return "None (a missing `return`?)"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return describe(value)


def _is_callable(value) -> bool:
    return value._callable if isinstance(value, RemoteObject) else callable(value)


def _as_images(X: np.ndarray) -> np.ndarray:
    return np.asarray(X, dtype=float).reshape(-1, 1, 8, 8)


def _call(fn, *args):
    """A call of the student's code from a check's own wrapper: a time-out in the kernel is a time-out here."""
    from .guard import TimeLimitExceeded

    try:
        return fn(*args)
    except RemoteTimeout:
        raise TimeLimitExceeded("time limit exceeded in the kernel") from None


def check_build_lenet(build_lenet, seed: int = 0) -> None:
    """build_lenet(n_classes) gives a module whose output for (N, 1, 8, 8) images has shape (N, n_classes)."""
    rng = np.random.default_rng(seed)
    cases = [Case((N_CLASSES, rng.random(size=(5, 1, 8, 8))), "n_classes = 10, a batch of 5 images"),
             Case((3, rng.random(size=(1, 1, 8, 8))), "n_classes = 3, a single image"),
             Case((2, rng.random(size=(7, 1, 8, 8))), "n_classes = 2, a batch of 7 images")]

    def student(n_classes, X):
        model = _call(build_lenet, n_classes)
        if not _is_callable(model):
            return f"build_lenet must return the model (a torch.nn.Module), got {_what(model)}"
        return _call(_logits, model, X)

    def judge(case: Case, result):
        if isinstance(result, str):
            return result
        n_classes, X = case.args
        if not isinstance(result, np.ndarray) or result.shape != (len(X), n_classes):
            return (f"the model's output for {len(X)} images of shape (1, 8, 8) must be logits of shape "
                    f"({len(X)}, {n_classes}), got {_what(result)}")
        return None

    check_behaviour(student, cases, judge, name="build_lenet")


def check_train_lenet(build_lenet, train_lenet, epochs: int, seeds=(0,), repeat: bool = True) -> None:
    """For each seed: ``torch.manual_seed(seed); model = build_lenet(10)``, ``train_lenet(model, X_train, y_train,
    epochs, seed)`` on the digits' training split (images (N, 1, 8, 8)); the trained model classifies at least 97 %
    of the test split correctly, and (``repeat``) the first seed trained again gives the same logits."""
    X_train, X_test, y_train, y_test = data.digits_split()
    X_train, X_test = _as_images(X_train), _as_images(X_test)

    def trained_logits(X, y, epochs, seed):
        torch = _torch_of(train_lenet)
        if torch is not None:
            torch.manual_seed(seed)
        model = _call(build_lenet, N_CLASSES)
        trained = _call(train_lenet, model, X, y, epochs, seed)
        if not _is_callable(trained):
            return f"train_lenet must return the trained model, got {_what(trained)}"
        return _call(_logits, trained, X_test)

    def problem(result) -> str | None:
        if isinstance(result, str):
            return result
        if not isinstance(result, np.ndarray) or result.shape != (len(X_test), N_CLASSES):
            return (f"the trained model's output for the {len(X_test)} test images must be logits of shape "
                    f"({len(X_test)}, {N_CLASSES}), got {_what(result)}")
        if not np.all(np.isfinite(result)):
            return "the model's outputs contain nan or inf: is the learning rate too large?"
        return None

    first: list[np.ndarray] = []

    def judge(case: Case, result):
        wrong = problem(result)
        if wrong:
            return wrong
        accuracy = float(np.mean(np.argmax(result, axis=1) == y_test))
        if not accuracy >= DIGITS_ACCURACY:
            return (f"test accuracy {accuracy:.3f} is below {DIGITS_ACCURACY:.2f} with epochs = {epochs}: check the "
                    f"training loop (zero_grad, backward, step), or change the network or LR, BATCH_SIZE, EPOCHS")
        if repeat and case is cases[-1]:  # the first seed again: the same predictions
            # the logits, not only the predictions: two unseeded trainings of a good network can agree on every
            # test image (an unseeded answer passed that way once in a test run); the same seed gives the same
            # logits up to the order of floating-point sums
            if not np.allclose(first[0], result, rtol=1e-4, atol=1e-4 * float(np.abs(first[0]).max())):
                return ("two trainings with the same seed gave different predictions: every random choice of "
                        "train_lenet (the shuffling, dropout) must come from its seed, e.g. torch.manual_seed(seed) "
                        "at its start, or np.random.default_rng(seed); the tests call torch.manual_seed(seed) "
                        "before build_lenet(10), so the initial weights are fixed already")
        elif not first:
            first.append(result)
        return None

    # the first seed is trained a second time at the end: the same seed must give the same predictions
    cases = [Case((X_train, y_train, epochs, s), f"the digits training split, seed {s}") for s in seeds]
    if repeat:
        cases.append(Case(cases[0].args, f"the digits training split, seed {seeds[0]} again (the same predictions?)"))
    check_behaviour(trained_logits, cases, judge, name="train_lenet on the digits", seconds=TRAIN_SECONDS)
