"""The ps4 checks accept correct answers written independently of the lib, and reject the usual mistakes.

Correct answers come in three styles each (plain loops, numpy stride tricks with einsum, torch), so that a check
can neither demand the lib's im2col layout nor a particular return type. Every typical mistake must fail its own
check, with feedback that names the case and, where it can, what went wrong.

Ties in max pooling: the assignment fixes the convention (the whole gradient of a window goes to its first
maximum in row-major order, as torch does on the CPU), like ps3 fixes relu'(0) = 0. An answer with another tie
rule (the last maximum) passes every tie-free case and fails the tied ones with a hint that says so.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from torch import nn

from dlcourse.grading import CheckFailed
from dlcourse.grading import ps4 as checks



pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py: as the notebooks compute


# --- independent correct answers (not the lib's code) ----------------------------------------------------


def conv1d_loop(x, u):
    M, k = len(x), len(u)
    return np.array([sum(x[i + b] * u[b] for b in range(k)) for i in range(M - k + 1)])


def conv1d_correlate(x, u):
    return np.correlate(x, u, mode="valid")


def conv1d_convolve_flipped(x, u):  # convolution with a flipped kernel is the cross-correlation
    return np.convolve(x, np.asarray(u)[::-1], mode="valid")


def conv_output_size_floor(n, k, stride, padding):
    return math.floor((n + 2 * padding - k) / stride) + 1


def conv_output_size_count(n, k, stride, padding):
    return len(range(0, n + 2 * padding - k + 1, stride))  # the positions of the windows' first pixel


def _pad(x, p):
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


def conv2d_forward_loop(x, w, b, stride, padding):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = _pad(x, padding)
    Ho, Wo = (H + 2 * padding - HH) // stride + 1, (W + 2 * padding - WW) // stride + 1
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out


def conv2d_forward_einsum(x, w, b, stride, padding):
    windows = np.lib.stride_tricks.sliding_window_view(_pad(x, padding), w.shape[2:], axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]
    return np.einsum("nchwij,fcij->nfhw", windows, w) + b[None, :, None, None]


def conv2d_forward_torch(x, w, b, stride, padding):  # a float64 tensor: compared like an array
    return TF.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=stride, padding=padding)


def conv2d_backward_loop(dout, x, w, stride, padding):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = _pad(x, padding)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    _, _, Ho, Wo = dout.shape
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    rows, cols = slice(i * stride, i * stride + HH), slice(j * stride, j * stride + WW)
                    dw[f] += dout[n, f, i, j] * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += dout[n, f, i, j] * w[f]
    return dxp[:, :, padding:padding + H, padding:padding + W], dw, dout.sum(axis=(0, 2, 3))


def conv2d_backward_torch(dout, x, w, stride, padding):
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = torch.zeros(w.shape[0], dtype=torch.float64, requires_grad=True)
    TF.conv2d(xt, wt, bt, stride=stride, padding=padding).backward(torch.tensor(dout))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def conv2d_backward_einsum(dout, x, w, stride, padding):
    F, C, HH, WW = w.shape
    H, W = x.shape[2:]
    Ho, Wo = dout.shape[2:]
    windows = np.lib.stride_tricks.sliding_window_view(_pad(x, padding), (HH, WW), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]
    dw = np.einsum("nfhw,nchwij->fcij", dout, windows)
    dxp = np.zeros((x.shape[0], C, H + 2 * padding, W + 2 * padding))
    for a in range(HH):  # one strided slice per kernel offset
        for b in range(WW):
            dxp[:, :, a:a + stride * (Ho - 1) + 1:stride, b:b + stride * (Wo - 1) + 1:stride] += \
                np.einsum("nfhw,fc->nchw", dout, w[:, :, a, b])
    return dxp[:, :, padding:padding + H, padding:padding + W], dw, np.einsum("nfhw->f", dout)


def maxpool2d_forward_loop(x, size, stride):
    N, C, H, W = x.shape
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    out = np.empty((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].max(axis=(2, 3))
    return out


def maxpool2d_forward_torch(x, size, stride):
    return TF.max_pool2d(torch.tensor(x), size, stride)


def maxpool2d_backward_loop(dout, x, size, stride):
    dx = np.zeros_like(x)
    N, C, Ho, Wo = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                    a, b = np.unravel_index(np.argmax(window), window.shape)  # the first maximum
                    dx[n, c, i * stride + a, j * stride + b] += dout[n, c, i, j]
    return dx


def maxpool2d_backward_torch(dout, x, size, stride):
    """torch's own tie rule, which the assignment adopts: this passes the tied cases too."""
    xt = torch.tensor(x, requires_grad=True)
    TF.max_pool2d(xt, size, stride).backward(torch.tensor(dout))
    return xt.grad


