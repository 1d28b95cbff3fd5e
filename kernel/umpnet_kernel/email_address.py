"""Email addresses as the services keep and compare them.

An address is normalised once, when it comes in: NFKC folds look-alike forms
into the letters they stand for (the Kelvin sign into K, fullwidth letters
into ASCII), and the unique key is its case-folded form, so that
`\u212aate@example.org` is `kate@example.org`. What NFKC cannot fold is refused:
invisible characters (a zero-width space makes a different address that looks
the same) and local parts or domain labels mixing scripts (a Cyrillic `а` in
a Latin name), the way a squatter would pass for someone else.

The reasons are codes; each service says them to its users in their language.
"""
from __future__ import annotations

import unicodedata

INVALID, INVISIBLE, MIXED_SCRIPTS = "invalid", "invisible", "mixed_scripts"


class InvalidEmail(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _script(character: str) -> str:
    """The script of a letter, from its Unicode name ("LATIN SMALL LETTER A" -> LATIN)."""
    name = unicodedata.name(character, "")
    return name.split(" ", 1)[0] if name else "UNKNOWN"


def _single_script(part: str) -> bool:
    return len({_script(c) for c in part if c.isalpha()}) <= 1


def normalise_email(raw: str, max_length: int) -> str:
    """The address as stored: NFKC, trimmed; raises InvalidEmail if it may pass for another."""
    email = unicodedata.normalize("NFKC", raw or "").strip()
    if not email or len(email) > max_length:
        raise InvalidEmail(INVALID)
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs") for c in email):
        raise InvalidEmail(INVISIBLE)
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
        raise InvalidEmail(INVALID)
    if not _single_script(local) or not all(_single_script(label) for label in domain.split(".")):
        raise InvalidEmail(MIXED_SCRIPTS)
    return email


def email_key(email: str) -> str:
    """What makes two addresses the same: the case-folded stored form."""
    return email.casefold()
