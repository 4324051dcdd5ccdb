"""What a fake Google REST session answers with."""

from __future__ import annotations

import json


class Response:
    def __init__(self, status: int, payload=None):
        self.status_code, self._payload = status, payload

    def json(self):
        return self._payload

    @property
    def text(self):
        return json.dumps(self._payload)


class FakeCloudRun:
    """Cloud Run's Admin API: a rollout operation that ends with `outcome` (a `response` or
    an `error`), polled once unless `done_at_once`; setIamPolicy echoes the policy."""

    def __init__(self, outcome, *, done_at_once: bool = False):
        self.calls, self.bodies, self.outcome = [], [], outcome
        self.done_at_once = done_at_once

    def request(self, method, url, json=None):
        self.calls.append((method, url.removeprefix("https://run.googleapis.com/v2/")))
        self.bodies.append(json)
        if method == "PATCH":
            if self.done_at_once:
                return Response(200, {"name": "operations/deploy-1", "done": True, **self.outcome})
            return Response(200, {"name": "operations/deploy-1", "done": False})
        if method == "GET":
            return Response(200, {"name": "operations/deploy-1", "done": True, **self.outcome})
        return Response(200, json["policy"])
