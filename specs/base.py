"""Shared pieces of the specs: the strict base model, identifier types and error reporting."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, WithJsonSchema

# BigQuery column and table names: letters, digits and underscores, not starting with a digit.
# Anything else (quotes, spaces, dots, parentheses) is rejected, so an identifier can be emitted
# into SQL and Python without any chance of injection.
_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,127}"
IDENTIFIER = re.compile(_NAME)


def _check_identifier(value: str) -> str:
    if not IDENTIFIER.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid identifier: use letters, digits and underscores, "
            "starting with a letter or underscore (at most 128 characters)"
        )
    return value


def _check_qualified(value: str) -> str:
    parts = value.split(".")
    if len(parts) != 2:
        raise ValueError(f"{value!r} must be written as <table>.<column>")
    for part in parts:
        _check_identifier(part)
    return value


# The JSON Schema states the same rule as the validators, for editors and the config reference.
Identifier = Annotated[
    str,
    AfterValidator(_check_identifier),
    WithJsonSchema({"type": "string", "pattern": f"^{_NAME}$"}),
]
"""A table or column name that is safe to emit as code or SQL."""

QualifiedColumn = Annotated[
    str,
    AfterValidator(_check_qualified),
    WithJsonSchema({"type": "string", "pattern": rf"^{_NAME}\.{_NAME}$"}),
]
"""A column of a source table, written `<table>.<column>`."""


# A column's name in the client's table, which need not be an identifier (`Sci-Fi`, `Children's`,
# `Unit Price`). It reaches SQL only as a quoted identifier that sqlglot escapes, and nothing
# downstream of the query sees it (the column's identifier alias is used there). Refused: control
# characters (no warehouse allows them; a newline could end a comment), and `.` and backquotes,
# which BigQuery reads inside a quoted name as a path separator and a quote.
_SOURCE_NAME = r"[^\x00-\x1f\x7f.`]{1,300}"
SOURCE_NAME = re.compile(_SOURCE_NAME)


def _check_source_name(value: str) -> str:
    if not SOURCE_NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a usable column name: 1 to 300 characters, no control "
            "characters, no '.' or '`'"
        )
    return value


SourceName = Annotated[
    str,
    AfterValidator(_check_source_name),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 300,
                    "pattern": f"^{_SOURCE_NAME}$"}),
]  # fmt: skip
"""A column's name as the source table spells it, any text without control characters."""


class Spec(BaseModel):
    """Base of every spec: unknown keys are errors (a typo must not pass silently), values are
    immutable once validated, and NaN or Infinity (which Python's JSON reader accepts) are
    refused where they arrive, with the field's path."""

    # Attribute docstrings become the fields' descriptions in the JSON Schema (specs.reference).
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_default=True,
        allow_inf_nan=False,
        use_attribute_docstrings=True,
    )


class SpecError(ValueError):
    """A config failed validation. `str()` lists each problem as `<file>: <field path>: <why>`."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = [f"{source}: {field}: {message}" for field, message in problems]
        super().__init__("invalid config\n  " + "\n  ".join(lines))


def field_path(loc: tuple) -> str:
    """`('query_tower', 'features', 0, 'column')` → `query_tower.features[0].column`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<root>"


# Discriminated unions put the member's tag into an error's location, right after the list index:
# ('features', 0, 'string', 'column'). It is noise for the reader, so it is dropped.
_UNION_TAGS = {
    "string", "string_list", "numeric", "timestamp", "history",
    "dense", "dropout", "batch_norm", "layer_norm",
    "date_window", "top_products", "top_customers", "min_transactions", "category", "not_null",
}  # fmt: skip


def _without_union_tags(loc: tuple) -> tuple:
    kept: list = []
    for part in loc:
        if part in _UNION_TAGS and kept and isinstance(kept[-1], int):
            continue
        kept.append(part)
    return tuple(kept)


# A cross-field check of a whole model says which field is at fault as "field: why".
# The field may be a path into the model: "columns[3].table: why".
_NAMED_FIELD = re.compile(
    r"([A-Za-z_][A-Za-z0-9_]*(?:\[\d+\]|\.[A-Za-z_][A-Za-z0-9_]*)*): (.+)", flags=re.S
)


def spec_error(source: str, error: ValidationError) -> SpecError:
    problems = []
    for item in error.errors():
        loc = _without_union_tags(tuple(item["loc"]))
        message = item["msg"].removeprefix("Value error, ")
        named = _NAMED_FIELD.fullmatch(message)
        if not loc and named:
            loc, message = (named.group(1),), named.group(2)
        elif named and "[" in named.group(1):  # a path below the model that raised
            loc, message = (*loc, named.group(1)), named.group(2)
        problems.append((field_path(loc), message))
    return SpecError(source, problems)


SpecT = TypeVar("SpecT", bound=BaseModel)


MAX_CONFIG_BYTES = 1024 * 1024
"""A config file larger than this is refused unread (`/dev/zero` would never end)."""


def _read_config(path: Path) -> str:
    """The text of a config file, or SpecError naming what is wrong with the file itself."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise SpecError(str(path), [("<file>", "no such file")]) from None
    except IsADirectoryError:
        raise SpecError(str(path), [("<file>", "is a directory, not a JSON file")]) from None
    except OSError as exc:
        raise SpecError(str(path), [("<file>", f"cannot be read: {exc.strerror or exc}")]) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise SpecError(str(path), [("<file>", f"is larger than {MAX_CONFIG_BYTES} bytes")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(str(path), [("<file>", f"is not UTF-8 text: {exc}")]) from None


def load_spec(cls: type[SpecT], source: str | Path | dict, *, name: str | None = None) -> SpecT:
    """Validate a spec from a JSON file, a JSON string or a dict; raise SpecError naming fields.

    Whatever the file holds, the answer is a SpecError, never a traceback: a missing, unreadable,
    oversized or non-UTF-8 file, invalid JSON, an integer too long to parse, nesting too deep."""
    label = name or (str(source) if isinstance(source, Path) else cls.__name__)
    text = _read_config(source) if isinstance(source, Path) else source
    try:
        data = json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError as exc:
        raise SpecError(label, [("<json>", f"not valid JSON: {exc}")]) from exc
    except ValueError as exc:  # e.g. an integer literal over Python's 4300-digit limit
        raise SpecError(label, [("<json>", f"not usable JSON: {exc}")]) from None
    except RecursionError:
        raise SpecError(label, [("<json>", "nested too deeply")]) from None
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise spec_error(label, exc) from exc
    except RecursionError:
        raise SpecError(label, [("<root>", "nested too deeply")]) from None
