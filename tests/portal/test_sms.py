"""A worker without a smartphone reports by text message, through either gateway the
portal speaks: SMS Gateway for Android (a phone with a local SIM) and Twilio.

Each gateway is a local HTTP server speaking its documented send API; the test plays
the gateway's side of the webhooks, signing them as its documentation says.
"""

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from flask_babel import force_locale, gettext
from inbox_pages import log_in, post_on_case
from reporter_pages import log_in_with_receipt
from sqlalchemy import select
from stored_rows import stored_text_anywhere

from portal.models import Case, SmsConversation
from portal.services import clock, sms_parts, typed_text

BASE_URL = "https://portal.example"
PORTAL_NUMBER = "+3225550100"
ANDROID_USER, ANDROID_PASSWORD, ANDROID_KEY = "sms", "phone-password", "webhook-signing-key"
TWILIO_SID, TWILIO_TOKEN = "AC" + "0" * 32, "twilio-auth-token"
WORKER = "+84 912 345 678"
WORKER_DIGITS = "84912345678"

VIETNAMESE = {"workplace": "Công ty Màn hình Bắc Ninh, Bắc Ninh",
              "what": "Chúng tôi làm 14 giờ mỗi ngày mà không được trả lương làm thêm.",
              "answer": "Có, từ tháng Ba."}
# Typed on a Unicode keyboard, then on a Zawgyi one: investigators read Unicode both times.
BURMESE = {"workplace": "ပီနန် အီလက်ထရောနစ် စက်ရုံ",
           "what": "ကျွန်တော်တို့ စက်ရုံမှာ လစာ မပေးဘူး။ အချိန်ပို အလုပ်လုပ်ခိုင်းတယ်။",
           "answer": "ဟုတ်ကဲ့၊ မတ်လကတည်းက။"}


class FakeGateway:
    """The gateway's send API on 127.0.0.1, keeping what the portal asked it to send."""

    def __init__(self, name):
        self.name, self.sent, self.on_send, self.fail_next = name, [], None, False
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                user, password = ((ANDROID_USER, ANDROID_PASSWORD) if gateway.name == "android"
                                  else (TWILIO_SID, TWILIO_TOKEN))
                expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self._answer(401, {"message": "unauthorized"})
                if gateway.name == "android" and self.path == "/messages":
                    message = json.loads(body)
                    to, said = message["phoneNumbers"][0], message["textMessage"]["text"]
                elif gateway.name == "twilio" and self.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json":
                    form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
                    assert form["From"] == PORTAL_NUMBER and len(form["Body"]) <= 1600
                    to, said = form["To"], form["Body"]
                else:
                    return self._answer(404, {"message": "not found"})
                if gateway.fail_next:
                    gateway.fail_next = False
                    return self._answer(500, {"message": "the phone is off"})
                if gateway.on_send:
                    gateway.on_send()
                gateway.sent.append((to, said))
                self._answer(202 if gateway.name == "android" else 201, {"id": uuid.uuid4().hex, "state": "Pending"})

            def _answer(self, status, document):
                payload = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts_to(self, number):
        return [said for to, said in self.sent if to == number]


class Phone:
    """A worker's phone: what it texts reaches the portal as the gateway's signed webhook."""

    def __init__(self, client, gateway, number=WORKER):
        self.client, self.gateway, self.number = client, gateway, number
        self.last = None

    def text(self, body):
        if self.gateway.name == "android":
            document = json.dumps({"deviceId": "device-1", "event": "sms:received", "id": uuid.uuid4().hex,
                                   "webhookId": "hook-1", "payload": {
                                       "messageId": uuid.uuid4().hex, "message": body, "phoneNumber": self.number,
                                       "simNumber": 1, "receivedAt": "2026-12-07T10:00:00.000+07:00"}},
                                  ensure_ascii=False).encode()
            stamp = str(int(time.time()))
            signature = hmac.new(ANDROID_KEY.encode(), document + stamp.encode(), hashlib.sha256).hexdigest()
            self.last = dict(data=document, content_type="application/json",
                             headers={"X-Signature": signature, "X-Timestamp": stamp})
        else:
            form = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": TWILIO_SID, "From": self.number,
                    "To": PORTAL_NUMBER, "Body": body, "NumSegments": "1", "NumMedia": "0"}
            signed = f"{BASE_URL}/sms/twilio/inbound" + "".join(k + v for k, v in sorted(form.items()))
            signature = base64.b64encode(hmac.new(TWILIO_TOKEN.encode(), signed.encode(), hashlib.sha1).digest())
            self.last = dict(data=form, headers={"X-Twilio-Signature": signature.decode()})
        return self.resend()

    def resend(self):
        return self.client.post(f"/sms/{self.gateway.name}/inbound", **self.last)

    def inbox(self):
        return self.gateway.texts_to(self.number.replace(" ", ""))


