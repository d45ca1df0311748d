"""attempt budgets expire: each row knows when its window ends, so it can go

Rows kept from before have no such time: they get one an hour ahead, past the
end of the longest window any budget uses (15 minutes), and go after that.

Revision ID: 0014
Revises: 0013
"""

from datetime import datetime, timedelta, timezone

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('budgets') as batch:
        batch.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    budgets = sa.table('budgets', sa.column('expires_at', sa.DateTime(timezone=True)))
    op.execute(budgets.update().values(expires_at=datetime.now(timezone.utc) + timedelta(hours=1)))
    with op.batch_alter_table('budgets') as batch:
        batch.alter_column('expires_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.create_index(batch.f('ix_budgets_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('budgets') as batch:
        batch.drop_index(batch.f('ix_budgets_expires_at'))
        batch.drop_column('expires_at')
