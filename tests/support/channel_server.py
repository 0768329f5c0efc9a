"""A channel folder served over HTTP on 127.0.0.1, with failures on demand."""

from __future__ import annotations

import contextlib
import http.server
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY")


class ChannelServer(http.server.ThreadingHTTPServer):
    """Serves a channel folder on 127.0.0.1; ``faults`` says how to fail the next requests."""

    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), ChannelHandler)
        self.root = root
        #: path -> what to do with the next GET requests for it: "500", "reset", "slow", "stall",
        #: "hang" (accept, never answer), "trickle" (a byte at a time), "short" (half the body,
        #: then a clean close).
        self.faults: dict[str, list[str]] = {}
        self.requests: list[str] = []
        #: set once a "stall" fault has sent half its body; the stall ends with ``release``.
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ChannelHandler(http.server.BaseHTTPRequestHandler):
    server: ChannelServer
    protocol_version = "HTTP/1.1"
    #: how long a "slow" answer takes in all.
    SLOW: ClassVar[float] = 0.3
    #: seconds between two bytes of a "trickle" answer.
    TRICKLE: ClassVar[float] = 0.2

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, *, body: bool) -> None:
        name = self.path.lstrip("/")
        with self.server.lock:
            self.server.requests.append(f"{self.command} /{name}")
            queue = self.server.faults.get(name) if body else None
            fault = queue.pop(0) if queue else None
        path = self.server.root / name
        if ".." in name.split("/") or not path.is_file():
            self.send_error(404)
            return
        if fault == "500":
            self.send_error(500)
            return
        if fault == "hang":  # the request is read, and never answered
            self.server.stalled.set()
            self.server.release.wait(60)
            self.close_connection = True
            return
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            with contextlib.suppress(ConnectionError):  # the client gave up: a timeout
                self._body(data, fault)

    def _body(self, data: bytes, fault: str | None) -> None:
        half = data[: len(data) // 2]
        if fault == "reset":  # half the body, then a TCP reset
            self.wfile.write(half)
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
        elif fault == "stall":  # half the body, then nothing until released
            self.wfile.write(half)
            self.wfile.flush()
            self.server.stalled.set()
            self.server.release.wait(60)
            self.close_connection = True
        elif fault == "trickle":  # a byte every TRICKLE seconds: never silent, never done
            for index in range(len(data)):
                if self.server.release.wait(self.TRICKLE):
                    break
                self.wfile.write(data[index : index + 1])
                self.wfile.flush()
            self.close_connection = True
        elif fault == "short":  # half the body, then the connection closes as if done
            self.wfile.write(half)
            self.wfile.flush()
            self.close_connection = True
        elif fault == "slow":
            chunks = [data[i : i + 2048] for i in range(0, len(data), 2048)]
            for chunk in chunks:
                self.wfile.write(chunk)
                self.wfile.flush()
                time.sleep(self.SLOW / len(chunks))
        else:
            self.wfile.write(data)


@contextlib.contextmanager
def serving(channel: Path) -> Iterator[ChannelServer]:
    """*channel* served on a thread of this process until the block ends."""
    httpd = ChannelServer(channel)
    # shutdown() waits for the loop's next poll: a short one ends each test sooner
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()
