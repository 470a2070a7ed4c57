"""Plain data on the wire between the trusted grader and the sandboxed student kernel: no pickle, ever.

A message is one frame: the 4-byte big-endian length of the rest, then chunks, each a 4-byte length and its
bytes: first the UTF-8 JSON document, then the binary buffers (the raw bytes of arrays, so that they need no base64
in the JSON). The receiver reads a frame in one go; a callback's round trip costs about as much as its Python.
Values are encoded as

* JSON numbers, strings, booleans and null as themselves (nan and ±inf included);
* ``{"t": [..]}`` a tuple, ``{"l": [..]}`` a list, ``{"d": [[key, value], ..]}`` a dict (keys encoded too);
* ``{"nd": [dtype, shape, {"b": k}]}`` a numpy array of booleans, integers, floats or complex numbers, its raw
  little-endian bytes in the frame's buffer ``k``; numpy scalars become Python numbers;
* ``{"pt": [array, dtype, device, requires_grad]}`` a torch tensor, as its array and a description;
* ``{"obj": [id, type name, callable]}`` anything else: a handle to an object that stays where it was made;
* ``{"fn": id}`` (trusted to worker only) a callable of the grader that the worker may call back.

:func:`decode` checks every node and refuses anything else, so that the trusted side only ever holds numbers,
strings, containers and arrays built by itself. The same source is executed inside the sandbox (see
:mod:`dlcourse.grading.worker`), which is why it imports nothing but the standard library and numpy.
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np

MAX_FRAME = 512 * 1024 * 1024  # bytes in one message
MAX_DEPTH = 32
ARRAY_KINDS = "biufc"  # bool, int, uint, float, complex
_LENGTH = struct.Struct(">I")
_NUMERIC_DTYPES: dict[str, np.dtype] = {}  # dtype strings already checked


class WireError(ValueError):
    """A message that is not plain data, too large, or malformed."""


# --- frames ----------------------------------------------------------------------------------------------


class _Buffer:
    """Raw bytes that travel next to the JSON document, not inside it."""

    __slots__ = ("data",)

    def __init__(self, data: bytes):
        self.data = data


def send_frame(sock, message: dict) -> None:
    """Write one message (plain JSON, with the arrays' bytes as :class:`_Buffer`) to a connected socket."""
    buffers: list[bytes] = []

    def out_of_band(obj):
        if isinstance(obj, _Buffer):
            buffers.append(obj.data)
            return {"b": len(buffers) - 1}
        raise TypeError(f"cannot send a {type(obj).__name__}")

    data = json.dumps(message, separators=(",", ":"), default=out_of_band).encode()
    parts = [b"", _LENGTH.pack(len(data)), data]
    for buf in buffers:
        parts += [_LENGTH.pack(len(buf)), buf]
    size = sum(len(p) for p in parts)
    if size > MAX_FRAME:
        raise WireError(f"message of {size} bytes exceeds {MAX_FRAME}")
    parts[0] = _LENGTH.pack(size)
    sock.sendall(b"".join(parts))


def _recv_exactly(sock, n: int) -> bytearray:
    data = bytearray(n)
    view = memoryview(data)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], min(n - got, 1 << 20))
        if not k:
            raise EOFError("the other side closed the connection")
        got += k
    return data


def recv_frame(sock) -> dict:
    """Read one message; ``WireError`` if it is too large, malformed or not a JSON object.

    The whole frame is read at once (its length comes first), then cut into the JSON text and the buffers.
    """
    (size,) = _LENGTH.unpack(_recv_exactly(sock, 4))
    if size > MAX_FRAME:
        raise WireError(f"message of {size} bytes exceeds {MAX_FRAME}")
    body = memoryview(_recv_exactly(sock, size))
    chunks, pos = [], 0
    while pos < size:  # the JSON text, then each buffer: a 4-byte length and that many bytes
        if pos + 4 > size:
            raise WireError("a truncated message")
        (n,) = _LENGTH.unpack_from(body, pos)
        if pos + 4 + n > size:
            raise WireError("a truncated message")
        chunks.append(body[pos + 4:pos + 4 + n])
        pos += 4 + n
    if not chunks:
        raise WireError("an empty message")
    text, buffers = chunks[0], chunks[1:]

    def in_band(obj: dict):
        if len(obj) == 1 and "b" in obj:
            k = obj["b"]
            if not (isinstance(k, int) and 0 <= k < len(buffers)):
                raise WireError("a reference to a missing buffer")
            return buffers[k]
        return obj

    try:
        message = json.loads(bytes(text).decode(), object_hook=in_band)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WireError(f"malformed message: {err}") from None
    if not isinstance(message, dict):
        raise WireError("a message must be a JSON object")
    return message


# --- values ----------------------------------------------------------------------------------------------


