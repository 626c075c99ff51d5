"""`backprop-lab serve`: uvicorn with an HTTP protocol that defends itself, so no proxy is needed in front.

uvicorn alone (as `make run` and the single container start it) lets a client keep a connection forever by
sending its header one byte every few seconds (its keep-alive timeout only runs between requests), reads
a header of any size, and accepts connections until the process runs out of file descriptors.
``GuardedHttpToolsProtocol`` is uvicorn's httptools protocol with, per worker (settings in brackets):

- a cap on open connections (``max_connections``), so file descriptors and per-connection buffers stay
  bounded however many sockets clients open. At the cap, a new connection evicts the oldest one that is
  not running a request (still sending its header, or idle between requests: closed with 408); only when
  every connection is running a request is the new one answered 503 and closed. So a flood of idle or
  half-sent connections churns itself, and real clients (whose header arrives at once) still get in;
- a header deadline (``header_timeout_s``): from a connection's first byte (or a keep-alive request's first
  byte) to the end of its header; past it, 408 and closed. A header dribbled a byte at a time is cut;
- a header size cap (``max_header_bytes``): request line and headers; past it, 431 and closed, and the rest
  is never read;
- a body deadline (``body_timeout_s``): from the end of the header to the end of the body; then 408;
- a send deadline (``send_timeout_s``): an answer that the client does not read for this long (the
  server's send buffer stays full) resets the connection, so a slow reader cannot hold an answer in memory,
  neither the process's nor the kernel's (a plain close would leave it queued behind the FIN).

uvicorn's own keep-alive timeout (``keep_alive_s``) still closes idle connections between requests.
The settings are read from the environment (``get_settings()``) in each worker process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import socket
import struct
from collections import OrderedDict
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import Settings, get_settings

log = logging.getLogger("uvicorn.error")

PROTOCOL = "app.api.server:GuardedHttpToolsProtocol"
"""What `serve` passes to uvicorn as ``http`` (by name: worker processes import it)."""


def _plain(status: int, reason: str, detail: str, retry: bool = False) -> bytes:
    body = ('{"detail":"' + detail + '"}').encode()
    extra = b"retry-after: 1\r\n" if retry else b""
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"connection: close\r\n").encode() + extra + b"x-content-type-options: nosniff\r\n\r\n" + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with connection, header, body and send limits (see the module)."""

    open_connections: ClassVar[int] = 0
    """Connections this worker holds (it is one process with one event loop: no lock needed)."""
    evictable: ClassVar[OrderedDict[GuardedHttpToolsProtocol, None]] = OrderedDict()
    """Connections not running a request (header not complete yet, or idle between requests), oldest first."""
    evicted: ClassVar[int] = 0
    _settings: ClassVar[Settings | None] = None

    @classmethod
    def settings(cls) -> Settings:
        if cls._settings is None:
            cls._settings = get_settings()
        return cls._settings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        s = self.settings()
        self._max_header = s.max_header_bytes
        self._header_timeout, self._body_timeout, self._send_timeout = (
            s.header_timeout_s, s.body_timeout_s, s.send_timeout_s)
        self._counted = False
        self._header_too_large = False
        self._in_header = True
        self._header_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._send_timer: asyncio.TimerHandle | None = None

    # -- connections --

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        cls = type(self)
        limit = self.settings().max_connections
        while cls.open_connections >= limit and cls.evictable:
            oldest, _ = cls.evictable.popitem(last=False)
            oldest._evict()
        if cls.open_connections >= limit:
            transport.write(_plain(503, "Service Unavailable", "every connection is running a request (limit "
                                   f"max_connections = {limit} per worker); try again", retry=True))
            transport.close()
            self.transport = transport
            return
        cls.open_connections += 1
        self._counted = True
        super().connection_made(transport)
        cls.evictable[self] = None
        self._arm(self._header_timeout, self._header_timed_out)

    def _evict(self) -> None:
        type(self).evicted += 1
        self._uncount()
        self._refuse(408, "Request Timeout", "the server needed this idle connection for another client")

    def _uncount(self) -> None:
        """Stop counting this connection (it is closing, or the websocket protocol took it over)."""
        cls = type(self)
        cls.evictable.pop(self, None)
        if self._counted:
            self._counted = False
            cls.open_connections -= 1

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._disarm_send()
        if self.flow is None:  # refused at connection_made: uvicorn never saw it
            return
        self._uncount()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        # The websocket protocol takes the connection over (and its own timeouts): stop counting it here.
        self._disarm()
        self._uncount()
        super().handle_websocket_upgrade()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._counted and not self.transport.is_closing():
            type(self).evictable[self] = None  # idle until its next request

    def data_received(self, data: bytes) -> None:
        if self.flow is None or self.transport.is_closing():
            return
        if self._in_header:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._in_header and self._header_bytes > self._max_header and not self.transport.is_closing():
            self._refuse(431, "Request Header Fields Too Large",
                         f"the request header is larger than the limit (max_header_bytes = {self._max_header})")

    # -- parser callbacks --

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._in_header:  # the next request on a kept-alive connection
            self._in_header = True
            self._header_bytes = 0
            self._arm(self._header_timeout, self._header_timed_out)

    def on_headers_complete(self) -> None:
        # A header that arrived whole in one read was not counted by data_received: measure it here.
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self._max_header:
            self._header_too_large = True
            raise ValueError("header too large")  # httptools stops parsing; uvicorn calls send_400_response
        self._in_header = False
        type(self).evictable.pop(self, None)
        self._disarm()
        super().on_headers_complete()
        self._arm(self._body_timeout, self._body_timed_out)

    def send_400_response(self, msg: str) -> None:
        if self._header_too_large:
            self._refuse(431, "Request Header Fields Too Large",
                         f"the request header is larger than the limit (max_header_bytes = {self._max_header})")
        else:
            super().send_400_response(msg)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    # -- timers --

    def _arm(self, delay: float, callback: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _header_timed_out(self) -> None:
        self._timer = None
        if self._in_header:
            self._refuse(408, "Request Timeout", "the request header took longer than the limit "
                         f"(header_timeout_s = {self._header_timeout:g})")

    def _body_timed_out(self) -> None:
        self._timer = None
        self._refuse(408, "Request Timeout", "the request body took longer than the limit "
                     f"(body_timeout_s = {self._body_timeout:g})")

    def _refuse(self, status: int, reason: str, detail: str) -> None:
        """Answer ``status`` (unless an answer has begun) and close; the request being read, if any, sees a
        disconnect, so the app stops waiting for its body and writes nothing more."""
        if self.transport.is_closing():
            return
        cycle = None if self._in_header else self.cycle
        if cycle is None or not cycle.response_started:
            self.transport.write(_plain(status, reason, detail))
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()

    # -- slow readers --

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self._send_timeout, self._send_timed_out)

    def resume_writing(self) -> None:
        self._disarm_send()
        super().resume_writing()

    def _disarm_send(self) -> None:
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    def _send_timed_out(self) -> None:
        self._send_timer = None
        log.info("closing a connection whose client did not read its answer for %g s", self._send_timeout)
        # A plain close would leave the socket in FIN_WAIT1 with the unsent answer still in the kernel's send
        # buffer (up to tcp_wmem's maximum, held until the orphan gives up: minutes). Linger 0 makes the close
        # a reset, which frees that buffer at once.
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


def raise_file_limit(needed: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE toward its hard limit so ``needed`` descriptors fit; returns
    the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


FILES_PER_WORKER_BESIDES_CONNECTIONS = 256
"""The listening socket, engine process pipes, static files being sent, logs: room beside the connections."""


def serve(settings: Settings, host: str, port: int, workers: int, log_level: str = "info") -> None:
    """Run the app (``app.main:app``) with uvicorn and the guarded protocol."""
    import uvicorn

    needed = settings.max_connections + FILES_PER_WORKER_BESIDES_CONNECTIONS
    soft = raise_file_limit(needed)
    if soft < needed:
        log.warning("the file descriptor limit (%d) is below max_connections + %d: lower BACKPROP_MAX_CONNECTIONS "
                    "or raise `ulimit -n`", soft, FILES_PER_WORKER_BESIDES_CONNECTIONS)
    uvicorn.run("app.main:app", host=host, port=port, workers=workers, log_level=log_level,
                proxy_headers=True, server_header=False, http=PROTOCOL,
                timeout_keep_alive=settings.keep_alive_s, timeout_graceful_shutdown=settings.graceful_shutdown_s)
