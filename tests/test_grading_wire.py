"""The wire carries plain data only: what it accepts, what it refuses, and that it never unpickles."""

import socket
import threading

import numpy as np
import pytest
import torch

from dlcourse.grading import wire


def roundtrip(value, handle=None, resolve=None):
    return wire.decode(wire.encode(value, handle), resolve)


def test_plain_values_round_trip_exactly():
    value = {"W1": np.arange(6.0).reshape(2, 3), 3: (1, 2.5, None, True, "x"), "nan": float("nan"),
             "list": [np.float32(1.5), np.int64(7), np.array([True, False]), np.zeros((0, 2))],
             "complex": np.array([1 + 2j])}
    back = roundtrip(value)
    np.testing.assert_array_equal(back["W1"], value["W1"])
    assert back[3] == (1, 2.5, None, True, "x") and np.isnan(back["nan"])
    assert back["list"][0] == 1.5 and back["list"][1] == 7 and back["list"][3].shape == (0, 2)
    assert back["list"][2].dtype == bool and back["complex"][0] == 1 + 2j


def test_shapes_and_layouts_survive_0_dim_included():
    """A 0-dim array or tensor (what .mean() gives) comes back with 0 dims, not as shape (1,); views keep their values."""
    assert roundtrip(np.array(2.5)).shape == ()
    zero_dim = roundtrip(torch.tensor(3.0, dtype=torch.float64))
    assert zero_dim.shape == () and zero_dim.item() == 3.0
    assert roundtrip(torch.ones(1)).shape == (1,)
    big_endian = np.arange(4.0, dtype=">f8")
    view = np.arange(12.0).reshape(3, 4).T[::2]  # neither C- nor F-contiguous
    np.testing.assert_array_equal(roundtrip(view), view)
    np.testing.assert_array_equal(roundtrip(big_endian), big_endian)


def test_torch_tensors_keep_their_description():
    t = roundtrip(torch.tensor([1.0, 2.0], dtype=torch.float32, requires_grad=True) * 2)
    assert t.dtype == torch.float32 and t.requires_grad and t.remote_device == "cpu"
    assert roundtrip(torch.tensor([1.0], dtype=torch.bfloat16)).dtype == torch.bfloat16


def test_anything_else_needs_a_handle_and_never_travels_as_itself():
    class Anything:
        pass

    with pytest.raises(wire.WireError, match="not plain data"):
        wire.encode(Anything())
    with pytest.raises(wire.WireError, match="not plain data"):
        wire.encode(np.array([Anything()], dtype=object))
    node = wire.encode([Anything()], handle=lambda obj: {"obj": [1, "Anything", False]})
    assert wire.decode(node, resolve=lambda tag, payload: ("handle", payload)) == [("handle", [1, "Anything", False])]
    with pytest.raises(wire.WireError, match="unknown value tag"):
        wire.decode({"obj": [1, "x", False]})  # no resolver: handles are refused


@pytest.mark.parametrize("node, message", [
    ({"nd": ["|O", [1], "AA=="]}, "not numeric"),
    ({"nd": ["<f8", [2], b"\x00" * 3]}, "does not match"),
    ({"nd": ["<f8", [1], "AAAAAAAAAAA="]}, "bad data"),
    (b"raw bytes", "plain JSON scalar"),
    ({"nd": ["<f8", [-1], ""]}, "bad shape"),
    ({"pickle": "gASVAAAA"}, "unknown value tag"),
    ([1, 2], "bare JSON list"),
    ({"t": [1], "l": [2]}, "one-key object"),
    ({"d": [[{"l": []}, 1]]}, "unhashable"),
])
def test_malformed_or_dangerous_nodes_are_refused(node, message):
    with pytest.raises(wire.WireError, match=message):
        wire.decode(node)


def test_frames_over_a_socket_and_their_limits(monkeypatch):
    a, b = socket.socketpair()
    big = np.arange(100_000.0)  # more than the socket buffers: sent from another thread
    sender = threading.Thread(target=wire.send_frame, args=(a, {"ok": wire.encode((1, np.ones(3), big))}))
    sender.start()
    value = wire.decode(wire.recv_frame(b)["ok"])
    sender.join()
    assert value[0] == 1 and value[1].tolist() == [1.0, 1.0, 1.0]
    np.testing.assert_array_equal(value[2], big)
    value[2][0] = -1.0  # a decoded array is the receiver's own, writable copy
    for body in [b"\x00\x00\x00\x0c" + b'{"ok":{"b":3}}',  # a missing buffer
                 b"\x00\x00\x00\x0c" + b'{"ok":{"b":0}}' + b"\x00\x00\x00\x09abc",  # a truncated buffer
                 b"\x00\x00\x00\x40" + b'{"ok":1}',  # a truncated JSON text
                 b"\x00\x00\x00\x02" + b"[]",  # not an object
                 b""]:  # nothing at all
        a.sendall(len(body).to_bytes(4, "big") + body)
        with pytest.raises(wire.WireError):
            wire.recv_frame(b)
    monkeypatch.setattr(wire, "MAX_FRAME", 10)
    a.sendall(b"\x00\x00\x01\x00" + b"x" * 256)
    with pytest.raises(wire.WireError, match="exceeds"):
        wire.recv_frame(b)
    c, d = socket.socketpair()
    c.sendall(b"\x00\x00")
    c.close()
    with pytest.raises(EOFError):
        wire.recv_frame(d)


def test_nesting_is_bounded():
    deep = []
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(wire.WireError, match="too deeply"):
        wire.encode(deep)
