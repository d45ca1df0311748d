"""statistics in fewer passes

ix_cases_statistics takes the day acknowledged right after the day received, so that a year's
cases grouped by both come in the index's order: one pass gives the months, both deadlines' sums
and the acknowledgement days (services/statistics.py), without a sort.

Revision ID: 0026
Revises: 0025
"""

from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

COLUMNS = ['kind', 'received_on', 'acknowledged_on', 'recipient_choice', 'facility_id', 'acknowledge_due',
           'feedback_given_on', 'feedback_due', 'authority_notified_on', 'id']
FORMER_COLUMNS = ['kind', 'received_on', 'recipient_choice', 'facility_id', 'acknowledged_on', 'acknowledge_due',
                  'feedback_given_on', 'feedback_due', 'authority_notified_on', 'id']


def upgrade():
    op.drop_index('ix_cases_statistics', table_name='cases')
    op.create_index('ix_cases_statistics', 'cases', COLUMNS, unique=False)


def downgrade():
    op.drop_index('ix_cases_statistics', table_name='cases')
    op.create_index('ix_cases_statistics', 'cases', FORMER_COLUMNS, unique=False)
