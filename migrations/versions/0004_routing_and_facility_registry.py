"""routing and facility registry

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('disclosure_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('uploaded_by', sa.Integer(), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('changes', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['uploaded_by'], ['users.id'], name=op.f('fk_disclosure_imports_uploaded_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_imports'))
    )
    op.create_table('exclusions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=True),
    sa.Column('supplier', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_exclusions_facility_id_facilities')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_exclusions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exclusions')),
    sa.UniqueConstraint('user_id', 'facility_id', 'supplier', name=op.f('uq_exclusions_user_id'))
    )
    with op.batch_alter_table('exclusions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exclusions_user_id'), ['user_id'], unique=False)

    op.create_table('routing_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=True),
    sa.Column('supplier', sa.String(length=300), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('category', sa.String(length=40), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('urgent', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_routing_rules_facility_id_facilities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_rules'))
    )
    with op.batch_alter_table('routing_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_rules_position'), ['position'], unique=False)

    op.create_table('routing_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_routing_alerts_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_alerts'))
    )
    op.create_table('routing_rule_recipients',
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['rule_id'], ['routing_rules.id'], name=op.f('fk_routing_rule_recipients_rule_id_routing_rules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_routing_rule_recipients_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('rule_id', 'user_id', name=op.f('pk_routing_rule_recipients'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient_choice', sa.String(length=20), nullable=False, server_default='contractor'))
        batch_op.add_column(sa.Column('routing_rule_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('mandatory_notification', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('mandatory_notified_on', sa.Date(), nullable=True))

    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reference', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('supplier_office', sa.Text(), nullable=False, server_default=''))
        batch_op.create_unique_constraint(batch_op.f('uq_facilities_reference'), ['reference'])

    with op.batch_alter_table('instance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient_choices', sa.String(length=60), nullable=False, server_default='contractor,monitor,both'))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shown_to_reporters', sa.Boolean(), nullable=False, server_default=sa.false()))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('shown_to_reporters')

    with op.batch_alter_table('instance', schema=None) as batch_op:
        batch_op.drop_column('recipient_choices')

    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_facilities_reference'), type_='unique')
        batch_op.drop_column('supplier_office')
        batch_op.drop_column('reference')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('mandatory_notified_on')
        batch_op.drop_column('mandatory_notification')
        batch_op.drop_column('routing_rule_id')
        batch_op.drop_column('recipient_choice')

    op.drop_table('routing_rule_recipients')
    op.drop_table('routing_alerts')
    with op.batch_alter_table('routing_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routing_rules_position'))

    op.drop_table('routing_rules')
    with op.batch_alter_table('exclusions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exclusions_user_id'))

    op.drop_table('exclusions')
    op.drop_table('disclosure_imports')
