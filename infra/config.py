"""Typed tenant and platform configuration, validated before any resource is declared.

A stack's ``config:`` section (the mapping in ``Pulumi.<stack>.yaml``) holds one structured value
per stack, ``b2b-recs:tenant`` for tenant stacks and ``b2b-recs:platform`` for the platform
stack, plus Pulumi secrets under their own keys (see :data:`MLFLOW_DB_PASSWORD_KEY` and
:func:`secret_config_key`). :func:`tenant_from_stack_config` and
:func:`platform_from_stack_config` are pure functions from that mapping to a validated model;
errors name the offending field (``tenant.gpu.count``, ``tenant.schedules[1].cron``).
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import re
import zoneinfo
from collections.abc import Mapping
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from infra import naming
from serving.routing import Runtime

NAMESPACE = "b2b-recs"
"""Pulumi project name, and so the namespace of every config key."""
TENANT_KEY = f"{NAMESPACE}:tenant"
PLATFORM_KEY = f"{NAMESPACE}:platform"
MLFLOW_DB_PASSWORD_KEY = "mlflowDbPassword"
"""Config key (in the project namespace) of the MLflow database password, always a secret."""

# Regions a tenant's data may live in: the Google Cloud regions that offer every service the
# tenant project uses (Cloud Run, Cloud SQL, Cloud Scheduler, BigQuery, Artifact Registry).
DATA_REGIONS: frozenset[str] = frozenset(
    {
        "europe-central2",
        "europe-west1",
        "europe-west3",
        "europe-west4",
        "europe-north1",
        "us-central1",
        "us-east1",
        "us-east4",
        "us-west1",
        "asia-northeast1",
        "asia-southeast1",
    }
)

# Regions where Vertex AI custom training offers each GPU type. The product hit this: quota was
# granted in europe-central2, yet training there fails because Vertex offers no training GPUs in
# that region. Extend a row only after a training job has run there.
GPU_TRAINING_REGIONS: dict[str, frozenset[str]] = {
    "NVIDIA_TESLA_T4": frozenset({"europe-west4", "europe-west1", "us-central1"}),
    "NVIDIA_L4": frozenset({"europe-west4", "europe-west1", "us-central1"}),
    "NVIDIA_TESLA_V100": frozenset({"europe-west4", "europe-west1", "us-central1"}),
    "NVIDIA_TESLA_A100": frozenset({"europe-west4", "europe-west1", "us-central1"}),
}

# Vertex AI custom-training quota ids in the Cloud Quotas API, per GPU type.
GPU_QUOTA_IDS: dict[str, str] = {
    "NVIDIA_TESLA_T4": "CustomModelTrainingT4GPUsPerProjectPerRegion",
    "NVIDIA_L4": "CustomModelTrainingL4GPUsPerProjectPerRegion",
    "NVIDIA_TESLA_V100": "CustomModelTrainingV100GPUsPerProjectPerRegion",
    "NVIDIA_TESLA_A100": "CustomModelTrainingA100GPUsPerProjectPerRegion",
}

Slug = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$", min_length=2, max_length=20)
]

_RELEASE_TAG = re.compile(
    r"v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]{1,60})?"
    r"|sha256:[0-9a-f]{64}"
)


def _image_tag(value: str) -> str:
    # A moving tag (`latest`, `LATEST`, `stable`, `main`) makes a deployment irreproducible.
    if not _RELEASE_TAG.fullmatch(value):
        raise ValueError(
            f"pin a release: a semantic version such as 1.4.0, or a digest sha256:<64 hex>, "
            f"not {value!r}"
        )
    return value


ImageTag = Annotated[str, AfterValidator(_image_tag)]
HttpsUrl = Annotated[str, StringConstraints(pattern=r"^https://[A-Za-z0-9.-]+(:[0-9]+)?(/\S*)?$")]


def _project_id(value: str) -> str:
    return naming.check("project_id", value)


def _check_labels(labels: dict[str, str]) -> dict[str, str]:
    if len(labels) > 60:
        raise ValueError("at most 60 labels (Google allows 64, four are reserved for ours)")
    for key, value in labels.items():
        naming.check("label_key", key)
        naming.check("label_value", value)
    return labels


def _allowed_region(value: str, kind: str) -> str:
    if value not in DATA_REGIONS:
        raise ValueError(f"{value!r} is not an allowed {kind}: {sorted(DATA_REGIONS)}")
    return value


ProjectId = Annotated[str, AfterValidator(_project_id)]
Labels = Annotated[dict[str, str], AfterValidator(_check_labels)]


class ConfigError(ValueError):
    """The stack configuration is invalid; the message names every offending field."""


class _Model(BaseModel):
    """Base of every config model: unknown keys are errors, models are immutable."""

    # NaN and infinity are refused: schedule parameters reach a JSON body, which has no literal
    # for them.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Preset(str, Enum):
    """Serving presets, with the scaling and resources of the product's deployment wizard."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"
    HIGH_TRAFFIC = "high-traffic"


