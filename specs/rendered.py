"""Pages the repository renders from code (docs/*.md): write them, or check they are current."""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(path: Path, text: str, *, check: bool, command: str) -> int:
    """Write `text` to `path` (0), or with `check` compare instead: 0 when equal, 1 (naming
    `command`, which regenerates it) when the file is missing or differs."""
    if check:
        if not path.is_file() or path.read_text() != text:
            print(f"out of date: {path} (run {command})", file=sys.stderr)
            return 1
        return 0
    path.write_text(text)
    print(f"wrote {path}")
    return 0