def encode(value, handle=None, depth: int = 0):
    """``value`` as plain JSON; ``handle(obj) -> JSON`` encodes what is not plain data (default: refuse)."""
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    cls = type(value)
    if cls is float or cls is str or cls is bool or value is None:  # the common cases first: callbacks are hot
        return value
    if cls is np.ndarray and value.dtype.kind in ARRAY_KINDS:
        return _encode_array(value)
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else float(value)
    if isinstance(value, float):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in ARRAY_KINDS:
        return encode(value.item(), handle, depth + 1)
    if isinstance(value, np.ndarray) and value.dtype.kind in ARRAY_KINDS:
        return _encode_array(value)
    if type(value).__module__.split(".")[0] == "torch" and hasattr(value, "detach") and hasattr(value, "numpy"):
        t = value.detach().cpu()
        if t.is_floating_point() and t.element_size() < 4:
            t = t.float()
        return {"pt": [encode(t.numpy(), handle, depth + 1), str(value.dtype), str(value.device),
                       bool(value.requires_grad)]}
    if type(value) is tuple:
        return {"t": [encode(v, handle, depth + 1) for v in value]}
    if type(value) is list:
        return {"l": [encode(v, handle, depth + 1) for v in value]}
    if type(value) is dict:
        return {"d": [[encode(k, handle, depth + 1), encode(v, handle, depth + 1)] for k, v in value.items()]}
    if handle is None:
        raise WireError(f"not plain data: {type(value).__name__}")
    return handle(value)


def _encode_array(value: np.ndarray) -> dict:
    arr = value.astype(value.dtype.newbyteorder("<"), copy=False)  # tobytes() is C order whatever the layout
    return {"nd": [arr.dtype.str, list(value.shape), _Buffer(arr.tobytes())]}  # 0-dim stays 0-dim


def decode(node, resolve=None, depth: int = 0):
    """The value a JSON node stands for; ``resolve(tag, payload)`` builds handles (``obj``/``fn``)."""
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if node is None or isinstance(node, (bool, str, int, float)):
        return node
    if isinstance(node, list):
        raise WireError("a bare JSON list is not a value")
    if not isinstance(node, dict) or len(node) != 1:
        raise WireError("a value must be a plain JSON scalar or a one-key object")
    ((tag, payload),) = node.items()
    if tag in ("t", "l"):
        if not isinstance(payload, list):
            raise WireError(f"{tag}: expected a list")
        items = [decode(v, resolve, depth + 1) for v in payload]
        return tuple(items) if tag == "t" else items
    if tag == "d":
        if not isinstance(payload, list) or not all(isinstance(p, list) and len(p) == 2 for p in payload):
            raise WireError("d: expected [[key, value], ...]")
        out = {}
        for k, v in payload:
            key = decode(k, resolve, depth + 1)
            try:
                hash(key)
            except TypeError:
                raise WireError("d: unhashable key") from None
            out[key] = decode(v, resolve, depth + 1)
        return out
    if tag == "nd":
        return _decode_array(payload)
    if tag == "pt":
        return _decode_tensor(payload, resolve, depth)
    if tag in ("obj", "fn") and resolve is not None:
        return resolve(tag, payload)
    raise WireError(f"unknown value tag {tag!r}")


def _decode_array(payload) -> np.ndarray:
    if not (isinstance(payload, list) and len(payload) == 3):
        raise WireError("nd: expected [dtype, shape, data]")
    dtype_str, shape, data = payload
    dtype = _NUMERIC_DTYPES.get(dtype_str) if isinstance(dtype_str, str) else None
    if dtype is None:
        try:
            dtype = np.dtype(dtype_str)
        except TypeError:
            raise WireError(f"nd: unknown dtype {dtype_str!r}") from None
        if dtype.kind not in ARRAY_KINDS or dtype.hasobject or dtype.fields:
            raise WireError(f"nd: dtype {dtype_str!r} is not numeric")
        if isinstance(dtype_str, str) and len(_NUMERIC_DTYPES) < 64:
            _NUMERIC_DTYPES[dtype_str] = dtype
    if not (isinstance(shape, list) and all(isinstance(s, int) and s >= 0 for s in shape) and len(shape) <= 32):
        raise WireError("nd: bad shape")
    raw = data.data if isinstance(data, _Buffer) else data  # a _Buffer before sending, bytes once received
    if not isinstance(raw, (bytes, memoryview)):
        raise WireError("nd: bad data")
    if len(raw) != math.prod(shape) * dtype.itemsize:
        raise WireError("nd: data does not match the shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _decode_tensor(payload, resolve, depth):
    if not (isinstance(payload, list) and len(payload) == 4):
        raise WireError("pt: expected [array, dtype, device, requires_grad]")
    array = decode(payload[0], resolve, depth + 1)
    if not isinstance(array, np.ndarray):
        raise WireError("pt: expected an array")
    dtype, device, requires_grad = payload[1:]
    if not (isinstance(dtype, str) and isinstance(device, str) and isinstance(requires_grad, bool)):
        raise WireError("pt: bad description")
    try:
        import torch
    except ImportError:  # the array is the value; the description is lost
        return array
    tensor = torch.from_numpy(array)
    wanted = getattr(torch, dtype.replace("torch.", ""), None)
    if isinstance(wanted, torch.dtype) and wanted != tensor.dtype:
        tensor = tensor.to(wanted)
    if requires_grad and tensor.is_floating_point():
        tensor.requires_grad_(True)
    tensor.remote_device = device[:40]  # where the student's tensor lived (the grader keeps it on the CPU)
    return tensor
