"""administrators' overrides of catalogue strings, one row per change

Revision ID: 0024
Revises: 0023
"""

from alembic import op
import sqlalchemy as sa


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'translation_overrides',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=16), nullable=False),
        sa.Column('context', sa.String(length=100), nullable=False),
        sa.Column('msgid', sa.Text(), nullable=False),
        sa.Column('text', sa.Text(), nullable=True),
        sa.Column('previous', sa.Text(), nullable=True),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('changed_by', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['changed_by'], ['users.id'], name=op.f('fk_translation_overrides_changed_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_translation_overrides')),
    )
    op.create_index('ix_translation_overrides_language', 'translation_overrides', ['language'],
                    unique=False)


def downgrade():
    op.drop_index('ix_translation_overrides_language', table_name='translation_overrides')
    op.drop_table('translation_overrides')
