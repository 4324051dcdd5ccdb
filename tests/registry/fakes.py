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


class FakeRunService:
    """One Cloud Run service as the Admin API v2 keeps it: PATCH applies the body (the traffic
    list becomes `trafficStatuses`), DELETE removes it, operations are done at once.
    `failing`: every call answers HTTP 500."""

    API = "https://run.googleapis.com/v2/"

    def __init__(self, service: dict | None = None, *, failing: bool = False):
        self.service, self.failing, self.calls = service, failing, []

    def request(self, method, url, json=None):
        path = url.removeprefix(self.API)
        self.calls.append((method, path, json))
        if self.failing:
            return Response(500, {"error": {"message": "backend error"}})
        done = {"name": "operations/op-1", "done": True, "response": {}}
        if path.startswith("operations/"):
            return Response(200, done)
        if path.endswith(":setIamPolicy"):
            return Response(200, json["policy"])
        if method == "GET":
            return Response(200, self.service) if self.service else Response(404, {})
        if method == "DELETE":
            if not self.service:
                return Response(404, {})
            self.service = None
            return Response(200, {**done, "done": False})
        if method == "PATCH":
            if self.service is None and "allowMissing=true" not in path:
                return Response(404, {})
            service = dict(self.service or {})
            service.update(json)
            service["trafficStatuses"] = [dict(t) for t in json.get("traffic", [])]
            service.setdefault("uri", "https://serve-acme-main-xyz.a.run.app")
            self.service = service
            return Response(200, done)
        raise AssertionError(f"unexpected call {method} {url}")


class FakeVertexEndpoint:
    """One Vertex AI endpoint: create, deployModel, undeployModel and get, with operations done
    at once. `failing`: every call answers HTTP 503."""

    def __init__(self, api: str, *, failing: bool = False):
        self.api, self.failing = api + "/", failing
        self.endpoint: dict | None = None
        self.calls, self.next_id = [], 100

    def request(self, method, url, json=None):
        path = url.removeprefix(self.api)
        self.calls.append((method, path, json))
        if self.failing:
            return Response(503, {"error": {"message": "unavailable"}})
        if method == "GET":
            return Response(200, self.endpoint) if self.endpoint else Response(404, {})
        name = path.split("?")[0].split(":")[0]
        if "endpoints?endpointId=" in path:
            endpoint_id = path.split("endpointId=")[1]
            self.endpoint = {"name": f"{name}/{endpoint_id}", **json, "deployedModels": [],
                             "trafficSplit": {}}  # fmt: skip
            return _done({"name": self.endpoint["name"]})
        if path.endswith(":deployModel"):
            deployed = {"id": str(self.next_id), **json["deployedModel"]}
            deployed["modelVersionId"] = deployed["model"].rpartition("@")[2]
            self.next_id += 1
            self.endpoint["deployedModels"].append(deployed)
            split = dict(json["trafficSplit"])
            split[deployed["id"]] = split.pop("0")
            self.endpoint["trafficSplit"] = split
            return _done({"deployedModel": {"id": deployed["id"]}})
        if path.endswith(":undeployModel"):
            self.endpoint["deployedModels"] = [d for d in self.endpoint["deployedModels"]
                                               if d["id"] != json["deployedModelId"]]  # fmt: skip
            self.endpoint["trafficSplit"] = dict(json["trafficSplit"])
            return _done({})
        raise AssertionError(f"unexpected call {method} {url}")


def _done(response: dict) -> Response:
    return Response(200, {"name": "operations/op-1", "done": True, "response": response})
