"""the instance row counts changes to users and routing rules

Each process keeps whom routing chooses among (the rules with their recipients,
the users receiving new cases, the monitor accounts) until this number changes.

Revision ID: 0016
Revises: 0015
"""

from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('instance') as batch:
        batch.add_column(sa.Column('routing_generation', sa.BigInteger(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('instance') as batch:
        batch.drop_column('routing_generation')
