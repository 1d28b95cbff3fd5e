"""The debates use cases (tests/unit/debates/debate_cases.py) on SQLite and PostgreSQL, migrated:
French search with accents folded on both backends."""
import pytest

from umpnet_kernel.database import Database

from tests.unit.debates.debate_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from tests.unit.debates.debate_cases import build_app

# The sanitiser's payloads render the same whatever the store: they run once, in
# tests/unit/debates (the in-memory store), not on each backend (88 cases, ~50 s).
del test_xss_payloads_are_rendered_inert, test_a_debate_s_opening_text_is_sanitised_too  # noqa: F821


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, migrated_url):
    db = Database(migrated_url("debates", request.param))
    yield build_app(db)
    db.dispose()


@pytest.mark.parametrize("unaccent", [True, False], ids=["unaccent", "folded-in-python"])
def test_postgresql_search_stems_french_with_or_without_unaccent(migrated_url, monkeypatch, unaccent):
    from debates import search
    from debates.commands import OpenDebate, PostContribution

    from tests.unit.debates.debate_cases import ANONYMOUS, MOD_75, registered

    if not unaccent:  # an installation where the extension cannot be created
        monkeypatch.setattr(search, "_has_unaccent", lambda conn: False)
    db = Database(migrated_url("debates", "postgresql"))
    try:
        app = build_app(db)
        with db.read() as conn:
            assert search._has_unaccent(conn) is unaccent
        registered(app, MOD_75.actor_id, "Modeste")
        debate = app.open_debate(OpenDebate(title="Les écoles rurales", body="Fermetures de classes.",
                                            scope="national", theme="education"), MOD_75)
        app.post(PostContribution(debate_id=debate["id"], body="Les élèves marchent longtemps."), MOD_75)
        for query in ("ecole", "École", "ecoles", "eleve", "fermeture"):
            assert [d["id"] for d in app.list_debates(ANONYMOUS, q=query)["items"]] == [debate["id"]], query
        assert app.list_debates(ANONYMOUS, q="hôpital")["items"] == []
        assert app.list_debates(ANONYMOUS, q="le de la")["items"] == []  # stop words only: no query
    finally:
        db.dispose()
