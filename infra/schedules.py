"""A tenant's schedules from the command line: when they fire next, and pause, resume, run now.

    python -m infra.schedules next   --tenant STACK NAME [-n 5] [--after ISO-8601]
    python -m infra.schedules pause  --tenant STACK NAME [--dry-run]
    python -m infra.schedules resume --tenant STACK NAME [--dry-run]
    python -m infra.schedules run    --tenant STACK NAME [--dry-run]

`next` is computed offline from the stack file (the app's schedule grid). The others call Cloud
Scheduler (`runner: app`) or Vertex AI (`runner: vertex`) as the caller's application default
credentials; `--dry-run` prints the requests instead. Pausing here is immediate; the stack's
`paused` field is what the next `pulumi up` applies, so set it too to keep a pause.
Exit codes: 0 done; 2 unknown stack or schedule, invalid config, or a refused call (named).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

import google.auth
import google.auth.exceptions
import requests

from infra import naming
from infra.config import ConfigError, Schedule, TenantConfig, tenant_from_stack_config

SCHEDULER_API = "https://cloudscheduler.googleapis.com/v1"


def job_name(config: TenantConfig, schedule: Schedule) -> str:
    """The Cloud Scheduler job of a `runner: app` schedule (as infra.components.schedules)."""
    job = naming.check("scheduler_job", f"{config.id}-{schedule.name}")
    return f"projects/{config.gcp_project_id}/locations/{config.data_region}/jobs/{job}"


def requests_for(
    verb: str,
    config: TenantConfig,
    schedule: Schedule,
    vertex_schedule: str | None = None,
    pinned_sha256: str | None = None,
) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(method, URL, JSON body) of `verb` (`pause`, `resume`, `run`) for a schedule. A Vertex AI
    schedule is named by `vertex_schedule` (its resource name, found by display name); running
    it now submits its job request pinned to `pinned_sha256` (its tag's digest)."""
    if schedule.runner == "app":
        return [("POST", f"{SCHEDULER_API}/{job_name(config, schedule)}:{verb}", {})]
    from infra.components.pipelines import schedule_request

    api = f"https://{config.training_region}-aiplatform.googleapis.com/v1"
    if verb == "run":
        # Now, once: the schedule's own job request, pinned to the same digest.
        _, body = schedule_request(config, schedule, pinned_sha256 or "<the tag's digest>")
        job = body["createPipelineJobRequest"]
        return [("POST", f"{api}/{job['parent']}/pipelineJobs", job["pipelineJob"])]
    return [("POST", f"{api}/{vertex_schedule}:{verb}", {})]


def _vertex_schedule(session, config: TenantConfig, schedule: Schedule) -> str:
    api = f"https://{config.training_region}-aiplatform.googleapis.com/v1"
    parent = f"projects/{config.gcp_project_id}/locations/{config.training_region}"
    display = f"{config.id}-{schedule.name}"
    response = session.get(f"{api}/{parent}/schedules",
                           params={"filter": f'display_name="{display}"'})  # fmt: skip
    response.raise_for_status()
    found = [s["name"] for s in response.json().get("schedules", [])]
    if len(found) != 1:
        raise LookupError(f"Vertex AI has {len(found)} schedule(s) named {display!r}")
    return found[0]


def _pinned_digest(session, config: TenantConfig, schedule: Schedule) -> str:
    """The digest the tenant's repository tag of the schedule's version points at."""
    from infra.components.pipelines import tenant_repository

    host = tenant_repository(config).removeprefix("https://")
    region, _, rest = host.partition("-kfp.pkg.dev/")
    project, repo = rest.split("/")
    url = (f"https://artifactregistry.googleapis.com/v1/projects/{project}/locations/{region}/"
           f"repositories/{repo}/packages/{schedule.template.name}/tags/"
           f"v{schedule.template.version}")  # fmt: skip
    response = session.get(url)
    response.raise_for_status()
    return response.json()["version"].rsplit("/", 1)[-1].removeprefix("sha256:")


def _load(stack: str, name: str) -> tuple[TenantConfig, Schedule]:
    from infra.stacks import load_stack_config

    config = tenant_from_stack_config(load_stack_config(stack))
    for schedule in config.schedules:
        if schedule.name == name:
            return config, schedule
    known = [s.name for s in config.schedules]
    raise LookupError(f"stack {stack!r} has no schedule {name!r}; it has {known}")


def main(argv: list[str] | None = None, session=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.schedules", description=__doc__)
    parser.add_argument("verb", choices=("next", "pause", "resume", "run"))
    parser.add_argument("name", help="the schedule's name in the stack file")
    parser.add_argument("--tenant", required=True, help="the tenant's stack")
    parser.add_argument("-n", type=int, default=5, help="how many fire times (next)")
    parser.add_argument("--after", help="ISO-8601 time to count from (next; default: now)")
    parser.add_argument("--dry-run", action="store_true", help="print the requests only")
    args = parser.parse_args(argv)
    try:
        config, schedule = _load(args.tenant, args.name)
        if args.verb == "next":
            after = dt.datetime.fromisoformat(args.after) if args.after else None
            if after is not None and after.tzinfo is None:
                raise ValueError("--after needs a UTC offset, e.g. 2027-03-27T12:00+01:00")
            fires = schedule.next_fires(args.n, after or dt.datetime.now(dt.timezone.utc))
            print(f"{schedule.name}: cron {schedule.crontab!r} in {schedule.time_zone}"
                  + (" (paused)" if schedule.paused else ""))  # fmt: skip
            for fire in fires:
                print(fire.isoformat())
            return 0
        if args.dry_run:
            target = "<the schedule found by its display name>"
            for method, url, body in requests_for(args.verb, config, schedule, target):
                print(method, url, json.dumps(body, sort_keys=True) if body else "")
            return 0
        if session is None:
            from google.auth.transport.requests import AuthorizedSession

            session = AuthorizedSession(google.auth.default()[0])
        found = pinned = None
        if schedule.runner == "vertex" and args.verb != "run":
            found = _vertex_schedule(session, config, schedule)
        elif schedule.runner == "vertex":
            pinned = _pinned_digest(session, config, schedule)
        for method, url, body in requests_for(args.verb, config, schedule, found, pinned):
            response = session.request(method, url, json=body)
            response.raise_for_status()
        print(f"{args.verb}: {schedule.name} ({schedule.runner})")
        return 0
    except (ConfigError, LookupError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (requests.RequestException, google.auth.exceptions.GoogleAuthError) as exc:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", "?")
        print(f"error: {args.verb} {schedule.name}: the API answered {status}: {exc}",
              file=sys.stderr)  # fmt: skip
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
