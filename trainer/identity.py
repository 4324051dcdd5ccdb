"""Google identity tokens for the platform's private HTTPS services (no TensorFlow import)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlparse


def identity_token_for(uri: str, fetch: Callable[[str], str] | None = None) -> str | None:
    """A Google identity token whose audience is the service of an https URI.

    A private Cloud Run service (the tenant's MLflow, the app's progress webhooks) admits
    callers that present one; the pipeline's service account gets it from the metadata server.
    None for any other URI (a local server needs none).
    """
    parsed = urlparse(uri)
    if parsed.scheme != "https":
        return None
    audience = f"{parsed.scheme}://{parsed.netloc}"
    if fetch is None:
        import google.auth.transport.requests
        import google.oauth2.id_token

        def fetch(aud: str) -> str:
            request = google.auth.transport.requests.Request()
            return google.oauth2.id_token.fetch_id_token(request, aud)

    return fetch(audience)
