"""Searching debates over 1,000,000 contributions (issue 11: under 200 ms at p95), in the
debates service's own code, with a ceiling measured in the same run.

    .venv/bin/python bench/debate_search.py [--database URL] [--contributions 1000000]
                                            [--debates 10000] [--rounds 5] [--keep]

What it builds (once: with --keep the database stays and the next run reuses it when
it holds the same numbers; without, it is deleted at the end):
  * SQLite by default, var/bench-debate-search/debates.db; or `--database
    postgresql://...` (a database of that name is created if missing; dropped at the
    end unless --keep);
  * the service's real schema (`umpnet migrate`'s alembic head for debates, and the
    full-text index as the service makes it at start-up: `search.ensure`), then rows of
    the read models' shape inserted directly: 1,000 debaters, the debates (40 %
    national, 50 % local, 10 % candidates) and the contributions spread evenly over
    them, each with its row in `contributions` and its text in the index through
    `search.index_many` (the service's own indexing SQL, many rows a statement).
    Seeding a million through the use cases (rendering, sanitising, sealing, one event
    each) would take hours on this machine: no events are in the store, so a rebuild
    of these read models would empty them; the query does not read the store;
  * texts of 25 words drawn with Zipf weights (s = 1) from a vocabulary of 5,000
    French-like words, accented ("prévôté", "écoles"), unique once folded: the queries
    are typed without accents, so the index's folding is what finds them.

What it measures, in one process, the database warm (one untimed pass first):
  * the service's list query: `DebatesApp.list_debates(anonymous, q=...)`, what
    `GET /api/debates?q=` runs in the debates service (validation, a read transaction,
    `projections.list_debates`: the debates whose text matches, newest activity first,
    a page of 50, their authors' names); --rounds times each word of each class, in
    a shuffled order:
      rare (ranks 2,500-5,000: under ~1,000 matching texts), common (ranks 40-60:
      ~50,000), very common (ranks 1-5: half the texts or more), and two words (a
      common word and a rare one; two common ones);
  * the ceiling, for the same words in the same order: the bare full-text lookup with
    the driver alone (sqlite3 / psycopg2), the 51 latest matching texts' keys
    (`... MATCH ? ORDER BY rowid DESC LIMIT 51`; PostgreSQL: `plainto_tsquery('french',
    unaccent(?))` made in one statement, then `... @@ it ORDER BY key DESC LIMIT 51`):
    what any search of a page costs at least;
  * p50 / p95 per class and overall, and the ratio of p95s (service / ceiling).

Aim (issue 11, performance): p95 under 200 ms overall.
"""
import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")  # printed on import

import eventlet  # noqa: E402

eventlet.monkey_patch()  # first, as in the services: green sockets, green psycopg2

import argparse  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402

from sqlalchemy import bindparam, create_engine, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from umpnet_geo.themes import THEME_SLUGS  # noqa: E402
from umpnet_kernel.database import Database  # noqa: E402
from umpnet_kernel.events import Context  # noqa: E402
from umpnet_kernel.manifest import service  # noqa: E402
from umpnet_kernel.migrations import upgrade_to_head  # noqa: E402

from debates import projections, search  # noqa: E402
from debates.application import DebatesApp  # noqa: E402

from event_latency import load_average, machine  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.path.join(REPO, "var", "bench-debate-search")
TARGET_P95_MS = 200
VOCABULARY = 5_000
WORDS_PER_TEXT = 25
MEMBERS = 1_000
BATCH = 5_000
FEDERATIONS = ("75", "69", "13", "33", "59", "31", "44", "67", "06", "35")
SECRET = "bench-debate-search"

# Syllables with French accents: the words they make are accented, and unique once folded.
_ONSETS = ("b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "ch", "gr", "pr", "tr", "qu", "br", "pl")
_VOWELS = ("a", "é", "è", "i", "o", "ô", "u", "ou", "ai", "an", "in", "on", "ê", "eu", "à")
_ENDINGS = ("", "", "té", "tion", "ment", "eur", "ique", "s", "ès", "age")


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=None, help="postgresql://... (default: SQLite under var/)")
    parser.add_argument("--contributions", type=int, default=1_000_000)
    parser.add_argument("--debates", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5, help="times each word is searched")
    parser.add_argument("--keep", action="store_true", help="keep the database, and reuse a kept one")
    return parser.parse_args()


