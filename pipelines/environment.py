"""The environment a template run needs, set by the platform rather than the user's shell.

TFRS needs TensorFlow's Keras 2 API (tf-keras), which TensorFlow picks once, when it is first
imported, from `TF_USE_LEGACY_KERAS`. Every entry point of the platform (the `pipelines` and
`demo` CLIs, the trainer library, the model server, the run processes it starts) applies these
defaults before TensorFlow is imported; a value the caller set explicitly is kept.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

DEFAULTS = {
    "TF_USE_LEGACY_KERAS": "1",
    # TensorFlow's C++ INFO and WARNING lines; errors still show.
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


def run_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (the current environment by default) with the platform's defaults filled in."""
    env = dict(os.environ if base is None else base)
    for name, value in DEFAULTS.items():
        env.setdefault(name, value)
    return env


def apply() -> None:
    """Fill in the defaults in this process; fail clearly if TensorFlow was imported first
    with Keras 3, which TFRS cannot use (the Trainer would fail a minute into a run)."""
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    tf = sys.modules.get("tensorflow")
    keras_version = getattr(getattr(tf, "keras", None), "__version__", "") if tf else ""
    if keras_version.startswith("3"):
        raise RuntimeError(
            "TensorFlow was imported with Keras 3 before the platform could choose tf-keras: "
            "import pipelines (or trainer) before tensorflow, or set TF_USE_LEGACY_KERAS=1"
        )
