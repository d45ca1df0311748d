"""receipts carry a check code; the cases whose receipts were issued before it are marked

A receipt issued before this revision is 16 derived digits with no check code.
Its case is marked, so the follow-up page can still open it without the check
(under a budget of its own) for as long as such cases are kept.

Revision ID: 0015
Revises: 0014
"""

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('legacy_receipt', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.create_index(batch.f('ix_cases_legacy_receipt'), ['legacy_receipt'], unique=False)
    op.execute("UPDATE cases SET legacy_receipt = true WHERE receipt_lookup IS NOT NULL")


def downgrade():
    # Receipts issued since carry a check code; their look-up keys still open their cases.
    with op.batch_alter_table('cases') as batch:
        batch.drop_index(batch.f('ix_cases_legacy_receipt'))
        batch.drop_column('legacy_receipt')