class PresetSpec(_Model):
    """Scaling and resources of one :class:`Preset`."""

    min_instances: int
    max_instances: int
    memory: str
    cpu: str


PRESETS: dict[Preset, PresetSpec] = {
    Preset.DEVELOPMENT: PresetSpec(min_instances=0, max_instances=2, memory="2Gi", cpu="1"),
    Preset.PRODUCTION: PresetSpec(min_instances=1, max_instances=10, memory="4Gi", cpu="2"),
    Preset.HIGH_TRAFFIC: PresetSpec(min_instances=2, max_instances=50, memory="8Gi", cpu="4"),
}


CLOUD_RUN_MEMORY_MI = (512, 32 * 1024)


class GpuConfig(_Model):
    """GPU type and count requested as a quota preference in the training region."""

    type: Literal["NVIDIA_TESLA_T4", "NVIDIA_L4", "NVIDIA_TESLA_V100", "NVIDIA_TESLA_A100"] = (
        "NVIDIA_TESLA_T4"
    )
    count: int = Field(default=2, ge=0, le=16)


class RetentionDays(_Model):
    """Days before objects are deleted, per bucket."""

    quick_test: int = Field(default=7, ge=1, le=3650)
    training: int = Field(default=30, ge=1, le=3650)
    staging: int = Field(default=3, ge=1, le=3650)
    mlflow: int = Field(default=365, ge=1, le=3650)
    """Days a replaced or deleted MLflow artifact is kept; live artifacts are never deleted."""
    models: int = Field(default=90, ge=1, le=3650)
    """Days a replaced or deleted model file is kept; live model files are never deleted."""


class BudgetConfig(_Model):
    """The tenant's monthly billing budget: GPU training is where a tenant's cost runs away."""

    amount: int = Field(ge=1, le=10**9)
    """Whole units of `currency` per calendar month."""
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    """ISO 4217; must be the billing account's currency."""
    thresholds: list[float] = Field(default_factory=lambda: [0.5, 0.9, 1.0], min_length=1,
                                    max_length=10)  # fmt: skip
    """Fractions of the amount at which the contact is alerted (1.0 = the whole budget)."""

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: list[float]) -> list[float]:
        for index, item in enumerate(value):
            if not math.isfinite(item) or not 0 < item <= 10:
                raise ValueError(f"[{index}] {item} is not a fraction in (0, 10]")
        if value != sorted(set(value)):
            raise ValueError("thresholds must be increasing, without repeats")
        return value


