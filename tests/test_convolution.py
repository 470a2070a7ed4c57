"""The numpy convolution and pooling of lecture 07 / ps4 against torch.nn.functional (double precision)."""

import numpy as np
import pytest
import torch

from dlcourse import _reference, convolution
from dlcourse.gradcheck import gradient_check

F = torch.nn.functional


def t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def close(mine, theirs, what=""):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    assert mine.dtype == np.float64, what
    assert mine.shape == theirs.shape, what
    np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12, err_msg=what)


# --- 1-D ------------------------------------------------------------------------------------------------------


def test_conv1d_reproduces_the_seed_example_exactly():
    x = [0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4]
    out = convolution.conv1d(x, [-1, 1])
    assert out.dtype == np.float64 and out.shape == (len(x) - 2 + 1,)
    np.testing.assert_array_equal(out, [0, 0, 0, 1, 1, 1, 1, 0, 0, 0])


@pytest.mark.parametrize("M, k", [(11, 2), (5, 5), (7, 1), (20, 6)])
def test_conv1d_matches_torch_and_the_definition(M, k):
    rng = np.random.default_rng(M * 10 + k)
    x, u = rng.normal(size=M), rng.normal(size=k)
    out = convolution.conv1d(x, u)
    close(out, F.conv1d(t(x)[None, None], t(u)[None, None])[0, 0])
    direct = np.array([sum(x[i + b] * u[b] for b in range(k)) for i in range(M - k + 1)])
    close(out, direct)


def test_conv1d_refuses_bad_input():
    with pytest.raises(ValueError, match="longer than x"):
        convolution.conv1d([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="x must be a 1-D"):
        convolution.conv1d(np.ones((2, 3)), [1.0])
    with pytest.raises(ValueError, match="at least one entry"):
        convolution.conv1d([1.0, 2.0], [])


# --- output size ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, k, stride, padding, expected", [
    (32, 3, 1, 1, 32), (7, 3, 2, 0, 3), (5, 1, 1, 2, 9), (4, 5, 1, 1, 2), (9, 2, 3, 0, 3), (3, 3, 1, 0, 1),
    (10, 4, 4, 0, 2),
])
def test_conv_output_size(n, k, stride, padding, expected):
    assert convolution.conv_output_size(n, k, stride, padding) == expected
    assert F.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=stride, padding=padding).shape[-1] == expected


def test_conv_output_size_defaults_and_errors():
    assert convolution.conv_output_size(6, 3) == 4
    with pytest.raises(ValueError, match="does not fit"):
        convolution.conv_output_size(4, 5)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        convolution.conv_output_size(4, 2, stride=0)
    with pytest.raises(ValueError, match="padding must be >= 0"):
        convolution.conv_output_size(4, 2, padding=-1)


# --- 2-D convolution ------------------------------------------------------------------------------------------

# (N, C, H, W), (F, HH, WW), stride, padding
CASES = {
    "3x2 kernel, stride 2, padding 1": ((2, 3, 7, 6), (4, 3, 2), 2, 1),
    "1x1 kernel, N=1, C=1": ((1, 1, 5, 5), (1, 1, 1), 1, 0),
    "1x1 kernel, padding grows the output": ((3, 2, 6, 5), (4, 1, 1), 1, 2),
    "1x1 kernel, stride 2": ((2, 4, 7, 8), (3, 1, 1), 2, 0),
    "stride > kernel": ((2, 3, 9, 8), (2, 2, 2), 3, 0),
    "stride > kernel, padded": ((1, 2, 10, 7), (3, 2, 3), 4, 1),
    "padding makes the output larger than the input": ((1, 1, 4, 3), (2, 3, 3), 1, 2),
    "kernel as large as the padded input": ((2, 2, 3, 3), (3, 5, 5), 1, 1),
    "non-square input and kernel": ((1, 3, 8, 11), (2, 2, 4), 2, 1),
    "C=1 with several filters": ((4, 1, 6, 6), (5, 3, 3), 1, 1),
    "benchmark-like": ((4, 3, 12, 12), (6, 3, 3), 1, 1),
}


