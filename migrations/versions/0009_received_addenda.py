"""received addenda

What a worker adds to a case they sent to Electronics Watch (messages, files)
follows the case to the partner as bundles of their own, filed with the case
received earlier: a case can now hold several received bundles.

Revision ID: 0009
Revises: 0008
"""

from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('received_bundles') as batch:
        batch.drop_constraint('uq_received_bundles_case_id', type_='unique')
        batch.create_index('ix_received_bundles_case_id', ['case_id'])


def downgrade():
    with op.batch_alter_table('received_bundles') as batch:
        batch.drop_index('ix_received_bundles_case_id')
        batch.create_unique_constraint('uq_received_bundles_case_id', ['case_id'])
