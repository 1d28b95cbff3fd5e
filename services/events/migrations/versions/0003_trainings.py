"""The trainings read models: courses, their modules, the members' enrolments.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

POSITION = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade():
    op.create_table(
        "training_courses",
        sa.Column("training_id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("description_html", sa.Text, nullable=False),
        sa.Column("candidates_only", sa.Boolean, nullable=False),
        sa.Column("module_count", sa.Integer, nullable=False),
        sa.Column("published_by", sa.String(36), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("position", POSITION, nullable=False),
    )
    op.create_index("ix_training_courses_position", "training_courses", ["position"])
    op.create_table(
        "training_modules",
        sa.Column("module_id", sa.String(36), primary_key=True),
        sa.Column("training_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("body_html", sa.Text, nullable=False),
        sa.Column("video_url", sa.String(500)),
        sa.Column("quiz", sa.Text),
    )
    op.create_index("ix_training_modules_course", "training_modules", ["training_id", "position"])
    op.create_table(
        "training_enrolments",
        sa.Column("training_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(36), primary_key=True),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_modules", sa.Text, nullable=False),
        sa.Column("completed_count", sa.Integer, nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("position", POSITION, nullable=False),
    )
    op.create_index("ix_training_enrolments_member", "training_enrolments", ["member_id", "position"])


def downgrade():
    op.drop_index("ix_training_enrolments_member", "training_enrolments")
    op.drop_table("training_enrolments")
    op.drop_index("ix_training_modules_course", "training_modules")
    op.drop_table("training_modules")
    op.drop_index("ix_training_courses_position", "training_courses")
    op.drop_table("training_courses")
