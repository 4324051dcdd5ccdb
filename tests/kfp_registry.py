"""A KFP template registry on 127.0.0.1 speaking the part of Artifact Registry's API that kfp's
`RegistryClient` uses: upload (multipart, answered `<package>/sha256:<digest>`), get, list and
download by tag or version, delete a tag. Publishing tests run the real client against it.

The client reaches it through a context file shaped like kfp's own Artifact Registry context
(`kfp/registry/context/kfp_pkg_dev.json`), with Google's API root replaced by this server's: the
URL paths are Artifact Registry's.
"""

from __future__ import annotations

import contextlib
import email.parser
import hashlib
import http.server
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

TOKEN = "registry-test-token"
API = "/v1/projects/{project_id}/locations/{location}/repositories/{repo_id}/packages"


@dataclass
class State:
    packages: dict[str, dict[str, dict]] = field(default_factory=dict)
    """package -> {"versions": {"sha256:...": bytes}, "tags": {tag: "sha256:..."}}"""
    uploads: list[tuple[str, str, list[str]]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)


class _Handler(http.server.BaseHTTPRequestHandler):
    state: State
    prefix: str  # /<location>/<project>/<repo>, the host's path

    def log_message(self, *args):  # keep test output quiet
        pass

    def _reply(self, status: int, body, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        self.state.requests.append((self.command, self.path))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._reply(401, {"error": {"code": 401, "message": "unauthenticated"}})
            return False
        return True

    def _resource(self, package: str, kind: str = "", ident: str = "") -> str:
        location, project, repo = self.prefix.strip("/").split("/")
        name = f"projects/{project}/locations/{location}/repositories/{repo}/packages/{package}"
        return f"{name}/{kind}/{ident}" if kind else name

    def do_POST(self):  # noqa: N802 (http.server API)
        if not self._authorized():
            return
        if self.path.rstrip("/") != self.prefix:
            return self._reply(404, {"error": {"message": f"no route {self.path}"}})
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = email.parser.BytesParser().parsebytes(head + body)
        parts = {p.get_param("name", header="content-disposition"): p.get_payload(decode=True)
                 for p in message.get_payload()}  # fmt: skip
        content = parts.get("content")
        if not content:
            return self._reply(400, {"error": {"message": "no content"}})
        try:
            package = json.loads(content)["pipelineInfo"]["name"]
        except (ValueError, KeyError, TypeError):
            return self._reply(400, {"error": {"message": "not a pipeline spec"}})
        version = "sha256:" + hashlib.sha256(content).hexdigest()
        tags = [t for t in (parts.get("tags") or b"").decode().split(",") if t]
        entry = self.state.packages.setdefault(package, {"versions": {}, "tags": {}})
        entry["versions"][version] = content
        for tag in tags:  # as Artifact Registry does, an upload moves an existing tag
            entry["tags"][tag] = version
        self.state.uploads.append((package, version, tags))
        self._reply(200, f"{package}/{version}".encode(), "text/plain")

    def do_GET(self):  # noqa: N802 (http.server API)
        if not self._authorized():
            return
        location, project, repo = self.prefix.strip("/").split("/")
        api = API.format(project_id=project, location=location, repo_id=repo)
        path = self.path.split("?", 1)[0]
        packages = self.state.packages
        if path == api:
            return self._reply(200, {"packages": [{"name": self._resource(p)} for p in packages]})
        match = re.fullmatch(re.escape(api) + r"/([^/]+)/(tags|versions)(?:/([^/]+))?", path)
        if match:
            package, kind, ident = match.groups()
            entry = packages.get(package)
            if entry is None:
                return self._reply(404, {"error": {"message": f"no package {package}"}})
            if kind == "tags":
                items = {t: {"name": self._resource(package, "tags", t),
                             "version": self._resource(package, "versions", v)}
                         for t, v in entry["tags"].items()}  # fmt: skip
            else:
                items = {v: {"name": self._resource(package, "versions", v)}
                         for v in entry["versions"]}  # fmt: skip
            if ident is None:
                return self._reply(200, {kind: list(items.values())})
            if ident not in items:
                return self._reply(404, {"error": {"message": f"no {kind[:-1]} {ident}"}})
            return self._reply(200, items[ident])
        match = re.fullmatch(re.escape(self.prefix) + r"/([^/]+)/([^/]+)", path)
        if match and match.group(1) in packages:
            entry = packages[match.group(1)]
            version = entry["tags"].get(match.group(2), match.group(2))
            if version in entry["versions"]:
                return self._reply(200, entry["versions"][version], "application/x-yaml")
        self._reply(404, {"error": {"message": f"no route {path}"}})

    def do_DELETE(self):  # noqa: N802 (http.server API)
        if not self._authorized():
            return
        location, project, repo = self.prefix.strip("/").split("/")
        api = API.format(project_id=project, location=location, repo_id=repo)
        match = re.fullmatch(re.escape(api) + r"/([^/]+)/tags/([^/]+)", self.path.split("?")[0])
        entry = self.state.packages.get(match.group(1)) if match else None
        if entry is None or match.group(2) not in entry["tags"]:
            return self._reply(404, {"error": {"message": f"no route {self.path}"}})
        del entry["tags"][match.group(2)]
        self._reply(200, {})


def context_file(folder: Path, port: int) -> Path:
    """kfp's Artifact Registry context with the API root at this server."""
    import kfp.registry

    source = Path(kfp.registry.__file__).parent / "context" / "kfp_pkg_dev.json"
    context = json.loads(source.read_text())
    root = f"http://127.0.0.1:{port}"
    context = {k: v.replace("https://artifactregistry.googleapis.com", root)
               for k, v in context.items()}  # fmt: skip
    context["regex"] = (
        r"(^http\:\/\/127\.0\.0\.1\:\d+\/(?P<location>[\w\-]+)\/(?P<project_id>[^/]+)\/"
        r"(?P<repo_id>[^/]+))"
    )
    path = folder / "registry_context.json"
    path.write_text(json.dumps(context))
    return path


@contextlib.contextmanager
def kfp_registry(folder: Path, location: str = "europe-central2",
                 project: str = "b2brecs-platform", repo: str = "shared-templates"):  # fmt: skip
    """Yields (host, context file, state) of a registry serving on 127.0.0.1."""
    state = State()
    prefix = f"/{location}/{project}/{repo}"
    handler = type("Handler", (_Handler,), {"state": state, "prefix": prefix})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        yield f"http://127.0.0.1:{port}{prefix}", context_file(folder, port), state
    finally:
        server.shutdown()
        server.server_close()
