"""Convolution and pooling in numpy: the reference code of lecture 07 and ps4.

Everything here is a *cross-correlation* (no kernel flip), as in the lecture's formula and in torch:

* 1-D: (x ⊛ u)_i = sum_b x_{i+b} u_b for x (M,), u (k,): the output has M - k + 1 entries (:func:`conv1d`);
* 2-D over C channels: out[n, f, i, j] = b_f + sum_{c, a, b} x_pad[n, c, s i + a, s j + b] w[f, c, a, b] with
  stride s and ``padding`` zeros on every side of x_pad; x (N, C, H, W), w (F, C, HH, WW), b (F,) give
  (N, F, H', W') with H' = (H + 2 padding - HH) // s + 1 (:func:`conv_output_size`), W' alike.

One kernel does the sliding: :func:`_windows` views every (kh, kw) window of the padded input (numpy stride
tricks, no copy, no Python loop over output pixels). :func:`im2col` copies those windows into one matrix per
image, so that the convolution is one (stacked) matrix product; :func:`col2im` is its adjoint (it sums the
windows' gradients back onto the input, one strided slice per kernel offset, kh * kw of them). Pooling reuses
both: the forward reduces the windows, the backward scatters through :func:`col2im`.

Backward functions take the upstream gradient ``dout`` (shape of the forward's output) plus what the forward
saw, as in :mod:`dlcourse.layers`. Everything is float64. Every function of this module counts as course code
to the grading guard: a graded answer may not call it.
"""

from __future__ import annotations

import numpy as np

from . import _reference, _validate
from ._reference import reference

_reference.reference_module(__name__)

# --- validation -------------------------------------------------------------------------------------------


def _check_images(x, name: str = "x") -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 4:
        raise ValueError(f"{name} must be a 4-D array (N, C, H, W) of N images with C channels, "
                         f"got an array of shape {arr.shape}")
    return _validate.as_float_array(arr, name, ndim=4)


def _check_conv(x, w, b=None, stride=1, padding=0):
    """Validated float64 x, w, b and the ints stride, padding, H', W' of a 2-D convolution."""
    x = _check_images(x)
    w = _validate.as_float_array(w, "w")
    if w.ndim != 4:
        raise ValueError(f"w must be a 4-D array (F, C, HH, WW) of F filters, got an array of shape {w.shape}")
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"channel mismatch: w has {w.shape[1]} input channels (w.shape[1]) but x has "
                         f"{x.shape[1]} (x.shape[1]); w must have shape (F, {x.shape[1]}, HH, WW)")
    if b is not None:
        b = _validate.as_vector(b, "b", w.shape[0])
    stride = _validate.as_int(stride, "stride", minimum=1)
    padding = _validate.as_int(padding, "padding", minimum=0)
    Ho = conv_output_size(x.shape[2], w.shape[2], stride, padding, what="height")
    Wo = conv_output_size(x.shape[3], w.shape[3], stride, padding, what="width")
    return x, w, b, stride, padding, Ho, Wo


def _check_pool(x, size, stride):
    x = _check_images(x)
    size = _validate.as_int(size, "size", minimum=1)
    stride = _validate.as_int(stride, "stride", minimum=1)
    Ho = conv_output_size(x.shape[2], size, stride, 0, what="height")
    Wo = conv_output_size(x.shape[3], size, stride, 0, what="width")
    return x, size, stride, Ho, Wo


def _check_dout(dout, shape: tuple) -> np.ndarray:
    dout = _validate.as_float_array(dout, "dout")
    if dout.shape != tuple(shape):
        raise ValueError(f"dout must have the shape of the forward's output, {tuple(shape)}; got {dout.shape}")
    return dout


# --- the kernels: windows, im2col and its adjoint ---------------------------------------------------------


def conv_output_size(n: int, k: int, stride: int = 1, padding: int = 0, *, what: str = "size") -> int:
    """Output length (n + 2 padding - k) // stride + 1 of a kernel of length k sliding over n inputs.

    Raises ``ValueError`` when the kernel is longer than the padded input (n + 2 padding < k). ``what``
    names the dimension in that message ("height", "width").
    """
    n = _validate.as_int(n, "n", minimum=1)
    k = _validate.as_int(k, "k", minimum=1)
    stride = _validate.as_int(stride, "stride", minimum=1)
    padding = _validate.as_int(padding, "padding", minimum=0)
    if n + 2 * padding < k:
        raise ValueError(f"kernel {what} {k} is larger than the padded input {what} {n} + 2*{padding} = "
                         f"{n + 2 * padding}: the kernel does not fit")
    return (n + 2 * padding - k) // stride + 1


