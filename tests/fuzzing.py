"""Mutation fuzzing of JSON-like configs with hypothesis.

A generated config is a valid example with one to three mutations: a value replaced (by a hostile
value, or by another value of the same document, which keeps many mutants valid), a key deleted,
an unknown key added, a list item duplicated. Each test derandomizes hypothesis, so the suite
stays deterministic, and reports how many examples it ran and how long they took.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

HOSTILE: tuple[Any, ...] = (
    "", " ", "x" * 300, "a'b", 'a"b', "a`b", "a;b--", "Sci-Fi", "é", "\x00", "\n", "{{x}}",
    "../../x", "Europe", "localtime", "LATEST", "gs://other/x", "0 2 * * 0", "1.0.0",
    "roles/owner", "allUsers", "google-shop",
    0, -1, 1, 7, 2**31, 2**63, 2**64, 10**30, 0.5, -0.0, 1e308,
    float("nan"), float("inf"), True, False, None,
    [], {}, ["a"], {"a": 1}, [[[[[[[[1]]]]]]]],
)  # fmt: skip

Path = tuple[Any, ...]

REPORT: list[str] = []
"""Lines printed at the end of the test run (see `pytest_terminal_summary` in conftest)."""


def paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every path into a document (the root excluded), parents before children."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        yield (*prefix, key)
        yield from paths(item, (*prefix, key))


def leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


def _parent(doc: Any, path: Path) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


@st.composite
def mutants(draw: st.DrawFn, examples: list[Any]) -> Any:
    """A deep copy of one of `examples` with one to three mutations."""
    doc = copy.deepcopy(draw(st.sampled_from(examples)))
    for _ in range(draw(st.integers(1, 3))):
        every = list(paths(doc))
        if not every:
            break
        path = draw(st.sampled_from(every))
        parent = _parent(doc, path)
        kind = draw(st.sampled_from(("replace", "replace", "swap", "delete", "add", "dup")))
        if kind == "replace":
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(HOSTILE)))
        elif kind == "swap":
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(leaves(doc))))
        elif kind == "delete":
            del parent[path[-1]]
        elif kind == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(("unknown", "extra_field", path[-1] + "_")))] = 1
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
    return doc


def fuzz_settings(examples: int) -> settings:
    """Deterministic (derandomized, no example database), no per-example deadline."""
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@dataclass
class Tally:
    """What a fuzz test saw: examples accepted and refused, and the time they took."""

    name: str
    accepted: int = 0
    refused: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def total(self) -> int:
        return self.accepted + self.refused

    def report(self) -> str:
        """The tally's line, also kept for the end of the test run."""
        seconds = time.perf_counter() - self.started
        line = (
            f"{self.name}: {self.total} examples ({self.accepted} accepted, {self.refused} "
            f"refused with a field message, no traceback) in {seconds:.1f} s"
        )
        REPORT.append(line)
        return line
