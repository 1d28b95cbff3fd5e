"""Pages of a list: `?limit=` and `?cursor=`, the same way for every list of every service.

A page is "the first `limit` rows after the last row of the previous page", in
a total order given by key columns (keyset, or seek, pagination). The cursor
is that last row's key, encoded as an opaque string: a client passes it back,
never reads it. Unlike OFFSET, a deep page costs what the first one does, and
a row inserted or deleted meanwhile neither repeats nor hides another row.

    page = PageRequest.parse(limit=request.args.get("limit"), cursor=request.args.get("cursor"))
    result = paginate(conn, select(members.c.member_id, members.c.display_name),
                      order_by=[members.c.registered_at.desc(), members.c.member_id], page=page)
    result.as_dict()   # {"items": [...], "next_cursor": "..." | None}  (API.md §2 "Lists")

The key columns must be NOT NULL and unique taken together (end them with the
primary key). `paginate_sequence` pages a list already in memory (reference
data) the same way, with the same cursors.

Refusals are `ValidationFailed` (400): a `limit` that is not a whole number in
1..MAX_LIMIT (`BadLimit`), or a cursor that was altered or belongs to another
list (`BadCursor`, code "bad_cursor"). Their messages are English; the edge
words them for its users.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable, Sequence

from sqlalchemy import Connection, Select, and_, or_
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

from .errors import ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class BadCursor(ValidationFailed):
    """A cursor this list did not hand out (altered, truncated, or from another list)."""

    code = "bad_cursor"

    def __init__(self, message: str = "This cursor is not valid for this list: start again from the first page.",
                 fields: dict[str, list[str]] | None = None):
        super().__init__(message, fields or {"cursor": [message]})


class BadLimit(ValidationFailed):
    """A `limit` that is not a whole number from 1 to `maximum` (MAX_LIMIT, unless a list says more)."""

    def __init__(self, message: str | None = None, fields: dict[str, list[str]] | None = None,
                 maximum: int = MAX_LIMIT):
        self.maximum = maximum
        message = message or f"limit must be a whole number from 1 to {maximum}."
        super().__init__(message, fields or {"limit": [message]})


@dataclass(frozen=True)
class PageRequest:
    """What a client asked for: how many items, after which one (None: from the start)."""

    limit: int = DEFAULT_LIMIT
    cursor: str | None = None

    @classmethod
    def parse(cls, limit: str | int | None = None, cursor: str | None = None,
              default_limit: int = DEFAULT_LIMIT, max_limit: int = MAX_LIMIT) -> "PageRequest":
        """From query-string values; `BadLimit` for a bad limit (1..max_limit), `BadCursor` for a bad cursor."""
        if limit is None or limit == "":
            number = default_limit
        else:
            text = str(limit)
            # ASCII digits only: no sign, no spaces, no "1e3", no other script's digits
            number = int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else 0
            if not 1 <= number <= max_limit:
                raise BadLimit(maximum=max_limit)
        if cursor == "":
            cursor = None
        if cursor is not None:
            decode_cursor(cursor)  # refuse it now, before any query runs
        return cls(number, cursor)


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None

    def as_dict(self) -> dict:
        return {"items": self.items, "next_cursor": self.next_cursor}


# -- cursors ----------------------------------------------------------------------
CURSOR_MAX = 1000  # characters: a cursor holds a few key values, never more


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return {"dt": value.isoformat()}  # tagged: a string key stays a string
    return value


def _restored(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) != {"dt"} or not isinstance(value["dt"], str):
            raise BadCursor()
        try:
            return datetime.fromisoformat(value["dt"])
        except ValueError:
            raise BadCursor() from None
    return value


def encode_cursor(key: Sequence) -> str:
    """The opaque cursor for "after the row whose key is `key`"."""
    text = json.dumps([_jsonable(v) for v in key], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list:
    """The key a cursor names; `BadCursor` for anything `encode_cursor` did not make."""
    if not isinstance(cursor, str) or not cursor or len(cursor) > CURSOR_MAX:
        raise BadCursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor() from None
    if not isinstance(key, list) or not key:
        raise BadCursor()
    if any(not isinstance(v, (str, int, float, dict)) or isinstance(v, bool) for v in key):
        raise BadCursor()
    return [_restored(v) for v in key]


# -- read-model queries -------------------------------------------------------------
@dataclass(frozen=True)
class _Key:
    column: ColumnElement
    descending: bool


def _keys(order_by: Sequence) -> list[_Key]:
    keys = []
    for term in order_by:
        if isinstance(term, UnaryExpression) and term.modifier in (operators.desc_op, operators.asc_op):
            keys.append(_Key(term.element, term.modifier is operators.desc_op))
        else:
            keys.append(_Key(term, False))
    return keys


def _check_types(keys: list[_Key], values: list) -> None:
    """A cursor whose values do not fit the key columns is refused (PostgreSQL would fail the query)."""
    if len(values) != len(keys):
        raise BadCursor()
    for key, value in zip(keys, values):
        try:
            expected = key.column.type.python_type
        except NotImplementedError:
            continue
        if expected is float and isinstance(value, int):
            continue
        if not isinstance(value, expected):
            raise BadCursor()


def _after(keys: list[_Key], values: list) -> ColumnElement:
    """Rows strictly after `values` in the keys' order: (a > x) or (a = x and b > y) or …"""
    alternatives = []
    for i, key in enumerate(keys):
        equal_before = [keys[j].column == values[j] for j in range(i)]
        beyond = key.column < values[i] if key.descending else key.column > values[i]
        alternatives.append(and_(*equal_before, beyond))
    return or_(*alternatives)


def paginate(conn: Connection, query: Select, order_by: Sequence, page: PageRequest,
             row: Callable[[Any], Any] = lambda r: dict(r._mapping)) -> Page:
    """One page of `query`, ordered by `order_by` (columns, or `column.desc()`).

    The query must select the key columns (the cursor is made from them);
    `row` turns each result row into an item (default: a dict of its columns).
    """
    keys = _keys(order_by)
    if page.cursor is not None:
        values = decode_cursor(page.cursor)
        _check_types(keys, values)
        query = query.where(_after(keys, values))
    # One row more than asked: whether it exists says if there is a next page.
    rows = conn.execute(query.order_by(*order_by).limit(page.limit + 1)).all()
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = None
    if more:
        last = rows[-1]._mapping
        next_cursor = encode_cursor([last[key.column] for key in keys])
    return Page([row(r) for r in rows], next_cursor)


def paginate_sequence(items: Sequence, key: Callable[[Any], Sequence], page: PageRequest) -> Page:
    """`paginate` for a list already in memory, in its own order (reference data).

    `key(item)` is the item's unique key (a tuple of JSON-friendly values); the
    cursor names the last item of the page, as `paginate`'s does.
    """
    start = 0
    if page.cursor is not None:
        wanted = decode_cursor(page.cursor)
        positions = {tuple(key(item)): i for i, item in enumerate(items)}
        position = positions.get(tuple(wanted))
        if position is None:
            raise BadCursor()
        start = position + 1
    chosen = list(items[start:start + page.limit])
    more = start + page.limit < len(items)
    return Page(chosen, encode_cursor(list(key(chosen[-1]))) if more and chosen else None)
