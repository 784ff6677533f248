"""SOQL lexer: tokens, string-literal escapes, MALFORMED_QUERY messages with a caret."""

from __future__ import annotations

import re

from attrs import define

from sfsync_emulator.errors import ApiError

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2}(?![\dT]))
    |(?P<number>-?\d+(?:\.\d+)?(?![\w-]))
    |(?P<string>'(?:[^'\\]|\\.)*')
    |(?P<op><=|>=|!=|<>|=|<|>)
    |(?P<punct>[(),])
    |(?P<ident>[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)""",
    re.X | re.S,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


@define
class Token:
    kind: str
    text: str
    pos: int


def malformed(text: str, pos: int, detail: str) -> ApiError:
    row = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    line = text.split("\n")[row - 1]
    msg = f"\n{line}\n{' ' * (col - 1)}^\nERROR at Row:{row}:Column:{col}\n{detail}"
    return ApiError(400, "MALFORMED_QUERY", msg)


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise malformed(text, pos, f"unexpected token: {text[pos : pos + 10].split()[0]}")
        if m.lastgroup != "ws":
            tokens.append(Token(m.lastgroup or "", m.group(), pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def unescape(raw: str, like: bool, text: str, pos: int) -> str:
    """Decode a quoted literal's backslash escapes; in LIKE keep \\_ and \\% escaped."""
    out, k = [], 0
    while k < len(raw):
        ch = raw[k]
        if ch != "\\":
            out.append(ch)
            k += 1
            continue
        nxt = raw[k + 1]
        if nxt.lower() in _ESCAPES:
            out.append(_ESCAPES[nxt.lower()] if nxt not in "\"'\\" else nxt)
        elif nxt in "uU" and re.fullmatch(r"[0-9a-fA-F]{4}", raw[k + 2 : k + 6]):
            out.append(chr(int(raw[k + 2 : k + 6], 16)))
            k += 4
        elif like and nxt in "_%":
            out.append("\\" + nxt)
        else:
            raise malformed(
                text,
                pos,
                f"Invalid string literal '{raw}'. Illegal character "
                f"sequence '\\{nxt}' in string literal.",
            )
        k += 2
    return "".join(out)
