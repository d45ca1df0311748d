"""Workers write in their own script, and type digits the way their phone shows them.

- A Burmese worker whose phone has a Zawgyi keyboard (common on older phones in
  Myanmar and among migrants) reports; the investigator reads real Unicode
  Burmese, because the text was converted before it was encrypted.
- Unicode Burmese, and every other script, arrive exactly as typed.
- A receipt typed in Thai, Burmese, Bengali, Devanagari, Khmer or Arabic-Indic
  digits opens the follow-up page; so does an investigator's log-in code.
"""

import json

import pytest
from inbox_pages import fresh_code, log_in
from reporter_pages import csrf_token, log_in_with_receipt, receipt_on, send_report
from sqlalchemy import select

import crypto
from portal.models import Case, CaseItem

# Test vectors written by hand, as a Zawgyi keyboard stores them, with the same
# words in Unicode. Zawgyi puts the vowel sign E (U+1031) and the medial RA
# before the consonant, uses U+1039 for the killer (asat) and its own code
# points (U+1060 and above) for stacked and variant letter shapes.
#   "We were not paid for overtime." (ကျွန်တော်တို့ အချိန်ပိုလုပ်ခ မရပါ။)
ZAWGYI_WAGES = ("\u1000\u107d\u103c\u1014\u1039\u1031\u1010\u102c\u1039\u1010\u102d\u102f\u1094 "
                "\u1021\u1001\u103a\u102d\u1014\u1039\u1015\u102d\u102f\u101c\u102f\u1015\u1039\u1001 "
                "\u1019\u101b\u1015\u102b\u104b")
UNICODE_WAGES = ("\u1000\u103b\u103d\u1014\u103a\u1010\u1031\u102c\u103a\u1010\u102d\u102f\u1037 "
                 "\u1021\u1001\u103b\u102d\u1014\u103a\u1015\u102d\u102f\u101c\u102f\u1015\u103a\u1001 "
                 "\u1019\u101b\u1015\u102b\u104b")
#   "The manager shouts at us." (မန်နေဂျာက ကြိမ်းမောင်းတယ်။)
ZAWGYI_MANAGER = ("\u1019\u1014\u1039\u1031\u1014\u1002\u103a\u102c\u1000 "
                  "\u1080\u1000\u102d\u1019\u1039\u1038\u1031\u1019\u102c\u1004\u1039\u1038\u1010\u101a\u1039\u104b")
UNICODE_MANAGER = ("\u1019\u1014\u103a\u1014\u1031\u1002\u103b\u102c\u1000 "
                   "\u1000\u103c\u102d\u1019\u103a\u1038\u1019\u1031\u102c\u1004\u103a\u1038\u1010\u101a\u103a\u104b")
#   "30 workers at the factory are sick." (စက်ရုံမှာ အလုပ်သမား ၃၀ ဦး နေမကောင်းဖြစ်တယ်။)
ZAWGYI_SICK = ("\u1005\u1000\u1039\u101b\u1036\u102f\u1019\u103d\u102c \u1021\u101c\u102f\u1015\u1039\u101e\u1019\u102c\u1038 "
               "\u1043\u1040 \u1026\u1038 \u1031\u1014\u1019\u1031\u1000\u102c\u1004\u1039\u1038"
               "\u103b\u1016\u1005\u1039\u1010\u101a\u1039\u104b")
UNICODE_SICK = ("\u1005\u1000\u103a\u101b\u102f\u1036\u1019\u103e\u102c \u1021\u101c\u102f\u1015\u103a\u101e\u1019\u102c\u1038 "
                "\u1043\u1040 \u1026\u1038 \u1014\u1031\u1019\u1000\u1031\u102c\u1004\u103a\u1038"
                "\u1016\u103c\u1005\u103a\u1010\u101a\u103a\u104b")

DIGITS = {
    "Thai": 0x0E50,
    "Burmese": 0x1040,
    "Bengali": 0x09E6,
    "Devanagari": 0x0966,
    "Khmer": 0x17E0,
    "Arabic-Indic": 0x0660,
}


def in_script(digits: str, script: str) -> str:
    return "".join(chr(DIGITS[script] + int(d)) if d.isdigit() else d for d in digits)


@pytest.fixture
def app_config(app_config):
    """The portal offering Burmese and Thai besides English."""
    return dict(app_config, LANGUAGES="en,my,th,bn,ur")


def the_case(app):
    with app.extensions["portal.sessions"]() as session:
        return session.scalars(select(Case)).one()


def stored_report(app, identity) -> dict:
    """The report as it was encrypted, opened with an investigator's key."""
    with app.extensions["portal.sessions"]() as session:
        item = session.scalars(select(CaseItem).where(CaseItem.kind == "report")).one()
        return json.loads(crypto.decrypt(item.blob, identity))


