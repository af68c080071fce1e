"""Errors meant to be read by a person, not a developer.

Every problem with a user's data or parameters is raised as a :class:`HelperError`
subclass whose message says what is wrong and where: the file, the column, the row
numbers (as a spreadsheet shows them: the header is row 1, the first data row is
row 2) and the offending values. The command line prints these messages without a
traceback; notebooks show them as the last output of the failing cell.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

#: How many offending rows and values a message lists before it says "and N more".
MAX_LISTED = 5


class HelperError(Exception):
    """Base class for errors whose message is written for the user."""


class ConfigError(HelperError):
    """A parameter, column map or config file is wrong."""


class DataError(HelperError):
    """An input file cannot be used as it is.

    Parameters
    ----------
    problem:
        What is wrong, in plain words ("dates cannot be read").
    file, column:
        Where. Either may be omitted when it does not apply.
    rows:
        Spreadsheet row numbers of offending rows (header = row 1).
    values:
        The offending values, parallel to ``rows``.
    hint:
        What the user can do about it.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        column: str | None = None,
        rows: Sequence[int] | None = None,
        values: Sequence[Any] | None = None,
        hint: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = file
        self.column = column
        self.rows = list(rows) if rows is not None else []
        self.values = list(values) if values is not None else []
        self.hint = hint
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.column:
            where.append(f"column '{self.column}'")
        text = (": ".join(where) + ": " if where else "") + self.problem
        if self.rows:
            text += f" ({len(self.rows)} row{'s' if len(self.rows) != 1 else ''}). " + _list_rows(
                self.rows, self.values
            )
        if self.hint:
            text += f" {self.hint}" if text.endswith(".") else f". {self.hint}"
        return text


def _list_rows(rows: Sequence[int], values: Sequence[Any]) -> str:
    shown = []
    for i, row in enumerate(rows[:MAX_LISTED]):
        if i < len(values):
            shown.append(f"row {row}: {values[i]!r}")
        else:
            shown.append(f"row {row}")
    more = len(rows) - MAX_LISTED
    tail = f", and {more} more" if more > 0 else ""
    return "First offending " + "; ".join(shown) + tail + "."


# ------------------------------------------------------------------ config files
#
# Every YAML config (playbooks.yaml, the segment map, the action library, loyalty designs,
# the generator config) is a pydantic model deriving from :class:`ConfigModel`, read with
# :func:`validate_config`, so a bad value is one :class:`ConfigError` line naming the file,
# the key path (``studies[2].parameters.gross_margin``) and the value.

#: pydantic's wording for the common type errors, said the way the rest of the messages say it.
_TYPE_WORDS = {
    "missing": "is missing",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "int_parsing": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "finite_number": "expected a finite number",
    "string_type": "expected text",
    "dict_type": "expected a mapping of keys to values",
    "list_type": "expected a list",
    "model_type": "expected a mapping of keys to values",
    "model_attributes_type": "expected a mapping of keys to values",
    "extra_forbidden": "unknown key",
    "too_short": "expected at least one entry",
}
#: pydantic's bound errors: the context key of the bound and how a message says it.
_BOUNDS = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", ">="), "less_than": ("lt", "<"),
           "less_than_equal": ("le", "<=")}
_SHOWN_VALUE = 80  # characters of a value's repr a message shows


