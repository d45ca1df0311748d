"""kept files: cleaned evidence files kept, sealed, between two sends of a reporter's form

Revision ID: 0010
Revises: 0009
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('kept_files',
    sa.Column('id', sa.LargeBinary(length=16), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('deletable_on', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kept_files'))
    )
    with op.batch_alter_table('kept_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kept_files_deletable_on'), ['deletable_on'], unique=False)


def downgrade():
    with op.batch_alter_table('kept_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kept_files_deletable_on'))
    op.drop_table('kept_files')
