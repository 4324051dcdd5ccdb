"""Passwords: resolved from a `SecretRef` only when a job connects, never logged or shown.

Locally a password comes from an environment variable or a file; in the cloud from a Secret
Manager secret version (the infra `Secrets` component declares them and grants the etl-runner
identity access). The value lives in a `Password`, whose str/repr is `***`, and every error
that leaves `etl` is passed through `redact` with the password it may contain.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path
from typing import Any

from specs.etl import SecretRef

MASK = "***"


class SecretError(ValueError):
    """The reference cannot be resolved; the message names the field, never the value."""


class Password:
    """A resolved password that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__


def secret_manager_request(ref: SecretRef) -> dict[str, str]:
    """The Secret Manager AccessSecretVersion request for a reference."""
    return {"name": ref.secret_manager}


def resolve(
    ref: SecretRef | None, *, field: str = "source.password", client: Any = None
) -> Password | None:
    """The password a reference points at; `client` is a Secret Manager client (tests fake it)."""
    if ref is None:
        return None
    if ref.env:
        value = os.environ.get(ref.env)
        if value is None:
            raise SecretError(f"{field}.env: environment variable {ref.env} is not set")
        return Password(value)
    if ref.file:
        try:
            return Password(Path(ref.file).read_text().rstrip("\n"))
        except OSError as exc:
            raise SecretError(f"{field}.file: {ref.file} cannot be read ({exc.strerror})") from None
    if client is None:
        from google.cloud import secretmanager

        client = secretmanager.SecretManagerServiceClient()
    try:
        response = client.access_secret_version(request=secret_manager_request(ref))
    except Exception as exc:  # the client's errors carry the name, not the payload
        raise SecretError(
            f"{field}.secret_manager: {ref.secret_manager}: {type(exc).__name__}"
        ) from None
    return Password(response.payload.data.decode("utf-8"))


def redact(text: str, password: Password | None) -> str:
    """`text` with the password (as written and URL-encoded) replaced by `***`."""
    if password is None or not password.reveal():
        return text
    value = password.reveal()
    for form in {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}:
        text = text.replace(form, MASK)
    return text
