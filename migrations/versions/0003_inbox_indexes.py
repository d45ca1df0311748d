"""inbox indexes

The inbox counts and pages a user's cases from indexes alone: each filter
column (status, facility, language) leads an index holding the sort keys and
the other filters, and categories are found by (code, case_id). The
single-column indexes they replace would only tempt SQLite's planner into
reading the wide case rows.

Revision ID: 0003
Revises: 0002
"""

from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

INBOX = {
    'ix_cases_inbox_status':
        ['status', 'acknowledge_due', 'feedback_due', 'received_on', 'facility_id', 'language'],
    'ix_cases_inbox_facility_id':
        ['facility_id', 'acknowledge_due', 'feedback_due', 'received_on', 'status', 'language'],
    'ix_cases_inbox_language':
        ['language', 'acknowledge_due', 'feedback_due', 'received_on', 'status', 'facility_id'],
}


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        for name, columns in INBOX.items():
            batch_op.create_index(name, columns, unique=False)
        batch_op.drop_index(batch_op.f('ix_cases_status'))
        batch_op.drop_index(batch_op.f('ix_cases_facility_id'))

    with op.batch_alter_table('case_categories', schema=None) as batch_op:
        batch_op.create_index('ix_case_categories_code_case_id', ['code', 'case_id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_case_categories_code'))


def downgrade():
    with op.batch_alter_table('case_categories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_categories_code'), ['code'], unique=False)
        batch_op.drop_index('ix_case_categories_code_case_id')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_facility_id'), ['facility_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_status'), ['status'], unique=False)
        for name in reversed(INBOX):
            batch_op.drop_index(name)
