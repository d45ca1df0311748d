"""statistics indexes

The statistics pages count cases by kind, day received, recipient choice, facility and how
their deadlines went, and forwards by day, state and status. One index on each table holds
these columns, so the counts are read from indexes alone: a case row is wide (the reporter's
post-quantum key is ~2 kB), a forward row holds its bundle, and reading them made a page of
100,000 cases take seconds.

Revision ID: 0019
Revises: 0018
"""

from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

COLUMNS = ['kind', 'received_on', 'recipient_choice', 'facility_id', 'acknowledged_on', 'acknowledge_due',
           'feedback_given_on', 'feedback_due', 'authority_notified_on', 'id']


FORWARD_COLUMNS = ['created_on', 'state', 'remote_status', 'case_id']


def upgrade():
    op.create_index('ix_cases_statistics', 'cases', COLUMNS, unique=False)
    op.create_index('ix_forwards_statistics', 'forwards', FORWARD_COLUMNS, unique=False)


def downgrade():
    op.drop_index('ix_forwards_statistics', table_name='forwards')
    op.drop_index('ix_cases_statistics', table_name='cases')
