"""`umpnet seed --members N`: synthetic members written straight into the members store.

Fast because it skips what is slow per member and pointless for fake data:
one argon2 hash shared by all (password "Synthetic-2026"), no verification
email (they are created verified), and many members per transaction. The
events are ordinary ones: read models, relay and subscribers treat them as
any other. Every address ends in `.invalid`, so no mail can ever reach anyone.
"""
from __future__ import annotations

import random
import time
import uuid

from umpnet_geo import all_postcodes

FIRST_NAMES = ("Camille", "Léa", "Hugo", "Chloé", "Louis", "Manon", "Lucas", "Emma", "Jules", "Inès",
               "Gabriel", "Jade", "Arthur", "Louise", "Raphaël", "Alice", "Paul", "Lina", "Nathan", "Rose")
LAST_NAMES = ("Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
              "Laurent", "Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David", "Bertrand", "Morel")
SYNTHETIC_PASSWORD = "Synthetic-2026"


def seed_members(count: int, batch: int = 1000, seed: int | None = None) -> tuple[int, float]:
    from members.application import MembersApp, residence_for
    from members.domain.catalogue import THEMES
    from members.domain.member import Member
    from members.events import EmailVerified
    from members.security import hash_password
    from umpnet_kernel.config import secret_key
    from umpnet_kernel.database import Database, url_for_service
    from umpnet_kernel.events import Context

    rng = random.Random(seed)
    postcodes = all_postcodes()
    themes = [t.slug for t in THEMES]
    password_hash = hash_password(SYNTHETIC_PASSWORD)
    db = Database(url_for_service("members"))
    app = MembersApp(db, secret_key())
    context = Context(actor_id="umpnet-seed")
    started = time.perf_counter()
    done = 0
    try:
        while done < count:
            size = min(batch, count - done)

            def command(uow):
                for _ in range(size):
                    member_id = str(uuid.uuid4())
                    member = Member.register(
                        member_id,
                        f"seed-{member_id[:13]}@members.invalid",
                        password_hash,
                        rng.choice(FIRST_NAMES),
                        rng.choice(LAST_NAMES),
                        residence_for(rng.choice(postcodes)),
                        themes=rng.sample(themes, rng.randint(0, 3)),
                    )
                    base, events = member.collect_pending()
                    uow.append(member.stream_id, base, [*events, EmailVerified(member_id=member_id)])

            app.execute(context, command)
            done += size
    finally:
        db.dispose()
    return done, time.perf_counter() - started
