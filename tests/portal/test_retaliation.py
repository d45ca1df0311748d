"""A worker who reported is dismissed; the retaliation officer protects them,
disciplines the supervisor and owes remedies the worker confirms or disputes.

The services are exercised directly: the pages for claims come next."""

import json
from datetime import timedelta

import pytest
from accounts import passphrase_of, totp_secret_of
from reporter_pages import receipt_on, send_report
from sqlalchemy import select

import crypto
from portal.models import Case, CaseItem, Keyholder, User
from portal.services import clock, followup, retaliation, users


@pytest.fixture
def officer(session_factory, recovery_identity):
    with session_factory() as session:
        user = users.create(session, "rosa", "Rosa", "retaliation_officer", passphrase_of("rosa"),
                            work_factor=10, totp_secret=totp_secret_of("rosa"))
        return user, users.unlock_identity(user, passphrase_of("rosa"))


@pytest.fixture
def claim(app, client, facility_ids, officer, investigators):
    """Worker reports in Vietnamese, is dismissed, files a claim about anna from the follow-up page."""
    receipt = receipt_on(send_report(client, facility_ids[0], lang="vi"))
    with app.extensions["portal.sessions"]() as session:
        opened = followup.open_case(session, app.config, receipt)
        case_id, identity = opened
        anna = investigators["anna"][0]
        filed = retaliation.file_from_follow_up(session, app.config, case_id, retaliation.Claim(
            types=["dismissal", "threats"], description="Tôi bị đuổi việc sau khi phản ánh",
            by_whom="Tổ trưởng", about_user_ids=[anna.id]), "claim-token-1",
            reporter_identity=crypto.parse_identity(identity))
        return {"id": filed.id, "original": case_id, "identity": crypto.parse_identity(identity),
                "receipt": receipt}


def holders(session, case_id):
    return sorted(session.scalars(select(User.username).join(Keyholder, Keyholder.user_id == User.id)
                                  .where(Keyholder.case_id == case_id)))


def test_a_claim_reaches_the_officer_and_the_keyholders_it_is_not_about(app, claim, officer, investigators):
    with app.extensions["portal.sessions"]() as session:
        assert holders(session, claim["id"]) == ["binh", "rosa"]
        case = session.get(Case, claim["id"])
        assert (case.kind, case.related_case_id, case.status) == ("retaliation", claim["original"], "received")
        assert sorted(case.category_codes) == ["dismissal", "threats"]
        item = session.scalars(select(CaseItem).where(CaseItem.case_id == claim["id"])).one()
        assert json.loads(crypto.decrypt(item.blob, officer[1]))["by_whom"] == "Tổ trưởng"
        assert json.loads(crypto.decrypt(item.blob, claim["identity"]))["types"] == ["dismissal", "threats"]
        with pytest.raises(crypto.NoIdentityError):
            crypto.decrypt(item.blob, investigators["anna"][1])
        assert retaliation.claims_of(session, claim["original"])[0].id == claim["id"]


def test_the_same_claim_sent_twice_is_stored_once(app, claim):
    with app.extensions["portal.sessions"]() as session:
        again = retaliation.file_from_follow_up(session, app.config, claim["original"], retaliation.Claim(
            types=["dismissal"], description="again"), "claim-token-1", reporter_identity=claim["identity"])
        assert again.id == claim["id"]


def test_bad_claims_are_refused(app, claim, investigators):
    with app.extensions["portal.sessions"]() as session:
        for number, bad in enumerate((retaliation.Claim(types=[], description="x"),
                                      retaliation.Claim(types=["astrology"], description="x"),
                                      retaliation.Claim(types=["dismissal"], description=" "),
                                      retaliation.Claim(types=["dismissal"], description="x",
                                                        about_user_ids=[999999]))):
            with pytest.raises(retaliation.RetaliationError):
                retaliation.file_from_follow_up(session, app.config, claim["original"], bad, f"bad-{number}",
                                                reporter_identity=claim["identity"])
        assert len(retaliation.claims_of(session, claim["original"])) == 1


