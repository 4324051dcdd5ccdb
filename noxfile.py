"""Every task of the monorepo. `make` targets are thin wrappers around these sessions.

All sessions share one environment built from requirements.lock with uv. It lives outside the
checkout, in a cache folder keyed by the lock's hash and the interpreter, so a fresh clone (CI)
with an unchanged lock reuses it instead of reinstalling 3 GB of TFX. The repository itself is
put on PYTHONPATH rather than installed, so the cached environment never points at a checkout
that may be gone.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
LOCK = ROOT / "requirements.lock"
nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "tests"]


def _cache_root() -> Path:
    base = os.environ.get("B2B_RECS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "b2b-recs-platform"
    )
    return Path(base)


def _uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        raise SystemExit("uv not found: run through `make`, which installs it into .tools/")
    return found


def stack(session: nox.Session) -> dict[str, str]:
    """Create or reuse the locked environment; return the env vars that select it."""
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:12]
    version = f"py{sys.version_info.major}{sys.version_info.minor}"
    venv = _cache_root() / f"venv-{version}-{digest}"
    stamp = venv / ".synced"
    venv.parent.mkdir(parents=True, exist_ok=True)
    # Two sessions (or two clones) may build the same environment at once: serialize them.
    with open(venv.parent / f".{venv.name}.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        # An environment whose interpreter is gone (made from a clone's .tools that was
        # deleted since) is built again, not reused.
        if stamp.exists() and not (venv / "bin" / "python").exists():
            session.log(f"the locked environment {venv} lost its interpreter: rebuilding it")
            shutil.rmtree(venv)
        if not stamp.exists():
            session.log(f"building the locked environment {venv} (first run: a few minutes)")
            # The base interpreter, not this checkout's .tools venv: the cached environment
            # outlives the clone that built it. --seed installs pip: TFX installs the
            # user-module wheel with `python -m pip`.
            base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
            session.run(_uv(), "venv", "--seed", "--allow-existing", "--python", base,
                        str(venv), external=True)  # fmt: skip
            session.run(_uv(), "pip", "sync", "--python", str(venv / "bin" / "python"),
                        str(LOCK), external=True)  # fmt: skip
            stamp.write_text(digest + "\n")
    env = {
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        # TFRS needs the Keras 2 API that tf-keras provides.
        "TF_USE_LEGACY_KERAS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONWARNINGS": "ignore::FutureWarning,ignore::DeprecationWarning",
    }
    return env


def python(session: nox.Session, *args: str, env: dict[str, str]) -> None:
    session.run(str(Path(env["VIRTUAL_ENV"]) / "bin" / "python"), *args, env=env, external=True)


def module(session: nox.Session, name: str, *args: str) -> None:
    """`python -m <name> <args> <the session's posargs>` in the locked environment."""
    python(session, "-m", name, *args, *session.posargs, env=stack(session))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check over the whole repository."""
    env = stack(session)
    python(session, "-m", "ruff", "check", ".", env=env)
    python(session, "-m", "ruff", "format", "--check", ".", env=env)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite (unit, infra mocks, codegen, pipelines, serving). Pass pytest args
    after `--`, e.g. `nox -s tests -- -m "not e2e"`."""
    env = stack(session)
    python(session, "-m", "pytest", *(session.posargs or ["-q"]), env=env)


@nox.session
def demo(session: nox.Session) -> None:
    """The local demo: data, codegen, quick-test pipeline, metrics, a served model, an infra plan."""
    module(session, "demo")


@nox.session
def pipelines(session: nox.Session) -> None:
    """The pipelines CLI, e.g. `nox -s pipelines -- run quicktest --configs DIR --warehouse W`
    or `nox -s pipelines -- warehouse import FILES --warehouse W` (`make run`, `make import`)."""
    module(session, "pipelines")


@nox.session
def plan(session: nox.Session) -> None:
    """Offline infra plan of one tenant: `nox -s plan -- --tenant acme-small [--format json]`."""
    module(session, "infra.plan")


@nox.session
def compile(session: nox.Session) -> None:
    """Compile every pipeline template to KFP v2 IR JSON under build/pipelines/."""
    module(session, "pipelines", "compile", "--all", "--out", "build/pipelines")


@nox.session
def publish(session: nox.Session) -> None:
    """Publish every template version to the platform's KFP repository (`make publish`;
    `make publish DRY_RUN=1`, i.e. `nox -s publish -- --dry-run`, prints the plan only)."""
    module(session, "pipelines.publish")


@nox.session
def images(session: nox.Session) -> None:
    """Build (and with `-- --push`, push) every platform image (`make images [DRY_RUN=1]`)."""
    module(session, "pipelines.images")


@nox.session
def catalogue(session: nox.Session) -> None:
    """Regenerate pipelines/catalogue.json from the registry (compiles every template)."""
    module(session, "pipelines.catalogue")


@nox.session
def lock(session: nox.Session) -> None:
    """Re-resolve requirements.in into requirements.lock (Python 3.10, manylinux x86_64)."""
    session.run(_uv(), "pip", "compile", "requirements.in", "-o", "requirements.lock",
                "--python-version", "3.10", "--python-platform", "x86_64-manylinux_2_28",
                external=True)  # fmt: skip
