"""Email addresses as the members service keeps and compares them.

An address is normalised once, when it comes in: NFKC folds look-alike forms
into the letters they stand for (the Kelvin sign into K, fullwidth letters
into ASCII), and the unique key is its case-folded form, so that
`\u212aate@example.org` is `kate@example.org`, and so that both the sign-up and
the login compare exactly what was stored. What NFKC cannot fold is refused:
invisible characters (a zero-width space makes a different address that looks
the same) and local parts or domain labels mixing scripts (a Cyrillic `а` in
a Latin name), the way a squatter would make an account that passes for
another member's.
"""
from __future__ import annotations

import unicodedata

from umpnet_kernel.errors import ValidationFailed

from ..limits import EMAIL_MAX

_INVALID = "Adresse e-mail invalide."


def _refuse(reason: str) -> ValidationFailed:
    return ValidationFailed(_INVALID, {"email": [reason]})


def _script(character: str) -> str:
    """The script of a letter, from its Unicode name ("LATIN SMALL LETTER A" -> LATIN)."""
    name = unicodedata.name(character, "")
    return name.split(" ", 1)[0] if name else "UNKNOWN"


def _single_script(part: str) -> bool:
    return len({_script(c) for c in part if c.isalpha()}) <= 1


def normalise_email(raw: str) -> str:
    """The address as stored: NFKC, trimmed; raises ValidationFailed if it may pass for another."""
    email = unicodedata.normalize("NFKC", raw or "").strip()
    if not email or len(email) > EMAIL_MAX:
        raise _refuse("Adresse e-mail invalide.")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs") for c in email):
        raise _refuse("L'adresse contient un caractère invisible ou un espace.")
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
        raise _refuse("Adresse e-mail invalide.")
    if not _single_script(local) or not all(_single_script(label) for label in domain.split(".")):
        raise _refuse("L'adresse mélange des alphabets différents.")
    return email


def email_key(email: str) -> str:
    """What makes two addresses the same account: the case-folded stored form."""
    return email.casefold()


def email_key_of(raw: str) -> str | None:
    """The key of an address typed at login or reset, or None if it cannot be one."""
    try:
        return email_key(normalise_email(raw))
    except ValidationFailed:
        return None