class MlflowConfig(_Model):
    """Sizing of the MLflow tracking server (Cloud Run) and its database (Cloud SQL)."""

    db_tier: str = Field(default="db-f1-micro", pattern=r"^db-[a-z0-9-]+$")
    db_disk_gb: int = Field(default=10, ge=10, le=1024)
    cpu: Literal["1", "2", "4"] = "1"
    memory: str = Field(default="2Gi", pattern=r"^[1-9][0-9]{0,5}(Mi|Gi)$")
    """Cloud Run memory, 512Mi to 32Gi."""
    min_instances: int = Field(default=0, ge=0, le=10)
    max_instances: int = Field(default=3, ge=1, le=20)

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        mebibytes = int(value[:-2]) * (1024 if value.endswith("Gi") else 1)
        if not CLOUD_RUN_MEMORY_MI[0] <= mebibytes <= CLOUD_RUN_MEMORY_MI[1]:
            raise ValueError(f"{value} is outside Cloud Run's 512Mi to 32Gi")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> MlflowConfig:
        if self.min_instances > self.max_instances:
            raise ValueError("min_instances must not exceed max_instances")
        return self


class TemplateRef(_Model):
    """A published pipeline template, pinned to a semantic version."""

    name: Slug
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")


@functools.lru_cache(maxsize=1)
def _iana_zones() -> frozenset[str]:
    # The machine's tz database also lists files that are not zones Google knows.
    local = {"localtime", "posixrules", "Factory"}
    return frozenset(
        name for name in zoneinfo.available_timezones()
        if name not in local and not name.startswith(("posix/", "right/"))
    ) | {"UTC"}  # fmt: skip


_CRON_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
_CRON_NAMES = {
    "month": {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"},
    "day of week": {"sun", "mon", "tue", "wed", "thu", "fri", "sat"},
}
# cronsim's messages name the field it refused ("Bad day-of-month").
_CRONSIM_FIELDS = {"minute": "minute", "hour": "hour", "day-of-month": "day of month",
                   "month": "month", "day-of-week": "day of week"}  # fmt: skip


def _check_cron_syntax(text: str, label: str) -> None:
    # Cloud Scheduler takes unix-cron: numbers, names of months and days, *, ranges, steps and
    # lists. cronsim also reads Quartz's L, W, # and ?, and digits of other scripts could reach
    # int(): both are refused here, naming the field.
    names = _CRON_NAMES.get(label, set())
    words = re.findall(r"[A-Za-z]+", text)
    if (
        not text.isascii()
        or not re.fullmatch(r"[0-9A-Za-z*,/-]+", text)
        or any(w.lower() not in names for w in words)
    ):
        allowed = "numbers, names, " if names else "numbers, "
        raise ValueError(f"cron {label}: {text!r} is not unix-cron ({allowed}*, ranges, steps, "
                         "lists)")  # fmt: skip


def validate_cron(expr: str) -> str:
    """A five-field unix-cron expression, as Cloud Scheduler reads it; parsed by cronsim (a
    maintained cron library), which also refuses out-of-range values and dates that never come
    (`0 0 31 2 *`). Errors name the field."""
    import datetime as dt

    import cronsim

    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"cron {expr!r} must have 5 fields, has {len(fields)}")
    for text, label in zip(fields, _CRON_FIELDS, strict=True):
        _check_cron_syntax(text, label)
    canonical = " ".join(fields)
    try:
        next(cronsim.CronSim(canonical, dt.datetime(2000, 1, 1)))
    except cronsim.CronSimError as exc:
        raw = str(exc).removeprefix("Bad ").strip()
        label = _CRONSIM_FIELDS.get(raw)
        if label is None:
            raise ValueError(f"cron {expr!r}: {exc}") from None
        text = fields[_CRON_FIELDS.index(label)]
        raise ValueError(f"cron {label}: {text!r} is out of range or malformed") from None
    except StopIteration:
        raise ValueError(f"cron {expr!r} never fires") from None
    return canonical