LR, BATCH_SIZE = 0.003, 32
LR_OTHER = 0.02


def build_lenet(n_classes):
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, n_classes))


def train_lenet(model, X, y, epochs, seed):
    """Adam, shuffled by a numpy generator (not torch's): any seeded source of randomness is deterministic."""
    rng = np.random.default_rng(seed)
    X, y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    model.train()
    for _ in range(epochs):
        order = torch.as_tensor(rng.permutation(len(y)))
        for start in range(0, len(y), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            opt.zero_grad()
            TF.cross_entropy(model(X[batch]), y[batch]).backward()
            opt.step()
    return model


class OtherNet(nn.Module):
    """Not a LeNet: two convolutions with batch norm before a single pooling, dropout, one dense layer."""

    def __init__(self, n_classes):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                                      nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU())
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear(32 * 4 * 4, n_classes)

    def forward(self, x):
        return self.fc(self.drop(TF.avg_pool2d(self.features(x), 2).flatten(1)))


def train_other(model, X, y, epochs, seed):
    """SGD with momentum and a torch generator; dropout and batch norm: needs model.eval() to predict."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout's masks
    X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.long)
    opt = torch.optim.SGD(model.parameters(), lr=LR_OTHER, momentum=0.9)
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(y), generator=generator).split(64):
            loss = nn.CrossEntropyLoss()(model(X[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model


@pytest.mark.parametrize("check, fn", [
    (checks.check_conv1d, conv1d_loop),
    (checks.check_conv1d, conv1d_correlate),
    (checks.check_conv1d, conv1d_convolve_flipped),
    (checks.check_conv_output_size, conv_output_size_floor),
    (checks.check_conv_output_size, conv_output_size_count),
    (checks.check_conv2d_forward, conv2d_forward_loop),
    (checks.check_conv2d_forward, conv2d_forward_einsum),
    (checks.check_conv2d_forward, conv2d_forward_torch),
    (checks.check_conv2d_backward, conv2d_backward_loop),
    (checks.check_conv2d_backward, conv2d_backward_torch),
    (checks.check_conv2d_backward, conv2d_backward_einsum),
    (checks.check_maxpool2d_forward, maxpool2d_forward_loop),
    (checks.check_maxpool2d_forward, maxpool2d_forward_torch),
    (checks.check_maxpool2d_backward, maxpool2d_backward_loop),
    (checks.check_maxpool2d_backward, maxpool2d_backward_torch),
], ids=lambda v: getattr(v, "__name__", None))
@pytest.mark.parametrize("seed", [0, 11, 2024])
def test_correct_answers_pass_visible_and_hidden_style_checks(check, fn, seed, capsys):
    check(fn, seed=seed, n_random=8)
    assert capsys.readouterr().out.startswith("✓")


def test_the_cases_cover_what_the_issue_asks_for():
    """1x1 kernels, stride > kernel, padding that makes the output larger than the input, a floor, ties."""
    labels = " | ".join(shape[-1] for shape in checks.CONV_SHAPES)
    for words in ("1x1 kernel", "stride 3 larger than the kernel", "larger than the input", "does not divide"):
        assert words in labels
    assert any(Ho > H for N, C, H, W, F, HH, WW, s, p, _ in checks.CONV_SHAPES
               for Ho in [(H + 2 * p - HH) // s + 1])
    labels = [case.label for case in checks._pool_cases(np.random.default_rng(0), 4, with_dout=True, ties=True)]
    assert sum("tied maxima" in label for label in labels) >= 5


def test_lenet_answers_of_two_different_designs_pass(capsys):
    initial = []

    def recording_train(model, X, y, epochs, seed):
        initial.append([p.detach().clone() for p in model.parameters()])
        return train_lenet(model, X, y, epochs, seed)

    checks.check_build_lenet(build_lenet)
    checks.check_train_lenet(build_lenet, recording_train, epochs=20)
    checks.check_build_lenet(OtherNet)  # a class is a function of n_classes too
    checks.check_train_lenet(OtherNet, train_other, epochs=12, seeds=(1, 2), repeat=False)
    out = capsys.readouterr().out
    assert out.count("✓") == 4 and "all 2 checks passed" in out
    # the tests seed torch before build_lenet: with the same seed both models started from the same weights, so
    # determinism is asked of train_lenet only
    assert len(initial) == 2 and all(torch.equal(a, b) for a, b in zip(*initial))


def test_a_helper_with_a_mistake_costs_only_its_own_question(capsys):
    """conv2d_forward, conv2d_backward and the pooling functions may call the student's conv_output_size (and
    conv2d_forward, maxpool2d_forward): while they are checked, those names are correct ones."""
    source = """