class ConfigModel(BaseModel):
    """Base of the config models: strict types (no text read as a number), unknown keys are
    errors that list the allowed keys, frozen after validation."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = [f.alias or name for name, f in cls.model_fields.items()]
            unknown = next((k for k in data if k not in allowed), None)
            if unknown is not None:
                raise located(str(unknown), data[unknown], f"unknown key; allowed keys here: {', '.join(allowed)}")
        return data


class SettingsModel(ConfigModel):
    """A :class:`ConfigModel` built in code with keywords (``GeneratorConfig(seed=3)``, from
    notebook parameters or a JSON file): a bad value is a :class:`ConfigError` naming
    :attr:`source` (e.g. ``generator settings``), the key and the value."""

    source: ClassVar[str] = "settings"

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as err:
            raise config_error(err, self.source, values) from None


#: ``located(..., value=MISSING)``: the key is absent.
MISSING = object()


def located(path: str, value: Any, problem: str) -> PydanticCustomError:
    """An error a validator raises about a key below the one it validates (a check that
    looks at several keys): ``path`` relative to the validated value (``levels[2].qualify_spend``),
    the offending ``value`` (or :data:`MISSING`) and what is wrong."""
    shown = "" if value is MISSING else repr(value)
    return PydanticCustomError("located", "{problem}", {"path": path, "shown": shown, "problem": problem})


def check_kind_keys(data: Mapping[str, Any], keys_by_kind: Mapping[str, Collection[str]], common: Sequence[str],
                    noun: str) -> None:
    """For a config entry whose keys depend on its ``kind`` (a tag, a trigger rule): raise a
    :func:`located` error for a missing or unknown kind, or for the first key that kind does
    not take (``common`` keys are taken by every kind; ``noun`` names the entry in the message)."""
    kind = data.get("kind", MISSING)
    if kind is MISSING or kind not in keys_by_kind:
        raise located("kind", kind, f"use one of {', '.join(keys_by_kind)}")
    allowed = (*common, *keys_by_kind[kind])
    extra = next((k for k in data if k not in allowed), None)
    if extra is not None:
        raise located(str(extra), data[extra], f"unknown key for a {kind} {noun}; allowed keys here: {', '.join(allowed)}")


def key_path(loc: Sequence[Any], raw: Any = None) -> str:
    """``("studies", 2, "parameters", "gross_margin")`` -> ``studies[2].parameters.gross_margin``;
    with the validated ``raw`` data, list entries that have a ``name``, ``key`` or ``id`` (text)
    are named: ``segments[0] (champions).label``, ``tags[12] (dormant).min``."""
    text = ""
    node = raw
    for part in loc:
        if isinstance(part, str) and (part.startswith("function-") or part.endswith("]")):
            continue  # pydantic's own tags for validators and union members
        if isinstance(part, int):
            text += f"[{part}]"
            node = node[part] if isinstance(node, list) and -len(node) <= part < len(node) else None
            label = next((node[k] for k in ("name", "key", "id") if isinstance(node, dict) and isinstance(node.get(k), str)), None)
            if label is not None:
                text += f" ({label})"
        else:
            text += f".{part}" if text else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return text


def config_error(err: ValidationError, file: str, raw: Any = None, prefix: str = "") -> ConfigError:
    """One line for the first problem pydantic found: ``file: key.path = value: what is wrong``.
    ``raw`` (the data validated) lets the path name list entries; ``prefix`` is put before
    the key path (e.g. ``studies[0]`` when validating one entry)."""
    first = err.errors(include_url=False)[0]
    kind = first["type"]
    loc = first["loc"]
    if kind == "located":  # a validator's own key path below the validated value
        parts = re.findall(r"\[(\d+)\]|([^.\[\]]+)", first["ctx"]["path"])
        loc = (*loc, *(int(i) if i else key for i, key in parts))
    path = key_path(loc, raw)
    path = f"{prefix}.{path}" if prefix and path else (prefix or path)
    where = f"{file}: {path}" if path else str(file)
    if kind == "located":
        ctx = first["ctx"]
        if not ctx["shown"]:
            return ConfigError(f"{where} is missing: {ctx['problem']}")
        if len(ctx["shown"]) > _SHOWN_VALUE:
            return ConfigError(f"{where}: {ctx['problem']}")
        return ConfigError(f"{where} = {ctx['shown']}: {ctx['problem']}")
    if kind == "missing":  # every missing key of the same mapping, in one line
        parent = first["loc"][:-1]
        names = [str(e["loc"][-1]) for e in err.errors() if e["type"] == "missing" and e["loc"][:-1] == parent]
        path = key_path(parent, raw)
        path = f"{prefix}.{path}" if prefix and path else (prefix or path)
        where = f"{file}: {path}" if path else str(file)
        return ConfigError(f"{where}: missing field{'s' if len(names) > 1 else ''} {', '.join(names)}")
    if kind in _BOUNDS:
        key, sign = _BOUNDS[kind]
        problem = f"expected a value {sign} {first['ctx'][key]}"
    else:
        problem = _TYPE_WORDS.get(kind) or first["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    value = first.get("input")
    shown = repr(value)
    whole_entry = isinstance(value, dict) and (not first["loc"] or isinstance(first["loc"][-1], int))
    if whole_entry or len(shown) > _SHOWN_VALUE:  # a check of a whole entry: its path says which
        return ConfigError(f"{where}: {problem}")
    return ConfigError(f"{where} = {shown}: {problem}")


def validate_config(model: type[BaseModel], raw: Any, file: str, prefix: str = "") -> Any:
    """``raw`` (as read from YAML) validated into ``model``; a problem is a one-line
    :class:`ConfigError` (:func:`config_error`)."""
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise config_error(err, file, raw, prefix) from None
