"""A JSON-RPC proxy on 127.0.0.1 that injects faults between the client and anvil.

Modes: ``pass``; ``refuse`` (the listening socket is closed: connection refused);
``stall_reply`` (forward the request to the node, then hold the reply longer than the client
waits: the worst case, where the node acted but the client saw a timeout). ``stall_methods``
limits stalling to requests containing those methods, ``stall_count`` to the first N of them.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "pass"
        self.stall_seconds = 2.0
        self.stall_methods: set[str] = set()
        self.stall_count = 0
        self.stalled = 0
        self.forwarded = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                resp = requests.post(
                    proxy.upstream, data=body, headers={"Content-Type": "application/json"}, timeout=30
                )
                with proxy._lock:
                    proxy.forwarded += 1
                    stall = proxy.mode == "stall_reply" and proxy._matches(body) and proxy.stalled < proxy.stall_count
                    if stall:
                        proxy.stalled += 1
                if stall:
                    time.sleep(proxy.stall_seconds)
                self.send_response(resp.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(resp.content)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def _matches(self, body: bytes) -> bool:
        if not self.stall_methods:
            return True
        payload = json.loads(body)
        items = payload if isinstance(payload, list) else [payload]
        return any(i.get("method") in self.stall_methods for i in items)

    def refuse(self) -> None:
        """Close the listening socket: new connections are refused."""
        self.mode = "refuse"
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def restore(self) -> None:
        """Listen again on the same port, passing requests through."""
        self.mode = "pass"
        if self._server is None:
            self.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