def conv2d_forward(x, w, b, stride, padding):
    Ho, Wo = conv_output_size(x.shape[2], w.shape[2], stride, padding), conv_output_size(x.shape[3], w.shape[3],
                                                                                         stride, padding)
    return conv2d_forward_einsum(x, w, b, stride, padding)[:, :, :Ho, :Wo]

def maxpool2d_backward(dout, x, size, stride):
    assert maxpool2d_forward(x, size, stride).shape == dout.shape
    return maxpool2d_backward_loop(dout, x, size, stride)
"""
    namespace = {"conv_output_size": size_no_plus_one, "maxpool2d_forward": pool_forward_stride_is_size,
                 "conv2d_forward_einsum": conv2d_forward_einsum, "maxpool2d_backward_loop": maxpool2d_backward_loop}
    exec(source, namespace)
    checks.check_conv2d_forward(namespace["conv2d_forward"])
    checks.check_maxpool2d_backward(namespace["maxpool2d_backward"])
    assert capsys.readouterr().out.count("✓") == 2
    assert namespace["conv_output_size"] is size_no_plus_one  # given back afterwards


# --- the usual mistakes --------------------------------------------------------------------------------------

def conv1d_flipped(x, u):
    return np.convolve(x, u, mode="valid")  # convolution: the kernel flipped


def conv1d_one_short(x, u):
    return np.array([np.dot(x[i:i + len(u)], u) for i in range(len(x) - len(u))])  # forgets the last position


def size_no_plus_one(n, k, stride, padding):
    return (n + 2 * padding - k) // stride


def size_no_floor(n, k, stride, padding):
    return (n + 2 * padding - k) / stride + 1


def size_ceil(n, k, stride, padding):
    return math.ceil((n + 2 * padding - k) / stride) + 1


def size_padding_once(n, k, stride, padding):
    return (n + padding - k) // stride + 1


def forward_flipped(x, w, b, stride, padding):
    return conv2d_forward_einsum(x, w[:, :, ::-1, ::-1], b, stride, padding)


def forward_stride_ignored(x, w, b, stride, padding):
    return conv2d_forward_einsum(x, w, b, 1, padding)


def forward_padding_ignored(x, w, b, stride, padding):
    return conv2d_forward_einsum(x, w, b, stride, 0)


def forward_no_bias(x, w, b, stride, padding):
    return conv2d_forward_einsum(x, w, np.zeros_like(b), stride, padding)


def backward_dx_with_padding(dout, x, w, stride, padding):
    dx, dw, db = conv2d_backward_einsum(dout, x, w, stride, padding)
    return conv2d_backward_loop(dout, _pad(x, padding), w, stride, 0)[0], dw, db  # the padded input's gradient


def backward_dw_mean(dout, x, w, stride, padding):
    dx, dw, db = conv2d_backward_einsum(dout, x, w, stride, padding)
    return dx, dw / x.shape[0], db


def backward_dw_last_image(dout, x, w, stride, padding):
    dx, _, db = conv2d_backward_einsum(dout, x, w, stride, padding)
    return dx, conv2d_backward_einsum(dout[-1:], x[-1:], w, stride, padding)[1], db  # overwritten in a loop


def backward_db_wrong_axes(dout, x, w, stride, padding):
    dx, dw, _ = conv2d_backward_einsum(dout, x, w, stride, padding)
    return dx, dw, dout.sum(axis=(0, 2))  # forgot the width axis


def backward_db_no_batch(dout, x, w, stride, padding):
    dx, dw, _ = conv2d_backward_einsum(dout, x, w, stride, padding)
    return dx, dw, dout[0].sum(axis=(1, 2))


def backward_dx_kernel_not_flipped(dout, x, w, stride, padding):
    """dx as a 'full' correlation of dout with w, without the flip the adjoint needs (stride 1 only, else zeros)."""
    dx, dw, db = conv2d_backward_einsum(dout, x, w, stride, padding)
    HH, WW = w.shape[2:]
    d = np.pad(dout, ((0, 0), (0, 0), (HH - 1, HH - 1), (WW - 1, WW - 1)))
    wrong = np.einsum("nfhwij,fcij->nchw", np.lib.stride_tricks.sliding_window_view(d, (HH, WW), axis=(2, 3)), w)
    H, W = x.shape[2:]
    return wrong[:, :, padding:padding + H, padding:padding + W] if stride == 1 else np.zeros_like(x), dw, db


def backward_stride_ignored(dout, x, w, stride, padding):
    return conv2d_backward_loop(dout, x, w, 1, padding)  # the windows of dout's pixels at i, j instead of s i, s j


def pool_forward_stride_is_size(x, size, stride):
    return maxpool2d_forward_loop(x, size, size)


def pool_backward_all_ties(dout, x, size, stride):
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + size), slice(j * stride, j * stride + size)
            window = x[:, :, rows, cols]
            mask = window == window.max(axis=(2, 3), keepdims=True)  # every tied maximum gets the gradient
            dx[:, :, rows, cols] += mask * dout[:, :, i:i + 1, j:j + 1]
    return dx


def pool_backward_every_element(dout, x, size, stride):
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * stride:i * stride + size, j * stride:j * stride + size] += dout[:, :, i:i + 1, j:j + 1]
    return dx


def pool_backward_overwrites(dout, x, size, stride):
    dx = np.zeros_like(x)
    N, C, Ho, Wo = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + a, j * stride + b] = dout[n, c, i, j]  # = instead of +=
    return dx


def pool_backward_last_tie(dout, x, size, stride):
    """Another tie rule (the last maximum): a valid subgradient, but not the assignment's convention."""
    return _last_tie_loop(dout, x, size, stride)


