import pytest

from umpnet_geo import (
    DEPARTEMENTS,
    DEPARTEMENTS_BY_CODE,
    DIGITAL_FEDERATION,
    Departement,
    departement_for_postcode,
    get_departement,
)


def test_the_101_departements_in_official_order():
    expected = (
        [f"{i:02d}" for i in range(1, 20)]
        + ["2A", "2B"]
        + [str(i) for i in range(21, 96)]
        + ["971", "972", "973", "974", "976"]
    )
    assert [d.code for d in DEPARTEMENTS] == expected
    assert len(DEPARTEMENTS) == 101 == len(DEPARTEMENTS_BY_CODE)


@pytest.mark.parametrize(
    "code, name",
    [
        ("01", "Ain"),
        ("22", "Côtes-d'Armor"),
        ("2A", "Corse-du-Sud"),
        ("2B", "Haute-Corse"),
        ("75", "Paris"),
        ("90", "Territoire de Belfort"),
        ("974", "La Réunion"),
        ("976", "Mayotte"),
    ],
)
def test_names_are_accented_french(code, name):
    assert get_departement(code) == Departement(code, name)


def test_departement_is_frozen_and_digital_federation_is_not_one():
    with pytest.raises(AttributeError):
        DEPARTEMENTS[0].name = "x"
    assert DIGITAL_FEDERATION == ("numerique", "Fédération numérique")
    assert get_departement(DIGITAL_FEDERATION[0]) is None
    assert get_departement("20") is None and get_departement("1") is None


@pytest.mark.parametrize(
    "postcode, code",
    [
        ("01000", "01"),  # Bourg-en-Bresse: keeps its leading zero
        ("75011", "75"),
        ("75116", "75"),
        ("69001", "69"),
        ("13001", "13"),
        ("95000", "95"),
        ("75700", "75"),  # Paris CEDEX code
        (" 75011 ", "75"),  # surrounding spaces are tolerated
        # Corsica
        ("20000", "2A"),  # Ajaccio
        ("20090", "2A"),
        ("20100", "2A"),  # Sartène
        ("20167", "2A"),  # Mezzavia / Alata
        ("20199", "2A"),
        ("20200", "2B"),  # Bastia
        ("20218", "2B"),  # Ponte-Leccia
        ("20250", "2B"),  # Corte
        ("20600", "2B"),  # Bastia / Furiani
        ("20620", "2B"),  # Biguglia
        # Overseas départements
        ("97100", "971"),  # Basse-Terre
        ("97200", "972"),  # Fort-de-France
        ("97300", "973"),  # Cayenne
        ("97400", "974"),  # Saint-Denis de La Réunion
        ("97600", "976"),  # Mamoudzou
        ("97701", "974"),  # Réunion CEDEX
        ("97899", "974"),  # Réunion CEDEX
        ("97001", "971"),  # Guadeloupe CEDEX (Les Abymes)
    ],
)
def test_departement_for_postcode(postcode, code):
    assert departement_for_postcode(postcode) == code


@pytest.mark.parametrize(
    "postcode",
    [
        "97500",  # Saint-Pierre-et-Miquelon: a collectivity, not a département
        "97133",  # Saint-Barthélemy
        "97150",  # Saint-Martin
        "98000",  # Monaco
        "97900",  # no 979 département
        "98800",  # Nouméa
        "98714",  # Papeete
        "00100",
        "99999",
        # malformed
        "7501",
        "750011",
        "75 011",
        "7501a",
        "2A000",
        "",
        "７５０１１",  # full-width digits
        "٧٥٠١١",  # Arabic-Indic digits
        None,
        75011,
    ],
)
def test_not_a_departement(postcode):
    assert departement_for_postcode(postcode) is None
