"""Notebook execution that does not lose the cell's reply (infrastructure for tools/ and the nbgrader pipeline).

nbclient waits for a cell's ``execute_reply`` with one ``await shell_channel.get_msg(timeout=<cell timeout>)``.
When a cell routes output into an ipywidgets ``Output`` widget, nbclient answers on the shell socket
(``nbclient/output_widget.py``) through jupyter_client's ``Session.send``, which sends on a plain blocking
copy of the asyncio zmq socket. If the reply is already queued at that moment, the send consumes zmq's single
"message waiting" notification and the pending ``get_msg`` is woken only by its timeout: the run sits idle for
the whole cell timeout, then finds the reply and goes on without an error (nbclient issue 312, jupyter_client
PR 1059). It happens when the client lags the kernel, e.g. on a loaded CPU.

:class:`SlicedReplyPolling` waits for the reply in short slices instead: every new ``get_msg`` checks the
socket afresh, so a lost notification costs at most one slice (``reply_poll_interval``). Everything else in
nbclient's ``_async_poll_for_reply`` is kept as is: the overall cell timeout, ``_async_handle_timeout``
(interrupt or ``CellTimeoutError``), the IOPub wait after the reply, the msg_id matching.

* :class:`ReliableNotebookClient`      nbclient's ``NotebookClient`` with the fix (``tools/execute_notebooks.py``)
* :class:`ReliableExecutePreprocessor` nbconvert's ``ExecutePreprocessor`` with the fix, for
  ``jupyter nbconvert --to notebook --Exporter.preprocessors=dlcourse._execution.ReliableExecutePreprocessor``

Only nbclient/nbconvert/traitlets are imported here (not torch, not ``dlcourse.grading``).
"""

from __future__ import annotations

import asyncio
import typing as t
from queue import Empty
from time import monotonic

from nbclient import NotebookClient
from nbclient.client import timestamp
from nbclient.exceptions import CellTimeoutError
from nbclient.util import ensure_async
from nbconvert.preprocessors import ExecutePreprocessor
from nbformat import NotebookNode
from traitlets import Float, HasTraits

__all__ = ["SlicedReplyPolling", "ReliableNotebookClient", "ReliableExecutePreprocessor"]


class SlicedReplyPolling(HasTraits):
    """Mixin for ``NotebookClient`` subclasses: wait for a cell's ``execute_reply`` in short slices.

    Put it before the nbclient class in the bases (``class C(SlicedReplyPolling, NotebookClient)``) so that its
    ``_async_poll_for_reply`` comes first in the MRO. (It derives from ``HasTraits`` only so that its trait is
    set up; in the MRO ``HasTraits`` stays after the nbclient class.)
    """

    reply_poll_interval = Float(
        0.25, min=0.01,
        help="Longest single wait (seconds) for the shell reply; bounds the time a lost zmq wake-up can cost",
    ).tag(config=True)

    async def _async_get_shell_msg(self, timeout: float | None) -> dict[str, t.Any]:
        """``await kc.shell_channel.get_msg(timeout=timeout)``, waiting in slices of ``reply_poll_interval``.

        Same contract as ``get_msg``: the next shell message, or ``Empty`` once ``timeout`` seconds have passed
        (None: wait forever). Each slice is a fresh poll, which sees a message whose wake-up was lost.
        """
        assert self.kc is not None
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            slice_s = self.reply_poll_interval
            if deadline is not None:
                slice_s = min(slice_s, max(0.0, deadline - monotonic()))
            try:
                return await ensure_async(self.kc.shell_channel.get_msg(timeout=slice_s))
            except Empty:
                if deadline is not None and monotonic() >= deadline:
                    raise

    # Same signature and body as nbclient 0.11's NotebookClient._async_poll_for_reply (tests/test_execution.py
    # checks the signature); only the get_msg line differs: it waits through _async_get_shell_msg.
    async def _async_poll_for_reply(
        self,
        msg_id: str,
        cell: NotebookNode,
        timeout: int | None,
        task_poll_output_msg: asyncio.Future[t.Any],
        task_poll_kernel_alive: asyncio.Future[t.Any],
    ) -> dict[str, t.Any]:
        msg: dict[str, t.Any]
        assert self.kc is not None
        new_timeout: float | None = None
        if timeout is not None:
            deadline = monotonic() + timeout
            new_timeout = float(timeout)
        error_on_timeout_execute_reply = None
        while True:
            try:
                if error_on_timeout_execute_reply:
                    msg = error_on_timeout_execute_reply
                    msg["parent_header"] = {"msg_id": msg_id}
                else:
                    msg = await self._async_get_shell_msg(new_timeout)
                if msg["parent_header"].get("msg_id") == msg_id:
                    if self.record_timing:
                        cell["metadata"]["execution"]["shell.execute_reply"] = timestamp(msg)
                    try:
                        await asyncio.wait_for(task_poll_output_msg, self.iopub_timeout)
                    except (asyncio.TimeoutError, Empty):
                        if self.raise_on_iopub_timeout:
                            task_poll_kernel_alive.cancel()
                            raise CellTimeoutError.error_from_timeout_and_cell(
                                "Timeout waiting for IOPub output", self.iopub_timeout, cell
                            ) from None
                        else:
                            self.log.warning("Timeout waiting for IOPub output")
                    task_poll_kernel_alive.cancel()
                    return msg
                else:
                    if new_timeout is not None:
                        new_timeout = max(0, deadline - monotonic())
            except Empty:
                # received no message, check if kernel is still alive
                assert timeout is not None
                task_poll_kernel_alive.cancel()
                await self._async_check_alive()
                error_on_timeout_execute_reply = await self._async_handle_timeout(timeout, cell)


class ReliableNotebookClient(SlicedReplyPolling, NotebookClient):
    """nbclient's ``NotebookClient`` that does not stall for the cell timeout after an Output-widget cell."""


class ReliableExecutePreprocessor(SlicedReplyPolling, ExecutePreprocessor):
    """nbconvert's ``ExecutePreprocessor`` with the same fix, for the ``jupyter nbconvert`` command line."""
