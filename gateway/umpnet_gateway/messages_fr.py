"""French wording of the kernel's and marshmallow's messages, for the French site and API.

The services' own messages are written in French where they are raised; the
kernel speaks English (and codes, which clients act on), as does marshmallow:
their messages are translated here, at the edge, the only place they reach
users. An unknown message is left as it is rather than guessed.
"""
from __future__ import annotations

import re

from umpnet_kernel import errors as kernel_errors

_EXACT = {
    # the kernel's (umpnet_kernel.errors)
    kernel_errors.INVALID_DATA: "Données invalides.",
    kernel_errors.CHANGED_MEANWHILE: "La ressource a été modifiée entre-temps ; réessayez.",
    # marshmallow's
    "Missing data for required field.": "Ce champ est obligatoire.",
    "Field may not be null.": "Ce champ ne peut pas être vide.",
    "Not a valid string.": "Texte attendu.",
    "Not a valid email address.": "Adresse e-mail invalide.",
    "Not a valid URL.": "Adresse web invalide (http:// ou https://).",
    "Not a valid boolean.": "Oui ou non attendu.",
    "Not a valid list.": "Liste attendue.",
    "Not a valid integer.": "Nombre entier attendu.",
    "Not a valid number.": "Nombre attendu.",
    "Not a valid datetime.": "Date et heure invalides.",
    "Invalid input type.": "Type de donnée invalide.",
    "Invalid value.": "Valeur invalide.",
    "Unknown field.": "Champ inconnu.",
}
_PATTERNS = (
    (re.compile(r"^Length must be between (\d+) and (\d+)\.$"), r"Entre \1 et \2 caractères."),
    (re.compile(r"^Shorter than minimum length (\d+)\.$"), r"\1 caractères au moins."),
    (re.compile(r"^Longer than maximum length (\d+)\.$"), r"\1 caractères au plus."),
    (re.compile(r"^Must be greater than or equal to (\S+) and less than or equal to (\S+)\.$"), r"Entre \1 et \2."),
    (re.compile(r"^Must be one of: (.+)\.$"), r"Une de ces valeurs : \1."),  # validate.OneOf
)


def translate(message: str) -> str:
    if message in _EXACT:
        return _EXACT[message]
    for pattern, replacement in _PATTERNS:
        if pattern.match(message):
            return pattern.sub(replacement, message)
    return message


def translate_fields(fields: dict[str, list[str]]) -> dict[str, list[str]]:
    return {name: [translate(m) for m in messages] for name, messages in fields.items()}


def in_french(error: kernel_errors.DomainError) -> kernel_errors.DomainError:
    """The same error, its message in French (a service's own is already)."""
    message = translate(error.message)
    if message != error.message:
        error.message = message
        error.args = (message, *error.args[1:])
    return error
