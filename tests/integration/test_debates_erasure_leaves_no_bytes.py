"""After a member's erasure, neither their contribution's words (store, read model, full-text
index) nor their name is left in the raw bytes of the debates' SQLite files, WAL included."""
import glob

from debates.commands import EditContribution
from umpnet_kernel.database import Database

from tests.unit.debates.debate_cases import (
    ALICE, ANONYMOUS, BRUNO, MOD_75, build_app, incoming, open_debate, post, registered,
)

SECRETS = [b"Zephyrine", b"hippopotamesque", b"quintavallesque", b"ornithorynquesque"]


def test_an_erased_member_s_words_and_name_leave_the_files(migrated_url, tmp_path):
    url = migrated_url("debates")
    db = Database(url)
    try:
        app = build_app(db)
        registered(app, "alice", "Zephyrine", "Quintavalle")
        registered(app, "bruno", "Bruno")
        debate = open_debate(app, context=MOD_75)
        # a debate she opened stays (others wrote in it) under its title, without her text
        hers = open_debate(app, context=ALICE, title="Les transports", body="Un constat ornithorynquesque",
                            scope="local", federation_code="75")
        mine = post(app, debate["id"], "Un avis hippopotamesque", ALICE)
        post(app, debate["id"], "Une réponse", BRUNO, parent_id=mine["id"])
        app.edit(EditContribution(mine["id"], "Un avis quintavallesque"), ALICE)
        assert app.list_debates(ANONYMOUS, q="quintavallesque")["items"]  # indexed before
        assert app.list_debates(ANONYMOUS, q="ornithorynquesque")["items"]
        app.member_erased(incoming("members.MemberErased", {"member_id": "alice"}))
        after = app.debate(hers["id"], ANONYMOUS)
        assert after["title"] == "Les transports" and after["body_html"] == ""
        assert not app.list_debates(ANONYMOUS, q="ornithorynquesque")["items"]
        assert app.list_debates(ANONYMOUS, q="transports")["items"]
    finally:
        db.dispose()
    files = glob.glob(url.removeprefix("sqlite:///") + "*")
    assert files
    # The full-text index keeps a deleted row's words in its segments until merged:
    # without the erasure's 'optimize' (search.compact) this fails on debates.db.
    for path in files:
        content = open(path, "rb").read()
        for secret in SECRETS:
            assert secret not in content, (path, secret)
