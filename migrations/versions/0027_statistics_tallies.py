"""statistics from running counts that the database keeps

``cases.audiences`` says whose statistics count a case, one bit each: 1 for the
contractor's administrators and the public page (a report anyone at the contractor may
know of), 2 for the contracting authority (one of those, notified to it or escalated),
4 for Electronics Watch (forwarded to it, or received from another instance). Triggers
keep it from the case, its escalation steps and its forwards, and keep four tables of
running counts by audiences (facility and category by year; each deadline by month,
met or missed by the days it took, or waiting by the day it is due; forwards by year,
state and status). Every change is an
upsert of +1 or -1, so the counts come out right whatever order nested triggers fire in;
a count that comes to zero is deleted, so that a deleted case leaves no trace here.
A case is taken out of the counts before it is deleted, while its categories are still
there to say which counts hold it.

As 0021 says: a later migration that rebuilds ``cases`` or ``case_categories`` on
SQLite must create their triggers again; every portal test ends by recounting
(tests/portal/conftest.py), so a lost trigger shows.

Revision ID: 0027
Revises: 0026
"""

from alembic import op
import sqlalchemy as sa


revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

DEADLINES = (("a", "acknowledged_on", "acknowledge_due"), ("f", "feedback_given_on", "feedback_due"))
# The columns whose change moves a case from one count to another.
COUNTED = ("audiences", "received_on", "facility_id", "acknowledged_on", "acknowledge_due", "feedback_given_on",
           "feedback_due")
TABLES = ("statistics_places", "statistics_categories", "statistics_answered", "statistics_waiting",
          "statistics_forwards")
# A forward's moves: its own, and its case's audiences that it changes.
FORWARD_COLUMNS = ("case_id", "state", "remote_status", "created_on")


def audiences(case_id: str, kind: str, recipient_choice: str, notified: str) -> str:
    """A case's audiences, from its columns (SQL expressions) and its other rows."""
    return (f"(CASE WHEN {kind} = 'report' AND {recipient_choice} <> 'monitor' THEN 1 + "
            f"CASE WHEN {notified} IS NOT NULL OR EXISTS "
            f"(SELECT 1 FROM escalation_steps WHERE escalation_steps.case_id = {case_id}) THEN 2 ELSE 0 END "
            f"ELSE 0 END + CASE WHEN {kind} = 'forwarded' OR ({kind} = 'report' AND EXISTS "
            f"(SELECT 1 FROM forwards WHERE forwards.case_id = {case_id})) THEN 4 ELSE 0 END)")


def audiences_of(row: str) -> str:
    return audiences(f"{row}.id", f"{row}.kind", f"{row}.recipient_choice", f"{row}.authority_notified_on")


class Dates:
    def __init__(self, dialect: str):
        self.postgresql = dialect == "postgresql"

    def year(self, day: str) -> str:
        if self.postgresql:
            return f"CAST(EXTRACT(YEAR FROM {day}) AS INTEGER)"
        return f"CAST(substr({day}, 1, 4) AS INTEGER)"

    def month(self, day: str) -> str:
        if self.postgresql:
            return f"CAST(EXTRACT(YEAR FROM {day}) * 100 + EXTRACT(MONTH FROM {day}) AS INTEGER)"
        return f"CAST(substr({day}, 1, 4) || substr({day}, 6, 2) AS INTEGER)"

    def days(self, start: str, end: str) -> str:
        if self.postgresql:
            return f"({end} - {start})"
        return f"CAST(julianday({end}) - julianday({start}) AS INTEGER)"


def count(table: str, keys: dict[str, str], sign: int, where: str, source: str = "",
          emptied: str | None = None, grouped: bool = False) -> list[str]:
    """Add ``sign`` to the count of ``table`` at ``keys`` (column: SQL value), then delete the
    count if it came to zero: a deleted case leaves no trace of its days in these tables.

    ``grouped``: the ``source`` rows may share a key (a case's forwards), and PostgreSQL's upsert
    may touch a row once a statement."""
    columns, values = ", ".join(keys), ", ".join(keys.values())
    emptied = emptied or " AND ".join(f"{column} = {value}" for column, value in keys.items())
    selected = (f"SELECT {values}, {sign} * count(*){source} WHERE {where} GROUP BY {values}" if grouped
                else f"SELECT {values}, {sign}{source} WHERE {where}")
    return [f"INSERT INTO {table} ({columns}, n) {selected} "
            f"ON CONFLICT ({columns}) DO UPDATE SET n = {table}.n + excluded.n",
            f"DELETE FROM {table} WHERE n = 0 AND {emptied}"]


