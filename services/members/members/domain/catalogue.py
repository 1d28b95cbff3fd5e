"""Reference lists of the members domain: themes, roles, federations."""
from __future__ import annotations

from dataclasses import dataclass

from umpnet_geo import DEPARTEMENTS, DIGITAL_FEDERATION, get_departement
# The themes are shared by every service that tags content with them (umpnet_geo.themes).
from umpnet_geo.themes import THEME_SLUGS, THEMES, Theme  # noqa: F401

MEMBER = "member"
ORGANIZER = "organizer"
CANDIDATE = "candidate"
MODERATOR = "moderator"
FEDERATION_ADMIN = "federation_admin"
NATIONAL_ADMIN = "national_admin"
ROLES = (MEMBER, ORGANIZER, CANDIDATE, MODERATOR, FEDERATION_ADMIN, NATIONAL_ADMIN)
# Roles a federation admin may hand out inside their own federation.
DELEGABLE_BY_FEDERATION_ADMIN = frozenset({ORGANIZER, CANDIDATE, MODERATOR})

DIGITAL_FEDERATION_CODE, DIGITAL_FEDERATION_NAME = DIGITAL_FEDERATION


@dataclass(frozen=True)
class Federation:
    code: str
    name: str
    kind: str  # "local" | "digital"


FEDERATIONS = tuple(Federation(d.code, d.name, "local") for d in DEPARTEMENTS) + (
    Federation(DIGITAL_FEDERATION_CODE, DIGITAL_FEDERATION_NAME, "digital"),
)


def local_federation(code: str) -> Federation | None:
    departement = get_departement(code)
    return Federation(departement.code, departement.name, "local") if departement else None