_HH_MM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class Recurrence(_Model):
    """A schedule as the app's wizard states it. `kind`: `once` (`at` a local date and time,
    `YYYY-MM-DDTHH:MM`), `hourly` (at `minute` 0, 15, 30 or 45), `daily` (`at` HH:MM), `weekly`
    (`weekday`, 0 = Monday, `at`), `monthly` (`day` 1-31, `at`; a month without that day is
    skipped, as cron does)."""

    kind: Literal["once", "hourly", "daily", "weekly", "monthly"]
    at: str | None = None
    minute: Literal[0, 15, 30, 45] | None = None
    weekday: int | None = Field(default=None, ge=0, le=6)
    day: int | None = Field(default=None, ge=1, le=31)

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Recurrence:
        wanted = {"once": {"at"}, "hourly": {"minute"}, "daily": {"at"},
                  "weekly": {"weekday", "at"}, "monthly": {"day", "at"}}[self.kind]  # fmt: skip
        for field in ("at", "minute", "weekday", "day"):
            given = getattr(self, field) is not None
            if given and field not in wanted:
                raise _field_error(field, f"not used by a {self.kind} schedule")
            if not given and field in wanted:
                raise _field_error(field, f"required by a {self.kind} schedule")
        if self.kind == "once":
            try:
                moment = self.moment()
            except ValueError:
                raise _field_error("at", f"{self.at!r} is not YYYY-MM-DDTHH:MM") from None
            if moment.year > 2100:
                raise _field_error("at", f"{self.at!r} is too far ahead")
        elif self.kind != "hourly" and not _HH_MM.fullmatch(self.at or ""):
            raise _field_error("at", f"{self.at!r} is not HH:MM (00:00 to 23:59)")
        return self

    def moment(self) -> datetime.datetime:
        """A `once` schedule's local date and time (naive; the schedule's time zone applies)."""
        return datetime.datetime.strptime(self.at or "", "%Y-%m-%dT%H:%M")

    def cron(self) -> str:
        """The five-field cron Cloud Scheduler runs (`once` fires on its date; see Schedule)."""
        if self.kind == "hourly":
            return f"{self.minute} * * * *"
        if self.kind == "once":
            moment = self.moment()
            return f"{moment.minute} {moment.hour} {moment.day} {moment.month} *"
        hour, minute = (int(part) for part in (self.at or "").split(":"))
        if self.kind == "daily":
            return f"{minute} {hour} * * *"
        if self.kind == "weekly":
            return f"{minute} {hour} * * {((self.weekday or 0) + 1) % 7}"  # cron: 0 = Sunday
        return f"{minute} {hour} {self.day} * *"


