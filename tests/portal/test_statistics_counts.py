"""The statistics pages read running counts that the database keeps (migration 0027), not the
cases: whatever changes a case, by whatever path (the portal's own code, a plain statement, a
deletion cascading from a case), the counts follow in the same transaction. An operator can
prove it with a recount from the cases, and write the recount over counts someone altered."""

import random
from datetime import date, datetime, timedelta, timezone

from operator_steps import run_portal
from sqlalchemy import delete, select, text, update

from portal import migrate
from portal.db import make_engine, make_session_factory
from portal.models import Case, CaseCategory, EscalationStep, Forward, Partner, StatisticsPlace
from portal.services import statistics, statistics_tallies

KINDS = ("report", "report", "report", "retaliation", "forwarded")
CHOICES = ("contractor", "contractor", "both", "monitor")
CODES = ("wages", "working_hours", "health_safety", "forced_labour", "discrimination")
_digests = iter(range(10**6, 10**7))


def a_case(rng, facility_ids) -> Case:
    received = date(2025, 1, 1) + timedelta(days=rng.randrange(0, 700))
    case = Case(kind=rng.choice(KINDS), received_on=received, status="received", language="vi",
                facility_id=rng.choice([*facility_ids, None]), acknowledge_due=received + timedelta(days=7),
                feedback_due=received + timedelta(days=rng.choice((60, 91))), recipient_choice=rng.choice(CHOICES),
                submission_digest=next(_digests).to_bytes(32, "big"), reporter_recipient="",
                acknowledged_on=rng.choice([None, received + timedelta(days=rng.randrange(0, 12))]),
                authority_notified_on=rng.choice([None, None, received]))
    case.categories = [CaseCategory(code=code) for code in rng.sample(CODES, rng.randrange(0, 3))]
    return case


def a_change(rng, session, partner_id, facility_ids) -> int:
    """One change of any kind the portal or an operator could make, picked at random: its number."""
    case_ids = session.scalars(select(Case.id).order_by(Case.id)).all()
    change = rng.randrange(21)
    if change in (14, 15) and len(case_ids) < 20:
        change = 18  # deletions, but never down to no case
    if change >= 18:
        session.add(a_case(rng, facility_ids))
        session.flush()
        return 18
    case_id = rng.choice(case_ids)
    case = session.get(Case, case_id)
    day = case.received_on + timedelta(days=rng.randrange(-400, 200))
    if change == 0:
        case.received_on = day  # sometimes into another year
    elif change == 1:
        case.facility_id = rng.choice([*facility_ids, None])
    elif change == 2:
        case.acknowledged_on = rng.choice([None, day])
    elif change == 3:
        case.feedback_given_on, case.feedback_due = rng.choice([None, day]), day
    elif change == 4:
        # Several counted columns and the audiences at once: the triggers nest.
        case.kind, case.acknowledged_on, case.authority_notified_on = rng.choice(KINDS), day, rng.choice([None, day])
    elif change == 5:
        case.recipient_choice = rng.choice(CHOICES)
    elif change == 6:
        session.add(EscalationStep(case_id=case_id, step="notice_of_default", happened_on=day))
    elif change == 7:
        session.execute(delete(EscalationStep).where(EscalationStep.case_id == case_id))
    elif change == 8:
        session.add(Forward(bundle_id=f"b-{next(_digests)}", case_id=case_id, partner_id=partner_id, created_on=day,
                            scope="without_identity", summary="{}", bundle=b"", state="pending",
                            next_attempt_at=datetime.now(timezone.utc)))
    elif change == 9:
        forward = session.scalars(select(Forward.id).order_by(Forward.id)).first()
        if forward is not None:  # a forward moved to another case
            session.execute(update(Forward).where(Forward.id == forward).values(case_id=case_id))
    elif change == 10:
        session.execute(delete(Forward).where(Forward.case_id == case_id))
    elif change == 11:
        missing = [code for code in CODES if code not in case.category_codes]
        if missing:
            case.categories.append(CaseCategory(code=rng.choice(missing)))
    elif change == 12:
        if rng.random() < 0.5:  # all of them in one statement: row triggers after it, on PostgreSQL
            session.execute(delete(CaseCategory).where(CaseCategory.case_id == case_id))
        elif case.categories:
            case.categories.pop(rng.randrange(len(case.categories)))
    elif change == 13:
        missing = [code for code in CODES if code not in case.category_codes]
        if case.categories and missing:
            session.execute(update(CaseCategory).where(CaseCategory.id == case.categories[0].id)
                            .values(code=rng.choice(missing)))
    elif change == 14:
        session.delete(case)  # the portal's way: the session deletes its categories first
    elif change == 15:
        # A plain statement: categories, escalation steps and forwards go by the foreign keys' cascade.
        session.execute(delete(Case).where(Case.id == case_id))
    elif change == 16:
        session.execute(update(Forward).where(Forward.case_id == case_id).values(
            state=rng.choice(("pending", "delivered", "acknowledged")),
            remote_status=rng.choice((None, "acknowledged", "under_review", "closed"))))
    else:
        session.execute(update(Forward).where(Forward.case_id == case_id).values(created_on=day))
    session.flush()
    return change


