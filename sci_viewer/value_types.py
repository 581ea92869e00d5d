"""Checking untyped values (from ``--set``, YAML files, the settings form) against declared types.

One check for algorithm settings and training configs, so both refuse 'abc' for a number, NaN,
a non-boolean switch or a scalar for a list with a message naming the setting.
"""

from __future__ import annotations

import math
import re
import types
import typing
from typing import Any

from sci_viewer.errors import JobError

_KINDS = {bool: "true or false", int: "a whole number", float: "a finite number", str: "text"}
_LIST_KINDS = {int: "a list of whole numbers", float: "a list of numbers", str: "a list of text values"}
# YAML 1.1 (PyYAML) reads a number in exponent form without a decimal point (1e-4, 5E+3) as text
_EXPONENT_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; any other type -> ``(type, False)``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def check_range(label: str, name: str, meta: Any, value: Any) -> None:
    """Refuse a number outside a field's ``min`` / ``max`` (inclusive) or ``above`` (exclusive) metadata."""
    meta = meta or {}
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if "min" in meta and value < meta["min"]:
        raise JobError(f"{label} {name} must be {meta['min']} or more, got {value}.")
    if "max" in meta and value > meta["max"]:
        raise JobError(f"{label} {name} must be {meta['max']} or less, got {value}.")
    if "above" in meta and not value > meta["above"]:
        raise JobError(f"{label} {name} must be more than {meta['above']}, got {value}.")


def checked_value(label: str, name: str, hint: Any, value: Any) -> Any:
    """``value`` if it fits the declared type ``hint`` (an int where a float is declared becomes a
    float, and so does text such as '5e-5', which YAML 1.1 does not read as a number; a ``list[X]``
    is checked item by item); otherwise a JobError naming the setting."""
    tp, optional = unwrap_optional(hint)
    if value is None and optional:
        return None
    if typing.get_origin(tp) is list:
        (item,) = typing.get_args(tp) or (Any,)
        try:
            if not isinstance(value, list):
                raise JobError("not a list")
            return [checked_value(label, name, item, v) for v in value]
        except JobError:
            raise JobError(f"{label} setting {name} must be {_LIST_KINDS.get(item, 'a list')}, got {value!r}.") from None
    if typing.get_origin(tp) is typing.Literal:  # one of a fixed set (True == 1 does not count as 1)
        choices = typing.get_args(tp)
        if isinstance(value, bool) or value not in choices:
            raise JobError(f"{label} setting {name} must be one of {', '.join(map(str, choices))}, got {value!r}.")
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if tp is float and isinstance(value, str) and _EXPONENT_NUMBER.fullmatch(value.strip()):
        value = float(value)  # '--set tol=5e-5' or 'lr: 1e-4' in a YAML file
    fits = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, float) and math.isfinite(value),
        str: isinstance(value, str),
    }.get(tp, True)
    if not fits:
        raise JobError(f"{label} setting {name} must be {_KINDS[tp]}, got {value!r}.")
    return value