def random_cases(n):
    rng = np.random.default_rng(2024)
    for i in range(n):
        N, C, F_ = (int(v) for v in rng.integers(1, 4, size=3))
        H, W = (int(v) for v in rng.integers(1, 10, size=2))
        stride, padding = int(rng.integers(1, 4)), int(rng.integers(0, 3))
        HH = int(rng.integers(1, H + 2 * padding + 1))
        WW = int(rng.integers(1, W + 2 * padding + 1))
        yield f"random {i}", ((N, C, H, W), (F_, HH, WW), stride, padding)


ALL_CASES = list(CASES.items()) + list(random_cases(12))


def torch_conv(x, w, b, dout, stride, padding):
    xt, wt, bt = t(x, True), t(w, True), t(b, True)
    out = F.conv2d(xt, wt, bt, stride=stride, padding=padding)
    out.backward(t(dout))
    return out, xt.grad, wt.grad, bt.grad


@pytest.mark.parametrize("case", ALL_CASES, ids=[name for name, _ in ALL_CASES])
def test_conv2d_forward_and_backward_match_torch(case):
    _, ((N, C, H, W), (F_, HH, WW), stride, padding) = case
    rng = np.random.default_rng(N * 1000 + H * 100 + W * 10 + HH + stride)
    x, w, b = rng.normal(size=(N, C, H, W)), rng.normal(size=(F_, C, HH, WW)), rng.normal(size=F_)
    x0, w0 = x.copy(), w.copy()
    out = convolution.conv2d_forward(x, w, b, stride, padding)
    Ho = (H + 2 * padding - HH) // stride + 1
    Wo = (W + 2 * padding - WW) // stride + 1
    assert out.shape == (N, F_, Ho, Wo)
    dout = rng.normal(size=out.shape)
    out_t, dx_t, dw_t, db_t = torch_conv(x, w, b, dout, stride, padding)
    close(out, out_t, "out")
    dx, dw, db = convolution.conv2d_backward(dout, x, w, stride, padding)
    close(dx, dx_t, "dx")
    close(dw, dw_t, "dw")
    close(db, db_t, "db")
    np.testing.assert_array_equal(x, x0)  # inputs untouched
    np.testing.assert_array_equal(w, w0)


def test_conv2d_defaults_are_stride_1_and_no_padding():
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(2, 2, 5, 6)), rng.normal(size=(3, 2, 2, 3)), rng.normal(size=3)
    out = convolution.conv2d_forward(x, w, b)
    close(out, F.conv2d(t(x), t(w), t(b)))
    dout = rng.normal(size=out.shape)
    _, dx_t, dw_t, db_t = torch_conv(x, w, b, dout, 1, 0)
    for mine, theirs in zip(convolution.conv2d_backward(dout, x, w), (dx_t, dw_t, db_t)):
        close(mine, theirs)


def test_conv2d_is_the_formula_of_the_notes():
    """out[n, f, i, j] = b_f + sum_{c,a,b} x_pad[n, c, s i + a, s j + b] w[f, c, a, b], written out with loops."""
    rng = np.random.default_rng(2)
    x, w, b = rng.normal(size=(2, 2, 5, 4)), rng.normal(size=(3, 2, 3, 2)), rng.normal(size=3)
    s, p = 2, 1
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    out = convolution.conv2d_forward(x, w, b, s, p)
    for n in range(2):
        for f in range(3):
            for i in range(out.shape[2]):
                for j in range(out.shape[3]):
                    expected = b[f] + np.sum(xp[n, :, s * i:s * i + 3, s * j:s * j + 2] * w[f])
                    assert out[n, f, i, j] == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_conv2d_backward_passes_the_numerical_gradient_check():
    rng = np.random.default_rng(3)
    x, w, b = rng.normal(size=(2, 2, 4, 3)), rng.normal(size=(2, 2, 2, 2)), rng.normal(size=2)
    stride, padding = 2, 1
    dout = rng.normal(size=convolution.conv2d_forward(x, w, b, stride, padding).shape)
    dx, dw, db = convolution.conv2d_backward(dout, x, w, stride, padding)
    errors = gradient_check(
        lambda v: np.sum(convolution.conv2d_forward(v["x"], v["w"], v["b"], stride, padding) * dout),
        {"x": x, "w": w, "b": b}, {"x": dx, "w": dw, "b": db})
    assert max(errors.values()) < 1e-7, errors