class Schedule(_Model):
    """A scheduled run of a pipeline template with fixed parameters: `cron` (unix-cron) or
    `every` (the app's kinds), in `time_zone`; `paused` keeps the job without firing it."""

    name: Slug
    cron: str | None = None
    every: Recurrence | None = None
    paused: bool = False
    time_zone: str = "UTC"
    template: TemplateRef
    parameters: dict[str, str | int | float | bool] = Field(default_factory=dict)
    target_url: HttpsUrl | None = None
    """Webhook the job calls; defaults to the tenant's ``scheduler_target_url``."""
    runner: Literal["app", "vertex"] = "app"
    """``app``: a Cloud Scheduler job calls the app's webhook, which renders and submits the run
    (the seeds' flow). ``vertex``: a Vertex AI pipeline schedule runs the tenant's pinned
    template directly as ``pipelines-runner``; its parameters must then give every input the
    template requires beyond the tenant's defaults (the query and the module paths)."""

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else validate_cron(value)

    @model_validator(mode="after")
    def _one_timing(self) -> Schedule:
        if (self.cron is None) == (self.every is None):
            raise _field_error("cron", "give either cron or every, not both or neither")
        if self.once_at is not None:
            zone = zoneinfo.ZoneInfo(self.time_zone)
            if self.once_at.replace(tzinfo=zone) <= datetime.datetime.now(zone):
                raise _field_error("every.at", f"{self.every.at} ({self.time_zone}) is past")
        return self

    @property
    def once_at(self) -> datetime.datetime | None:
        """The local date and time of a `once` schedule; None for a recurring one."""
        if self.every is None or self.every.kind != "once":
            return None
        return self.every.moment()

    @property
    def crontab(self) -> str:
        """The cron expression the job runs on."""
        return self.cron if self.cron is not None else self.every.cron()  # type: ignore[union-attr]

    def next_fires(self, count: int, after: datetime.datetime) -> list[datetime.datetime]:
        """The next `count` fire times after `after`, in the schedule's time zone, as cron
        (cronsim) computes them across DST changes: a time the spring change skips fires at
        the first minute after it; one the autumn change repeats fires once (a job every hour
        fires in both repeated hours). A `once` schedule fires once; a paused one never."""
        import cronsim

        zone = zoneinfo.ZoneInfo(self.time_zone)
        start = after.astimezone(zone)
        if self.paused:
            return []
        fires = cronsim.CronSim(self.crontab, start)
        if self.once_at is not None:
            # Its cron matches once a year: the fire of its own year, DST handled as above.
            year = self.once_at.year
            for fire in fires:
                if fire.year >= year:
                    return [fire] if fire.year == year else []
        return [next(fires) for _ in range(count)]

    @field_validator("parameters", mode="before")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        # The parameters become the job's JSON body, which has no literal for NaN or infinity.
        for name, item in value.items() if isinstance(value, Mapping) else ():
            if isinstance(item, float) and not math.isfinite(item):
                raise _field_error(str(name), f"{item} is not a finite number")
        return value

    @model_validator(mode="after")
    def _runnable(self) -> Schedule:
        # A template version of the catalogue, with parameters its schema and limits accept.
        from infra.templates import problems

        found = problems(self.template.name, self.template.version, self.parameters,
                         runs_alone=self.runner == "vertex")  # fmt: skip
        if found:
            field, why = found[0]
            raise _field_error(field, why)
        return self

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, value: str) -> str:
        # Only names of the IANA database: `Europe` (a directory of it) and `localtime` (a file
        # of this machine) open with ZoneInfo here or crash it, and Cloud Scheduler refuses them.
        if value not in _iana_zones():
            raise ValueError(f"unknown IANA time zone {value!r}")
        return value


