"""Emails are rendered when they are sent: the queue keeps the template and its
inputs, never a rendered body (a body held a usable verification link, issue 6
item 8); the rate limit counts a recipient's recent emails.

Rows already queued were rendered by the old version: a pending one keeps its
bodies as the inputs of the "prerendered" template until it is sent (as
`mailer.EmailQueued` v1 events upcast, so a rebuild gives the same rows); the
others keep nothing.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

from umpnet_kernel import jsontext

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("emails", sa.Column("template", sa.String(50)))
    op.add_column("emails", sa.Column("inputs", sa.Text))
    conn = op.get_bind()
    emails = sa.table(
        "emails",
        sa.column("email_id", sa.String),
        sa.column("status", sa.String),
        sa.column("subject", sa.String),
        sa.column("text_body", sa.Text),
        sa.column("html_body", sa.Text),
        sa.column("template", sa.String),
        sa.column("inputs", sa.Text),
    )
    conn.execute(emails.update().values(template="prerendered"))
    pending = conn.execute(
        sa.select(emails.c.email_id, emails.c.subject, emails.c.text_body, emails.c.html_body).where(
            emails.c.status == "pending"
        )
    ).all()
    for email_id, subject, text_body, html_body in pending:
        inputs = {"subject": subject, "text_body": text_body, "html_body": html_body}
        conn.execute(emails.update().where(emails.c.email_id == email_id).values(inputs=jsontext.encode(inputs)))
    with op.batch_alter_table("emails") as batch:
        batch.drop_column("subject")
        batch.drop_column("text_body")
        batch.drop_column("html_body")
    op.create_index("ix_emails_recipient", "emails", ["recipient", "queued_at"])


def downgrade():
    # The bodies of pending emails are not rendered back: render them by
    # sending them, before downgrading.
    op.drop_index("ix_emails_recipient", "emails")
    with op.batch_alter_table("emails") as batch:
        batch.add_column(sa.Column("subject", sa.String(300), nullable=False, server_default=""))
        batch.add_column(sa.Column("text_body", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("html_body", sa.Text, nullable=False, server_default=""))
        batch.drop_column("inputs")
        batch.drop_column("template")
