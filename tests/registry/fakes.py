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
