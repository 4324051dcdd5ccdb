"""pipelines.console.quiet_output: our lines on the terminal, every library's output in the log."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Each kind of noise a local run makes: C-level writes to both descriptors, a child process,
# Python warnings and logging, absl logging; then one progress line of ours.
NOISY = textwrap.dedent(
    """
    import logging, os, subprocess, sys, warnings
    from pathlib import Path
    from pipelines.console import quiet_output

    logging.basicConfig(level=logging.INFO)
    with quiet_output(Path(sys.argv[1]), verbose=sys.argv[2] == "-v"):
        os.write(1, b"c-level stdout\\n")
        os.write(2, b"c-level stderr\\n")
        subprocess.run([sys.executable, "-c", "print('child stdout'); import sys; "
                        "print('child stderr', file=sys.stderr)"], check=True)
        warnings.warn("a library warning")
        logging.getLogger("tfx").warning("a library log line")
        from absl import logging as absl_logging
        absl_logging.warning("an absl line")
        print("[1/1] Stage done in 0.1s")
    print("after the block")
    """
)
NOISE = ("c-level stdout", "c-level stderr", "child stdout", "child stderr",
         "a library warning", "a library log line", "an absl line")  # fmt: skip


def run_noisy(tmp_path, *flags: str) -> tuple[str, str, Path]:
    log = tmp_path / "out" / "run.log"
    result = subprocess.run(
        [sys.executable, "-c", NOISY, str(log), *(flags or ["-q"])],
        capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, check=True,
    )  # fmt: skip
    return result.stdout, result.stderr, log


def test_only_our_lines_reach_the_terminal_and_the_rest_is_in_the_log(tmp_path):
    out, err, log = run_noisy(tmp_path)
    assert out.splitlines() == ["[1/1] Stage done in 0.1s", "after the block"]
    assert err == ""
    logged = log.read_text()
    for noise in NOISE:
        assert noise in logged, noise
    assert "Stage done" not in logged


def test_verbose_prints_everything_and_writes_no_log(tmp_path):
    out, err, log = run_noisy(tmp_path, "-v")
    for noise in NOISE:
        assert noise in out + err, noise
    assert "[1/1] Stage done in 0.1s" in out
    assert not log.exists()


def test_a_capture_that_is_not_descriptor_1_keeps_our_lines(tmp_path, capsys):
    from pipelines.console import quiet_output, tail

    with quiet_output(tmp_path / "run.log") as log:
        print("progress")
        subprocess.run([sys.executable, "-c", "print('noise')"], check=True)
    assert capsys.readouterr().out == "progress\n"
    assert tail(log) == ["noise"]
