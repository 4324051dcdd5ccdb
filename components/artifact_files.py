"""JSON files that components read from their input artifacts."""

from __future__ import annotations

import json
import os
from typing import Any

from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import io_utils


def read_artifact_json(artifacts, name: str) -> dict[str, Any]:
    """File `name` of the single artifact in `artifacts`, as a dict; {} when it is absent."""
    path = os.path.join(artifact_utils.get_single_uri(artifacts), name)
    if not fileio.exists(path):
        return {}
    return json.loads(io_utils.read_string_file(path))
