"""evidence records of stored files; the "metadata removed" flag goes

Every stored file is now cleaned (or refused), so the flag has no second
state. Its information lives on in the content type: before this revision,
images and PDFs were cleaned and sound files were not, which is what the
downgrade writes back.

Revision ID: 0012
Revises: 0011
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('case_items') as batch:
        batch.add_column(sa.Column('evidence_record', sa.LargeBinary(), nullable=True))
        batch.drop_column('metadata_removed')


def downgrade():
    with op.batch_alter_table('case_items') as batch:
        batch.add_column(sa.Column('metadata_removed', sa.Boolean(), nullable=True))
        batch.drop_column('evidence_record')
    op.execute(
        "UPDATE case_items SET metadata_removed = "
        "(content_type LIKE 'image/%' OR content_type = 'application/pdf') "
        "WHERE content_type IS NOT NULL"
    )
