"""a lead per case, reminders sent once, a digest setting, and the inbox's "needs me" index

Every case gets a lead: its first keyholder (the lowest keyholder row, the
first routed at intake). A user may take deadline reminders as one digest a
day. Each reminder queued is recorded, so a daily job sends it once.

Revision ID: 0020
Revises: 0019
"""

from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('lead_user_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f('fk_cases_lead_user_id_users'), 'users', ['lead_user_id'], ['id'])
    op.execute("UPDATE cases SET lead_user_id = (SELECT keyholders.user_id FROM keyholders "
               "WHERE keyholders.case_id = cases.id ORDER BY keyholders.id LIMIT 1)")
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('reminder_digest', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('keyholders') as batch:
        batch.create_index('ix_keyholders_user_case_seen', ['user_id', 'case_id', 'seen_item_id'], unique=False)
    op.create_index('ix_cases_inbox_need', 'cases', ['id', 'status', 'urgent', 'risk_level', 'acknowledge_due',
                                                     'feedback_due', 'last_reporter_item_id', 'facility_id',
                                                     'language'], unique=False)
    op.create_table(
        'sent_reminders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('deadline', sa.String(length=20), nullable=False),
        sa.Column('stage', sa.String(length=10), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_sent_reminders_case_id_cases'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sent_reminders')),
        sa.UniqueConstraint('case_id', 'deadline', 'stage', 'due_on',
                            name=op.f('uq_sent_reminders_case_id')),
    )
    op.create_index(op.f('ix_sent_reminders_case_id'), 'sent_reminders', ['case_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_sent_reminders_case_id'), table_name='sent_reminders')
    op.drop_table('sent_reminders')
    op.drop_index('ix_cases_inbox_need', table_name='cases')
    with op.batch_alter_table('keyholders') as batch:
        batch.drop_index('ix_keyholders_user_case_seen')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('reminder_digest')
    with op.batch_alter_table('cases') as batch:
        batch.drop_constraint(batch.f('fk_cases_lead_user_id_users'), type_='foreignkey')
        batch.drop_column('lead_user_id')
