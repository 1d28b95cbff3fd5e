"""The other half of `umpnet seed`: synthetic members' events, made and sealed in a process of their own.

`seeding.seed_members` starts `python -m umpnet_ops.seeding_rows` with the job in
its environment (`UMPNET_SEED_JOB`, JSON: how many, the batch size, the seed, the
share on the map, the shared password hash, the secret key: readable by this
user alone, as the services' SECRET_KEY is; never on the command line, which
others can read), and reads back on stdout one pickled
`umpnet_kernel.bulk.PreparedAppends` per batch (each preceded by its length in
8 bytes: a green pipe's read may return less than asked, which pickle.load
takes for a truncated stream): the members' events (the
ordinary ones, recorded by the `Member` aggregate as a sign-up records them),
their rows as the store writes them, personal fields sealed with a new key per
member. Meanwhile the parent inserts the batch before and projects it: the
machine's second core makes the rows while the first writes them. A pipe holds
little, so this process stays at most a batch ahead.

A fresh interpreter rather than a fork: the parent may run eventlet (the tests
do), and a fork would inherit its hub and threads.
"""
from __future__ import annotations

import json
import os
import pickle
import random
import sys

from .seeding import FIRST_NAMES, LAST_NAMES, commune_weights

JOB_VARIABLE = "UMPNET_SEED_JOB"  # the job, as JSON, in the environment of the process
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (0x4000 << 64) | (0x8000 << 48)


def uuid4_text(bits: int) -> str:
    """`str(uuid.UUID(int=bits, version=4))`, without building the UUID object."""
    h = "%032x" % ((bits & _V4_CLEAR) | _V4_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def member_batches(count: int, batch: int, seed: int | None, map_share: float, password_hash: str):
    """Lists of appends `(stream_id, 0, events, metas)`, `batch` members each: the
    synthetic members, drawn from `random.Random(seed)` (the same seed, the same members)."""
    from members.application import residence_for
    from members.domain.catalogue import THEMES
    from members.domain.member import Member
    from members.events import EmailVerified
    from umpnet_kernel.events import Metadata

    rng = random.Random(seed)
    bits = rng.getrandbits

    def new_id() -> str:  # a version-4 UUID from the seeded generator: repeatable, and no os.urandom per event
        return uuid4_text(bits(128))

    places, cumulative = commune_weights(rng)
    residences = {}
    themes = [t.slug for t in THEMES]
    done = 0
    while done < count:
        size = min(batch, count - done)
        appends = []
        for _ in range(size):
            member_id = new_id()
            postcode = rng.choices(places, cum_weights=cumulative)[0]
            residence = residences.get(postcode) or residences.setdefault(postcode, residence_for(postcode))
            member = Member.register(
                member_id, f"seed-{member_id[:13]}@members.invalid", password_hash,
                rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), residence,
                themes=rng.sample(themes, rng.randint(0, 3)),
            )
            if rng.random() < map_share:
                member.update_profile(map_visible=True)
            base, events = member.collect_pending()
            events = [*events, EmailVerified(member_id=member_id)]
            metas = [Metadata(event_id=new_id(), actor_id="umpnet-seed") for _ in events]
            appends.append((member.stream_id, base, events, metas))
        yield appends
        done += size


def read_frame(pipe) -> bytes | None:
    """One frame of `main`'s output, or None at its end."""
    head = _read_exactly(pipe, 8)
    if not head:
        return None
    frame = _read_exactly(pipe, int.from_bytes(head, "big"))
    if frame is None:
        raise EOFError("the seeding_rows output ends inside a frame")
    return frame


def _read_exactly(pipe, size: int) -> bytes | None:
    chunks, wanted = [], size
    while wanted:
        chunk = pipe.read(wanted)
        if not chunk:
            if wanted == size:
                return None
            raise EOFError("the seeding_rows output ends inside a frame")
        chunks.append(chunk)
        wanted -= len(chunk)
    return b"".join(chunks)


def main() -> None:
    from umpnet_kernel.bulk import prepare_new
    from umpnet_kernel.fast import cyclic_gc_paused
    from umpnet_kernel.shredding import Shredder

    job = json.loads(os.environ.pop(JOB_VARIABLE))
    shredder = Shredder(job["secret_key"])
    out = sys.stdout.buffer
    with cyclic_gc_paused():
        for appends in member_batches(job["count"], job["batch"], job["seed"], job["map_share"], job["password_hash"]):
            frame = pickle.dumps(prepare_new(shredder, appends), protocol=pickle.HIGHEST_PROTOCOL)
            out.write(len(frame).to_bytes(8, "big"))
            out.write(frame)
            out.flush()


if __name__ == "__main__":
    main()
