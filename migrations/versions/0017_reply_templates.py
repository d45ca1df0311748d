"""administrators' own reply templates, one row per name and language

Revision ID: 0017
Revises: 0016
"""

from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'reply_templates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('language', sa.String(length=16), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('created_on', sa.Date(), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_reply_templates_created_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reply_templates')),
        sa.UniqueConstraint('name', 'language', name='uq_reply_templates_name_language'),
    )
    op.create_index(op.f('ix_reply_templates_name'), 'reply_templates', ['name'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_reply_templates_name'), table_name='reply_templates')
    op.drop_table('reply_templates')
