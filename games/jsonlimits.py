"""A bound on the nesting depth of JSON text, checked before anything parses it.

msgspec (like most parsers) recurses once per nested array or object, also
while it skips a value it will refuse: a small frame nested a thousand deep
raises RecursionError instead of a validation error. `too_deep` answers
without parsing and without recursion, so callers refuse such text first.
"""

from __future__ import annotations

import re

# A JSON string, skipped whole (brackets inside strings do not nest), then an
# opening bracket (group 1) or a closing one (group 2). Possessive quantifiers and
# an optional closing quote keep the scan linear: an unterminated string runs to
# the end, and nothing after it matters, since a parser fails there first.
_STRING = r'"[^"\\]*+(?:\\.[^"\\]*+)*+"?'
_TOKENS = re.compile(_STRING + r"|([\[{])|([\]}])", re.DOTALL)
_BYTE_TOKENS = re.compile(_STRING.encode() + rb"|([\[{])|([\]}])", re.DOTALL)


def too_deep(text: str | bytes, limit: int) -> bool:
    """True if `text` nests arrays and objects more than `limit` levels deep.

    Most text has fewer brackets than the limit in all, which settles it with two
    C-speed counts; only text with more is scanned token by token. Text that is
    not valid JSON may be over-counted; it fails to parse anyway.
    """
    if isinstance(text, bytes):
        if text.count(b"[") + text.count(b"{") <= limit:
            return False
        return _deeper_than(_BYTE_TOKENS, text, limit)
    if text.count("[") + text.count("{") <= limit:
        return False
    return _deeper_than(_TOKENS, text, limit)


def _deeper_than(
    tokens: re.Pattern[str] | re.Pattern[bytes], text: str | bytes, limit: int
) -> bool:
    depth = 0
    for token in tokens.finditer(text):  # type: ignore[arg-type]
        if token.group(1):
            depth += 1
            if depth > limit:
                return True
        elif token.group(2):
            depth = max(0, depth - 1)
    return False
