"""SOQL subset parser: SELECT … FROM … [WHERE …] [ORDER BY …] [LIMIT n] [OFFSET n]."""

from __future__ import annotations

from typing import Any

from attrs import define, field

from sfsync_emulator.errors import ApiError
from sfsync_emulator.soql_lex import Token, malformed, tokenize, unescape
from sfsync_emulator.values import parse_datetime, valid_date

KEYWORDS = {
    "select",
    "from",
    "where",
    "and",
    "or",
    "not",
    "in",
    "like",
    "order",
    "by",
    "asc",
    "desc",
    "nulls",
    "first",
    "last",
    "limit",
    "offset",
    "includes",
    "excludes",
    "true",
    "false",
    "null",
}


@define
class Literal:
    kind: str  # string, like, number, bool, null, date, datetime
    value: Any


@define
class Query:
    text: str
    fields: list[tuple[str, int]] = field(factory=list)  # (name as written, position)
    count: bool = False
    fields_fn: str | None = None  # FIELDS(ALL|STANDARD|CUSTOM)
    sobject: tuple[str, int] = ("", 0)
    where: Any = None  # nested tuples, see _Parser.comparison
    order: list[tuple[str, bool, bool | None]] = field(factory=list)  # name, desc, nulls_first
    limit: int | None = None
    offset: int = 0


def parse(text: str) -> Query:
    if len(text) > 100_000:
        raise ApiError(400, "MALFORMED_QUERY", "Query exceeds the maximum length of 100000")
    return _Parser(text).query()


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.k = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.k]

    def is_kw(self, *words: str) -> bool:
        return self.tok.kind == "ident" and self.tok.text.lower() in words

    def fail(self, detail: str | None = None) -> ApiError:
        tok = self.tok
        return malformed(self.text, tok.pos, detail or f"unexpected token: {tok.text or '<EOF>'}")

    def take(self) -> Token:
        tok = self.tok
        self.k += 1
        return tok

    def expect_kw(self, word: str) -> None:
        if not self.is_kw(word):
            raise self.fail()
        self.k += 1

    def expect(self, text: str) -> None:
        if self.tok.text != text:
            raise self.fail()
        self.k += 1

    def name(self) -> tuple[str, int]:
        tok = self.tok
        if tok.kind != "ident" or tok.text.lower() in KEYWORDS:
            raise self.fail()
        self.k += 1
        return tok.text, tok.pos

    def query(self) -> Query:
        q = Query(self.text)
        self.expect_kw("select")
        self.select_list(q)
        self.expect_kw("from")
        q.sobject = self.name()
        if self.is_kw("where"):
            self.k += 1
            q.where = self.disjunction()
        if self.is_kw("order"):
            self.k += 1
            self.expect_kw("by")
            q.order.append(self.order_item())
            while self.tok.text == ",":
                self.k += 1
                q.order.append(self.order_item())
        if self.is_kw("limit"):
            self.k += 1
            q.limit = self.integer()
        if self.is_kw("offset"):
            self.k += 1
            q.offset = self.integer()
        if self.tok.kind != "end":
            raise self.fail()
        return q

    def integer(self) -> int:
        if self.tok.kind != "number" or not self.tok.text.isdigit():
            raise self.fail()
        return int(self.take().text)

    def select_list(self, q: Query) -> None:
        if self.is_kw("count") and self.tokens[self.k + 1].text == "(":
            self.k += 2
            self.expect(")")
            q.count = True
            return
        while True:
            if self.is_kw("fields") and self.tokens[self.k + 1].text == "(":
                self.k += 2
                kind = self.name()[0].upper()
                if kind not in ("ALL", "STANDARD", "CUSTOM"):
                    raise self.fail()
                self.expect(")")
                q.fields_fn = kind
            else:
                q.fields.append(self.name())
            if self.tok.text != ",":
                return
            self.k += 1

    def order_item(self) -> tuple[str, bool, bool | None]:
        name = self.name()[0]
        desc, nulls_first = False, None
        if self.is_kw("asc", "desc"):
            desc = self.take().text.lower() == "desc"
        if self.is_kw("nulls"):
            self.k += 1
            if not self.is_kw("first", "last"):
                raise self.fail()
            nulls_first = self.take().text.lower() == "first"
        return name, desc, nulls_first

    def disjunction(self) -> Any:
        items = [self.conjunction()]
        while self.is_kw("or"):
            self.k += 1
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else ("or", items)

    def conjunction(self) -> Any:
        items = [self.negation()]
        while self.is_kw("and"):
            self.k += 1
            items.append(self.negation())
        return items[0] if len(items) == 1 else ("and", items)

    def negation(self) -> Any:
        if self.is_kw("not"):
            self.k += 1
            return ("not", self.negation())
        if self.tok.text == "(":
            self.k += 1
            inner = self.disjunction()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Any:
        name, pos = self.name()
        if self.tok.kind == "op":
            op = self.take().text
            return ("cmp", name, pos, "!=" if op == "<>" else op, self.literal())
        negate = self.is_kw("not")
        if negate:
            self.k += 1
        if self.is_kw("in", "includes", "excludes"):
            kind = self.take().text.lower()
            if negate and kind != "in":
                raise self.fail()
            self.expect("(")
            values = [self.literal()]
            while self.tok.text == ",":
                self.k += 1
                values.append(self.literal())
            self.expect(")")
            return (kind, name, pos, negate, values)
        if self.is_kw("like") and not negate:
            self.k += 1
            return ("like", name, pos, self.literal(like=True))
        raise self.fail()

    def literal(self, like: bool = False) -> Literal:
        tok = self.take()
        if tok.kind == "string":
            return Literal(
                "like" if like else "string", unescape(tok.text[1:-1], like, self.text, tok.pos)
            )
        if tok.kind == "number":
            return Literal("number", float(tok.text))
        if tok.kind == "date" and valid_date(tok.text):
            return Literal("date", tok.text)
        if tok.kind == "datetime":
            ms = parse_datetime(tok.text)
            if ms is not None:
                return Literal("datetime", ms)
        if tok.kind == "ident" and tok.text.lower() in ("true", "false"):
            return Literal("bool", tok.text.lower() == "true")
        if tok.kind == "ident" and tok.text.lower() == "null":
            return Literal("null", None)
        self.k -= 1
        raise self.fail()
