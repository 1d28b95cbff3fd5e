"""Email addresses as the members service keeps and compares them: the
kernel's normalisation (umpnet_kernel.email_address), its refusals said in French."""
from __future__ import annotations

from umpnet_kernel import email_address
from umpnet_kernel.email_address import email_key  # noqa: F401  (the members' email API)
from umpnet_kernel.errors import ValidationFailed

from ..limits import EMAIL_MAX

_INVALID = "Adresse e-mail invalide."
_REASONS = {
    email_address.INVALID: _INVALID,
    email_address.INVISIBLE: "L'adresse contient un caractère invisible ou un espace.",
    email_address.MIXED_SCRIPTS: "L'adresse mélange des alphabets différents.",
}


def normalise_email(raw: str) -> str:
    """The address as stored: NFKC, trimmed; raises ValidationFailed if it may pass for another."""
    try:
        return email_address.normalise_email(raw, EMAIL_MAX)
    except email_address.InvalidEmail as refused:
        raise ValidationFailed(_INVALID, {"email": [_REASONS[refused.reason]]}) from None


def email_key_of(raw: str) -> str | None:
    """The key of an address typed at login or reset, or None if it cannot be one."""
    try:
        return email_key(normalise_email(raw))
    except ValidationFailed:
        return None
