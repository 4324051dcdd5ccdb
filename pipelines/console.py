"""Quiet command-line output: progress lines and results on the terminal, everything else in a log.

A local run prints a few hundred lines that are not ours: TensorFlow's C++ logging, absl and Beam
warnings, pip and setuptools building the user-code wheel of each component (in subprocesses),
MLflow creating its tables. `quiet_output` sends all of that to a log file at the file descriptor
level, so output written by C++ code and by child processes is caught as well as Python's, while
`print` (the command's own progress and results) still reaches the terminal. `-v` turns it off.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path


def tail(path: Path, lines: int = 20) -> list[str]:
    """The last `lines` lines of a log file (empty when there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


@contextlib.contextmanager
def quiet_output(log_path: Path, *, verbose: bool = False) -> Iterator[Path | None]:
    """Within the block, file descriptors 1 and 2 write to `log_path` (truncated first) and
    `sys.stdout` is a stream on the original standard output; yields the log's path (None when
    `verbose`, which changes nothing)."""
    if verbose:
        yield None
        return
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    original_stdout = sys.stdout
    terminal = None
    if _writes_to_fd(sys.stdout, 1):
        terminal = open(  # noqa: SIM115 (closed in the finally below)
            os.dup(saved[1]), "w", buffering=1, encoding=sys.stdout.encoding or "utf-8",
            errors="replace",
        )  # fmt: skip
    # Otherwise sys.stdout is not descriptor 1 (a test's capture): our lines keep going there.
    with open(log_path, "wb", buffering=0) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        if terminal is not None:
            sys.stdout = terminal
        try:
            yield log_path
        finally:
            sys.stdout = original_stdout
            for stream in (terminal, sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            if terminal is not None:
                terminal.close()


def _writes_to_fd(stream, fd: int) -> bool:
    try:
        return stream.fileno() == fd
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return False
