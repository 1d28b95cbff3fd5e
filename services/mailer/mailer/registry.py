"""What the mailer's read-model modules share, in a module that imports none
of them: the metadata of every read model (`projections.read_models`), and the
forget functions an erasure runs (privacy.py, `shredding.ForgetSubjects`)."""
from __future__ import annotations

from typing import Callable

from sqlalchemy import Connection, MetaData

read_models = MetaData()

FORGETTERS: list[Callable[[Connection, str], None]] = []


def forgets(forgetter):
    """Register a read model's forget function `(conn, member_id)` (see members/forgetting.py)."""
    FORGETTERS.append(forgetter)
    return forgetter


def forgotten_stream(member_id: str) -> str:
    """The stream of an erased member's `mailer.RecipientForgotten`: there once they are erased."""
    return f"forgotten-{member_id}"
