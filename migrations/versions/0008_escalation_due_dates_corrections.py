"""escalation due dates and corrections

Revision ID: 0008
Revises: 0007
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('escalation_steps') as batch:
        batch.add_column(sa.Column('due_on', sa.Date(), nullable=True))
        batch.add_column(sa.Column('corrects_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('withdrawn', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.create_foreign_key(batch.f('fk_escalation_steps_corrects_id_escalation_steps'), 'escalation_steps',
                                 ['corrects_id'], ['id'])


def downgrade():
    with op.batch_alter_table('escalation_steps') as batch:
        batch.drop_constraint(batch.f('fk_escalation_steps_corrects_id_escalation_steps'), type_='foreignkey')
        batch.drop_column('withdrawn')
        batch.drop_column('corrects_id')
        batch.drop_column('due_on')