def vocabulary(rng: random.Random) -> list[str]:
    """VOCABULARY accented words, in rank order (the first the most frequent), unique once folded."""
    words, folded = [], set()
    while len(words) < VOCABULARY:
        syllables = rng.choice((2, 2, 3, 3, 4))
        word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables)) + rng.choice(_ENDINGS)
        plain = search.fold(word)
        if plain not in folded and any(c in word for c in "éèêôà") and "eee" not in plain and "ee" not in plain[:-2]:
            words.append(word)
            folded.add(search.fold(word))
    return words


class Texts:
    """Texts of Zipf-distributed words."""

    def __init__(self, words: list[str], rng: random.Random):
        self.words, self.rng = words, rng
        weights = [1 / rank for rank in range(1, len(words) + 1)]
        total, running = sum(weights), 0.0
        self.cumulative = []
        for weight in weights:
            running += weight / total
            self.cumulative.append(running)

    def text(self, count: int = WORDS_PER_TEXT) -> str:
        return " ".join(self.rng.choices(self.words, cum_weights=self.cumulative, k=count))


# -- building --------------------------------------------------------------------------
def prepare_postgresql(url: str) -> None:
    """Create the database named in `url` if it is not there."""
    parsed = make_url(url).set(drivername="postgresql+psycopg2")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}).scalar():
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def drop_postgresql(url: str) -> None:
    parsed = make_url(url).set(drivername="postgresql+psycopg2")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def built_already(db: Database, debates: int, contributions: int) -> bool:
    with db.read() as conn:
        try:
            have = (conn.execute(select(func.count()).select_from(projections.debates)).scalar(),
                    conn.execute(select(func.count()).select_from(projections.contributions)).scalar())
        except Exception:
            return False
    return have == (debates, contributions)


