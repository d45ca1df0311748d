"""how a report came in: by the worker on the web, or entered by staff for a worker

A report a staff member or a monitoring partner enters for a worker records its
channel (phone call, in person, letter, partner interview) in plaintext, for
statistics; a report the worker sends on the web has none. Who entered it is in
the audit trail, not on the case.

Revision ID: 0028
Revises: 0020
"""

from alembic import op
import sqlalchemy as sa


revision = '0028'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('intake_channel', sa.String(length=20), nullable=True))


def downgrade():
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('intake_channel')
