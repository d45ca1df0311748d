"""the exchange on a forwarded case: bundles both ways, numbered and filed in order

Revision ID: 0023
Revises: 0022
"""

from alembic import op
import sqlalchemy as sa


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'exchange_bundles',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('bundle_id', sa.String(length=36), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('partner_id', sa.Integer(), nullable=False),
        sa.Column('direction', sa.String(length=10), nullable=False),
        sa.Column('sequence', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('answers', sa.Integer(), nullable=True),
        sa.Column('item_ids', sa.Text(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=True),
        sa.Column('created_on', sa.Date(), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('bundle', sa.LargeBinary(), nullable=True),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.String(length=300), nullable=False),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_exchange_bundles_case_id_cases'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_exchange_bundles_partner_id_partners')),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_exchange_bundles_created_by_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_bundles')),
        sa.UniqueConstraint('bundle_id', name=op.f('uq_exchange_bundles_bundle_id')),
        sa.UniqueConstraint('case_id', 'partner_id', 'direction', 'sequence',
                            name=op.f('uq_exchange_bundles_case_id')),
    )
    op.create_index(op.f('ix_exchange_bundles_case_id'), 'exchange_bundles', ['case_id'], unique=False)
    op.create_index(op.f('ix_exchange_bundles_partner_id'), 'exchange_bundles', ['partner_id'], unique=False)
    op.create_index(op.f('ix_exchange_bundles_state'), 'exchange_bundles', ['state'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_exchange_bundles_state'), table_name='exchange_bundles')
    op.drop_index(op.f('ix_exchange_bundles_partner_id'), table_name='exchange_bundles')
    op.drop_index(op.f('ix_exchange_bundles_case_id'), table_name='exchange_bundles')
    op.drop_table('exchange_bundles')