def case_counts(dates: Dates, row: str, sign: int) -> list[str]:
    """The statements adding (+1) or taking away (-1) the case ``row`` from its counts but the
    categories'."""
    year, month = dates.year(f"{row}.received_on"), dates.month(f"{row}.received_on")
    counted = f"{row}.audiences <> 0"
    statements = count("statistics_places", {"audiences": f"{row}.audiences", "year": year,
                                             "facility_id": f"COALESCE({row}.facility_id, 0)"}, sign, counted)
    for code, done, due in DEADLINES:
        statements += count("statistics_answered", {
            "audiences": f"{row}.audiences", "deadline": f"'{code}'", "month": month,
            "days": dates.days(f"{row}.received_on", f"{row}.{done}"), "late": f"({row}.{done} > {row}.{due})"},
            sign, f"{counted} AND {row}.{done} IS NOT NULL")
        statements += count("statistics_waiting", {
            "audiences": f"{row}.audiences", "deadline": f"'{code}'", "month": month, "due_on": f"{row}.{due}"},
            sign, f"{counted} AND {row}.{done} IS NULL")
    return statements


def category_counts(dates: Dates, row: str, sign: int, condition: str = "") -> list[str]:
    """The statements adding or taking away every category of the case ``row``."""
    year = dates.year(f"{row}.received_on")
    return count("statistics_categories", {"audiences": f"{row}.audiences", "year": year,
                                           "code": "case_categories.code"}, sign,
                 f"case_categories.case_id = {row}.id AND {row}.audiences <> 0{condition}",
                 source=" FROM case_categories", emptied=f"audiences = {row}.audiences AND year = {year}")


def category_count(dates: Dates, row: str, sign: int) -> list[str]:
    """The statements adding or taking away one category row ``row`` of a case, if the case is there."""
    return count("statistics_categories", {"audiences": "cases.audiences", "year": dates.year("cases.received_on"),
                                           "code": f"{row}.code"}, sign,
                 f"cases.id = {row}.case_id AND cases.audiences <> 0", source=" FROM cases",
                 emptied=f"code = {row}.code")


def forward_bits(row: str) -> str:
    """The audiences a forward of the case ``row`` counts for: the case's, with Electronics Watch's
    bit that the forward itself gives it. Not the case's own ``audiences``, which gains and loses
    that bit as its forwards come and go: on PostgreSQL a statement's row triggers run after the
    whole statement, when its other forwards are already there or already gone."""
    return f"(CASE WHEN {row}.kind IN ('report', 'forwarded') THEN {row}.audiences | 4 ELSE 0 END)"


def forward_count(dates: Dates, row: str, sign: int) -> list[str]:
    """The statements adding or taking away the forward ``row``, if its case is there."""
    year = dates.year(f"{row}.created_on")
    keys = {"year": year, "state": f"{row}.state", "remote_status": f"COALESCE({row}.remote_status, '')"}
    return count("statistics_forwards", {"audiences": forward_bits("cases"), **keys}, sign,
                 f"cases.id = {row}.case_id AND cases.kind IN ('report', 'forwarded')", source=" FROM cases",
                 emptied=" AND ".join(f"{column} = {value}" for column, value in keys.items()))


def forwards_of_case(dates: Dates, row: str, sign: int, condition: str = "") -> list[str]:
    """The statements adding or taking away every forward of the case ``row``."""
    return count("statistics_forwards", {
        "audiences": forward_bits(row), "year": dates.year("forwards.created_on"), "state": "forwards.state",
        "remote_status": "COALESCE(forwards.remote_status, '')"}, sign,
        f"forwards.case_id = {row}.id AND {row}.kind IN ('report', 'forwarded'){condition}", source=" FROM forwards",
        emptied=f"audiences = {forward_bits(row)}", grouped=True)


def forward_moves(dates: Dates) -> tuple[list[str], list[str]]:
    """A forward gone (OLD) or written (NEW): its count, and its case's audiences worked out again."""
    return ([*forward_count(dates, "OLD", -1), audiences_again("OLD.case_id")],
            [*forward_count(dates, "NEW", 1), audiences_again("NEW.case_id")])


def audiences_again(case_id: str) -> str:
    return (f"UPDATE cases SET audiences = {audiences_of('cases')} "
            f"WHERE cases.id = {case_id} AND cases.audiences <> {audiences_of('cases')}")


