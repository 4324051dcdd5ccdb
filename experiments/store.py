"""Reading runs from an MLflow tracking store: the local store or the tenant's private server.

Where (`resolve_uri`): `--tracking-uri`, else `MLFLOW_TRACKING_URI`, else the local store
`out/mlflow.db`. A path to a `.db` file (or a folder holding `mlflow.db`) is a local SQLite
store. A private server on Cloud Run (an https URI) admits requests carrying a Google identity
token for it: `MLFLOW_TRACKING_TOKEN` when set, else one fetched for the service
(`trainer.identity`); MLflow sends it as `Authorization: Bearer <token>`.

Failures are classified (`StoreError.kind`) and said in one line, never as a traceback:

* `auth`: the server answered 401 or 403, or no identity token could be had: "authentication
  failed", exit 2;
* `not_found`: no such store, experiment or run, exit 2;
* `unavailable`: the server kept answering 502, 503, 504 or 429, or refused connections
  (a scaled-to-zero Cloud Run service answers 503 while it starts): retried with exponential
  backoff (`Retry`), then exit 1;
* `timeout`: a request took longer than `--timeout` seconds, exit 1;
* `error`: anything else MLflow raised, exit 1.

MLflow's own HTTP retries are turned off (`MLFLOW_HTTP_REQUEST_MAX_RETRIES=0`) so that every
retry is this module's, counted and reported.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

DEFAULT_LOCAL_STORE = Path("out") / "mlflow.db"
RETRYABLE_STATUS = (429, 502, 503, 504)
EXIT_CODES = {"auth": 2, "not_found": 2, "invalid": 2, "unavailable": 1, "timeout": 1,
              "error": 1}  # fmt: skip

T = TypeVar("T")


class StoreError(Exception):
    """A classified failure of reading the store: `kind` (module doc) and a one-line message."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.kind]

    def __str__(self) -> str:
        text = self.args[0]
        if self.kind == "auth" and not text.startswith("authentication failed"):
            return f"authentication failed: {text}"
        return text


@dataclass(frozen=True)
class Retry:
    """Exponential backoff for a server that is starting: `attempts` tries in all, waiting
    `base_seconds`, then twice as long each time, at most `max_seconds`."""

    attempts: int = 6
    base_seconds: float = 1.0
    max_seconds: float = 16.0

    def delays(self) -> Iterable[float]:
        for i in range(self.attempts - 1):
            yield min(self.base_seconds * 2**i, self.max_seconds)


def resolve_uri(given: str | None) -> str:
    """The tracking URI to read (module doc); a local store that does not exist is refused
    (MLflow would create an empty one and report nothing)."""
    uri = given or os.environ.get("MLFLOW_TRACKING_URI") or str(DEFAULT_LOCAL_STORE)
    if "://" in uri:
        path = uri[len("sqlite:///") :] if uri.startswith("sqlite:///") else None
    else:
        path = uri
        if Path(path).is_dir():
            path = str(Path(path) / "mlflow.db")
        uri = "sqlite:///" + str(Path(path).resolve())
    if path is not None and not Path(path).is_file():
        raise StoreError(
            "not_found",
            f"tracking-uri: no MLflow store at {path} (give --tracking-uri or "
            "MLFLOW_TRACKING_URI: an http(s) server, or a local store's mlflow.db)",
        )
    return uri


@dataclass
class Store:
    """An `MlflowClient` on `uri` whose calls are retried and classified (module doc)."""

    uri: str
    token: str | None = None
    timeout_seconds: float = 30.0
    retry: Retry = field(default_factory=Retry)
    token_fetch: Callable[[str], str] | None = None
    sleep: Callable[[float], None] = time.sleep
    retries_used: int = 0
    _client: Any = None

    @property
    def client(self):
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self):
        remote = self.uri.startswith(("http://", "https://"))
        if remote:
            token = self.token or os.environ.get("MLFLOW_TRACKING_TOKEN")
            if not token:
                from trainer.identity import identity_token_for

                try:
                    token = identity_token_for(self.uri, self.token_fetch)
                except Exception as exc:  # noqa: BLE001 (google.auth raises many kinds)
                    raise StoreError(
                        "auth", f"no Google identity token for {self.uri}: {_first_line(exc)}"
                    ) from None
            if token:
                os.environ["MLFLOW_TRACKING_TOKEN"] = token
            # Every retry is ours (module doc); the timeout is per request.
            os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
            os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(max(1, round(self.timeout_seconds)))
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.uri)

    def call(self, what: str, fn: Callable[[Any], T]) -> T:
        """`fn(client)`, retried while the server is unavailable; `what` names it in errors."""
        delays = iter(self.retry.delays())
        while True:
            try:
                return fn(self.client)
            except StoreError:
                raise
            except Exception as exc:  # noqa: BLE001 (classified below)
                error = classify(exc, self.uri, what)
            delay = next(delays, None) if error.kind == "unavailable" else None
            if delay is None:
                if error.kind == "unavailable" and self.retries_used:
                    error = StoreError(error.kind, f"{error} (after {self.retries_used} retries)")
                raise error
            self.retries_used += 1
            log.warning("%s; retrying in %.1f s", error, delay)
            self.sleep(delay)


def _chain(exc: BaseException) -> list[BaseException]:
    out, seen = [], set()
    while exc is not None and id(exc) not in seen:
        out.append(exc)
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


_STATUS_IN_TEXT = re.compile(r"too many (\d{3}) error responses|error code (\d{3})")


def http_status(exc: BaseException) -> int | None:
    """The HTTP status behind an MLflow error, when it came from a server's answer."""
    for link in _chain(exc):
        response = getattr(link, "response", None)
        status = getattr(response, "status_code", None)
        if isinstance(status, int):
            return status
        match = _STATUS_IN_TEXT.search(str(link))
        if match:
            return int(match.group(1) or match.group(2))
    code = getattr(exc, "error_code", None)
    if code:
        from mlflow.exceptions import MlflowException

        if isinstance(exc, MlflowException):
            status = exc.get_http_status_code()
            return status if status != 500 else None
    return None


def classify(exc: BaseException, uri: str, what: str) -> StoreError:
    """A `StoreError` for what MLflow raised while `what` was being read from `uri`."""
    import requests

    chain = _chain(exc)
    where = f"{what} at {_redacted(uri)}"
    # With no retries of its own, urllib3 reports a read timeout inside a ConnectionError.
    if any(isinstance(e, requests.exceptions.Timeout) or "timed out" in str(e) for e in chain):
        return StoreError("timeout", f"timeout: {where}: no answer in time (--timeout)")
    status = http_status(exc)
    if status in (401, 403):
        return StoreError("auth", f"authentication failed: {where}: the server answered {status}"
                          " (check the identity token and that it may invoke the service)")  # fmt: skip
    if status in RETRYABLE_STATUS:
        return StoreError("unavailable", f"unavailable: {where}: the server answered {status}")
    if status == 404 or getattr(exc, "error_code", None) == "RESOURCE_DOES_NOT_EXIST":
        return StoreError("not_found", f"not found: {where}: {_first_line(exc)}")
    if any(isinstance(e, requests.exceptions.ConnectionError) for e in chain) or (
        "Connection refused" in str(exc) or "Failed to establish" in str(exc)
    ):
        return StoreError("unavailable", f"unavailable: {where}: cannot connect")
    return StoreError("error", f"{where}: {_first_line(exc)}")


def _redacted(uri: str) -> str:
    """A URI without user:password, for messages."""
    return re.sub(r"//[^/@]*@", "//", uri)
