"""A webhook receiver on 127.0.0.1 for progress-callback tests: records every POST."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append((self.path, dict(self.headers), body))
        self.send_response(self.server.status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):  # keep test output quiet
        pass


@contextlib.contextmanager
def receiver(status: int = 200):
    """Yields (base URL, received list of (path, headers, raw body)); answers `status`."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.received, server.status = [], status
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield (
            f"http://127.0.0.1:{server.server_address[1]}/api/training-runs/7/webhook",
            (server.received),
        )
    finally:
        server.shutdown()
        server.server_close()


def events(received) -> list[tuple[str, dict]]:
    """(path, decoded JSON body) of each POST received."""
    return [(path, json.loads(body)) for path, _, body in received]