def moved(dates: Dates, distinct: str) -> tuple[str, str, str]:
    """When a case's counts change, when its categories' counts change too, and its forwards'."""
    changed = " OR ".join(f"OLD.{column} {distinct} NEW.{column}" for column in (*COUNTED, "kind"))
    categories = (f" AND (OLD.audiences <> NEW.audiences OR "
                  f"{dates.year('OLD.received_on')} <> {dates.year('NEW.received_on')})")
    return changed, categories, f" AND {forward_bits('OLD')} <> {forward_bits('NEW')}"


def sqlite_triggers() -> list[str]:
    dates = Dates("sqlite")
    changed, categories_moved, audiences_moved = moved(dates, "IS NOT")

    def body(statements):
        return "BEGIN\n" + "".join(f"  {statement};\n" for statement in statements) + "END"

    made = [
        "CREATE TRIGGER statistics_audiences_after_insert AFTER INSERT ON cases "
        + body([f"UPDATE cases SET audiences = {audiences_of('cases')} WHERE cases.id = NEW.id"]),
        "CREATE TRIGGER statistics_audiences_after_change "
        "AFTER UPDATE OF kind, recipient_choice, authority_notified_on ON cases "
        + body([audiences_again("NEW.id")]),
        f"CREATE TRIGGER statistics_counts_after_update AFTER UPDATE OF {', '.join(COUNTED)}, kind ON cases "
        f"WHEN {changed} "
        + body([*case_counts(dates, "OLD", -1), *category_counts(dates, "OLD", -1, categories_moved),
                *forwards_of_case(dates, "OLD", -1, audiences_moved),
                *case_counts(dates, "NEW", 1), *category_counts(dates, "NEW", 1, categories_moved),
                *forwards_of_case(dates, "NEW", 1, audiences_moved)]),
        "CREATE TRIGGER statistics_counts_before_delete BEFORE DELETE ON cases "
        + body([*case_counts(dates, "OLD", -1), *category_counts(dates, "OLD", -1),
                *forwards_of_case(dates, "OLD", -1)]),
        "CREATE TRIGGER statistics_categories_after_insert AFTER INSERT ON case_categories "
        + body(category_count(dates, "NEW", 1)),
        "CREATE TRIGGER statistics_categories_after_delete AFTER DELETE ON case_categories "
        + body(category_count(dates, "OLD", -1)),
        "CREATE TRIGGER statistics_categories_after_update AFTER UPDATE OF code, case_id ON case_categories "
        + body([*category_count(dates, "OLD", -1), *category_count(dates, "NEW", 1)]),
    ]
    made += [
        "CREATE TRIGGER statistics_audiences_after_escalation_steps_insert AFTER INSERT ON escalation_steps "
        + body([audiences_again("NEW.case_id")]),
        "CREATE TRIGGER statistics_audiences_after_escalation_steps_delete AFTER DELETE ON escalation_steps "
        + body([audiences_again("OLD.case_id")]),
        "CREATE TRIGGER statistics_audiences_after_escalation_steps_update AFTER UPDATE OF case_id "
        "ON escalation_steps " + body([audiences_again("OLD.case_id"), audiences_again("NEW.case_id")]),
    ]
    gone, written = forward_moves(dates)
    made += [
        "CREATE TRIGGER statistics_counts_after_forwards_insert AFTER INSERT ON forwards " + body(written),
        "CREATE TRIGGER statistics_counts_after_forwards_delete AFTER DELETE ON forwards " + body(gone),
        f"CREATE TRIGGER statistics_counts_after_forwards_update AFTER UPDATE OF {', '.join(FORWARD_COLUMNS)} "
        f"ON forwards " + body([*gone, *written]),
    ]
    return made


SQLITE_TRIGGER_NAMES = (
    "statistics_audiences_after_insert", "statistics_audiences_after_change", "statistics_counts_after_update",
    "statistics_counts_before_delete", "statistics_categories_after_insert", "statistics_categories_after_delete",
    "statistics_categories_after_update",
    *(f"statistics_audiences_after_escalation_steps_{event}" for event in ("insert", "delete", "update")),
    *(f"statistics_counts_after_forwards_{event}" for event in ("insert", "delete", "update")))


