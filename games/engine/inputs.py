"""Game inputs: each game declares the schema of one input, and only what fits it is played.

A schema is a msgspec.Struct with `forbid_unknown_fields=True` whose every
value is bounded: integers and floats with both bounds (which also keeps
NaN and infinities out), strings, lists and dicts with a `max_length`. What
passes can be applied, logged, checkpointed and replayed without surprises:
no huge number, no unknown field, no unbounded size. `check_schema` refuses a
schema that would let anything else through when the game's class is defined.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import msgspec.inspect as mi

_PATH = re.compile(r"at `\$\.([^`]+)`")
_NAMED = re.compile(r"field `([^`]+)`")


class InvalidSchema(TypeError):
    """A game's input schema lets unbounded or unknown values through."""


def check_schema(owner: str, schema: type[msgspec.Struct]) -> None:
    """Raise InvalidSchema unless every field of `schema` is bounded and unknown ones refused.

    (msgspec itself refuses integer bounds beyond 64 bits, which msgpack could not encode.)
    """
    try:
        info = mi.type_info(schema)
    except (TypeError, ValueError) as exc:
        raise InvalidSchema(f"{owner}.Input: {exc}") from exc
    _check(owner, "", info)


def _check(owner: str, where: str, kind: mi.Type) -> None:
    problem = _problem(owner, where, kind)
    if problem:
        raise InvalidSchema(f"{owner}.Input{where or ''}: {problem}")


def _problem(owner: str, where: str, kind: mi.Type) -> str:
    if isinstance(kind, mi.StructType):
        if not kind.forbid_unknown_fields:
            return "declare it with forbid_unknown_fields=True"
        for field in kind.fields:
            _check(owner, f"{where}.{field.name}", field.type)
    elif isinstance(kind, mi.UnionType):
        for option in kind.types:
            _check(owner, where, option)
    elif isinstance(kind, mi.IntType | mi.FloatType):
        low, high = _first(kind.ge, kind.gt), _first(kind.le, kind.lt)
        if low is None or high is None:
            return "numbers need both bounds (msgspec.Meta ge/le)"
    elif isinstance(kind, mi.StrType | mi.ListType | mi.SetType | mi.FrozenSetType):
        if kind.max_length is None:
            return "strings and lists need a max_length"
        if not isinstance(kind, mi.StrType):
            _check(owner, f"{where}[]", kind.item_type)
    elif isinstance(kind, mi.DictType):
        if kind.max_length is None:
            return "dicts need a max_length"
        _check(owner, f"{where}{{key}}", kind.key_type)
        _check(owner, f"{where}{{}}", kind.value_type)
    elif not isinstance(kind, mi.BoolType | mi.NoneType | mi.LiteralType | mi.EnumType):
        return f"{type(kind).__name__} is not allowed in inputs"
    return ""


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def field_of(error: msgspec.ValidationError) -> tuple[str, str]:
    """The field a msgspec validation error is about ("data": the input as a whole), and why."""
    text = str(error)
    found = _PATH.search(text) or _NAMED.search(text)
    return (found.group(1) if found else "data"), text.split(" - at ")[0]
