"""the day the contracting authority was notified of a case, apart from Electronics Watch

Revision ID: 0011
Revises: 0010
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('authority_notified_on', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('authority_notified_on')