def postgresql_triggers() -> list[str]:
    dates = Dates("postgresql")
    changed, categories_moved, audiences_moved = moved(dates, "IS DISTINCT FROM")

    def function(name, statements, returned="NULL"):
        return (f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
                + "".join(f"  {statement};\n" for statement in statements)
                + f"  RETURN {returned};\nEND $$")

    def when(operations, statements):
        return f"IF TG_OP IN ({operations}) THEN\n    " + ";\n    ".join(statements) + ";\n  END IF"

    return [
        "CREATE FUNCTION statistics_audiences(case_key integer, case_kind varchar, case_recipient_choice varchar, "
        "case_notified date) RETURNS integer LANGUAGE sql STABLE AS $$ SELECT "
        + audiences("case_key", "case_kind", "case_recipient_choice", "case_notified") + " $$",
        function("statistics_audiences_from_case", [
            "NEW.audiences := statistics_audiences(NEW.id, NEW.kind, NEW.recipient_choice, NEW.authority_notified_on)"],
            returned="NEW"),
        "CREATE TRIGGER statistics_audiences_before_write BEFORE INSERT OR UPDATE OF kind, recipient_choice, "
        "authority_notified_on ON cases FOR EACH ROW EXECUTE FUNCTION statistics_audiences_from_case()",
        function("statistics_counts_from_case", [
            when("'UPDATE', 'DELETE'", case_counts(dates, "OLD", -1)),
            when("'DELETE'", [*category_counts(dates, "OLD", -1), *forwards_of_case(dates, "OLD", -1)]),
            when("'UPDATE'", [*category_counts(dates, "OLD", -1, categories_moved),
                              *category_counts(dates, "NEW", 1, categories_moved),
                              *forwards_of_case(dates, "OLD", -1, audiences_moved),
                              *forwards_of_case(dates, "NEW", 1, audiences_moved)]),
            when("'INSERT', 'UPDATE'", case_counts(dates, "NEW", 1)),
            "IF TG_OP = 'DELETE' THEN\n    RETURN OLD;\n  END IF"]),
        "CREATE TRIGGER statistics_counts_after_insert AFTER INSERT ON cases "
        "FOR EACH ROW EXECUTE FUNCTION statistics_counts_from_case()",
        # Listing the columns the BEFORE trigger reads too: PostgreSQL fires UPDATE OF for the
        # columns a statement sets, not for ``audiences`` set by that trigger.
        f"CREATE TRIGGER statistics_counts_after_update AFTER UPDATE OF {', '.join(COUNTED)}, kind, "
        f"recipient_choice, authority_notified_on ON cases "
        f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION statistics_counts_from_case()",
        "CREATE TRIGGER statistics_counts_before_delete BEFORE DELETE ON cases "
        "FOR EACH ROW EXECUTE FUNCTION statistics_counts_from_case()",
        function("statistics_counts_from_category", [
            when("'UPDATE', 'DELETE'", category_count(dates, "OLD", -1)),
            when("'INSERT', 'UPDATE'", category_count(dates, "NEW", 1))]),
        "CREATE TRIGGER statistics_counts_after_category AFTER INSERT OR DELETE OR UPDATE OF code, case_id "
        "ON case_categories FOR EACH ROW EXECUTE FUNCTION statistics_counts_from_category()",
        function("statistics_audiences_from_link", [
            when("'UPDATE', 'DELETE'", [audiences_again("OLD.case_id")]),
            when("'INSERT', 'UPDATE'", [audiences_again("NEW.case_id")])]),
        "CREATE TRIGGER statistics_audiences_after_escalation_steps AFTER INSERT OR DELETE OR UPDATE OF case_id "
        "ON escalation_steps FOR EACH ROW EXECUTE FUNCTION statistics_audiences_from_link()",
        function("statistics_counts_from_forward", [
            when("'UPDATE', 'DELETE'", forward_moves(dates)[0]),
            when("'INSERT', 'UPDATE'", forward_moves(dates)[1])]),
        f"CREATE TRIGGER statistics_counts_after_forwards AFTER INSERT OR DELETE OR UPDATE OF "
        f"{', '.join(FORWARD_COLUMNS)} ON forwards FOR EACH ROW EXECUTE FUNCTION statistics_counts_from_forward()",
    ]


