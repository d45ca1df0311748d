"""forwarding partners bundles

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('partners',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('base_url', sa.String(length=500), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('signing_key', sa.LargeBinary(length=32), nullable=True),
    sa.Column('recipients', sa.Text(), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outbound_token', sa.Text(), nullable=False),
    sa.Column('inbound_token_digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partners')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_partners_fingerprint')),
    sa.UniqueConstraint('inbound_token_digest', name=op.f('uq_partners_inbound_token_digest'))
    )
    op.create_table('forwards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bundle_id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_on', sa.Date(), nullable=False),
    sa.Column('scope', sa.String(length=30), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('bundle', sa.LargeBinary(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=300), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('remote_status', sa.String(length=30), nullable=True),
    sa.Column('remote_status_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_forwards_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_forwards_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_forwards_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forwards')),
    sa.UniqueConstraint('bundle_id', name=op.f('uq_forwards_bundle_id'))
    )
    with op.batch_alter_table('forwards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forwards_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_forwards_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_forwards_partner_id'), ['partner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_forwards_state'), ['state'], unique=False)

    op.create_table('received_bundles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bundle_id', sa.String(length=36), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('manifest', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status_unsent', sa.Boolean(), nullable=False),
    sa.Column('status_attempts', sa.Integer(), nullable=False),
    sa.Column('status_next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_received_bundles_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_received_bundles_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_received_bundles')),
    sa.UniqueConstraint('bundle_id', name=op.f('uq_received_bundles_bundle_id')),
    sa.UniqueConstraint('case_id', name=op.f('uq_received_bundles_case_id'))
    )
    with op.batch_alter_table('received_bundles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_received_bundles_partner_id'), ['partner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_received_bundles_status_unsent'), ['status_unsent'], unique=False)

    with op.batch_alter_table('instance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signing_key', sa.LargeBinary(length=32), nullable=True))
        batch_op.add_column(sa.Column('post_quantum', sa.Boolean(), server_default=sa.true(), nullable=False))



def downgrade():
    with op.batch_alter_table('instance', schema=None) as batch_op:
        batch_op.drop_column('post_quantum')
        batch_op.drop_column('signing_key')

    with op.batch_alter_table('received_bundles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_received_bundles_status_unsent'))
        batch_op.drop_index(batch_op.f('ix_received_bundles_partner_id'))

    op.drop_table('received_bundles')
    with op.batch_alter_table('forwards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_forwards_state'))
        batch_op.drop_index(batch_op.f('ix_forwards_partner_id'))
        batch_op.drop_index(batch_op.f('ix_forwards_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_forwards_case_id'))

    op.drop_table('forwards')
    op.drop_table('partners')
