"""disclosure files as contractors send them: how each was read, its bytes when not UTF-8, its columns

Revision ID: 0018
Revises: 0017
"""

from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('disclosure_imports') as batch:
        batch.add_column(sa.Column('read_as', sa.String(length=60), server_default='utf-8', nullable=False))
        batch.add_column(sa.Column('original', sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column('columns', sa.Text(), nullable=True))
        batch.add_column(sa.Column('awaiting_columns', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    # Imports read from a workbook or a legacy encoding lose their file: refuse rather than lose it.
    connection = op.get_bind()
    kept = connection.execute(sa.text("SELECT count(*) FROM disclosure_imports WHERE original IS NOT NULL")).scalar()
    if kept:
        raise RuntimeError("disclosure files not in UTF-8 are stored: downgrading would lose them")
    with op.batch_alter_table('disclosure_imports') as batch:
        batch.drop_column('awaiting_columns')
        batch.drop_column('columns')
        batch.drop_column('original')
        batch.drop_column('read_as')