def test_conv2d_returns_float64_for_other_dtypes():
    x = np.arange(2 * 1 * 4 * 4).reshape(2, 1, 4, 4)  # ints
    w = np.ones((1, 1, 2, 2), dtype=np.float32)
    out = convolution.conv2d_forward(x, w, [0.5])
    assert out.dtype == np.float64
    close(out, F.conv2d(t(x.astype(float)), t(w.astype(float)), t([0.5])))
    dx, dw, db = convolution.conv2d_backward(np.ones(out.shape, dtype=np.float32), x, w)
    assert dx.dtype == dw.dtype == db.dtype == np.float64


def test_conv2d_refuses_bad_input_with_a_clear_message():
    x, w, b = np.zeros((1, 3, 5, 5)), np.zeros((2, 3, 3, 3)), np.zeros(2)
    with pytest.raises(ValueError, match=r"x must be a 4-D array \(N, C, H, W\)"):
        convolution.conv2d_forward(np.zeros((3, 5, 5)), w, b)
    with pytest.raises(ValueError, match=r"w must be a 4-D array \(F, C, HH, WW\)"):
        convolution.conv2d_forward(x, np.zeros((3, 3, 3)), b)
    with pytest.raises(ValueError, match="channel mismatch"):
        convolution.conv2d_forward(x, np.zeros((2, 4, 3, 3)), b)
    with pytest.raises(ValueError, match=r"b must have shape \(2,\)"):
        convolution.conv2d_forward(x, w, np.zeros(3))
    with pytest.raises(ValueError, match="kernel height 7 is larger than the padded input height"):
        convolution.conv2d_forward(x, np.zeros((2, 3, 7, 3)), b, padding=0)
    with pytest.raises(ValueError, match="kernel width 8 is larger"):
        convolution.conv2d_forward(x, np.zeros((2, 3, 3, 8)), b, padding=1)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        convolution.conv2d_forward(x, w, b, stride=0)
    with pytest.raises(ValueError, match="padding must be >= 0"):
        convolution.conv2d_forward(x, w, b, padding=-1)
    with pytest.raises(ValueError, match="stride must be an integer"):
        convolution.conv2d_forward(x, w, b, stride=1.5)
    with pytest.raises(ValueError, match=r"dout must have the shape of the forward's output, \(1, 2, 3, 3\)"):
        convolution.conv2d_backward(np.zeros((1, 2, 5, 5)), x, w)
    with pytest.raises(ValueError, match="channel mismatch"):
        convolution.conv2d_backward(np.zeros((1, 2, 3, 3)), x, np.zeros((2, 1, 3, 3)))


# --- im2col and its adjoint -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), (3, 2)])
def test_im2col_holds_the_windows_and_col2im_is_its_adjoint(stride, padding):
    rng = np.random.default_rng(stride * 10 + padding)
    x = rng.normal(size=(2, 3, 6, 7))
    cols = convolution.im2col(x, 2, 3, stride, padding)
    Ho = (6 + 2 * padding - 2) // stride + 1
    Wo = (7 + 2 * padding - 3) // stride + 1
    assert cols.shape == (2, 3, 2, 3, Ho, Wo)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    for i in range(Ho):
        for j in range(Wo):
            np.testing.assert_array_equal(cols[:, :, :, :, i, j], xp[:, :, stride * i:stride * i + 2,
                                                                        stride * j:stride * j + 3])
    c = rng.normal(size=cols.shape)
    back = convolution.col2im(c, x.shape, stride, padding)
    assert back.shape == x.shape
    assert np.sum(cols * c) == pytest.approx(np.sum(x * back), rel=1e-12)  # <im2col x, c> = <x, col2im c>
    with pytest.raises(ValueError, match="cols must have shape"):
        convolution.col2im(c[:1], x.shape, stride, padding)


# --- pooling --------------------------------------------------------------------------------------------------

# (N, C, H, W), size, stride
POOLS = {
    "2x2 stride 2": ((2, 3, 8, 6), 2, 2),
    "overlapping 2x2 stride 1": ((2, 2, 5, 7), 2, 1),
    "3x3 stride 2 (overlapping), odd sizes": ((1, 3, 9, 7), 3, 2),
    "1x1": ((2, 2, 3, 4), 1, 1),
    "stride > size": ((3, 1, 10, 9), 2, 3),
    "window as large as the input": ((2, 2, 4, 4), 4, 1),
    "N=1, C=1, non-square": ((1, 1, 6, 11), 3, 3),
}


