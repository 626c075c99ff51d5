"""A Server-Sent Events response that notices a gone or stalled client.

Two tasks per stream: one writes the frames, one waits for ``http.disconnect``; whichever ends first ends
the other, and the frame generator is always closed (so its hub registration is released). A write that
cannot complete within ``send_timeout`` seconds (the client stopped reading and the socket's buffers are
full) ends the stream too, so a stalled client holds no more than one frame.

Timeouts use ``asyncio.timeout`` throughout, never ``asyncio.wait_for`` (see ``write``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

log = logging.getLogger("backprop_lab.rooms")

SSE_HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",  # nginx: do not buffer this response (deploy/nginx.conf also turns it off)
}


class EventStreamResponse(Response):
    media_type = "text/event-stream"

    def __init__(self, frames: AsyncIterator[bytes], send_timeout: float) -> None:
        # no Content-Length: the body is open-ended (chunked)
        self.status_code = 200
        self.background = None
        self.raw_headers = [(b"content-type", b"text/event-stream; charset=utf-8"),
                            *((k.lower().encode(), v.encode()) for k, v in SSE_HEADERS.items())]
        self.frames = frames
        self.send_timeout = send_timeout
        self.ended_by: str | None = None  # "server", "client" or "stalled" (for tests and logs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        finished = False

        gone = asyncio.Event()

        async def write() -> None:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation that arrives as
            # the write completes, and the server's send() after a disconnect returns silently, so such a
            # stream would go on writing into the void until room_stream_max_seconds.
            nonlocal finished
            async for frame in self.frames:
                if gone.is_set():
                    return
                async with asyncio.timeout(self.send_timeout):
                    await send({"type": "http.response.body", "body": frame, "more_body": True})
            finished = True

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        writer = asyncio.create_task(write())
        watcher = asyncio.create_task(watch())
        try:
            done, _ = await asyncio.wait({writer, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (writer, watcher):
                task.cancel()
            for task in (writer, watcher):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                await self.frames.aclose()  # type: ignore[attr-defined]
        if writer in done and finished:
            self.ended_by = "server"
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(self.send_timeout):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        elif writer in done:
            # the write timed out (a stalled client) or the connection failed: returning without ending the
            # body makes the server close the connection
            self.ended_by = "stalled"
            error = writer.exception() if not writer.cancelled() else None
            if error is not None and not isinstance(error, TimeoutError | OSError):
                log.error("event stream failed", exc_info=error)
        else:
            self.ended_by = "client"