def _last_tie_loop(dout, x, size, stride):
    dx = np.zeros_like(x)
    N, C, Ho, Wo = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                    flat = window.ravel()
                    k = len(flat) - 1 - np.argmax(flat[::-1])
                    a, b = np.unravel_index(k, window.shape)
                    dx[n, c, i * stride + a, j * stride + b] += dout[n, c, i, j]
    return dx


def pool_backward_stride_is_size(dout, x, size, stride):
    return maxpool2d_backward_loop(dout, x, size, size)


@pytest.mark.parametrize("check, fn, message", [
    (checks.check_conv1d, conv1d_flipped, r"lecture's example.*kernel flipped"),
    (checks.check_conv1d, conv1d_one_short, r"expected shape \(10,\), got shape \(9,\)"),
    (checks.check_conv_output_size, size_no_plus_one, r"n = 5, k = 3.*one too few"),
    (checks.check_conv_output_size, size_no_floor, r"the last window does not fit \(floor\).*whole number"),
    (checks.check_conv_output_size, size_ceil, r"the last window does not fit \(floor\).*one too many"),
    (checks.check_conv_output_size, size_padding_once, r"padding 1.*2 \* padding"),
    (checks.check_conv2d_forward, forward_flipped, r"asymmetric 2x2 kernel.*kernel flipped"),
    (checks.check_conv2d_forward, forward_stride_ignored, r"stride 2, padding 1.*expected shape"),
    (checks.check_conv2d_forward, forward_padding_ignored, r"stride 2, padding 1.*expected shape"),
    (checks.check_conv2d_forward, forward_no_bias, r"asymmetric 2x2 kernel.*the result is wrong"),
    (checks.check_conv2d_backward, backward_dx_with_padding,
     r"stride 2, padding 1.*dx: expected shape \(2, 2, 6, 6\), got shape \(2, 2, 8, 8\).*dw and db are right"
     r".*cut the padding off"),
    (checks.check_conv2d_backward, backward_dw_mean, r"a 1x1 kernel.*dw is wrong.*dx and db are right.*batch's mean"),
    (checks.check_conv2d_backward, backward_dw_last_image,
     r"a 1x1 kernel.*dw is wrong.*dx and db are right.*a single image"),
    (checks.check_conv2d_backward, backward_db_wrong_axes,
     r"asymmetric 2x2 kernel.*db: expected shape \(1,\), got shape \(1, 2\).*dx and dw are right.*axes 0, 2 and 3"),
    (checks.check_conv2d_backward, backward_db_no_batch, r"a 1x1 kernel.*db is wrong.*dx and dw are right"),
    (checks.check_conv2d_backward, backward_dx_kernel_not_flipped,
     r"asymmetric 2x2 kernel.*dx is wrong.*dw and db are right"),
    (checks.check_conv2d_backward, backward_stride_ignored,
     r"stride 2, padding 1.*dx is wrong.*dw is wrong.*db is right"),
    (checks.check_maxpool2d_forward, pool_forward_stride_is_size, r"overlapping 3x3 windows, stride 1.*expected shape"),
    (checks.check_maxpool2d_backward, pool_backward_all_ties, r"four equal values.*tie for the maximum"),
    (checks.check_maxpool2d_backward, pool_backward_every_element, r"without ties.*wrong at 12 of 16 entries"),
    (checks.check_maxpool2d_backward, pool_backward_overwrites, r"overlapping 3x3 windows, stride 1.*wrong at"),
    (checks.check_maxpool2d_backward, pool_backward_last_tie, r"four equal values.*tie for the maximum.*first"),
    (checks.check_maxpool2d_backward, pool_backward_stride_is_size, r"overlapping 3x3 windows, stride 1"),
], ids=lambda v: getattr(v, "__name__", None) if callable(v) else "")
def test_typical_mistakes_fail_with_a_message_that_explains_them(check, fn, message):
    with pytest.raises(CheckFailed, match=f"(?s){message}"):
        check(fn)