def build(db: Database, debates_count: int, contributions_count: int) -> None:
    rng = random.Random(11)
    words = vocabulary(rng)
    texts = Texts(words, rng)
    started = time.monotonic()
    with db.write() as conn:  # an earlier, different build: emptied
        for table in (projections.contributions, projections.debates, projections.debaters):
            conn.execute(table.delete())
        search.clear(conn)
    if db.is_postgresql:  # the GIN index is made once at the end (search.ensure), not grown row by row
        with db.write() as conn:
            conn.execute(text(f"DROP INDEX IF EXISTS ix_{search.TABLE}_document"))
    members = [str(uuid.uuid4()) for _ in range(MEMBERS)]
    with db.write() as conn:
        conn.execute(insert(projections.debaters), [
            {"member_id": m, "display_name": f"Membre{n} S.", "federation_code": FEDERATIONS[n % len(FEDERATIONS)],
             "registered_at": None, "suspended_until": None, "suspension_reason": None, "notify_mode": "digest",
             "forgotten": False} for n, m in enumerate(members)])
    themes = sorted(THEME_SLUGS)
    opened_at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    debates = []
    for n in range(debates_count):
        kind = rng.random()
        scope = "national" if kind < 0.4 else ("local" if kind < 0.9 else "candidates")
        title, opening = texts.text(5), texts.text(WORDS_PER_TEXT)
        debates.append({
            "debate_id": str(uuid.uuid4()), "title": title, "body_html": f"<p>{opening}</p>", "scope": scope,
            "federation_code": rng.choice(FEDERATIONS) if scope == "local" else None, "theme": rng.choice(themes),
            "author_id": rng.choice(members), "status": "open", "closes_at": None, "synthesis": None,
            "closed_by": None, "opened_at": opened_at + timedelta(minutes=n), "contribution_count": 0,
            "position": n + 1, "activity": n + 1, "_text": f"{title}\n{opening}"})
    with db.write() as conn:
        search.index_many(conn, [{"key": d["position"], "ref": d["debate_id"], "debate": d["debate_id"],
                                  "body": d.pop("_text")} for d in debates])
        conn.execute(insert(projections.debates), debates)
    print(f"built: {len(members):,} debaters, {debates_count:,} debates", flush=True)
    position = debates_count
    moment = opened_at + timedelta(days=30)
    for start in range(0, contributions_count, BATCH):
        rows, indexed = [], []
        for _ in range(min(BATCH, contributions_count - start)):
            position += 1
            debate = debates[rng.randrange(debates_count)]
            debate["contribution_count"] += 1
            debate["activity"] = position
            contribution_id, body = str(uuid.uuid4()), texts.text()
            rows.append({"contribution_id": contribution_id, "debate_id": debate["debate_id"], "parent_id": None,
                         "root_id": contribution_id, "author_id": rng.choice(members), "body_html": f"<p>{body}</p>",
                         "created_at": moment + timedelta(seconds=position), "edited_at": None, "hidden": False,
                         "hidden_reason": None, "score": 0, "replies": 0, "position": position})
            indexed.append({"key": position, "ref": contribution_id, "debate": debate["debate_id"], "body": body})
        with db.write() as conn:
            conn.execute(insert(projections.contributions), rows)
            search.index_many(conn, indexed)
        done = start + len(rows)
        if done % 100_000 == 0 or done == contributions_count:
            print(f"  {done:,} contributions, {time.monotonic() - started:.0f} s", flush=True)
    with db.write() as conn:
        _d = projections.debates.c
        conn.execute(projections.debates.update().where(_d.debate_id == bindparam("b_id")).values(
            activity=bindparam("b_activity"), contribution_count=bindparam("b_count")), [
            {"b_id": d["debate_id"], "b_activity": d["activity"], "b_count": d["contribution_count"]}
            for d in debates])
    with db.write() as conn:
        search.ensure(conn)  # PostgreSQL: the GIN index, now
    if db.is_postgresql:  # what autovacuum would do soon after such a load (SQLite: the service never does)
        with db.write() as conn:
            conn.execute(text(f"ANALYZE {search.TABLE}"))
            conn.execute(text("ANALYZE debates"))
    print(f"built: {contributions_count:,} contributions in {time.monotonic() - started:.0f} s", flush=True)


# -- the words searched -------------------------------------------------------------------
def queries(rng: random.Random) -> dict[str, list[str]]:
    """Each class's queries, typed without accents (the index folds them)."""
    words = [search.fold(w) for w in vocabulary(random.Random(11))]
    rare = rng.sample(words[2_500:], 8)
    common = words[39:60:3]
    very_common = words[:5]
    two = [f"{c} {r}" for c, r in zip(common[:4], rare[:4])] + [f"{a} {b}" for a, b in zip(common[:4], common[3:7])]
    return {"rare": rare, "common": common, "very common": very_common, "two words": two}