@pytest.fixture(params=["android", "twilio"])
def gateway(request):
    server = FakeGateway(request.param)
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def app_config(app_config, gateway):
    user, password = (ANDROID_USER, ANDROID_PASSWORD) if gateway.name == "android" else (TWILIO_SID, TWILIO_TOKEN)
    return dict(app_config, SMS_GATEWAY=gateway.name, SMS_NUMBER=PORTAL_NUMBER, SMS_SECRET="x" * 40,
                SMS_API_URL=gateway.url, SMS_API_USER=user, SMS_API_PASSWORD=password,
                SMS_WEBHOOK_KEY=ANDROID_KEY, BASE_URL=BASE_URL, SMS_TEXTS_PER_SENDER_PER_HOUR=6)


def rows(app, model):
    with app.extensions["portal.sessions"]() as session:
        return session.scalars(select(model)).all()


# Each gateway and each language in a lean story; the other two pairings on the whole-suite lane.
@pytest.mark.parametrize("gateway, language", [
    ("android", "vi"), ("twilio", "my"),
    pytest.param("android", "my", marks=pytest.mark.slow), pytest.param("twilio", "vi", marks=pytest.mark.slow),
], indirect=["gateway"])
def test_a_worker_reports_by_text_reads_the_answer_and_answers_by_text(app, client, gateway, language, caplog):
    caplog.set_level("DEBUG")
    phone, words = Phone(client, gateway), (VIETNAMESE if language == "vi" else BURMESE)

    # The first text gets the menu of languages, and nothing is kept.
    assert phone.text("Hello").status_code == 204
    menu = phone.inbox()[-1]
    assert "Tiếng Việt" in menu and "မြန်မာ" in menu and not rows(app, SmsConversation)
    choice = str(app.config["LANGUAGES"].index(language) + 1)

    # The warning that the phone company sees the number comes before anything is kept.
    kept_when_warned = []
    gateway.on_send = lambda: kept_when_warned.append(len(rows(app, SmsConversation)))
    # Burmese digits choose as well as 0-9.
    phone.text(choice if language == "vi" else choice.translate(str.maketrans("0123456789", "၀၁၂၃၄၅၆၇၈၉")))
    gateway.on_send = None
    assert kept_when_warned == [0] and len(rows(app, SmsConversation)) == 1 and not rows(app, Case)
    warning = phone.inbox()[-1]
    with app.test_request_context(), force_locale(language):
        promise = gettext("The phone company and the SMS gateway see your number and these texts. The portal "
                          "keeps your number only encrypted, for the people who handle your report. Until your "
                          "report is complete, your answers are kept sealed; if you stop for %(minutes)s minutes, "
                          "they are deleted.", minutes=30)
    assert promise in warning

    phone.text(words["workplace"])
    what = words["what"] if language == "vi" else typed_text.unicode_to_zawgyi(words["what"])
    phone.text(what)
    receipt = re.search(r"\d{4} \d{4} \d{4} \d{4}", phone.inbox()[-1]).group()
    assert not rows(app, SmsConversation)
    case = rows(app, Case)[0]
    assert case.channel == "sms" and case.language == language

    # The same receipt opens the case on the web follow-up page.
    worker_web = app.test_client()
    page = log_in_with_receipt(worker_web, receipt, lang=language)
    assert page.status_code in (302, 303)
    assert words["what"] in worker_web.get(f"/{language}/case").get_data(as_text=True)

    # The investigator's acknowledgement and question reach the phone.
    anna = app.test_client()
    log_in(anna, "anna")
    assert "phone company" in anna.get(f"/inbox/cases/{case.id}").get_data(as_text=True)
    assert post_on_case(anna, case.id, "status", status="acknowledged").status_code == 303
    assert len(phone.inbox()) == 5
    question = "Since when? / Từ khi nào? / ဘယ်တုန်းကလဲ"
    assert post_on_case(anna, case.id, "messages", text=question).status_code == 303
    relayed = phone.inbox()[-1]
    if language == "vi":
        assert question in relayed
    else:
        # The worker typed Zawgyi: what is sent to their phone is in Zawgyi, which its font shows.
        assert typed_text.unicode_to_zawgyi("ဘယ်တုန်းကလဲ") in relayed and "ဘယ်တုန်းကလဲ" not in relayed

    # The worker answers with the receipt first; the answer is on the case.
    phone.text(receipt.replace(" ", "") + " " + words["answer"])
    assert phone.inbox()[-1]
    case_page = anna.get(f"/inbox/cases/{case.id}").get_data(as_text=True)
    assert words["what"] in case_page and words["answer"] in case_page and words["workplace"] in case_page

    # Every text went in parts a phone can put back together.
    assert all(len(sms_parts.split(said).parts) <= sms_parts.MAX_PARTS_PER_MESSAGE for said in phone.inbox())
    # The number is nowhere in clear: not in any table, not in any log line.
    assert stored_text_anywhere(app, WORKER_DIGITS) == [] and stored_text_anywhere(app, "912345678") == []
    assert WORKER_DIGITS not in caplog.text and "912 345 678" not in caplog.text