def test_the_officers_course_discipline_and_remedies_the_worker_answers(app, claim, officer):
    rosa, rosa_identity = officer
    with app.extensions["portal.sessions"]() as session:
        case = session.get(Case, claim["id"])
        actor = session.get(User, rosa.id)
        retaliation.assess_risk(session, actor, case, "high", [("dismissal_suspended", "Dismissal on hold")])
        assert (case.status, case.risk_level) == ("risk_assessed", "high")
        with pytest.raises(retaliation.RetaliationError):
            retaliation.move_claim(session, actor, case, "closed")
        retaliation.move_claim(session, actor, case, "investigating")
        retaliation.move_claim(session, actor, case, "substantiated")
        action = retaliation.add_discipline(session, actor, case, "suspension", "Line 4 supervisor", state="taken")
        discipline_item = session.get(CaseItem, action.item_id)
        with pytest.raises(crypto.NoIdentityError):
            crypto.decrypt(discipline_item.blob, claim["identity"])
        reinstated = retaliation.add_remedy(session, actor, case, "reinstatement", "Back on line 4",
                                            due_on=clock.today() + timedelta(days=14))
        back_pay = retaliation.add_remedy(session, actor, case, "back_pay", "Six weeks of wages",
                                          due_on=clock.today() - timedelta(days=1), amount="9600000",
                                          currency="VND")
        assert json.loads(crypto.decrypt(session.get(CaseItem, back_pay.item_id).blob,
                                         claim["identity"]))["currency"] == "VND"
        assert [r.id for r in retaliation.overdue_remedies(session, rosa.id)] == [back_pay.id]
        for remedy in (reinstated, back_pay):
            retaliation.move_remedy(session, actor, remedy, "agreed")
            retaliation.move_remedy(session, actor, remedy, "delivered")
        retaliation.reporter_answers_remedy(session, case.id, reinstated.id, received=True)
        retaliation.reporter_answers_remedy(session, case.id, back_pay.id, received=False)
        assert (reinstated.state, back_pay.state) == ("confirmed", "disputed")
        with pytest.raises(retaliation.RetaliationError):
            retaliation.reporter_answers_remedy(session, claim["original"], back_pay.id, received=True)
        retaliation.report_breach(session, actor, case)
        assert case.breach_reported_on == clock.today()


def test_the_escalation_record_follows_the_contracts_order(app, claim, officer):
    with app.extensions["portal.sessions"]() as session:
        case = session.get(Case, claim["original"])
        actor = session.get(User, officer[0].id)
        with pytest.raises(retaliation.RetaliationError):
            retaliation.record_escalation(session, actor, case, "notice_of_default")
        for step in ("breach_indicated", "cooperation_started", "statement_requested", "statement_received",
                     "meeting_held", "remedial_action_required", "notice_of_default"):
            retaliation.record_escalation(session, actor, case, step, note=f"note {step}")
        with pytest.raises(retaliation.RetaliationError):
            retaliation.record_escalation(session, actor, case, "meeting_held")
        assert [s.step for s in retaliation.timeline(session, case.id)][-1] == "notice_of_default"


def test_statistics_suppress_counts_under_five(app, claim):
    with app.extensions["portal.sessions"]() as session:
        figures = retaliation.statistics(session)
        assert figures["claims"] is None and figures["by_type"]["dismissal"] is None
        for number in range(5):
            retaliation.file_from_follow_up(session, app.config, claim["original"], retaliation.Claim(
                types=["dismissal"], description=f"claim {number}"), f"more-{number}",
                reporter_identity=claim["identity"])
        figures = retaliation.statistics(session)
    assert figures["claims"] == 6 and figures["by_type"]["dismissal"] == 6
    assert figures["by_type"]["threats"] is None, "one claim of this type: suppressed"
