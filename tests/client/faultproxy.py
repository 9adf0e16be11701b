"""A JSON-RPC proxy on 127.0.0.1 that injects faults between the client and anvil.

Modes: ``pass``; ``refuse`` (the listening socket is closed: connection refused);
``stall_reply`` (forward the request to the node, then hold the reply longer than the client
waits: the worst case, where the node acted but the client saw a timeout). ``stall_methods``
limits stalling to requests containing those methods, ``stall_count`` to the first N of them.

:meth:`FaultProxy.inject` sets one more fault for requests containing ``methods`` (all when
empty), the first ``count`` of them (every one when 0):

- ``reset``: the connection is reset (TCP RST) before any reply, the request not forwarded;
- ``http``: an HTTP error status (``status``: 502, 429, ...) with a gateway's HTML page;
- ``not_json``: HTTP 200 with a body that is not JSON;
- ``no_result``: HTTP 200 with JSON-RPC replies that carry neither ``result`` nor ``error``;
- ``rpc_error``: a JSON-RPC error object (``message``) for each request, not forwarded;
- ``swallow``: ``eth_sendRawTransaction`` answered with the transaction's hash but never
  forwarded (the node never sees it: no receipt will come);
- ``switch``: from that request on, everything goes to ``switch_to`` (another chain behind the
  same URL).
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from eth_utils.crypto import keccak


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
        self.fault = ""
        self.fault_methods: set[str] = set()
        self.fault_count = 0
        self.faulted = 0
        self.status = 502
        self.message = "injected error"
        self.switch_to = ""

    def inject(
        self,
        fault: str,
        *,
        methods: set[str] | None = None,
        count: int = 0,
        status: int = 502,
        message: str = "injected error",
        switch_to: str = "",
    ) -> None:
        """Inject ``fault`` (see the module docstring) from now on."""
        with self._lock:
            self.fault, self.fault_methods, self.fault_count, self.faulted = fault, set(methods or ()), count, 0
            self.status, self.message, self.switch_to = status, message, switch_to

    def _fault_for(self, body: bytes) -> str:
        with self._lock:
            if not self.fault or (self.fault_count and self.faulted >= self.fault_count):
                return ""
            if self.fault_methods and not self._matches(body, self.fault_methods):
                return ""
            self.faulted += 1
            return self.fault

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def _send(self, status: int, content: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(content)

            def _injected(self, fault: str, body: bytes) -> bool:
                """Answer (or not) as ``fault`` says; False when the request goes on to the node."""
                payload = json.loads(body)
                items = payload if isinstance(payload, list) else [payload]

                def reply(make: object) -> bytes:
                    out = [make(i) for i in items]  # type: ignore[operator]
                    return json.dumps(out if isinstance(payload, list) else out[0]).encode()

                if fault == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                elif fault == "http":
                    page = f"<html><body><h1>{proxy.status} injected by the fault proxy</h1></body></html>"
                    self._send(proxy.status, page.encode(), "text/html")
                elif fault == "not_json":
                    self._send(200, b"<html><body>upstream gone</body></html>", "text/html")
                elif fault == "no_result":
                    self._send(200, reply(lambda i: {"jsonrpc": "2.0", "id": i.get("id")}))
                elif fault == "rpc_error":
                    err = {"code": -32000, "message": proxy.message}
                    self._send(200, reply(lambda i: {"jsonrpc": "2.0", "id": i.get("id"), "error": err}))
                elif fault == "swallow":
                    self._send(
                        200,
                        reply(
                            lambda i: {
                                "jsonrpc": "2.0",
                                "id": i.get("id"),
                                "result": "0x" + keccak(hexstr=i["params"][0]).hex(),
                            }
                        ),
                    )
                elif fault == "switch":
                    proxy.upstream = proxy.switch_to
                    return False
                else:
                    raise ValueError(f"unknown fault {fault!r}")
                return True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fault = proxy._fault_for(body)
                if fault and self._injected(fault, body):
                    return
                resp = requests.post(
                    proxy.upstream, data=body, headers={"Content-Type": "application/json"}, timeout=30
                )
                with proxy._lock:
                    proxy.forwarded += 1
                    stall = (
                        proxy.mode == "stall_reply"
                        and proxy._matches(body, proxy.stall_methods)
                        and proxy.stalled < proxy.stall_count
                    )
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

    @staticmethod
    def _matches(body: bytes, methods: set[str]) -> bool:
        if not methods:
            return True
        payload = json.loads(body)
        items = payload if isinstance(payload, list) else [payload]
        return any(i.get("method") in methods for i in items)

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
