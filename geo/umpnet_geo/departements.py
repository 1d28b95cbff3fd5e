"""The 101 French départements and the postcode → département rule.

Codes are strings because Corsica uses letters ("2A", "2B") and the overseas
départements use three digits ("971".."976"); "01" keeps its leading zero.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Departement:
    code: str
    name: str


# Order follows INSEE's official list (2A/2B sit where 20 used to be).
DEPARTEMENTS: tuple[Departement, ...] = tuple(
    Departement(code, name)
    for code, name in (
        ("01", "Ain"),
        ("02", "Aisne"),
        ("03", "Allier"),
        ("04", "Alpes-de-Haute-Provence"),
        ("05", "Hautes-Alpes"),
        ("06", "Alpes-Maritimes"),
        ("07", "Ardèche"),
        ("08", "Ardennes"),
        ("09", "Ariège"),
        ("10", "Aube"),
        ("11", "Aude"),
        ("12", "Aveyron"),
        ("13", "Bouches-du-Rhône"),
        ("14", "Calvados"),
        ("15", "Cantal"),
        ("16", "Charente"),
        ("17", "Charente-Maritime"),
        ("18", "Cher"),
        ("19", "Corrèze"),
        ("2A", "Corse-du-Sud"),
        ("2B", "Haute-Corse"),
        ("21", "Côte-d'Or"),
        ("22", "Côtes-d'Armor"),
        ("23", "Creuse"),
        ("24", "Dordogne"),
        ("25", "Doubs"),
        ("26", "Drôme"),
        ("27", "Eure"),
        ("28", "Eure-et-Loir"),
        ("29", "Finistère"),
        ("30", "Gard"),
        ("31", "Haute-Garonne"),
        ("32", "Gers"),
        ("33", "Gironde"),
        ("34", "Hérault"),
        ("35", "Ille-et-Vilaine"),
        ("36", "Indre"),
        ("37", "Indre-et-Loire"),
        ("38", "Isère"),
        ("39", "Jura"),
        ("40", "Landes"),
        ("41", "Loir-et-Cher"),
        ("42", "Loire"),
        ("43", "Haute-Loire"),
        ("44", "Loire-Atlantique"),
        ("45", "Loiret"),
        ("46", "Lot"),
        ("47", "Lot-et-Garonne"),
        ("48", "Lozère"),
        ("49", "Maine-et-Loire"),
        ("50", "Manche"),
        ("51", "Marne"),
        ("52", "Haute-Marne"),
        ("53", "Mayenne"),
        ("54", "Meurthe-et-Moselle"),
        ("55", "Meuse"),
        ("56", "Morbihan"),
        ("57", "Moselle"),
        ("58", "Nièvre"),
        ("59", "Nord"),
        ("60", "Oise"),
        ("61", "Orne"),
        ("62", "Pas-de-Calais"),
        ("63", "Puy-de-Dôme"),
        ("64", "Pyrénées-Atlantiques"),
        ("65", "Hautes-Pyrénées"),
        ("66", "Pyrénées-Orientales"),
        ("67", "Bas-Rhin"),
        ("68", "Haut-Rhin"),
        ("69", "Rhône"),
        ("70", "Haute-Saône"),
        ("71", "Saône-et-Loire"),
        ("72", "Sarthe"),
        ("73", "Savoie"),
        ("74", "Haute-Savoie"),
        ("75", "Paris"),
        ("76", "Seine-Maritime"),
        ("77", "Seine-et-Marne"),
        ("78", "Yvelines"),
        ("79", "Deux-Sèvres"),
        ("80", "Somme"),
        ("81", "Tarn"),
        ("82", "Tarn-et-Garonne"),
        ("83", "Var"),
        ("84", "Vaucluse"),
        ("85", "Vendée"),
        ("86", "Vienne"),
        ("87", "Haute-Vienne"),
        ("88", "Vosges"),
        ("89", "Yonne"),
        ("90", "Territoire de Belfort"),
        ("91", "Essonne"),
        ("92", "Hauts-de-Seine"),
        ("93", "Seine-Saint-Denis"),
        ("94", "Val-de-Marne"),
        ("95", "Val-d'Oise"),
        ("971", "Guadeloupe"),
        ("972", "Martinique"),
        ("973", "Guyane"),
        ("974", "La Réunion"),
        ("976", "Mayotte"),
    )
)

DEPARTEMENTS_BY_CODE: dict[str, Departement] = {d.code: d for d in DEPARTEMENTS}

# The party's digital federation: (code, name) shaped like a département so
# it can sit in the same "federation" column, but it is not a territory, so
# it is deliberately NOT in DEPARTEMENTS and no postcode maps to it.
DIGITAL_FEDERATION: tuple[str, str] = ("numerique", "Fédération numérique")

# Exactly five ASCII digits: str.isdigit() would also accept "٧٥٠١١" or "⁷".
_POSTCODE_RE = re.compile(r"[0-9]{5}")

# Saint-Barthélemy (97133) and Saint-Martin (97150) still carry Guadeloupe
# postcodes but left the Guadeloupe département in 2007 (now collectivités).
_NOT_A_DEPARTEMENT = frozenset({"97133", "97150"})

# CEDEX (business) codes outside the usual prefixes, as listed by the GeoNames
# postal data we ship: 970xx belong to Guadeloupe, 977xx/978xx to La Réunion.
# (977 is also Saint-Barthélemy's *INSEE* code, but its postcode is 97133.)
_OVERSEAS_ALIASES = {"970": "971", "977": "974", "978": "974"}


def get_departement(code: str) -> Departement | None:
    """The département with this code ("01", "2A", "974"), or None."""
    return DEPARTEMENTS_BY_CODE.get(code)


def departement_for_postcode(postcode: str) -> str | None:
    """The code of the département a French postcode belongs to, or None.

    The rule (from La Poste's allocation of postcodes):

    * input must be exactly 5 ASCII digits (surrounding spaces are ignored);
      anything else gives None;
    * Corsica, ``20xxx``: below 20200 is Corse-du-Sud ("2A", in practice
      200xx-201xx); 20200 and above is Haute-Corse ("2B", in practice
      202xx and 206xx, e.g. 20600 Bastia/Furiani, 20620 Biguglia).
      Checked against every Corsican postcode of the shipped data set;
    * overseas, ``97xxx``: the first three digits, for the five overseas
      départements 971 Guadeloupe, 972 Martinique, 973 Guyane,
      974 La Réunion, 976 Mayotte. 975 (Saint-Pierre-et-Miquelon),
      97133 (Saint-Barthélemy) and 97150 (Saint-Martin) are not
      départements: None. CEDEX codes 970xx are Guadeloupe's ("971"),
      977xx/978xx La Réunion's ("974");
    * ``98xxx`` (Monaco 980xx, Pacific collectivities 986-988) and
      ``00xxx``/``96xxx``/``99xxx`` are not départements: None;
    * everything else: the first two digits ("75011" → "75").

    A postcode names a distributing post office, not a commune: a handful
    of communes near a border are served from the neighbouring
    département's office, so treat the result as "almost always right",
    not as the commune's legal département (that needs the INSEE code).
    """
    if not isinstance(postcode, str):
        return None
    postcode = postcode.strip()
    if not _POSTCODE_RE.fullmatch(postcode) or postcode in _NOT_A_DEPARTEMENT:
        return None
    if postcode.startswith("20"):
        code = "2A" if int(postcode) < 20200 else "2B"
    elif postcode.startswith("97"):
        code = _OVERSEAS_ALIASES.get(postcode[:3], postcode[:3])
    else:
        code = postcode[:2]
    # "20" (old undivided Corsica), "975", "98", "00", "99"… fall out here.
    return code if code in DEPARTEMENTS_BY_CODE else None
