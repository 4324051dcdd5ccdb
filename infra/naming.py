"""Google Cloud naming rules, enforced before a name reaches a resource.

Every physical name the programs derive goes through one of these functions, so a tenant id that
would produce an invalid project id, bucket or service name fails at configuration time with a
message naming the limit, instead of failing halfway through ``pulumi up``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class InvalidName(ValueError):
    """A derived resource name breaks one of Google's naming rules."""


@dataclass(frozen=True)
class NameRule:
    """One naming rule: a kind of name, its length bounds and its allowed pattern."""

    kind: str
    min_len: int
    max_len: int
    pattern: str
    hint: str

    def check(self, value: str) -> str:
        """Return ``value`` if it satisfies the rule, else raise :class:`InvalidName`."""
        if not isinstance(value, str):
            raise InvalidName(f"{self.kind} must be a string, got {type(value).__name__}")
        if not self.min_len <= len(value) <= self.max_len:
            raise InvalidName(
                f"{self.kind} {value!r} is {len(value)} characters; "
                f"Google allows {self.min_len}-{self.max_len}"
            )
        if not re.fullmatch(self.pattern, value):
            raise InvalidName(f"{self.kind} {value!r} is invalid: {self.hint}")
        return value


# Limits from Google's documentation for each resource kind.
RULES: dict[str, NameRule] = {
    "project_id": NameRule(
        "project id",
        6,
        30,
        r"[a-z][a-z0-9-]{4,28}[a-z0-9]",
        "lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen",
    ),
    "service_account_id": NameRule(
        "service account id",
        6,
        30,
        r"[a-z][a-z0-9-]{4,28}[a-z0-9]",
        "lowercase letters, digits and hyphens, starting with a letter",
    ),
    "bucket": NameRule(
        "bucket name",
        3,
        63,
        r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]",
        "lowercase letters, digits, dots, hyphens and underscores, starting and ending "
        "with a letter or digit",
    ),
    "cloud_run_service": NameRule(
        "Cloud Run service name",
        1,
        49,
        r"[a-z]([a-z0-9-]{0,47}[a-z0-9])?",
        "lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen",
    ),
    "scheduler_job": NameRule(
        "Cloud Scheduler job name",
        1,
        500,
        r"[a-zA-Z0-9_-]+",
        "letters, digits, hyphens and underscores",
    ),
    "secret_id": NameRule(
        "secret id", 1, 255, r"[a-zA-Z0-9_-]+", "letters, digits, hyphens and underscores"
    ),
    "repository_id": NameRule(
        "Artifact Registry repository id",
        2,
        63,
        r"[a-z]([a-z0-9-]*[a-z0-9])?",
        "lowercase letters, digits and hyphens, starting with a letter",
    ),
    "dataset_id": NameRule(
        "BigQuery dataset id", 1, 1024, r"[A-Za-z0-9_]+", "letters, digits and underscores"
    ),
    "sql_instance": NameRule(
        "Cloud SQL instance name",
        1,
        98,
        r"[a-z]([a-z0-9-]*[a-z0-9])?",
        "lowercase letters, digits and hyphens, starting with a letter",
    ),
    "label_key": NameRule(
        "label key",
        1,
        63,
        r"[a-z][a-z0-9_-]*",
        "lowercase letters, digits, hyphens and underscores, starting with a letter",
    ),
    "label_value": NameRule(
        "label value", 0, 63, r"[a-z0-9_-]*", "lowercase letters, digits, hyphens and underscores"
    ),
}


RESTRICTED_IN_PROJECT_IDS = ("google", "ssl")
"""Strings Google refuses anywhere in a project id."""


def check(kind: str, value: str) -> str:
    """Validate ``value`` against the rule for ``kind`` (a key of :data:`RULES`)."""
    RULES[kind].check(value)
    if kind == "project_id":
        for word in RESTRICTED_IN_PROJECT_IDS:
            if word in value:
                raise InvalidName(f"project id {value!r} is invalid: Google refuses {word!r} in it")
    return value


def project_id(tenant_id: str, prefix: str = "b2brecs") -> str:
    """The default project id of a tenant: ``<prefix>-<tenant_id>``."""
    return check("project_id", f"{prefix}-{tenant_id}")


def bucket(project: str, purpose: str) -> str:
    """A bucket name scoped by project id, which is globally unique, so the bucket is too."""
    return check("bucket", f"{project}-{purpose}")


def cloud_run(name: str) -> str:
    """A Cloud Run service name."""
    return check("cloud_run_service", name)


def service_account(account_id: str) -> str:
    """A service account id (the part before ``@``)."""
    return check("service_account_id", account_id)


def sa_email(account_id: str, project: str) -> str:
    """The email of a user-managed service account in ``project``."""
    return f"{service_account(account_id)}@{project}.iam.gserviceaccount.com"


def public_serving_account(endpoint: str) -> str:
    """The account id of a public endpoint's server, ``pub-<endpoint>``. An endpoint name too long
    for an account id keeps its first characters and gains a hash of the whole name, so two long
    names never share an account."""
    candidate = f"pub-{endpoint}"
    if len(candidate) > RULES["service_account_id"].max_len:
        import hashlib

        digest = hashlib.sha256(endpoint.encode()).hexdigest()[:6]
        candidate = f"{candidate[:23].rstrip('-')}-{digest}"
    return service_account(candidate)


def image_reference(region: str, project: str, repository: str, name: str, tag: str) -> str:
    """An Artifact Registry Docker image: `<region>-docker.pkg.dev/<project>/<repo>/<name>:<tag>`."""
    return f"{region}-docker.pkg.dev/{project}/{repository}/{name}:{tag}"