class Endpoint(_Model):
    """A model serving endpoint (Cloud Run) sized by a preset."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,40}[a-z0-9]$")]
    preset: Preset = Preset.DEVELOPMENT
    runtime: Runtime = "native"
    """The serving container (`serving.routing`): `native` (TF Serving) for brute-force models,
    `scann` (the platform's Python server) for models with a ScaNN index."""
    model_uri: str | None = Field(default=None, pattern=r"^gs://[a-z0-9._-]+(/\S*)?$")
    public: bool = False
    """Explicitly public endpoints grant ``allUsers`` the invoker role; the default is private."""


class SecretSpec(_Model):
    """A Secret Manager secret; its value comes from the Pulumi secret ``secret-<name>``."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,62}$")]
    accessors: list[Literal["app", "etl", "tfdv", "mlflow", "pipelines", "scheduler", "serving"]]


class PlatformRef(_Model):
    """Where the platform's shared images live."""

    project_id: ProjectId
    region: str = "europe-central2"
    docker_repository: str = "shared-images"
    image_tag: ImageTag


class TenantConfig(_Model):
    """Everything that differs between tenants. Read as data; see :func:`tenant_from_stack_config`."""

    id: Slug
    project_id: ProjectId | None = None
    """Defaults to ``b2brecs-<id>``."""
    org_id: str | None = Field(default=None, pattern=r"^[0-9]{6,20}$")
    folder_id: str | None = Field(default=None, pattern=r"^[0-9]{6,20}$")
    billing_account: str = Field(pattern=r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$")
    data_region: str = "europe-central2"
    training_region: str = "europe-west4"
    gpu: GpuConfig = Field(default_factory=GpuConfig)
    retention_days: RetentionDays = Field(default_factory=RetentionDays)
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)
    budget: BudgetConfig
    """Required: every tenant has a budget, alerting `contact_email`."""
    platform: PlatformRef
    scheduler_target_url: HttpsUrl | None = None
    schedules: list[Schedule] = Field(default_factory=list)
    endpoints: list[Endpoint] = Field(default_factory=list)
    secrets: list[SecretSpec] = Field(default_factory=list)
    labels: Labels = Field(default_factory=dict)
    contact_email: str = Field(default="platform@example.com", pattern=r"^[^@\s]+@[^@\s]+$")

    @field_validator("data_region")
    @classmethod
    def _data_region(cls, value: str) -> str:
        return _allowed_region(value, "data region")

    @model_validator(mode="after")
    def _cross_field(self) -> TenantConfig:
        if (self.org_id is None) == (self.folder_id is None):
            raise _field_error("org_id", "set exactly one of org_id and folder_id")
        allowed = GPU_TRAINING_REGIONS[self.gpu.type]
        if self.training_region not in allowed:
            raise _field_error(
                "training_region",
                f"{self.training_region!r} offers no Vertex AI training {self.gpu.type}; "
                f"use one of {sorted(allowed)}",
            )
        for field, items in (
            ("schedules", self.schedules),
            ("endpoints", self.endpoints),
            ("secrets", self.secrets),
        ):
            seen: set[str] = set()
            for index, item in enumerate(items):
                if item.name in seen:
                    raise _field_error(f"{field}[{index}].name", f"duplicate name {item.name!r}")
                seen.add(item.name)
        for index, schedule in enumerate(self.schedules):
            if (
                schedule.runner == "app"
                and schedule.target_url is None
                and self.scheduler_target_url is None
            ):
                raise _field_error(
                    f"schedules[{index}].target_url",
                    "set target_url or the tenant's scheduler_target_url",
                )
        scheduled_models: dict[str, str] = {}
        for index, schedule in enumerate(self.schedules):
            model = schedule.parameters.get("model_name")
            if schedule.template.name == "training" and isinstance(model, str):
                other = scheduled_models.setdefault(model, schedule.name)
                if other != schedule.name:
                    raise _field_error(
                        f"schedules[{index}].parameters.model_name",
                        f"model {model!r} already has schedule {other!r}: one per model",
                    )
        majors: dict[tuple[str, str], str] = {}
        for index, schedule in enumerate(self.schedules):
            ref = schedule.template
            other = majors.setdefault((ref.name, ref.version.split(".")[0]), ref.version)
            if other != ref.version:
                raise _field_error(
                    f"schedules[{index}].template.version",
                    f"{ref.name} {ref.version} beside {other}: the tenant pins one version per "
                    "major version of a template",
                )
        # Derived names must fit Google's limits; check them here, before any resource exists.
        naming.check("project_id", self.gcp_project_id)
        naming.bucket(self.gcp_project_id, "quicktest-artifacts")
        models = naming.bucket(self.gcp_project_id, "models")
        for index, endpoint in enumerate(self.endpoints):
            if endpoint.model_uri is None:
                continue
            # A server reads only its own model's folder (a public one may read nothing else).
            folder = f"gs://{models}/{endpoint.name}/"
            if not endpoint.model_uri.startswith(folder):
                bucket = endpoint.model_uri.removeprefix("gs://").split("/", 1)[0]
                why = (
                    f"bucket {bucket!r} is not this tenant's model bucket"
                    if bucket != models
                    else "it is another model's folder"
                )
                raise _field_error(
                    f"endpoints[{index}].model_uri",
                    f"{why}: endpoint {endpoint.name!r} serves from {folder}",
                )
        return self

    @property
    def gcp_project_id(self) -> str:
        """The tenant's Google Cloud project id."""
        return self.project_id or naming.project_id(self.id)

    @property
    def regions(self) -> frozenset[str]:
        """The only regions this tenant's regional resources may sit in."""
        return frozenset({self.data_region, self.training_region})

    def all_labels(self) -> dict[str, str]:
        """Labels applied to every labelled resource: the tenant's plus ours."""
        return {**self.labels, "tenant": self.id, "managed-by": "pulumi", "system": "b2b-recs"}

    def target_of(self, schedule: Schedule) -> str:
        """The URL a schedule's job calls."""
        return schedule.target_url or self.scheduler_target_url or ""


class TenantRef(_Model):
    """A tenant as the platform stack knows it: enough to grant its project read access."""

    id: Slug
    project_id: ProjectId
    project_number: str = Field(pattern=r"^[0-9]{6,20}$")


class PlatformConfig(_Model):
    """The central platform project: shared image and template repositories."""

    project_id: ProjectId
    org_id: str | None = Field(default=None, pattern=r"^[0-9]{6,20}$")
    folder_id: str | None = Field(default=None, pattern=r"^[0-9]{6,20}$")
    billing_account: str = Field(pattern=r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$")
    region: str = "europe-central2"
    docker_repository: str = "shared-images"
    templates_repository: str = "shared-templates"
    tenants: list[TenantRef] = Field(default_factory=list)
    labels: Labels = Field(default_factory=dict)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        return _allowed_region(value, "region")

    @model_validator(mode="after")
    def _cross_field(self) -> PlatformConfig:
        if (self.org_id is None) == (self.folder_id is None):
            raise _field_error("org_id", "set exactly one of org_id and folder_id")
        seen: set[str] = set()
        for index, tenant in enumerate(self.tenants):
            if tenant.id in seen:
                raise _field_error(f"tenants[{index}].id", f"duplicate tenant {tenant.id!r}")
            seen.add(tenant.id)
        for field in ("docker_repository", "templates_repository"):
            naming.check("repository_id", getattr(self, field))
        return self

    def all_labels(self) -> dict[str, str]:
        """Labels applied to every labelled platform resource."""
        return {**self.labels, "managed-by": "pulumi", "system": "b2b-recs"}


class _FieldError(ValueError):
    """A cross-field error that knows which field to blame."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _field_error(field: str, message: str) -> _FieldError:
    return _FieldError(field, message)


def _format(root: str, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        path = root
        for part in item["loc"]:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        message = item["msg"].removeprefix("Value error, ")
        # Cross-field validators raise _FieldError("field: message"); move the field into the path.
        match = re.match(r"^([A-Za-z_][\w\[\].]*): (.*)$", message, flags=re.S)
        if match and item["type"] == "value_error":
            path, message = f"{path}.{match.group(1)}", match.group(2)
        lines.append(f"{path}: {message}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _structured(config: Mapping[str, Any], key: str) -> Any:
    if key not in config:
        raise ConfigError(f"{key}: missing; the stack config must define it")
    value = config[key]
    # pulumi.Config hands structured values over as JSON text; a YAML file gives the mapping.
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{key}: not valid JSON ({exc.msg})") from None
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: must be a mapping, got {type(value).__name__}")
    return value


def tenant_from_stack_config(config: Mapping[str, Any]) -> TenantConfig:
    """Build the validated tenant configuration from a stack's ``config:`` mapping.

    Raises :class:`ConfigError` whose message names each invalid field, e.g.
    ``tenant.schedules[0].cron: cron 'x' must have 5 fields, has 1``.
    """
    raw = _structured(config, TENANT_KEY)
    try:
        return TenantConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format("tenant", exc)) from None
    except naming.InvalidName as exc:
        raise ConfigError(f"tenant: {exc}") from None


def platform_from_stack_config(config: Mapping[str, Any]) -> PlatformConfig:
    """Build the validated platform configuration from the platform stack's ``config:`` mapping."""
    raw = _structured(config, PLATFORM_KEY)
    try:
        return PlatformConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format("platform", exc)) from None


def secret_config_key(secret_name: str) -> str:
    """Config key (in the project namespace) holding the value of a tenant secret."""
    return f"secret-{secret_name}"
