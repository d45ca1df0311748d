"""two-way SMS: a case's channel, conversations keyed by a keyed hash, webhooks already seen

Revision ID: 0025
Revises: 0024
"""

from alembic import op
import sqlalchemy as sa


revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('channel', sa.String(length=20), server_default='web', nullable=False))
    op.create_table(
        'sms_conversations',
        sa.Column('sender_key', sa.LargeBinary(length=32), nullable=False),
        sa.Column('sealed', sa.LargeBinary(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('sender_key', name=op.f('pk_sms_conversations')),
    )
    op.create_index(op.f('ix_sms_conversations_expires_at'), 'sms_conversations', ['expires_at'], unique=False)
    op.create_table(
        'sms_seen_webhooks',
        sa.Column('digest', sa.LargeBinary(length=32), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('digest', name=op.f('pk_sms_seen_webhooks')),
    )
    op.create_index(op.f('ix_sms_seen_webhooks_expires_at'), 'sms_seen_webhooks', ['expires_at'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_sms_seen_webhooks_expires_at'), table_name='sms_seen_webhooks')
    op.drop_table('sms_seen_webhooks')
    op.drop_index(op.f('ix_sms_conversations_expires_at'), table_name='sms_conversations')
    op.drop_table('sms_conversations')
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('channel')
