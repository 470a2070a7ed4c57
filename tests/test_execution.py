"""dlcourse._execution: notebook execution that does not lose the cell's reply.

The bug (NOTES.md, "The jupyter client's lost wake-up"; nbclient issue 312, jupyter_client PR 1059): nbclient
awaits a cell's execute_reply with one ``get_msg(timeout=<cell timeout>)``; a blocking send on the same shell
socket (nbclient's Output-widget ``comm_msg``) made after the reply has arrived consumes zmq's only wake-up, and
the wait then ends only at the timeout. The socket-level tests below reproduce that order of events
deterministically (the event loop is blocked while the reply arrives, then the blocking send is made) and
time the poll for the reply: the unpatched nbclient waits the whole timeout, the sliced poll one slice.
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import time

import pytest
import zmq
from jupyter_client import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError
from nbformat.v4 import new_code_cell, new_notebook

from dlcourse._execution import ReliableExecutePreprocessor, ReliableNotebookClient, SlicedReplyPolling

POLL_TIMEOUT = 5  # seconds: the "cell timeout" of the socket-level tests


def _wait_for_idle(kc, msg_id: str, limit: float = 30.0) -> None:
    """Block (without running the event loop) until the kernel reports idle after request ``msg_id``.

    Reads the IOPub socket through a blocking shadow, so the shell socket and the event loop are not touched.
    The kernel sends the execute_reply before publishing idle.
    """
    iopub = zmq.Socket.shadow(kc.iopub_channel.socket.underlying)
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if not iopub.poll(100):
            continue
        _, parts = kc.session.feed_identities(iopub.recv_multipart())
        msg = kc.session.deserialize(parts)
        if (msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
                and msg["parent_header"].get("msg_id") == msg_id):
            return
    raise AssertionError(f"no idle status for {msg_id} within {limit} s")


async def _poll_after_lost_wakeup(client_class) -> tuple[dict, float]:
    """Run one trivial cell so that its reply's wake-up is lost; return the reply and the time the poll took
    after the blocking send."""
    km = AsyncKernelManager(kernel_name="python3")
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=60)
        client = client_class(new_notebook(), km=km, record_timing=False)
        client.kc = kc
        request = kc.session.msg("execute_request", {"code": "1 + 1", "silent": False, "store_history": False,
                                                     "user_expressions": {}, "allow_stdin": False,
                                                     "stop_on_error": True})
        msg_id = request["header"]["msg_id"]
        loop = asyncio.get_running_loop()
        output_done, kernel_alive = loop.create_future(), loop.create_future()
        output_done.set_result(None)  # the IOPub side is not under test
        poll = asyncio.create_task(client._async_poll_for_reply(
            msg_id, new_code_cell("1 + 1"), POLL_TIMEOUT, output_done, kernel_alive))
        await asyncio.sleep(0.05)  # the poll is now waiting on the shell socket, with nothing queued
        kc.shell_channel.send(request)
        # From here to the `await` the event loop does not run, as when nbclient's IOPub task is busy.
        _wait_for_idle(kc, msg_id)
        time.sleep(0.2)  # the reply is queued on the shell socket and its wake-up is pending
        # What nbclient/output_widget.py does: a blocking send on the shell socket (Session.send).
        kc.shell_channel.send(kc.session.msg("kernel_info_request"))
        start = time.perf_counter()
        reply = await poll
        return reply, time.perf_counter() - start
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)


def test_sliced_poll_finds_a_reply_whose_wakeup_was_lost():
    reply, seconds = asyncio.run(_poll_after_lost_wakeup(ReliableNotebookClient))
    assert reply["msg_type"] == "execute_reply" and reply["content"]["status"] == "ok"
    assert seconds < 1.5, f"the reply took {seconds:.2f} s to be seen (slice 0.25 s)"


def test_unpatched_nbclient_waits_the_whole_timeout():
    # Shows that the scenario above really is the bug: the unpatched client finds the reply only when its
    # get_msg times out. If this fails, nbclient/jupyter_client have fixed it upstream (jupyter_client PR 1059,
    # nbclient PR 311) and dlcourse._execution can be retired.
    reply, seconds = asyncio.run(_poll_after_lost_wakeup(NotebookClient))
    assert reply["msg_type"] == "execute_reply" and reply["content"]["status"] == "ok"
    assert seconds > POLL_TIMEOUT - 1, f"no stall: the reply was seen after {seconds:.2f} s"


def test_the_cell_timeout_still_applies():
    nb = new_notebook(cells=[new_code_cell("import time; time.sleep(30)")])
    start = time.perf_counter()
    with pytest.raises(CellTimeoutError):
        ReliableNotebookClient(nb, timeout=1, kernel_name="python3").execute()
    assert time.perf_counter() - start < 15


def test_the_override_matches_nbclient_and_is_used():
    # The override copies nbclient 0.11's method: an nbclient that changes its signature needs a new look.
    assert (inspect.signature(SlicedReplyPolling._async_poll_for_reply)
            == inspect.signature(NotebookClient._async_poll_for_reply))
    for cls in (ReliableNotebookClient, ReliableExecutePreprocessor):
        assert cls._async_poll_for_reply is SlicedReplyPolling._async_poll_for_reply, cls
    assert ReliableNotebookClient(new_notebook(), reply_poll_interval=0.1).reply_poll_interval == 0.1


def test_nbgraders_execute_uses_the_sliced_poll():
    from dlcourse.grading.nbgrader_ext import ReliableExecute, ResilientExecute

    assert ResilientExecute._async_poll_for_reply is SlicedReplyPolling._async_poll_for_reply
    assert ReliableExecute._async_poll_for_reply is SlicedReplyPolling._async_poll_for_reply


def test_importing_it_is_cheap():
    code = ("import sys, dlcourse._execution; "
            "assert 'torch' not in sys.modules and 'dlcourse.grading' not in sys.modules, 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True)


# Guards the symptom end to end: an ipywidgets Output widget (interactive_output) makes nbclient send a
# comm_msg on the shell socket; on a loaded CPU the unpatched client then often sat out the whole per-cell
# timeout (here 60 s) after such a cell. With the fix the notebook takes a few seconds.
WIDGET_CELL = """import ipywidgets as W
def show(n):
    print("n =", n)
    print("x" * 2000)
W.VBox([W.IntSlider(3), W.interactive_output(show, {"n": W.IntSlider(%d)})])"""


def test_output_widget_notebook_under_cpu_load_does_not_stall():
    cells = [new_code_cell("import sys; sys.executable")] + [new_code_cell(WIDGET_CELL % i) for i in range(6)]
    nb = new_notebook(cells=cells)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        start = time.perf_counter()
        ReliableNotebookClient(nb, timeout=60, kernel_name="python3").execute()
        seconds = time.perf_counter() - start
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    assert seconds < 30, f"{seconds:.1f} s: a cell waited out its timeout"
    assert nb.cells[0].outputs[0]["data"]["text/plain"] == repr(sys.executable)  # the venv's kernel
    # the printed text went through Output widgets, i.e. the comm_msg path was exercised
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    printed = "".join(o.get("text", "") for m in state.values() if m["model_name"] == "OutputModel"
                      for o in m["state"].get("outputs", []))
    assert all(f"n = {i}" in printed for i in range(6)), printed[:200]
