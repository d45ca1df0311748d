"""the inbox reads a user's unread cases and the open cases by deadline from indexes

``keyholders.unread`` says whether the case holds a reporter item newer than
what this keyholder has seen. The database keeps it, with triggers on both
sides (a reporter item raising ``cases.last_reporter_item_id``; a keyholder row
written or its ``seen_item_id`` moved), so no path of the code can forget it:
intake's plain statements, the follow-up page, a claim, a forward arriving, a
hand-over, a restore. A later migration that rebuilds ``cases`` or ``keyholders``
on SQLite (batch mode copies the table) drops their triggers with the table and
must create them again; every portal test ends by checking the marks
(tests/portal/conftest.py), so a lost trigger shows.

Revision ID: 0021
Revises: 0020
"""

from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

NEXT_DUE = "(CASE WHEN status = 'received' THEN acknowledge_due ELSE feedback_due END)"
OPEN = "status IN ('received', 'acknowledged', 'investigating', 'risk_assessed')"

SQLITE_TRIGGERS = (
    """CREATE TRIGGER keyholders_unread_after_case AFTER UPDATE OF last_reporter_item_id ON cases
       BEGIN
         UPDATE keyholders SET unread = (NEW.last_reporter_item_id > seen_item_id) WHERE case_id = NEW.id;
       END""",
    """CREATE TRIGGER keyholders_unread_after_insert AFTER INSERT ON keyholders
       BEGIN
         UPDATE keyholders SET unread = COALESCE(
           (SELECT last_reporter_item_id FROM cases WHERE cases.id = NEW.case_id) > NEW.seen_item_id, 0)
         WHERE id = NEW.id;
       END""",
    """CREATE TRIGGER keyholders_unread_after_seen AFTER UPDATE OF seen_item_id, case_id ON keyholders
       BEGIN
         UPDATE keyholders SET unread = COALESCE(
           (SELECT last_reporter_item_id FROM cases WHERE cases.id = NEW.case_id) > NEW.seen_item_id, 0)
         WHERE id = NEW.id;
       END""",
)
POSTGRESQL_TRIGGERS = (
    """CREATE FUNCTION keyholders_unread_from_case() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         UPDATE keyholders SET unread = (NEW.last_reporter_item_id > seen_item_id)
           WHERE case_id = NEW.id AND unread IS DISTINCT FROM (NEW.last_reporter_item_id > seen_item_id);
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER keyholders_unread_after_case AFTER UPDATE OF last_reporter_item_id ON cases
       FOR EACH ROW WHEN (NEW.last_reporter_item_id IS DISTINCT FROM OLD.last_reporter_item_id)
       EXECUTE FUNCTION keyholders_unread_from_case()""",
    """CREATE FUNCTION keyholders_unread_from_seen() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         NEW.unread := COALESCE(
           (SELECT last_reporter_item_id FROM cases WHERE cases.id = NEW.case_id) > NEW.seen_item_id, false);
         RETURN NEW;
       END $$""",
    """CREATE TRIGGER keyholders_unread_before_write BEFORE INSERT OR UPDATE OF seen_item_id, case_id
       ON keyholders FOR EACH ROW EXECUTE FUNCTION keyholders_unread_from_seen()""",
)


def upgrade():
    with op.batch_alter_table('keyholders') as batch:
        batch.add_column(sa.Column('unread', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute("UPDATE keyholders SET unread = COALESCE((SELECT cases.last_reporter_item_id > keyholders.seen_item_id "
               "FROM cases WHERE cases.id = keyholders.case_id), false)")
    op.create_index('ix_keyholders_user_unread', 'keyholders', ['user_id', 'case_id'], unique=False,
                    sqlite_where=sa.text('unread'), postgresql_where=sa.text('unread'))
    op.create_index('ix_cases_open_by_due', 'cases',
                    [sa.text(NEXT_DUE), 'id', 'urgent', 'risk_level', 'feedback_due', 'status', 'facility_id',
                     'language'], unique=False, sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
    triggers = POSTGRESQL_TRIGGERS if op.get_bind().dialect.name == 'postgresql' else SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS keyholders_unread_before_write ON keyholders")
        op.execute("DROP TRIGGER IF EXISTS keyholders_unread_after_case ON cases")
        op.execute("DROP FUNCTION IF EXISTS keyholders_unread_from_seen()")
        op.execute("DROP FUNCTION IF EXISTS keyholders_unread_from_case()")
    else:
        for name in ("keyholders_unread_after_case", "keyholders_unread_after_insert", "keyholders_unread_after_seen"):
            # A later migration's downgrade that rebuilt ``cases`` on SQLite took its trigger with it.
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    # Batch mode on SQLite leaves expression indexes out of a table it rebuilds.
    op.execute("DROP INDEX IF EXISTS ix_cases_open_by_due")
    op.drop_index('ix_keyholders_user_unread', table_name='keyholders')
    with op.batch_alter_table('keyholders') as batch:
        batch.drop_column('unread')
