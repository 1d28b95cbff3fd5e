"""French wording of marshmallow's validation messages, for the French site and API.

Our own messages are written in French where they are raised; marshmallow's
standard ones are translated here, at the edge, the only place they reach users.
An unknown message is left as it is rather than guessed.
"""
from __future__ import annotations

import re

_EXACT = {
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
