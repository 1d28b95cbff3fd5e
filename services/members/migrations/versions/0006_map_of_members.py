"""The members' map: the `map_members` read model (one row per member: display name,
federation, the snapped cell of their commune, whether they appear on the map).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MAP_EVENTS = ("members.MemberRegistered", "members.EmailVerified", "members.ProfileUpdated")


def upgrade():
    op.create_table(
        "map_members",
        sa.Column("member_id", sa.String(36), primary_key=True),
        sa.Column("display_name", sa.String(110), nullable=False),
        sa.Column("federation_code", sa.String(10), nullable=False),
        sa.Column("cell_lat", sa.Float, nullable=False),
        sa.Column("cell_lon", sa.Float, nullable=False),
        sa.Column("verified", sa.Boolean, nullable=False),
        sa.Column("map_visible", sa.Boolean, nullable=False),
        sa.Column("visible", sa.Boolean, nullable=False),
        sa.Column("version", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
    )
    op.create_index("ix_map_members_version", "map_members", ["version"])
    _fill_from_the_members_table()


def _fill_from_the_members_table():
    """Existing members get the rows a rebuild would give them: the same functions
    (members.map) from what the members read model already holds, and as version
    the position of each member's last MemberRegistered / EmailVerified / ProfileUpdated."""
    from members.map import cell_of
    from members.projections import display_name

    conn = op.get_bind()
    meta = sa.MetaData()
    members = sa.Table("members", meta, autoload_with=conn)
    events = sa.Table("events", meta, autoload_with=conn)
    last = dict(conn.execute(
        sa.select(events.c.stream_id, sa.func.max(events.c.position))
        .where(events.c.event_type.in_(MAP_EVENTS)).group_by(events.c.stream_id)).all())
    table = sa.table("map_members", *(sa.column(c) for c in (
        "member_id", "display_name", "federation_code", "cell_lat", "cell_lon", "verified", "map_visible",
        "visible", "version")))
    rows = []
    for m in conn.execute(sa.select(members)).mappings():
        lat, lon = cell_of(m["postcode"], m["city"])
        rows.append({"member_id": m["member_id"], "display_name": display_name(m),
                     "federation_code": m["federation_code"], "cell_lat": lat, "cell_lon": lon,
                     "verified": bool(m["email_verified"]), "map_visible": bool(m["map_visible"]),
                     "visible": bool(m["email_verified"] and m["map_visible"]),
                     "version": last.get(f"member-{m['member_id']}", 0)})
        if len(rows) == 5000:
            conn.execute(table.insert(), rows)
            rows = []
    if rows:
        conn.execute(table.insert(), rows)


def downgrade():
    op.drop_index("ix_map_members_version", "map_members")
    op.drop_table("map_members")
