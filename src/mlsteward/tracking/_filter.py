"""The run filter language: a tokenizer and a recursive-descent parser producing an AST.

Grammar (keywords are case-insensitive)::

    filter     := or_expr EOF
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := unary ("and" unary)*
    unary      := "not" unary | "(" or_expr ")" | comparison
    comparison := field OP value
                | field ["not"] "in" "(" value ("," value)* ")"
                | field ["not"] ("like" | "ilike") STRING
    field      := PREFIX "." KEY | ATTRIBUTE
    PREFIX     := metrics | params | tags | attributes   (singular forms and "attr" too)
    KEY        := letters, digits, "_ - . / :" ... or a `backquoted key` (spaces allowed)
    ATTRIBUTE  := run_id | name | status | start_time | end_time | parent_id | experiment
                | created_by
    OP         := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    value      := NUMBER | 'string' | "string"      (quotes doubled or backslash-escaped)

``status`` is the stored status; whether a running run is *stale* is not part of the
language (it depends on the clock and a setting): see ``search_runs(..., stale=True)``.
``metrics.KEY`` is the run's latest value of that metric and compares with numbers;
params, tags and text attributes compare with strings; times compare with ISO-8601
strings or epoch milliseconds. The parser only builds an AST; :mod:`._search` turns it
into SQLAlchemy expressions with bound parameters, so no text of a filter ever becomes SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from mlsteward.core import InvalidInput, ensure_utc
from mlsteward.tracking._records import RUN_STATUSES, from_millis

__all__ = [
    "ATTRIBUTES",
    "And",
    "Comparison",
    "Field",
    "Node",
    "Not",
    "Or",
    "OrderBy",
    "parse_filter",
    "parse_order_by",
]

FieldKind = Literal["metric", "param", "tag", "attribute"]
Value = float | str | datetime

_PREFIXES: dict[str, FieldKind] = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
}
TEXT_ATTRIBUTES = ("run_id", "name", "status", "parent_id", "experiment", "created_by")
TIME_ATTRIBUTES = ("start_time", "end_time")
ATTRIBUTES = TEXT_ATTRIBUTES + TIME_ATTRIBUTES
_ATTRIBUTE_ALIASES = {"id": "run_id", "run_name": "name"}
_KEYWORDS = {"and", "or", "not", "in", "like", "ilike"}
COMPARISON_OPS = ("=", "!=", "<", "<=", ">", ">=")
GRAMMAR_HINT = (
    "A filter is FIELD OP VALUE terms joined with and/or, e.g. "
    "\"metrics.roc_auc > 0.8 and params.max_depth = '5'\" (see docs/tracking.md)."
)


@dataclass(frozen=True)
class Field:
    kind: FieldKind
    key: str
    position: int


@dataclass(frozen=True)
class Comparison:
    field: Field
    op: str  # = != < <= > >= in "not in" like "not like" ilike "not ilike"
    values: tuple[Value, ...]
    position: int


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Comparison | And | Or | Not


@dataclass(frozen=True)
class OrderBy:
    field: Field
    descending: bool


@dataclass(frozen=True)
class _Token:
    kind: str  # field word number string op lparen rparen comma end
    text: str
    position: int
    value: object = None


class _FilterError(Exception):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def _error(source: str, what: str, exc: _FilterError) -> InvalidInput:
    caret = " " * exc.position + "^"
    return InvalidInput(
        f"Invalid {what} at position {exc.position + 1}: {exc.message}\n  {source}\n  {caret}\n"
        + (GRAMMAR_HINT if what == "filter" else "Expected e.g. 'metrics.roc_auc DESC'.")
    )


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BARE_KEY = re.compile(r"[A-Za-z0-9_.\-/:]+")
_OPS = ("<=", ">=", "!=", "<>", "==", "=", "<", ">")


def _read_quoted(source: str, start: int, quote: str) -> tuple[str, int]:
    """Read a quoted string starting at ``start`` (the quote); return (text, end)."""
    out: list[str] = []
    i = start + 1
    while i < len(source):
        ch = source[i]
        if ch == "\\" and i + 1 < len(source):
            out.append(source[i + 1])
            i += 2
            continue
        if ch == quote:
            if i + 1 < len(source) and source[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise _FilterError(f"the string opened here with {quote} is never closed", start)


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "'\"":
            text, end = _read_quoted(source, i, ch)
            tokens.append(_Token("string", source[i:end], i, text))
            i = end
            continue
        if ch == "(":
            tokens.append(_Token("lparen", ch, i))
            i += 1
            continue
        if ch == ")":
            tokens.append(_Token("rparen", ch, i))
            i += 1
            continue
        if ch == ",":
            tokens.append(_Token("comma", ch, i))
            i += 1
            continue
        op = next((o for o in _OPS if source.startswith(o, i)), None)
        if op is not None:
            normal = {"==": "=", "<>": "!="}.get(op, op)
            tokens.append(_Token("op", op, i, normal))
            i += len(op)
            continue
        number = _NUMBER.match(source, i)
        if number and (ch.isdigit() or ch in "+-."):
            tokens.append(_Token("number", number.group(), i, float(number.group())))
            i = number.end()
            continue
        word = _WORD.match(source, i)
        if word is None:
            raise _FilterError(f"unexpected character {ch!r}", i)
        name = word.group()
        end = word.end()
        if end < n and source[end] == "." and name.lower() in _PREFIXES:
            key_start = end + 1
            if key_start < n and source[key_start] == "`":
                key, key_end = _read_quoted(source, key_start, "`")
            else:
                bare = _BARE_KEY.match(source, key_start)
                if bare is None:
                    raise _FilterError(f"expected a key after {name}.", key_start)
                key, key_end = bare.group(), bare.end()
            if not key:
                raise _FilterError(f"the key after {name}. is empty", key_start)
            kind = _PREFIXES[name.lower()]
            tokens.append(_Token("field", source[i:key_end], i, (kind, key)))
            i = key_end
            continue
        tokens.append(_Token("word", name, i, name.lower()))
        i = end
    tokens.append(_Token("end", "", n))
    return tokens


def _describe(token: _Token) -> str:
    return "the end of the filter" if token.kind == "end" else repr(token.text)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.index = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def is_word(self, *words: str) -> bool:
        return self.token.kind == "word" and self.token.value in words

    def expect(self, kind: str, what: str) -> _Token:
        if self.token.kind != kind:
            raise _FilterError(f"expected {what}, got {_describe(self.token)}", self.token.position)
        return self.advance()

    # filter := or_expr EOF
    def parse(self) -> Node:
        if self.token.kind == "end":
            raise _FilterError("the filter is empty", 0)
        node = self.or_expr()
        if self.token.kind != "end":
            raise _FilterError(
                f"unexpected {_describe(self.token)}; expected 'and', 'or', ')' or the end "
                "of the filter",
                self.token.position,
            )
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.is_word("or"):
            self.advance()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.unary()]
        while self.is_word("and"):
            self.advance()
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        if self.is_word("not"):
            self.advance()
            return Not(self.unary())
        if self.token.kind == "lparen":
            self.advance()
            node = self.or_expr()
            self.expect("rparen", "')' to close the parenthesis")
            return node
        return self.comparison()

    def field(self) -> Field:
        token = self.token
        if token.kind == "field":
            kind, key = cast(tuple[FieldKind, str], token.value)
            self.advance()
            if kind == "attribute":
                return Field("attribute", _attribute(key, token.position), token.position)
            return Field(kind, key, token.position)
        if token.kind == "word" and str(token.value) not in _KEYWORDS:
            self.advance()
            return Field("attribute", _attribute(str(token.value), token.position), token.position)
        raise _FilterError(
            f"expected a field such as metrics.NAME, params.NAME, tags.NAME or an attribute "
            f"({', '.join(ATTRIBUTES)}), got {_describe(token)}",
            token.position,
        )

    def value(self) -> _Token:
        token = self.token
        if token.kind not in {"number", "string"}:
            raise _FilterError(
                f"expected a value (a number or a quoted string), got {_describe(token)}",
                token.position,
            )
        return self.advance()

    def comparison(self) -> Comparison:
        start = self.token.position
        field = self.field()
        negate = False
        if self.is_word("not"):
            self.advance()
            negate = True
            if not self.is_word("in", "like", "ilike"):
                raise _FilterError(
                    f"expected 'in', 'like' or 'ilike' after 'not', got {_describe(self.token)}",
                    self.token.position,
                )
        if self.is_word("in"):
            self.advance()
            self.expect("lparen", "'(' to open the list of values")
            tokens = [self.value()]
            while self.token.kind == "comma":
                self.advance()
                tokens.append(self.value())
            self.expect("rparen", "',' or ')' in the list of values")
            op = "not in" if negate else "in"
            return Comparison(field, op, tuple(_coerce(field, op, t) for t in tokens), start)
        if self.is_word("like", "ilike"):
            word = str(self.advance().value)
            op = f"not {word}" if negate else word
            token = self.value()
            return Comparison(field, op, (_coerce(field, op, token),), start)
        if self.token.kind != "op":
            raise _FilterError(
                f"expected an operator (=, !=, <, <=, >, >=, in, like) after the field, "
                f"got {_describe(self.token)}",
                self.token.position,
            )
        op = str(self.advance().value)
        token = self.value()
        return Comparison(field, op, (_coerce(field, op, token),), start)


def _attribute(name: str, position: int) -> str:
    name = _ATTRIBUTE_ALIASES.get(name.lower(), name.lower())
    if name not in ATTRIBUTES:
        raise _FilterError(
            f"unknown attribute {name!r}; attributes are {', '.join(ATTRIBUTES)} "
            "(use metrics.NAME, params.NAME or tags.NAME for logged values)",
            position,
        )
    return name


def _coerce(field: Field, op: str, token: _Token) -> Value:
    """Check a value's type against its field and return it in the field's type."""
    label = f"{field.kind}s.{field.key}" if field.kind != "attribute" else field.key
    if op.endswith("like"):
        if field.kind == "metric" or field.key in TIME_ATTRIBUTES:
            raise _FilterError(f"'like' applies to text; {label} is not text", token.position)
        if token.kind != "string":
            raise _FilterError("'like' needs a quoted pattern, e.g. 'hgb-%'", token.position)
        return str(token.value)
    if field.kind == "metric":
        if token.kind != "number":
            raise _FilterError(
                f"{label} is a metric and compares with a number; got the string {token.text}",
                token.position,
            )
        return float(token.value)  # type: ignore[arg-type]
    if field.key in TIME_ATTRIBUTES and field.kind == "attribute":
        if token.kind == "number":
            return from_millis(int(float(token.value)))  # type: ignore[arg-type]
        try:
            return ensure_utc(datetime.fromisoformat(str(token.value)))
        except ValueError:
            raise _FilterError(
                f"{label} compares with an ISO-8601 time such as '2026-01-31T12:00:00' or "
                f"with epoch milliseconds; got {token.text}",
                token.position,
            ) from None
    if field.kind == "param" and op in {"<", "<=", ">", ">="} and token.kind == "number":
        raise _FilterError(
            f"{label} is a param, and params are text: '<' and '>' would compare them as "
            f"strings. Quote the value to compare text (e.g. {label} > '{token.text}'), or log "
            "the value as a metric to compare numbers",
            token.position,
        )
    text = token.text if token.kind == "number" else str(token.value)
    if field.kind == "attribute" and field.key == "status" and text not in RUN_STATUSES:
        if text.lower() == "stale":
            raise _FilterError(
                "'stale' is not a status but a flag derived from the last heartbeat (a stale "
                "run's status is 'running'); filter with search_runs(..., stale=True) or "
                "`steward runs list --stale` instead",
                token.position,
            )
        raise _FilterError(
            f"unknown status {text!r}; a run's status is one of {', '.join(RUN_STATUSES)}",
            token.position,
        )
    return text


def parse_filter(source: str) -> Node:
    """Parse a filter; raise InvalidInput pointing at the bad token."""
    if not isinstance(source, str):
        raise InvalidInput(f"A filter must be a string; got {type(source).__name__}.")
    try:
        return _Parser(source).parse()
    except _FilterError as exc:
        raise _error(source, "filter", exc) from None


def parse_order_by(source: str) -> OrderBy:
    """Parse one ordering term: ``FIELD [ASC|DESC]``."""
    if not isinstance(source, str):
        raise InvalidInput(f"An order_by term must be a string; got {type(source).__name__}.")
    try:
        parser = _Parser(source)
        if parser.token.kind == "end":
            raise _FilterError("the order_by term is empty", 0)
        field = parser.field()
        descending = False
        token = parser.token
        if token.kind == "word" and str(token.value) in {"asc", "desc"}:
            descending = token.value == "desc"
            parser.advance()
        if parser.token.kind != "end":
            raise _FilterError(
                f"unexpected {_describe(parser.token)}; expected ASC, DESC or the end",
                parser.token.position,
            )
        return OrderBy(field, descending)
    except _FilterError as exc:
        raise _error(source, "order_by term", exc) from None
