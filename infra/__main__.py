"""Pulumi entry point (``main: __main__.py`` in ``Pulumi.yaml``).

Pulumi runs this file as a script from ``infra/``; putting the repository root on ``sys.path`` lets
it import the ``infra`` package exactly as the tests and the offline plan do.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.program import run_stack  # noqa: E402

run_stack()