def test_another_tie_rule_passes_every_tie_free_case():
    """The last-maximum rule is only wrong where the assignment's convention decides: on tied maxima."""
    rng = np.random.default_rng(5)
    for N, C, H, W, size, stride, _ in checks.POOL_SHAPES:
        x = rng.normal(size=(N, C, H, W))
        dout = rng.normal(size=(N, C, (H - size) // stride + 1, (W - size) // stride + 1))
        np.testing.assert_allclose(_last_tie_loop(dout, x, size, stride),
                                   maxpool2d_backward_loop(dout, x, size, stride))


def test_the_mistakes_are_caught_by_the_visible_tests_already():
    """A student who runs the visible test cell learns about each mistake before handing in (defaults = visible)."""
    for check, fn in [(checks.check_conv2d_backward, backward_dw_mean), (checks.check_conv2d_backward,
                                                                          backward_dx_with_padding),
                      (checks.check_maxpool2d_backward, pool_backward_all_ties),
                      (checks.check_conv_output_size, size_no_floor)]:
        with pytest.raises(CheckFailed):
            check(fn)


# --- LeNet: the model answers are judged by what they achieve ---------------------------------------------


def tiny_lenet(n_classes):
    return nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten(), nn.Linear(36, n_classes))


def train_one_epoch_slow(model, X, y, epochs, seed):
    return train_lenet_with(model, X, y, 1, seed, lr=1e-4)


def train_lenet_with(model, X, y, epochs, seed, lr=LR, shuffle=None):
    rng = np.random.default_rng(seed)
    X, y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        order = torch.as_tensor((shuffle or rng.permutation)(len(y)))
        for start in range(0, len(y), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            opt.zero_grad()
            TF.cross_entropy(model(X[batch]), y[batch]).backward()
            opt.step()
    return model


def train_unseeded(model, X, y, epochs, seed):
    return train_lenet_with(model, X, y, epochs, seed, shuffle=np.random.permutation)  # numpy's global generator


def train_returns_nothing(model, X, y, epochs, seed):
    train_lenet_with(model, X, y, 1, seed)


def lenet_ignores_n_classes(n_classes):
    return build_lenet(10)


def lenet_wrong_input_shape(n_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(64 * 8, n_classes))


def test_a_network_that_never_reaches_97_percent_fails():
    with pytest.raises(CheckFailed, match=r"test accuracy 0\.\d+ is below 0\.97 with epochs = 1"):
        checks.check_train_lenet(tiny_lenet, train_one_epoch_slow, epochs=1)


def test_a_non_deterministic_training_fails_on_the_repeated_seed():
    with pytest.raises(CheckFailed,
                       match=r"(?s)seed 0 again.*same seed gave different predictions.*torch\.manual_seed"):
        checks.check_train_lenet(build_lenet, train_unseeded, epochs=12)


def train_then_unseeded_offset(model, X, y, epochs, seed):
    """Seeded training, then one draw of numpy's global generator added to every logit: the same predictions on
    every image, other logits. Two unseeded trainings of a good network can agree on every test image too."""
    model = train_lenet(model, X, y, epochs, seed)
    with torch.no_grad():
        model[-1].bias += float(np.random.uniform(0.05, 0.5))
    return model


def test_an_unseeded_training_fails_even_when_its_predictions_agree():
    with pytest.raises(CheckFailed, match=r"(?s)seed 0 again.*same seed gave different predictions"):
        checks.check_train_lenet(build_lenet, train_then_unseeded_offset, epochs=12)


def test_a_training_that_returns_nothing_fails():
    with pytest.raises(CheckFailed,
                       match=r"train_lenet must return the trained model, got None \(a missing `return`\?\)"):
        checks.check_train_lenet(build_lenet, train_returns_nothing, epochs=1)


@pytest.mark.parametrize("fn, message", [
    (lenet_ignores_n_classes, r"n_classes = 3.*logits of shape \(1, 3\), got an array of shape \(1, 10\)"),
    (lenet_wrong_input_shape, r"build_lenet raised RuntimeError: mat1 and mat2 shapes.*n_classes = 10"),
    (lambda n_classes: None, "build_lenet must return the model"),
])
def test_build_lenet_mistakes_fail(fn, message):
    with pytest.raises(CheckFailed, match=f"(?s){message}"):
        checks.check_build_lenet(fn)


def test_the_course_models_and_training_loop_count_as_the_solution():
    """build_lenet / train_lenet may not call dlcourse.convnets or dlcourse.torch_training (nor the numpy answers
    dlcourse.convolution): the check reports the call and gives no points."""
    from dlcourse import convnets, convolution, torch_training

    def borrowed_lenet(n_classes):
        return convnets.build_lenet(in_size=8, n_classes=n_classes)

    def borrowed_training(model, X, y, epochs, seed):
        torch_training.fit(model, X, y, epochs=1, seed=seed, title=None)
        return model

    with pytest.raises(CheckFailed, match=r"build_lenet calls dlcourse\.convnets\..*reference solution"):
        checks.check_build_lenet(borrowed_lenet)
    with pytest.raises(CheckFailed, match=r"train_lenet on the digits calls dlcourse\.torch_training\.fit"):
        checks.check_train_lenet(build_lenet, borrowed_training, epochs=1)
    with pytest.raises(CheckFailed, match=r"conv2d_backward calls dlcourse\.convolution\.conv2d_backward"):
        checks.check_conv2d_backward(convolution.conv2d_backward)