class Ceiling:
    """The bare lookup with the driver alone: the latest 51 matching texts' keys."""

    def __init__(self, db: Database):
        self.db = db
        with db.read() as conn:
            self.unaccent = db.is_postgresql and search._has_unaccent(conn)
        self.raw = db.engine.raw_connection()

    def _where(self, query: str) -> tuple[str, tuple]:
        words = search.words_of(query)
        if self.db.is_sqlite:
            return f"{search.TABLE} MATCH ?", (" ".join('"' + w + '"' for w in words),)
        # The query made first, then given as a constant (as search.py does: inline, it would be
        # made again for every row a scan tests).
        cursor = self.raw.cursor()
        if self.unaccent:
            cursor.execute("SELECT plainto_tsquery('french', unaccent(%s))::text", (" ".join(words),))
        else:
            cursor.execute("SELECT plainto_tsquery('french', %s)::text", (search.fold(" ".join(words)),))
        made = cursor.fetchone()[0]
        cursor.close()
        return "document @@ %s::tsquery", (made,)

    def run(self, query: str) -> int:
        where, params = self._where(query)
        key = "rowid" if self.db.is_sqlite else "key"
        cursor = self.raw.cursor()
        cursor.execute(f"SELECT {key} FROM {search.TABLE} WHERE {where} ORDER BY {key} DESC LIMIT 51", params)
        found = len(cursor.fetchall())
        cursor.close()
        self.raw.commit()
        return found

    def count(self, query: str) -> int:
        """How many texts match (untimed: what the cap leaves out)."""
        where, params = self._where(query)
        cursor = self.raw.cursor()
        cursor.execute(f"SELECT count(*) FROM {search.TABLE} WHERE {where}", params)
        found = cursor.fetchone()[0]
        cursor.close()
        self.raw.commit()
        return found

    def close(self):
        self.raw.close()


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def main() -> int:
    args = arguments()
    print(f"debate_search: {machine()}; load average {load_average()}", flush=True)
    if args.database:
        url = args.database
        prepare_postgresql(url)
    else:
        os.makedirs(DATA_DIR, exist_ok=True)
        url = f"sqlite:///{DATA_DIR}/debates.db"
    upgrade_to_head(service("debates"), url)
    db = Database(url)
    app = DebatesApp(db, SECRET)  # makes the full-text index, as the service does at start-up
    backend = "PostgreSQL" if db.is_postgresql else "SQLite"
    if args.keep and built_already(db, args.debates, args.contributions):
        print(f"reusing the kept {backend} database ({args.debates:,} debates, {args.contributions:,} contributions)",
              flush=True)
    else:
        build(db, args.debates, args.contributions)
    rng = random.Random(7)
    classes = queries(rng)
    anonymous = Context()
    ceiling = Ceiling(db)
    print(f"{backend}, {args.contributions:,} contributions, {args.debates:,} debates, "
          f"MATCH_CAP {search.MATCH_CAP:,}; matching texts per query:", flush=True)
    for name, words in classes.items():
        counts = [ceiling.count(q) for q in words]
        print(f"  {name:12} {', '.join(f'{q}: {c:,}' for q, c in zip(words, counts))}", flush=True)
    plan = [(name, q) for name, words in classes.items() for q in words]
    empty = []
    for name, q in plan:  # warm-up, untimed: pages in the cache
        if not app.list_debates(anonymous, q=q, limit=50)["items"]:
            empty.append(q)
        ceiling.run(q)
    if empty:
        print(f"  (no debate found for: {', '.join(empty)})", flush=True)
    timed = plan * args.rounds
    rng.shuffle(timed)
    service_ms: dict[str, list[float]] = {name: [] for name in classes}
    ceiling_ms: dict[str, list[float]] = {name: [] for name in classes}
    for name, q in timed:
        started = time.perf_counter()
        app.list_debates(anonymous, q=q, limit=50)
        service_ms[name].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        ceiling.run(q)
        ceiling_ms[name].append((time.perf_counter() - started) * 1000)
    ceiling.close()
    print(f"{len(timed)} searches ({args.rounds} rounds of {len(plan)} queries); service = DebatesApp.list_debates(q=), "
          "ceiling = the bare lookup of 51 keys:", flush=True)
    rows = [(name, service_ms[name], ceiling_ms[name]) for name in classes]
    rows.append(("overall", [x for s in service_ms.values() for x in s], [x for s in ceiling_ms.values() for x in s]))
    for name, measured, bare in rows:
        p95, bare_p95 = percentile(measured, 95), percentile(bare, 95)
        print(f"  {name:12} service p50 {statistics.median(measured):7.1f} ms, p95 {p95:7.1f} ms | ceiling "
              f"p50 {statistics.median(bare):6.2f} ms, p95 {bare_p95:6.2f} ms | ratio of p95s {p95 / bare_p95:5.1f}",
              flush=True)
    overall = percentile(rows[-1][1], 95)
    print(f"verdict: {backend} search over {args.contributions:,} contributions: p95 {overall:.1f} ms: "
          f"{'MET' if overall < TARGET_P95_MS else 'MISSED'} (< {TARGET_P95_MS} ms)")
    print(f"load average {load_average()} after the run", flush=True)
    db.dispose()
    if not args.keep:
        if db.is_postgresql:
            drop_postgresql(url)
        else:
            shutil.rmtree(DATA_DIR, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
