"""retaliation claims remedies escalation

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('disciplinary_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('decided_on', sa.Date(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_disciplinary_actions_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['case_items.id'], name=op.f('fk_disciplinary_actions_item_id_case_items'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disciplinary_actions'))
    )
    with op.batch_alter_table('disciplinary_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disciplinary_actions_case_id'), ['case_id'], unique=False)

    op.create_table('escalation_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=40), nullable=False),
    sa.Column('happened_on', sa.Date(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_escalation_steps_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['case_items.id'], name=op.f('fk_escalation_steps_item_id_case_items'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalation_steps'))
    )
    with op.batch_alter_table('escalation_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_escalation_steps_case_id'), ['case_id'], unique=False)

    op.create_table('protection_measures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('decided_on', sa.Date(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_protection_measures_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['case_items.id'], name=op.f('fk_protection_measures_item_id_case_items'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_protection_measures'))
    )
    with op.batch_alter_table('protection_measures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_protection_measures_case_id'), ['case_id'], unique=False)

    op.create_table('remedies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('state_changed_on', sa.Date(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_remedies_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['case_items.id'], name=op.f('fk_remedies_item_id_case_items'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remedies'))
    )
    with op.batch_alter_table('remedies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_remedies_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_remedies_due_on'), ['due_on'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), nullable=False, server_default='report'))
        batch_op.add_column(sa.Column('related_case_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('risk_level', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('risk_assessed_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('breach_reported_on', sa.Date(), nullable=True))
        batch_op.alter_column('receipt_lookup', existing_type=sa.LargeBinary(length=32), nullable=True)
        batch_op.create_index(batch_op.f('ix_cases_related_case_id'), ['related_case_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_cases_related_case_id_cases'), 'cases', ['related_case_id'], ['id'])



def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.alter_column('receipt_lookup', existing_type=sa.LargeBinary(length=32), nullable=False)
        batch_op.drop_constraint(batch_op.f('fk_cases_related_case_id_cases'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_cases_related_case_id'))
        batch_op.drop_column('breach_reported_on')
        batch_op.drop_column('risk_assessed_on')
        batch_op.drop_column('risk_level')
        batch_op.drop_column('related_case_id')
        batch_op.drop_column('kind')

    with op.batch_alter_table('remedies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_remedies_due_on'))
        batch_op.drop_index(batch_op.f('ix_remedies_case_id'))

    op.drop_table('remedies')
    with op.batch_alter_table('protection_measures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_protection_measures_case_id'))

    op.drop_table('protection_measures')
    with op.batch_alter_table('escalation_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_escalation_steps_case_id'))

    op.drop_table('escalation_steps')
    with op.batch_alter_table('disciplinary_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disciplinary_actions_case_id'))

    op.drop_table('disciplinary_actions')
