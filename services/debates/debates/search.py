"""Full-text search over debates and contributions, in French, accents folded ("ecole" finds "école").

The index is one table, `debate_search` (a row per debate's opening text and per
visible contribution), whose kind depends on the database, so it is made here, by
the service at start-up (`ensure`), rather than by a migration: alembic's model
comparison cannot describe an FTS5 virtual table (it would see its shadow tables
as strays) nor, portably, a tsvector column.

- SQLite: an FTS5 table with the `unicode61 remove_diacritics 2` tokenizer, which
  folds accents in the text and in the query alike.
- PostgreSQL: a `tsvector` column made with the `french` configuration (stemming:
  "écoles" finds "école"), over `unaccent(text)` when the unaccent extension is
  there (checked once), otherwise over the text folded here, in Python (the same
  folding for the query): the two give the same matches. A GIN index on it, and a
  b-tree on `key` for the latest matches of common words.

A word that matches more than MATCH_CAP texts counts its latest MATCH_CAP (below).
The read model decides by dialect; the rest of the service only calls `index`,
`unindex`, `clear` and `matching_debates_sql`.
"""
from __future__ import annotations

import re
import unicodedata

from sqlalchemy import text

TABLE = "debate_search"
_WORDS = re.compile(r"\w+", re.UNICODE)
_QUERY_WORDS_MAX = 12
# A search counts the latest MATCH_CAP texts that match (by store position, FTS5's rowid):
# a word found in 600,000 contributions of a million took 1.5 s to gather every one of
# their debates before ordering them; its latest 5,000 take ~15 ms on SQLite, ~15-50 ms
# on PostgreSQL (bench/debate_search.py, docs/benchmarks.md).
MATCH_CAP = 5_000
_unaccent: dict[str, bool] = {}  # database URL -> whether unaccent() exists there


def fold(value: str) -> str:
    """Lower case, accents removed: "École" -> "ecole"."""
    decomposed = unicodedata.normalize("NFKD", value or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def words_of(query: str) -> list[str]:
    return _WORDS.findall(query or "")[:_QUERY_WORDS_MAX]


def ensure(conn) -> None:
    """Create the index if it is not there (idempotent; run at start-up)."""
    if conn.dialect.name == "sqlite":
        conn.execute(text(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5("
            "body, ref_id UNINDEXED, debate_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 2')"))
        return
    conn.execute(text(
        f"CREATE TABLE IF NOT EXISTS {TABLE} (ref_id VARCHAR(36) PRIMARY KEY, debate_id VARCHAR(36) NOT NULL, "
        "key BIGINT NOT NULL, document TSVECTOR NOT NULL)"))
    conn.execute(text(f"CREATE INDEX IF NOT EXISTS ix_{TABLE}_document ON {TABLE} USING GIN (document)"))
    # The latest matches first (MATCH_CAP): for a common word, reading the keys backwards and
    # testing each text stops at the cap, where the GIN index would fetch every match and sort
    # them (1,000,000 texts, a word in 95 % of them: 1,063 -> 14 ms for the latest 5,000). The
    # planner picks one or the other by the word's frequency; both give the same rows.
    conn.execute(text(f"CREATE INDEX IF NOT EXISTS ix_{TABLE}_key ON {TABLE} (key)"))
    _has_unaccent(conn)


def _has_unaccent(conn) -> bool:
    key = str(conn.engine.url)
    if key not in _unaccent:
        found = conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'unaccent'")).scalar()
        if not found:
            available = conn.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent'")).scalar()
            if available:
                savepoint = conn.begin_nested()
                try:
                    conn.execute(text("CREATE EXTENSION IF NOT EXISTS unaccent"))
                    savepoint.commit()
                    found = True
                except Exception:  # not allowed to create it (no superuser): fold in Python instead
                    savepoint.rollback()
        _unaccent[key] = bool(found)
    return _unaccent[key]


def index(conn, key: int, ref_id: str, debate_id: str, body: str, new: bool = False) -> None:
    """Index a text. `key`: the store position of the event that made the thing (its rowid in
    FTS5, whose UNINDEXED columns cannot be looked up without a scan); `new`: nothing to replace."""
    if not new:
        unindex(conn, key, ref_id)
    index_many(conn, [{"key": key, "ref": ref_id, "debate": debate_id, "body": body}])


def index_many(conn, rows: list[dict]) -> None:
    """Index new texts (nothing to replace) in one statement: dicts of `key`, `ref`, `debate`,
    `body`. `index` for one; bench/debate_search.py fills a million with it."""
    rows = [row for row in rows if row["body"].strip()]
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        sql = f"INSERT INTO {TABLE} (rowid, body, ref_id, debate_id) VALUES (:key, :body, :ref, :debate)"
    elif _has_unaccent(conn):
        sql = (f"INSERT INTO {TABLE} (ref_id, debate_id, key, document) "
               "VALUES (:ref, :debate, :key, to_tsvector('french', unaccent(:body)))")
    else:
        sql = (f"INSERT INTO {TABLE} (ref_id, debate_id, key, document) "
               "VALUES (:ref, :debate, :key, to_tsvector('french', :body))")
        rows = [{**row, "body": fold(row["body"])} for row in rows]
    conn.execute(text(sql), rows)


def unindex(conn, key: int, ref_id: str) -> None:
    if conn.dialect.name == "sqlite":
        conn.execute(text(f"DELETE FROM {TABLE} WHERE rowid = :key"), {"key": key})
    else:
        conn.execute(text(f"DELETE FROM {TABLE} WHERE ref_id = :ref"), {"ref": ref_id})


def compact(conn) -> None:
    """Drop deleted entries from the index's own pages (after an erasure). FTS5 keeps a deleted
    row's words in its segments until they are merged; 'optimize' merges them all now
    (secure_delete then zeroes the freed pages). PostgreSQL: the erasure's VACUUM FULL does it."""
    if conn.dialect.name == "sqlite":
        conn.execute(text(f"INSERT INTO {TABLE} ({TABLE}) VALUES ('optimize')"))


def clear(conn) -> None:
    conn.execute(text(f"DELETE FROM {TABLE}"))


def matching_debates_sql(conn, query: str):
    """(SQL selecting the ids of the debates whose text or a contribution matches, its parameters),
    or None when the query holds no word."""
    words = words_of(query)
    if not words:
        return None
    if conn.dialect.name == "sqlite":
        # Each word quoted: FTS5's query syntax (AND, NEAR, *, column filters) stays out of users' hands.
        match = " ".join('"' + w.replace('"', "") + '"' for w in words)
        return (f"SELECT debate_id FROM {TABLE} WHERE {TABLE} MATCH :match ORDER BY rowid DESC LIMIT :cap",
                {"match": match, "cap": MATCH_CAP})
    # The query made once, here, and given as a constant: inline, `plainto_tsquery(unaccent(..))`
    # would run again for every text a scan tests (stable functions are not folded): 113 -> 23 ms
    # for a word in 6 % of 1,000,000 texts, latest 2,000; and the planner still sees the words,
    # to choose its plan.
    if _has_unaccent(conn):
        made = conn.execute(text("SELECT plainto_tsquery('french', unaccent(:match))::text"),
                            {"match": " ".join(words)}).scalar()
    else:
        made = conn.execute(text("SELECT plainto_tsquery('french', :match)::text"),
                            {"match": fold(" ".join(words))}).scalar()
    if not made:  # only stop words ("le", "de"): nothing matches
        return None
    return (f"SELECT debate_id FROM {TABLE} WHERE document @@ CAST(:query AS tsquery) ORDER BY key DESC LIMIT :cap",
            {"query": made, "cap": MATCH_CAP})