def backfill(dates: Dates) -> list[str]:
    """Every count from the cases as they are (the triggers keep them from then on)."""
    year, month = dates.year("cases.received_on"), dates.month("cases.received_on")
    statements = [
        f"UPDATE cases SET audiences = {audiences_of('cases')}",
        f"INSERT INTO statistics_places (audiences, year, facility_id, n) SELECT audiences, {year}, "
        f"COALESCE(facility_id, 0), count(*) FROM cases WHERE audiences <> 0 "
        f"GROUP BY audiences, {year}, COALESCE(facility_id, 0)",
        f"INSERT INTO statistics_categories (audiences, year, code, n) SELECT cases.audiences, {year}, "
        f"case_categories.code, count(*) FROM case_categories JOIN cases ON cases.id = case_categories.case_id "
        f"WHERE cases.audiences <> 0 GROUP BY cases.audiences, {year}, case_categories.code"]
    forwarded = dates.year("forwards.created_on")
    statements.append(
        f"INSERT INTO statistics_forwards (audiences, year, state, remote_status, n) SELECT cases.audiences, "
        f"{forwarded}, forwards.state, COALESCE(forwards.remote_status, ''), count(*) FROM forwards "
        f"JOIN cases ON cases.id = forwards.case_id WHERE cases.kind IN ('report', 'forwarded') "
        f"GROUP BY cases.audiences, {forwarded}, forwards.state, COALESCE(forwards.remote_status, '')")
    for code, done, due in DEADLINES:
        days = dates.days("cases.received_on", f"cases.{done}")
        statements += [
            f"INSERT INTO statistics_answered (audiences, deadline, month, days, late, n) SELECT audiences, "
            f"'{code}', {month}, {days}, {done} > {due}, count(*) FROM cases "
            f"WHERE audiences <> 0 AND {done} IS NOT NULL GROUP BY audiences, {month}, {days}, {done} > {due}",
            f"INSERT INTO statistics_waiting (audiences, deadline, month, due_on, n) SELECT audiences, "
            f"'{code}', {month}, {due}, count(*) FROM cases "
            f"WHERE audiences <> 0 AND {done} IS NULL GROUP BY audiences, {month}, {due}"]
    return statements


def upgrade():
    dialect = op.get_bind().dialect.name
    # Not a batch operation: on SQLite a rebuilt ``cases`` would lose 0021's triggers.
    op.add_column('cases', sa.Column('audiences', sa.Integer(), server_default='0', nullable=False))
    op.create_table(
        'statistics_places',
        sa.Column('audiences', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('facility_id', sa.Integer(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('audiences', 'year', 'facility_id', name=op.f('pk_statistics_places')),
    )
    op.create_table(
        'statistics_categories',
        sa.Column('audiences', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('audiences', 'year', 'code', name=op.f('pk_statistics_categories')),
    )
    op.create_table(
        'statistics_answered',
        sa.Column('audiences', sa.Integer(), nullable=False),
        sa.Column('deadline', sa.String(length=1), nullable=False),
        sa.Column('month', sa.Integer(), nullable=False),
        sa.Column('days', sa.Integer(), nullable=False),
        sa.Column('late', sa.Boolean(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('audiences', 'deadline', 'month', 'days', 'late',
                                name=op.f('pk_statistics_answered')),
    )
    op.create_table(
        'statistics_waiting',
        sa.Column('audiences', sa.Integer(), nullable=False),
        sa.Column('deadline', sa.String(length=1), nullable=False),
        sa.Column('month', sa.Integer(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('audiences', 'deadline', 'month', 'due_on', name=op.f('pk_statistics_waiting')),
    )
    op.create_table(
        'statistics_forwards',
        sa.Column('audiences', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('remote_status', sa.String(length=30), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('audiences', 'year', 'state', 'remote_status', name=op.f('pk_statistics_forwards')),
    )
    for statement in backfill(Dates(dialect)):
        op.execute(statement)
    for statement in postgresql_triggers() if dialect == 'postgresql' else sqlite_triggers():
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS statistics_audiences_before_write ON cases")
        for name in ("statistics_counts_after_insert", "statistics_counts_after_update",
                     "statistics_counts_before_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON cases")
        op.execute("DROP TRIGGER IF EXISTS statistics_counts_after_category ON case_categories")
        op.execute("DROP TRIGGER IF EXISTS statistics_audiences_after_escalation_steps ON escalation_steps")
        op.execute("DROP TRIGGER IF EXISTS statistics_counts_after_forwards ON forwards")
        for name in ("statistics_audiences_from_case", "statistics_counts_from_case",
                     "statistics_counts_from_category", "statistics_audiences_from_link",
                     "statistics_counts_from_forward"):
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        op.execute("DROP FUNCTION IF EXISTS statistics_audiences(integer, varchar, varchar, date)")
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for table in TABLES:
        op.drop_table(table)
    # Not a batch operation either (SQLite drops a column in place since 3.35): a rebuilt
    # ``cases`` would lose 0021's triggers and expression index.
    op.drop_column('cases', 'audiences')
