"""findings and corrective actions: per case or per facility, with states, due dates and history

Only states, due dates, days and the facility are plaintext; every text is an
encrypted item of each linked case, named by ``finding_items``.

Revision ID: 0022
Revises: 0021
"""

from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=36), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=True),
    sa.Column('shared_with_worker', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_on', sa.Date(), nullable=False),
    sa.Column('updated_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_findings_facility_id_facilities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_findings')),
    sa.UniqueConstraint('reference', name=op.f('uq_findings_reference'))
    )
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_findings_facility_id'), ['facility_id'], unique=False)

    op.create_table('corrective_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=36), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('created_on', sa.Date(), nullable=False),
    sa.Column('updated_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_corrective_actions_facility_id_facilities')),
    sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], name=op.f('fk_corrective_actions_finding_id_findings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_corrective_actions')),
    sa.UniqueConstraint('reference', name=op.f('uq_corrective_actions_reference'))
    )
    with op.batch_alter_table('corrective_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_corrective_actions_due_on'), ['due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_corrective_actions_facility_id'), ['facility_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_corrective_actions_finding_id'), ['finding_id'], unique=False)

    op.create_table('finding_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_finding_cases_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], name=op.f('fk_finding_cases_finding_id_findings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finding_cases')),
    sa.UniqueConstraint('finding_id', 'case_id', name=op.f('uq_finding_cases_finding_id'))
    )
    with op.batch_alter_table('finding_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finding_cases_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finding_cases_finding_id'), ['finding_id'], unique=False)

    op.create_table('corrective_action_states',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('changed_on', sa.Date(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('by_monitor', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['corrective_actions.id'], name=op.f('fk_corrective_action_states_action_id_corrective_actions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_corrective_action_states_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_corrective_action_states'))
    )
    with op.batch_alter_table('corrective_action_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_corrective_action_states_action_id'), ['action_id'], unique=False)

    op.create_table('finding_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['corrective_actions.id'], name=op.f('fk_finding_items_action_id_corrective_actions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_finding_items_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], name=op.f('fk_finding_items_finding_id_findings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['case_items.id'], name=op.f('fk_finding_items_item_id_case_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finding_items'))
    )
    with op.batch_alter_table('finding_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finding_items_action_id'), ['action_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finding_items_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finding_items_finding_id'), ['finding_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finding_items_item_id'), ['item_id'], unique=False)



def downgrade():
    with op.batch_alter_table('finding_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finding_items_item_id'))
        batch_op.drop_index(batch_op.f('ix_finding_items_finding_id'))
        batch_op.drop_index(batch_op.f('ix_finding_items_case_id'))
        batch_op.drop_index(batch_op.f('ix_finding_items_action_id'))

    op.drop_table('finding_items')
    with op.batch_alter_table('corrective_action_states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_corrective_action_states_action_id'))

    op.drop_table('corrective_action_states')
    with op.batch_alter_table('finding_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finding_cases_finding_id'))
        batch_op.drop_index(batch_op.f('ix_finding_cases_case_id'))

    op.drop_table('finding_cases')
    with op.batch_alter_table('corrective_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_corrective_actions_finding_id'))
        batch_op.drop_index(batch_op.f('ix_corrective_actions_facility_id'))
        batch_op.drop_index(batch_op.f('ix_corrective_actions_due_on'))

    op.drop_table('corrective_actions')
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_findings_facility_id'))

    op.drop_table('findings')
