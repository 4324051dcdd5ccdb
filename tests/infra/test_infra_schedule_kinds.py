"""Schedules of the app's kinds: rendered cron, next fire times across DST and short months,
paused and one-off jobs, validation, and the pause / resume / run-now CLI."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from infra import schedules as cli
from infra.config import TENANT_KEY, ConfigError, Schedule, tenant_from_stack_config
from infra.stacks import evaluate_stack

WARSAW = ZoneInfo("Europe/Warsaw")
QUICKTEST = {"name": "quicktest", "version": "1.5.0"}


def schedule(every: dict) -> Schedule:
    return Schedule.model_validate(
        {"name": "grid", "every": every, "time_zone": "Europe/Warsaw", "template": QUICKTEST}
    )


# Hand-checked, Europe/Warsaw: summer time starts 2027-03-28 02:00 CET (clocks to 03:00 CEST)
# and ends 2027-10-31 03:00 CEST (clocks back to 02:00 CET); February 2027 has 28 days. A time
# the spring change skips fires at 03:00; a fixed time in the repeated autumn hour fires once.
TABLE = [
    ({"kind": "hourly", "minute": 15}, "15 * * * *", "2027-03-28T00:00",
     ["2027-03-28T00:15+01:00", "2027-03-28T01:15+01:00", "2027-03-28T03:15+02:00",
      "2027-03-28T04:15+02:00", "2027-03-28T05:15+02:00"]),
    ({"kind": "daily", "at": "02:30"}, "30 2 * * *", "2027-03-26T12:00",
     ["2027-03-27T02:30+01:00", "2027-03-28T03:00+02:00", "2027-03-29T02:30+02:00",
      "2027-03-30T02:30+02:00", "2027-03-31T02:30+02:00"]),
    ({"kind": "daily", "at": "02:30"}, "30 2 * * *", "2027-10-29T12:00",
     ["2027-10-30T02:30+02:00", "2027-10-31T02:30+02:00", "2027-11-01T02:30+01:00",
      "2027-11-02T02:30+01:00", "2027-11-03T02:30+01:00"]),
    ({"kind": "weekly", "weekday": 6, "at": "02:30"}, "30 2 * * 0", "2027-03-20T12:00",
     ["2027-03-21T02:30+01:00", "2027-03-28T03:00+02:00", "2027-04-04T02:30+02:00",
      "2027-04-11T02:30+02:00", "2027-04-18T02:30+02:00"]),
    ({"kind": "weekly", "weekday": 0, "at": "09:00"}, "0 9 * * 1", "2027-03-24T12:00",
     ["2027-03-29T09:00+02:00", "2027-04-05T09:00+02:00", "2027-04-12T09:00+02:00",
      "2027-04-19T09:00+02:00", "2027-04-26T09:00+02:00"]),
    ({"kind": "monthly", "day": 31, "at": "03:00"}, "0 3 31 * *", "2027-01-15T00:00",
     ["2027-01-31T03:00+01:00", "2027-03-31T03:00+02:00", "2027-05-31T03:00+02:00",
      "2027-07-31T03:00+02:00", "2027-08-31T03:00+02:00"]),
    ({"kind": "monthly", "day": 28, "at": "23:45"}, "45 23 28 * *", "2027-01-29T00:00",
     ["2027-02-28T23:45+01:00", "2027-03-28T23:45+02:00", "2027-04-28T23:45+02:00",
      "2027-05-28T23:45+02:00", "2027-06-28T23:45+02:00"]),
    ({"kind": "once", "at": "2030-03-31T02:30"}, "30 2 31 3 *", "2027-01-01T00:00",
     ["2030-03-31T03:00+02:00"]),
]  # fmt: skip


@pytest.mark.parametrize(("every", "cron", "start", "fires"), TABLE)
def test_every_kind_renders_its_cron_and_next_five_fires(every, cron, start, fires):
    s = schedule(every)
    assert s.crontab == cron
    after = dt.datetime.fromisoformat(start).replace(tzinfo=WARSAW)
    got = [f.isoformat(timespec="minutes") for f in s.next_fires(5, after)]
    assert got == fires


def test_a_paused_schedule_does_not_fire_and_its_job_is_paused(stack_configs):
    config = copy.deepcopy(stack_configs["busy"])
    config[TENANT_KEY]["schedules"][0]["paused"] = True
    tenant = tenant_from_stack_config(config)
    assert tenant.schedules[0].next_fires(5, dt.datetime(2027, 1, 1, tzinfo=WARSAW)) == []
    graph, _ = evaluate_stack("busy", config)
    jobs = {r.input("name"): r for r in graph.of_type("gcp:cloudscheduler/job:Job")}
    assert jobs["busy-retail-daily-quick-test"].input("paused") is True
    assert jobs["busy-retail-weekly-basket"].input("paused") is False


def test_a_once_job_carries_its_moment_and_a_vertex_one_runs_once(stack_configs):
    from infra.components.pipelines import schedule_request
    from infra.components.schedules import request_body

    config = tenant_from_stack_config(stack_configs["gpu-heavy"])
    once = schedule({"kind": "once", "at": "2030-06-01T04:00"})
    body = json.loads(base64.b64decode(request_body(config, once)))
    assert body["once_at"] == "2030-06-01T04:00 Europe/Warsaw"
    vertex = once.model_copy(update={"runner": "vertex"})
    assert schedule_request(config, vertex, "ab" * 32)[1]["maxRunCount"] == 1


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [
        ({"every": {"kind": "daily", "at": "02:00"}}, "schedules[0].cron",
         "either cron or every"),
        ({"cron": None}, "schedules[0].cron", "either cron or every"),
        ({"cron": None, "every": {"kind": "once", "at": "2020-01-01T00:00"}},
         "schedules[0].every.at", "is past"),
        ({"cron": None, "every": {"kind": "monthly", "day": 32, "at": "02:00"}},
         "schedules[0].every.day", "less than or equal to 31"),
        ({"cron": None, "every": {"kind": "weekly", "weekday": 7, "at": "02:00"}},
         "schedules[0].every.weekday", "less than or equal to 6"),
        ({"cron": None, "every": {"kind": "hourly", "minute": 20}}, "schedules[0].every.minute",
         "Input should be 0, 15, 30 or 45"),
        ({"cron": None, "every": {"kind": "daily", "at": "24:00"}}, "schedules[0].every.at",
         "is not HH:MM"),
        ({"cron": None, "every": {"kind": "hourly", "minute": 0, "at": "02:00"}},
         "schedules[0].every.at", "not used by a hourly schedule"),
        ({"cron": None, "every": {"kind": "weekly", "at": "02:00"}},
         "schedules[0].every.weekday", "required by a weekly schedule"),
    ],
)  # fmt: skip
def test_a_bad_schedule_is_named(stack_configs, change, field, why):
    config = copy.deepcopy(stack_configs["busy"])
    config[TENANT_KEY]["schedules"][0].update(change)
    with pytest.raises(ConfigError) as caught:
        tenant_from_stack_config(config)
    assert f"tenant.{field}: " in str(caught.value) and why in str(caught.value), str(caught.value)


def test_a_registered_model_has_at_most_one_schedule(stack_configs):
    config = copy.deepcopy(stack_configs["busy"])
    config[TENANT_KEY]["schedules"][2]["parameters"]["model_name"] = "home-feed"
    with pytest.raises(ConfigError, match=r"schedules\[2\]\.parameters\.model_name: model "
                                          r"'home-feed' already has schedule 'weekly-home-feed'"):  # fmt: skip
        tenant_from_stack_config(config)


def test_next_prints_the_grid_offline(capsys):
    code = cli.main(["next", "weekly-basket", "--tenant", "busy", "-n", "3",
                     "--after", "2027-03-20T12:00+01:00"])  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and out[0] == "weekly-basket: cron '0 4 * * 6' in Europe/Brussels"
    assert out[1:] == ["2027-03-27T04:00:00+01:00", "2027-04-03T04:00:00+02:00",
                       "2027-04-10T04:00:00+02:00"]  # fmt: skip


class Session:
    """Answers like the APIs; records every call."""

    def __init__(self, status: int = 200):
        self.calls, self.status = [], status

    def _response(self, payload):
        import requests

        response = requests.Response()
        response.status_code = self.status
        response._content = json.dumps(payload).encode()
        return response

    def get(self, url, params=None):
        self.calls.append(("GET", url, params))
        if url.endswith("/schedules"):
            return self._response({"schedules": [{"name": "projects/p/locations/l/schedules/7"}]})
        return self._response({"version": "projects/x/versions/sha256:" + "cd" * 32})

    def request(self, method, url, json=None):
        self.calls.append((method, url, json))
        return self._response({})


@pytest.mark.parametrize("verb", ["pause", "resume", "run"])
def test_cloud_scheduler_jobs_are_paused_resumed_and_run_through_the_api(verb, capsys):
    session = Session()
    assert cli.main([verb, "weekly-basket", "--tenant", "busy"], session=session) == 0
    assert session.calls == [("POST", "https://cloudscheduler.googleapis.com/v1/projects/"
                              "b2brecs-busy-retail/locations/europe-west1/jobs/"
                              f"busy-retail-weekly-basket:{verb}", {})]  # fmt: skip


def test_a_vertex_schedule_is_found_by_name_then_paused():
    session = Session()
    assert cli.main(["pause", "nightly-quick-check", "--tenant", "gpu-heavy"], session=session) == 0
    (get, _, params), post = session.calls
    assert params == {"filter": 'display_name="gpu-heavy-nightly-quick-check"'}
    assert post == ("POST", "https://europe-west4-aiplatform.googleapis.com/v1/"
                            "projects/p/locations/l/schedules/7:pause", {})  # fmt: skip


def test_running_a_vertex_schedule_now_submits_its_pinned_job():
    session = Session()
    assert cli.main(["run", "nightly-quick-check", "--tenant", "gpu-heavy"], session=session) == 0
    method, url, job = session.calls[-1]
    assert url.endswith("/projects/b2brecs-gpu-heavy/locations/europe-west4/pipelineJobs")
    assert job["templateUri"].endswith("/kfp-templates/quicktest/sha256:" + "cd" * 32)
    assert job["serviceAccount"] == "pipelines-runner@b2brecs-gpu-heavy.iam.gserviceaccount.com"


def test_unknown_schedules_and_refusals_are_named(capsys):
    assert cli.main(["pause", "nope", "--tenant", "busy"], session=Session()) == 2
    assert "has no schedule 'nope'" in capsys.readouterr().err
    assert cli.main(["pause", "weekly-basket", "--tenant", "busy"], session=Session(403)) == 2
    assert "the API answered 403" in capsys.readouterr().err