def investigator_reads(app, case) -> str:
    inbox = app.test_client()
    assert log_in(inbox, "anna").status_code == 303
    page = inbox.get(f"/inbox/cases/{case.id}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_a_report_typed_with_a_zawgyi_keyboard_reaches_the_investigator_in_unicode(
    app, client, facility_ids, investigators
):
    response = send_report(client, facility_ids[0], lang="my", description=f"{ZAWGYI_WAGES}\n{ZAWGYI_MANAGER}",
                           when=ZAWGYI_SICK, contact=f"Viber 09 {ZAWGYI_MANAGER}")
    assert response.status_code == 200
    receipt_on(response)

    _anna, identity = investigators["anna"]
    report = stored_report(app, identity)
    assert report["description"] == f"{UNICODE_WAGES}\n{UNICODE_MANAGER}"
    assert report["when"] == UNICODE_SICK
    assert report["contact"] == f"Viber 09 {UNICODE_MANAGER}"
    assert report["language"] == "my"

    page = investigator_reads(app, the_case(app))
    assert UNICODE_WAGES in page and UNICODE_MANAGER in page
    assert ZAWGYI_WAGES not in page and ZAWGYI_MANAGER not in page


def test_an_answer_typed_in_zawgyi_on_the_follow_up_page_arrives_in_unicode(app, client, facility_ids):
    receipt = receipt_on(send_report(client, facility_ids[0], lang="my", description=UNICODE_WAGES))
    returning = app.test_client()
    assert log_in_with_receipt(returning, receipt, lang="my").status_code == 303
    page = returning.get("/my/case")
    sent = returning.post("/my/case", data={"csrf_token": csrf_token(page), "message": ZAWGYI_SICK})
    assert sent.status_code == 303

    answered = returning.get("/my/case").get_data(as_text=True)
    assert UNICODE_SICK in answered and ZAWGYI_SICK not in answered
    inbox_page = investigator_reads(app, the_case(app))
    assert UNICODE_SICK in inbox_page and ZAWGYI_SICK not in inbox_page


@pytest.mark.parametrize("lang, text", [
    ("my", f"{UNICODE_WAGES}\n{UNICODE_MANAGER}\n{UNICODE_SICK}"),
    ("my", "Line 3, 30 people: " + UNICODE_MANAGER),
    ("en", "Overtime unpaid since May; 12 people (line 3)."),
    ("th", "เราไม่ได้รับค่าล่วงเวลา ๓ เดือนแล้ว"),
    ("bn", "আমাদের ওভারটাইমের টাকা দেওয়া হয়নি।"),
    ("ur", "ہمیں اوور ٹائم کی تنخواہ نہیں ملی۔"),
    ("en", "Chúng tôi không được trả lương làm thêm giờ. 我们没有拿到加班费。"),
])
def test_unicode_burmese_and_every_other_script_arrive_exactly_as_typed(
    app, client, facility_ids, investigators, lang, text
):
    assert send_report(client, facility_ids[0], lang=lang, description=text).status_code == 200
    _anna, identity = investigators["anna"]
    assert stored_report(app, identity)["description"] == text
    assert text.split("\n")[0] in investigator_reads(app, the_case(app))


@pytest.mark.parametrize("script, lang", [
    ("Thai", "th"), ("Burmese", "my"), ("Bengali", "bn"), ("Devanagari", "en"), ("Khmer", "en"),
    ("Arabic-Indic", "ur"),
])
def test_a_receipt_typed_in_native_digits_opens_the_follow_up_page(app, client, facility_ids, script, lang):
    receipt = receipt_on(send_report(client, facility_ids[0], lang=lang))
    typed = in_script(receipt, script)
    assert typed != receipt and not any("0" <= c <= "9" for c in typed)

    returning = app.test_client()
    opened = log_in_with_receipt(returning, typed, lang=lang)
    assert opened.status_code == 303 and opened.headers["Location"].endswith(f"/{lang}/case")
    assert returning.get(f"/{lang}/case").status_code == 200


def test_a_receipt_with_a_letter_among_native_digits_is_still_refused(app, client, facility_ids):
    receipt = receipt_on(send_report(client, facility_ids[0], lang="th"))
    typed = in_script(receipt, "Thai")
    refused = log_in_with_receipt(app.test_client(), typed[:-1] + "ก", lang="th")
    assert refused.status_code == 400


@pytest.mark.parametrize("script", ["Thai", "Arabic-Indic", "Devanagari"])
def test_an_investigator_logs_in_with_the_code_typed_in_native_digits(app, script):
    inbox = app.test_client()
    code = in_script(fresh_code(inbox, "anna"), script)
    assert log_in(inbox, "anna", code=code).status_code == 303
    assert inbox.get("/inbox/").status_code == 200