def _pad(x: np.ndarray, padding: int) -> np.ndarray:
    """x (N, C, H, W) with ``padding`` zeros on every side of each image (x itself when padding is 0)."""
    if padding == 0:
        return x
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
    xp[:, :, padding:padding + H, padding:padding + W] = x
    return xp


def _windows(xp: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """Read-only view (N, C, H', W', kh, kw) of every kh x kw window of xp (N, C, Hp, Wp) at the given stride."""
    view = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    return view[:, :, ::stride, ::stride]


def im2col(x, kh: int, kw: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """The windows of x (N, C, H, W) as columns: a contiguous array (N, C, kh, kw, H', W').

    ``cols[n, c, a, b, i, j] = x_pad[n, c, stride i + a, stride j + b]``. Reshaped to (N, C kh kw, H' W') (a
    free view) it turns the convolution into one matrix product per image, w.reshape(F, -1) @ cols[n], whose
    result (F, H' W') already has the layout of the output.
    """
    x = _check_images(x)
    kh = _validate.as_int(kh, "kh")
    kw = _validate.as_int(kw, "kw")
    stride = _validate.as_int(stride, "stride")
    padding = _validate.as_int(padding, "padding", minimum=0)
    conv_output_size(x.shape[2], kh, stride, padding, what="height")
    conv_output_size(x.shape[3], kw, stride, padding, what="width")
    return _im2col(x, kh, kw, stride, padding)


def _im2col(x: np.ndarray, kh: int, kw: int, stride: int, padding: int) -> np.ndarray:
    # (N, C, H', W', kh, kw) -> (N, C, kh, kw, H', W'): the copy's inner loop runs along the rows of x
    return np.ascontiguousarray(_windows(_pad(x, padding), kh, kw, stride).transpose(0, 1, 4, 5, 2, 3))


def col2im(cols, x_shape: tuple, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Adjoint of :func:`im2col`: sum the entries of cols (N, C, kh, kw, H', W') back onto an (N, C, H, W) array.

    Every input pixel receives the sum over all windows that contain it (overlapping windows add up; padding is
    cut off). One strided slice-add per kernel offset, kh * kw in all.
    """
    cols = _validate.as_float_array(cols, "cols")
    if cols.ndim != 6:
        raise ValueError(f"cols must be a 6-D array (N, C, kh, kw, H', W'), got an array of shape {cols.shape}")
    if len(x_shape) != 4:
        raise ValueError(f"x_shape must be (N, C, H, W), got {x_shape}")
    N, C, H, W = (_validate.as_int(v, "x_shape entries") for v in x_shape)
    stride = _validate.as_int(stride, "stride")
    padding = _validate.as_int(padding, "padding", minimum=0)
    kh, kw = cols.shape[2:4]
    expected = (N, C, kh, kw, conv_output_size(H, kh, stride, padding, what="height"),
                conv_output_size(W, kw, stride, padding, what="width"))
    if cols.shape != expected:
        raise ValueError(f"cols must have shape {expected} for x_shape {tuple(x_shape)}, got {cols.shape}")
    return _col2im(cols, (N, C, H, W), stride, padding)


def _col2im(cols: np.ndarray, x_shape: tuple, stride: int, padding: int) -> np.ndarray:
    N, C, H, W = x_shape
    kh, kw, Ho, Wo = cols.shape[2:]
    dxp = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
    for a in range(kh):  # offset (a, b) of the kernel: its entries of every window form one strided slice
        for b in range(kw):
            dxp[:, :, a:a + stride * (Ho - 1) + 1:stride, b:b + stride * (Wo - 1) + 1:stride] += cols[:, :, a, b]
    if padding == 0:
        return dxp
    return np.ascontiguousarray(dxp[:, :, padding:padding + H, padding:padding + W])


# --- the graded functions (ps4) ---------------------------------------------------------------------------


@reference
def conv1d(x, u) -> np.ndarray:
    """Valid cross-correlation (x ⊛ u)_i = sum_b x_{i+b} u_b of x (M,) with u (k,); returns (M - k + 1,).

    >>> conv1d([0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4], [-1, 1])  # doctest: +SKIP
    array([0., 0., 0., 1., 1., 1., 1., 0., 0., 0.])
    """
    x = _validate.as_vector(x, "x")
    u = _validate.as_vector(u, "u")
    if u.shape[0] == 0:
        raise ValueError("u (the kernel) must have at least one entry")
    if u.shape[0] > x.shape[0]:
        raise ValueError(f"the kernel u ({u.shape[0]} entries) is longer than x ({x.shape[0]}): it does not fit")
    return np.lib.stride_tricks.sliding_window_view(x, u.shape[0]) @ u


@reference
def conv2d_forward(x, w, b, stride: int = 1, padding: int = 0) -> np.ndarray:
    """2-D cross-correlation over C channels: x (N, C, H, W), w (F, C, HH, WW), b (F,) -> (N, F, H', W').

    out[n, f, i, j] = b_f + sum_{c, a, b} x_pad[n, c, stride i + a, stride j + b] w[f, c, a, b], where x_pad
    is x with ``padding`` zeros on every side; H', W' from :func:`conv_output_size`. Same as torch's
    ``F.conv2d(x, w, b, stride, padding)``. One matrix product per image on the :func:`im2col` columns.
    """
    x, w, b, stride, padding, Ho, Wo = _check_conv(x, w, b, stride, padding)
    N = x.shape[0]
    F, C, kh, kw = w.shape
    cols = _im2col(x, kh, kw, stride, padding).reshape(N, C * kh * kw, Ho * Wo)
    out = np.matmul(w.reshape(F, -1), cols)  # (N, F, H' W')
    out += b[:, None]
    return out.reshape(N, F, Ho, Wo)


@reference
def conv2d_backward(dout, x, w, stride: int = 1, padding: int = 0):
    """Gradients ``(dx, dw, db)`` of :func:`conv2d_forward`, shapes (N, C, H, W), (F, C, HH, WW), (F,).

    With dout = dL/dout (N, F, H', W'): db_f = sum of dout[:, f]; dw = dout against the input's windows
    (cols = :func:`im2col` of x: dw = sum over images of dout[n] @ cols[n]'); dx = the adjoint of the windowing
    applied to w' dout (:func:`col2im`: every input pixel sums the gradients of all windows it falls in).
    """
    x, w, _, stride, padding, Ho, Wo = _check_conv(x, w, None, stride, padding)
    N = x.shape[0]
    F, C, kh, kw = w.shape
    dout = _check_dout(dout, (N, F, Ho, Wo)).reshape(N, F, Ho * Wo)
    cols = _im2col(x, kh, kw, stride, padding).reshape(N, C * kh * kw, Ho * Wo)
    dw = np.matmul(dout, cols.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape)
    dcols = np.matmul(w.reshape(F, -1).T, dout).reshape(N, C, kh, kw, Ho, Wo)
    dx = _col2im(dcols, x.shape, stride, padding)
    return dx, dw, dout.sum(axis=(0, 2))


@reference
def maxpool2d_forward(x, size: int, stride: int) -> np.ndarray:
    """Max over every size x size window of x (N, C, H, W) at the given stride -> (N, C, H', W'), no padding.

    H' = (H - size) // stride + 1 (:func:`conv_output_size`), W' alike; channels are pooled separately.
    """
    x, size, stride, _, _ = _check_pool(x, size, stride)
    return _windows(x, size, size, stride).max(axis=(4, 5))


@reference
def maxpool2d_backward(dout, x, size: int, stride: int) -> np.ndarray:
    """dL/dx of :func:`maxpool2d_forward`: each window's dout goes to the window's maximum; shape of x.

    Ties: the gradient goes to ONE maximum per window, the first in row-major order within the window (as
    torch does on the CPU), not split among them. Overlapping windows (stride < size) add up.
    """
    x, size, stride, Ho, Wo = _check_pool(x, size, stride)
    dout = _check_dout(dout, (x.shape[0], x.shape[1], Ho, Wo))
    win = _windows(x, size, size, stride)
    first = win.reshape(*win.shape[:4], size * size).argmax(axis=-1)  # np.argmax: the first maximum
    dwin = (first[..., None] == np.arange(size * size)) * dout[..., None]  # (N, C, H', W', size^2)
    # (N, C, H', W', size, size) -> (N, C, size, size, H', W'): the layout of im2col's columns
    return _col2im(dwin.reshape(win.shape).transpose(0, 1, 4, 5, 2, 3), x.shape, stride, 0)


@reference
def avgpool2d_forward(x, size: int, stride: int) -> np.ndarray:
    """Mean over every size x size window of x (N, C, H, W) at the given stride -> (N, C, H', W'), no padding."""
    x, size, stride, _, _ = _check_pool(x, size, stride)
    return _windows(x, size, size, stride).mean(axis=(4, 5))


@reference
def avgpool2d_backward(dout, x, size: int, stride: int) -> np.ndarray:
    """dL/dx of :func:`avgpool2d_forward`: each window spreads dout / size^2 over its pixels; shape of x."""
    x, size, stride, Ho, Wo = _check_pool(x, size, stride)
    dout = _check_dout(dout, (x.shape[0], x.shape[1], Ho, Wo))
    share = np.broadcast_to((dout / (size * size))[..., None, None], (*dout.shape, size, size))
    return _col2im(share.transpose(0, 1, 4, 5, 2, 3), x.shape, stride, 0)
