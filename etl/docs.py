"""docs/etl.md's type mapping table, rendered from `etl.types.RULES`.

    python -m etl.docs [--check]

The page is written by hand except the part between the `type-mapping` markers, which is this
table; `--check` exits 1 when it differs from RULES (a test runs it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from etl.types import RULES, _decimal

PAGE = Path(__file__).resolve().parents[1] / "docs" / "etl.md"
START, END = "<!-- type-mapping:start -->", "<!-- type-mapping:end -->"


def table() -> str:
    """One row per rule, in the order they are tried (the first match wins)."""
    lines = ["| source | declared type (regex, lower case) | read as | Arrow / Parquet | BigQuery | note |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for rule in RULES:
        if rule.arrow is _decimal:
            arrow, bigquery = "decimal128(p, s)", "NUMERIC, or BIGNUMERIC if s > 9 or p - s > 29"
        else:
            arrow, bigquery = str(rule.arrow(None)), rule.bigquery(None)
        source = "PostgreSQL" if rule.dialect == "postgresql" else "MariaDB/MySQL"
        cells = [source, _code(rule.pattern), _code(rule.read), arrow, bigquery, rule.note]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _code(text: str) -> str:
    return f"`{text}`"


def render(page: str) -> str:
    head, rest = page.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table()}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    from specs.rendered import write_or_check

    parser = argparse.ArgumentParser(prog="python -m etl.docs", description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = render(PAGE.read_text())
    return write_or_check(PAGE, text, check=args.check, command="python -m etl.docs")


if __name__ == "__main__":
    raise SystemExit(main())