def test_forged_replayed_oversized_and_flooding_webhooks_are_refused(app, client, gateway, monkeypatch):
    phone = Phone(client, gateway)
    assert phone.text("Hello").status_code == 204
    assert phone.resend().status_code == 409
    forged = dict(phone.last, headers={name: value[:-2] + "00" for name, value in phone.last["headers"].items()})
    phone.text("Hello again")
    phone.last = forged
    assert phone.resend().status_code == 403
    assert client.post(f"/sms/{gateway.name}/inbound", data="x" * 20000,
                       content_type="text/plain").status_code == 413
    unused = "android" if gateway.name == "twilio" else "twilio"
    assert client.post(f"/sms/{unused}/inbound", data="{}").status_code == 404
    assert len(phone.inbox()) == 2
    # Six texts from one number in an hour are answered; the seventh is not, and costs nothing.
    for _ in range(4):
        assert phone.text("Hi").status_code == 204
    assert phone.text("Hi").status_code == 429 and len(phone.inbox()) == 6
    # Another worker is answered all the same; a receipt the gateway did not take comes with its retry.
    other = Phone(client, gateway, "+95 9 700 000 001")
    for said in ("Hi", "1", "Penang Precision Electronics"):
        assert other.text(said).status_code == 204
    gateway.fail_next = True
    assert other.text("No overtime pay since March.").status_code == 502
    assert other.resend().status_code == 204
    assert re.search(r"\d{4} \d{4} \d{4} \d{4}", other.inbox()[-1]) and len(rows(app, Case)) == 1
    assert not rows(app, SmsConversation)
    # A worker who stops: their answers go once the time they were told has passed.
    stopping = Phone(client, gateway, "+66 81 000 0002")
    stopping.text("1")
    stopping.text("Penang")
    assert len(rows(app, SmsConversation)) == 1
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(minutes=31))
    assert stopping.text("Sorry, I was away").status_code == 204
    assert not rows(app, SmsConversation) and "Reply with" in stopping.inbox()[-1]


def test_a_long_text_travels_in_parts_of_its_encoding():
    assert sms_parts.split("a" * 160).parts == ["a" * 160]
    assert [len(p) for p in sms_parts.split("a" * 161).parts] == [153, 8]
    # An extension character costs two septets and is never cut from its escape.
    assert [len(p) for p in sms_parts.split("a" * 152 + "€" + "a" * 10).parts] == [152, 11]
    assert sms_parts.split("Tiếng Việt " * 6).encoding == "ucs2"
    assert [len(p) for p in sms_parts.split("ă" * 71).parts] == [67, 4]
    assert sms_parts.split("ă" * 70).parts == ["ă" * 70]
    # A character outside the BMP takes two UTF-16 units and is not split.
    assert [len(p) for p in sms_parts.split("ă" * 66 + "😀" + "ă" * 4).parts] == [66, 5]
    assert len(sms_parts.messages("ă" * 67 * 25)) == 3
