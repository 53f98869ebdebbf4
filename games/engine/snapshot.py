"""Turn any game state (nested dataclasses) into JSON-ready data and back.

Checkpoints of live matches use this, so a match can continue in another
process after the one running it died. Supported field types: dataclasses,
lists, tuples, sets, dicts with str or int keys, int, float, str, bool, None,
unions with None, and random.Random (its full generator state).
"""

from __future__ import annotations

import dataclasses
import random
import types
import typing
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")


def dump(value: Any) -> Any:
    """JSON-ready data for a state; `load(type(state), dump(state))` gives it back.

    msgspec walks it in C (an 8-player arena's checkpoint: 226 us walked in
    Python, 30 us so; bench/hot_paths.py), sets sorted and keys made strings as
    before; only the random generator needs a hand. Tuples stay tuples (JSON arrays).
    """
    return msgspec.to_builtins(
        value, enc_hook=_generator_state, str_keys=True, order="deterministic"
    )


def _generator_state(value: Any) -> Any:
    if isinstance(value, random.Random):
        version, internal, gauss = value.getstate()
        return [version, list(internal), gauss]
    raise TypeError(f"A game state cannot hold {type(value).__name__} values.")


def load(kind: type[T], data: Any) -> T:
    """Rebuild a value of type `kind` from `dump`'s output."""
    return typing.cast(T, _load(kind, data))


def _load(kind: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        return _load(options[0], data)
    if kind is random.Random:
        rng = random.Random()
        version, internal, gauss = data
        rng.setstate((version, tuple(internal), gauss))
        return rng
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        values = {f.name: _load(hints[f.name], data[f.name]) for f in dataclasses.fields(kind)}
        return typing.cast(Any, kind)(**values)
    if origin is list:
        (item,) = typing.get_args(kind)
        return [_load(item, x) for x in data]
    if origin is set:
        (item,) = typing.get_args(kind)
        return {_load(item, x) for x in data}
    if origin is tuple:
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_load(args[0], x) for x in data)
        return tuple(_load(a, x) for a, x in zip(args, data, strict=True))
    if origin is dict:
        key_type, item = typing.get_args(kind)
        return {key_type(k): _load(item, v) for k, v in data.items()}
    return data
