"""Calling Google REST APIs through an authorized session, and waiting for their operations."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from registry.base import RegistryError


class Session(Protocol):
    """`google.auth.transport.requests.AuthorizedSession` in the cloud; a fake in tests."""

    def request(self, method: str, url: str, json: Any = None): ...


def default_session() -> Session:
    """An authorized session of the ambient Google credentials (the runner's identity)."""
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    credentials, _ = google.auth.default()
    return AuthorizedSession(credentials)


class RestClient:
    def __init__(
        self,
        session: Session,
        *,
        sleep: Callable[[float], None] = time.sleep,
        poll_seconds: float = 5.0,
        timeout_seconds: float = 1800.0,
    ) -> None:
        self.session = session
        self._sleep = sleep
        self._poll = poll_seconds
        self._timeout = timeout_seconds

    def call(self, method: str, url: str, body: Any = None, *, missing_ok: bool = False):
        """The JSON answer; None for a 404 when `missing_ok`; RegistryError naming the call."""
        response = self.session.request(method, url, json=body)
        if missing_ok and response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise RegistryError(f"{method} {url}: HTTP {response.status_code}: {response.text}")
        return response.json()

    def wait(self, operation: dict[str, Any], *, api: str, what: str) -> dict[str, Any]:
        """The `response` of a long-running operation, polled at `<api>/<name>` until done."""
        deadline = time.monotonic() + self._timeout
        while not operation.get("done"):
            if time.monotonic() > deadline:
                raise RegistryError(f"{what}: still running after {self._timeout:.0f}s")
            self._sleep(self._poll)
            operation = self.call("GET", f"{api}/{operation['name']}")
        if "error" in operation:
            error = operation["error"]
            raise RegistryError(f"{what} failed: {error.get('message', error)}")
        return operation.get("response", {})
