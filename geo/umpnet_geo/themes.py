"""The party's themes: members follow them, and every service tags its content
(petitions, meetings, debates) with the same slugs. Reference data shared by
all services, like the départements; the names are shown as they are."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Theme:
    slug: str
    name: str


THEMES = (
    Theme("economie", "Économie et entreprises"),
    Theme("emploi", "Emploi et travail"),
    Theme("education", "Éducation"),
    Theme("sante", "Santé"),
    Theme("securite", "Sécurité"),
    Theme("justice", "Justice"),
    Theme("environnement", "Environnement et énergie"),
    Theme("agriculture", "Agriculture et ruralité"),
    Theme("europe", "Europe et international"),
    Theme("culture", "Culture et patrimoine"),
    Theme("logement", "Logement et ville"),
    Theme("numerique", "Numérique"),
    Theme("famille", "Famille et solidarités"),
    Theme("finances-publiques", "Finances publiques"),
)
THEME_SLUGS = frozenset(t.slug for t in THEMES)
