"""Pulumi CrossGuard entry point: serves `infra.crossguard.policies()` as the policy pack."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pulumi_policy import PolicyPack  # noqa: E402

from infra.crossguard import PACK_NAME, policies  # noqa: E402

PolicyPack(name=PACK_NAME, policies=policies())