def test_the_counts_follow_every_change_to_cases_their_categories_escalations_and_forwards(
        session_factory, facility_ids):
    rng = random.Random(27)
    with session_factory() as session:
        partner = Partner(name="Electronics Watch", base_url="https://ew.example", fingerprint="f" * 64,
                          inbound_token_digest=b"\x02" * 32, created_at=datetime.now(timezone.utc))
        session.add(partner)
        session.add_all(a_case(rng, facility_ids) for _ in range(30))
        session.commit()
        partner_id = partner.id
        assert statistics_tallies.disagreements(session) == []
        made = set()
        for round_number in range(150):
            for _ in range(rng.randrange(1, 4)):
                made.add(a_change(rng, session, partner_id, facility_ids))
            if rng.random() < 0.15:
                session.rollback()  # the counts' changes go with the transaction's
            else:
                session.commit()
            session.expire_all()
            wrong = statistics_tallies.disagreements(session)
            assert wrong == [], f"after round {round_number}: {wrong[:5]}"
        assert made == set(range(19)), "every kind of change was tried"
        assert session.scalar(select(StatisticsPlace.n).where(StatisticsPlace.n != 0).limit(1)) is not None


def test_the_figures_read_from_the_counts_are_those_of_the_cases(session_factory, facility_ids):
    """The administrator's figures of a year, from the counts, against the cases counted one by one."""
    rng = random.Random(3)
    today = date(2026, 12, 7)
    with session_factory() as session:
        session.add_all(a_case(rng, facility_ids) for _ in range(400))
        session.commit()
        cases = [case for case in session.scalars(select(Case)) if case.kind == "report"
                 and case.recipient_choice != "monitor" and case.received_on.year == 2025]
        codes_of = {case.id: case.category_codes for case in cases}
        figures = statistics.figures(session, "administrator", 2025, today)
    assert figures.total == len(cases)
    for month in range(1, 13):
        of_month = [case for case in cases if case.received_on.month == month]
        if figures.by_month[month] is not None:
            assert figures.by_month[month] == len(of_month)
        answered = [case for case in of_month if case.acknowledged_on is not None]
        met = sum(case.acknowledged_on <= case.acknowledge_due for case in answered)
        missed = len(answered) - met + sum(case.acknowledged_on is None and case.acknowledge_due < today
                                           for case in of_month)
        share = figures.acknowledgement[month].share_in_time
        if share is not None:
            assert share == met / (met + missed)
    for code in CODES:
        if figures.by_category[code] is not None:
            assert figures.by_category[code] == sum(code in codes_of[case.id] for case in cases)


def test_an_operator_proves_the_counts_and_repairs_counts_someone_altered(app, session_factory, facility_ids):
    rng = random.Random(5)
    with session_factory() as session:
        session.add_all(a_case(rng, facility_ids) for _ in range(20))
        session.commit()
    with session_factory() as session:
        session.execute(text("UPDATE statistics_places SET n = n + 3"))
        session.execute(text("UPDATE cases SET audiences = 0"))
        session.commit()
    altered = run_portal(app, "statistics", "check")
    assert altered.returncode != 0
    assert "statistics counts disagree with the cases" in altered.stderr and "statistics_places" in altered.stderr

    # The repair checks again after writing, and says the counts agree only if they do.
    repaired = run_portal(app, "statistics", "check", "--repair")
    assert repaired.returncode == 0, repaired.stderr
    assert "the recount is written over them" in repaired.stdout
    assert "statistics counts agree with the cases" in repaired.stdout


def test_an_instance_upgraded_with_cases_already_there_counts_them(empty_database_url):
    """Migration 0027 counts the cases it finds, then the triggers take over."""
    from alembic import command

    migrate.upgrade(empty_database_url)
    command.downgrade(migrate.alembic_config(empty_database_url), "0026")
    engine = make_engine(empty_database_url)
    rng = random.Random(11)
    with engine.begin() as connection:
        for number in range(60):
            case = a_case(rng, [None])
            connection.execute(text(
                "INSERT INTO cases (kind, received_on, status, language, urgent, acknowledge_due, feedback_due, "
                "submission_digest, reporter_recipient, recipient_choice, mandatory_notification, "
                "last_reporter_item_id, legacy_receipt, acknowledged_on, authority_notified_on) VALUES (:kind, "
                ":received, 'received', 'vi', false, :ack_due, :fb_due, :digest, '', :choice, false, 0, false, "
                ":ack, :notified)"), dict(kind=case.kind, received=case.received_on, ack_due=case.acknowledge_due,
                                          fb_due=case.feedback_due, digest=case.submission_digest,
                                          choice=case.recipient_choice, ack=case.acknowledged_on,
                                          notified=case.authority_notified_on))
    engine.dispose()
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with make_session_factory(engine)() as session:
        assert session.scalar(select(Case.id).where(Case.audiences != 0).limit(1)) is not None
        assert statistics_tallies.disagreements(session) == []
        session.add(a_case(rng, [None]))
        session.commit()
        assert statistics_tallies.disagreements(session) == []
    engine.dispose()
