"""Source column names → warehouse identifiers, with collisions resolved deterministically.

A client's column may be called `Unit Price`, `Ünïcode`, `2nd`, `a"; DROP TABLE x; --` or `_TABLE_x`;
the warehouse wants `[A-Za-z_][A-Za-z0-9_]*`, at most 128 characters, unique regardless of case
(BigQuery compares column names case-insensitively) and free of BigQuery's reserved prefixes.

The rule: accents are dropped (NFKD), every run of other characters becomes one `_`, a leading
digit gets a `_` in front, a name of underscores only is `column`, reserved prefixes get `c` in front. Names
that are already valid identifiers are placed first and keep their spelling; the rest follow in
code-point order of their source name, and a name already taken gets the smallest free suffix
`_2`, `_3`, ... So the mapping depends only on the set of source names, never on their order.
"""

from __future__ import annotations

import re
import unicodedata

from specs.base import IDENTIFIER

MAX_LENGTH = 128
# BigQuery refuses column names starting with these (case-insensitive).
_RESERVED_PREFIXES = ("_table_", "_file_", "_partition", "_row_timestamp", "__root__",
                      "_colidentifier")  # fmt: skip
_OTHER = re.compile(r"[^A-Za-z0-9_]+")


def sanitize(name: str) -> str:
    """One source name as an identifier (before collision resolution)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    out = _OTHER.sub("_", ascii_name)
    if not out.strip("_"):
        out = "column"
    if out[0].isdigit():
        out = "_" + out
    if out.lower().startswith(_RESERVED_PREFIXES):
        out = "c" + out
    return out[:MAX_LENGTH]


def _usable_as_is(name: str) -> bool:
    return bool(IDENTIFIER.fullmatch(name)) and sanitize(name) == name


def column_names(source_names: list[str]) -> dict[str, str]:
    """{source name: unique warehouse identifier} for a table's columns."""
    if len(set(source_names)) != len(source_names):
        raise ValueError("the source has two columns of the same name")
    order = sorted(source_names, key=lambda n: (not _usable_as_is(n), n))
    taken: set[str] = set()
    out: dict[str, str] = {}
    for name in order:
        base = sanitize(name)
        candidate, n = base, 1
        while candidate.lower() in taken:
            n += 1
            suffix = f"_{n}"
            candidate = base[: MAX_LENGTH - len(suffix)] + suffix
        taken.add(candidate.lower())
        out[name] = candidate
    return {name: out[name] for name in source_names}


def table_name(source_table: str) -> str:
    """A destination table name for a source table (the default of a job's destination)."""
    return sanitize(source_table)
