"""statuses sent back for a bundle carry a sequence number

The partner numbers the statuses it sets for each bundle it received and signs
the number with the status; the sender keeps the number of the latest status it
accepted, and refuses any status whose number is not greater (a replay).
Rows from before start at 0: the next status set is number 1.

Revision ID: 0013
Revises: 0012
"""

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('received_bundles') as batch:
        batch.add_column(sa.Column('status_sequence', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('forwards') as batch:
        batch.add_column(sa.Column('remote_status_sequence', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('forwards') as batch:
        batch.drop_column('remote_status_sequence')
    with op.batch_alter_table('received_bundles') as batch:
        batch.drop_column('status_sequence')