@pytest.mark.parametrize("case", POOLS.values(), ids=POOLS.keys())
def test_pooling_forward_and_backward_match_torch(case):
    shape, size, stride = case
    rng = np.random.default_rng(sum(shape) + size * 7 + stride)
    x = rng.normal(size=shape)
    for mine_f, mine_b, theirs in ((convolution.maxpool2d_forward, convolution.maxpool2d_backward, F.max_pool2d),
                                   (convolution.avgpool2d_forward, convolution.avgpool2d_backward, F.avg_pool2d)):
        xt = t(x, True)
        out_t = theirs(xt, size, stride)
        out = mine_f(x, size, stride)
        close(out, out_t, mine_f.__name__)
        dout = rng.normal(size=out.shape)
        out_t.backward(t(dout))
        close(mine_b(dout, x, size, stride), xt.grad, mine_b.__name__)


def test_maxpool_ties_send_the_gradient_to_the_first_maximum_in_row_major_order():
    # every 2x2 window constant: all four entries tie, the top-left one gets the gradient
    x = np.zeros((1, 1, 4, 4))
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    dx = convolution.maxpool2d_backward(dout, x, 2, 2)
    expected = np.zeros((1, 1, 4, 4))
    expected[0, 0, ::2, ::2] = [[1, 2], [3, 4]]
    np.testing.assert_array_equal(dx, expected)
    # a tie between the second and third entries of the window [[0, 5], [5, 1]]: the second one wins
    x = np.array([[[[0.0, 5.0], [5.0, 1.0]]]])
    np.testing.assert_array_equal(convolution.maxpool2d_backward(np.ones((1, 1, 1, 1)), x, 2, 2),
                                  [[[[0, 1], [0, 0]]]])
    # overlapping windows with ties: the same choice as torch, and the total gradient is preserved
    x = np.round(np.random.default_rng(4).normal(size=(2, 2, 6, 5)))  # many ties among small integers
    dout = np.random.default_rng(5).normal(size=convolution.maxpool2d_forward(x, 3, 1).shape)
    dx = convolution.maxpool2d_backward(dout, x, 3, 1)
    xt = t(x, True)
    F.max_pool2d(xt, 3, 1).backward(t(dout))
    close(dx, xt.grad)
    assert dx.sum() == pytest.approx(dout.sum(), rel=1e-12)


def test_pooling_refuses_bad_input():
    x = np.zeros((1, 2, 4, 4))
    for forward in (convolution.maxpool2d_forward, convolution.avgpool2d_forward):
        with pytest.raises(ValueError, match="kernel height 5 is larger"):
            forward(x, 5, 1)
        with pytest.raises(ValueError, match=r"x must be a 4-D array \(N, C, H, W\)"):
            forward(np.zeros((4, 4)), 2, 2)
        with pytest.raises(ValueError, match="size must be >= 1"):
            forward(x, 0, 1)
    for backward in (convolution.maxpool2d_backward, convolution.avgpool2d_backward):
        with pytest.raises(ValueError, match=r"dout must have the shape of the forward's output, \(1, 2, 2, 2\)"):
            backward(np.zeros((1, 2, 3, 3)), x, 2, 2)


def test_pooling_returns_float64():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    for f in (convolution.maxpool2d_forward, convolution.avgpool2d_forward):
        assert f(x, 2, 2).dtype == np.float64
    for f in (convolution.maxpool2d_backward, convolution.avgpool2d_backward):
        assert f(np.ones((1, 1, 2, 2)), x, 2, 2).dtype == np.float64


# --- the registry ---------------------------------------------------------------------------------------------


def test_graded_functions_are_course_code():
    for fn in (convolution.conv1d, convolution.conv2d_forward, convolution.conv2d_backward,
               convolution.maxpool2d_forward, convolution.maxpool2d_backward):
        assert _reference.reference_name(fn) == f"dlcourse.convolution.{fn.__name__}"
    assert _reference.reference_name(convolution._col2im) == "dlcourse.convolution._col2im"  # by module
