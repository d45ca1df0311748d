"""The exchange with Electronics Watch holds when its partner lies and when keyholders send at once.

- A partner's bundle may say anything about a document's type: a header broken by CR/LF, a
  parameter, text/html, a multipart type, letters outside ASCII, nothing, thousands of characters.
  The keyholder's download answers whatever it said, as a file saved to disk, never a page the
  browser renders or a program it names; so does a row stored before the type was checked.
- Two keyholders sending on one case at the same moment both send: the bundles take the next two
  numbers, and the partner receives both.
"""

import hashlib
import io
import re
import threading
import uuid
import zipfile

import pytest
from inbox_pages import log_in
from reporter_pages import csrf_token, receipt_on, send_report
from sqlalchemy import func, select
from test_hostile_partners import PARTNER_TOKEN, a_partner

import crypto
from portal.models import AuditEntry, Case, CaseItem, ExchangeBundle, Forward
from portal.services import bundles, keyring, partner_http, partners, signing

HOSTILE_TYPES = [
    "text/html",
    "text/html; charset=utf-8",
    "image/svg+xml",
    "application/hta",
    "multipart/x-mixed-replace; boundary=frame",
    "application/pdf\r\nSet-Cookie: session=stolen",
    "image/png\nContent-Disposition: inline",
    "image/png\r\n\r\n<script>alert(1)</script>",
    'image/png"; filename="x.exe',
    "téxt/html",
    "image/\u212apng",  # a Kelvin sign, which lower-cases to an ASCII k
    "",
    "x/" + "y" * 5000,
    42,
    ["text/html"],
]


@pytest.fixture
def forwarded(app, session_factory, facility_ids, monkeypatch):
    """A worker's report, forwarded by Anna to a partner whose portal answers "filed" and keeps what
    it receives (``received``, the bundles in the order they came)."""
    with session_factory() as session:
        partner, key = a_partner(session)
        partner_id = partner.id
    received = []

    def partner_portal(base_url, path, token, body, content_type):
        received.append(body)
        return partner_http.Answer(201, b'{"status": "filed"}')

    monkeypatch.setattr(partner_http, "post", partner_portal)
    assert receipt_on(send_report(app.test_client(), facility_ids[0], categories=["wages"],
                                  description="Overtime is not paid.", consent="without_identity"))
    with session_factory() as session:
        case = session.scalars(select(Case)).one()
        case_id, reference = case.id, case.reference
    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    form = anna.get(f"/inbox/cases/{case_id}/forward")
    assert anna.post(f"/inbox/cases/{case_id}/forward", data={
        "csrf_token": csrf_token(form), "partner": str(partner_id), "report": "y"}).status_code == 303
    received.clear()
    return {"case_id": case_id, "reference": reference, "key": key, "anna": anna, "received": received}


def partner_bundle(session, key, case_id, sequence, files):
    """An exchange bundle as the partner's portal signs it: a message, then ``files`` (content type
    as the partner declares it, bytes), each encrypted to the case's keyholders here."""
    case = session.get(Case, case_id)
    ours = keyring.case_recipients(session, case, reporter=False)
    anchor = session.scalars(select(Forward.bundle_id).where(Forward.case_id == case_id)).one()
    items = {"items/01-message.age": (crypto.encrypt(b"Here is what we found.", ours),
                                      {"kind": "message", "content_type": "text/plain; charset=utf-8"})}
    for declared, data in files:
        items[f"items/{len(items) + 1:02d}-attachment.age"] = (crypto.encrypt(data, ours),
                                                               {"kind": "attachment", "content_type": declared})
    public = key.public_key().public_bytes_raw()
    manifest = {"bundle_id": str(uuid.uuid4()), "format": bundles.FORMAT, "created_at": "2025-01-01",
                "sender": {"organisation": "Electronics Watch", "fingerprint": signing.fingerprint(public)},
                "addressee_fingerprint": partners.own_fingerprint(session), "recipients": [],
                "exchange": {"of": anchor, "sequence": sequence, "answers": None},
                "contents": [dict(meta, file=name, size=len(data), sha256=hashlib.sha256(data).hexdigest())
                             for name, (data, meta) in items.items()]}
    body = signing.canonical(manifest)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("manifest.json", body)
        archive.writestr("manifest.sig", key.sign(body))
        for name, (data, _meta) in items.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_a_document_whatever_type_the_partner_claims_downloads_as_a_file_and_never_breaks(
        app, session_factory, forwarded):
    # One bundle carries a document per claim: one case forwarded, not one per claim.
    files = [(declared, b"<html><script>alert(document.cookie)</script></html>") for declared in HOSTILE_TYPES]
    files.append(("image/jpeg", b"\xff\xd8\xff a photo the partner's portal cleaned"))
    with session_factory() as session:
        bundle = partner_bundle(session, forwarded["key"], forwarded["case_id"], 1, files)
    filed = app.test_client().post("/api/v1/bundles", data=bundle, content_type="application/zip",
                                   headers={"Authorization": f"Bearer {PARTNER_TOKEN}"})
    assert filed.status_code == 201, filed.get_data(as_text=True)

    anna, case_id = forwarded["anna"], forwarded["case_id"]
    page = anna.get(f"/inbox/cases/{case_id}")
    assert page.status_code == 200 and "Here is what we found." in page.get_data(as_text=True)
    links = re.findall(r'href="(/inbox/cases/\d+/exchange/files/(\d+))"', page.get_data(as_text=True))
    assert len(links) == len(files)
    with session_factory() as session:
        # A row stored before types were checked, as the partner wrote it, downloads as safely.
        session.get(CaseItem, int(links[0][1])).content_type = "text/html\r\nSet-Cookie: session=stolen"
        session.commit()
        stored = [session.get(CaseItem, int(item_id)).content_type for _link, item_id in links[1:]]
    assert all(re.fullmatch(r"[a-z0-9!#$%&'*+.^_`|~-]+/[a-z0-9!#$%&'*+.^_`|~-]+", kind) for kind in stored)

    for (link, item_id), (declared, data) in zip(links, files, strict=True):
        download = anna.get(link)
        assert download.status_code == 200, declared
        assert download.data == data
        expected = ("image/jpeg", "jpg") if declared == "image/jpeg" else ("application/octet-stream", "bin")
        assert download.mimetype == expected[0], declared
        assert download.headers["Content-Disposition"] == (
            f'attachment; filename="case-{forwarded["reference"]}-document-{item_id}.{expected[1]}"')
        assert download.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in download.headers["Content-Security-Policy"]
        assert "Set-Cookie" not in download.headers


def test_two_keyholders_sending_on_one_case_at_once_both_send_in_turn(app, session_factory, forwarded,
                                                                      monkeypatch):
    case_id = forwarded["case_id"]
    binh = app.test_client()
    assert log_in(binh, "binh").status_code == 303
    senders = {"anna": forwarded["anna"], "binh": binh}
    tokens = {name: csrf_token(client.get(f"/inbox/cases/{case_id}")) for name, client in senders.items()}
    # Both read the case's last number before either writes its bundle: they meet as they sign.
    both_numbered, met = threading.Barrier(2, timeout=20), set()
    real_build = bundles.build

    def build_once_both_have_numbered(session, manifest, items):
        if threading.get_ident() not in met:
            met.add(threading.get_ident())
            both_numbered.wait()
        return real_build(session, manifest, items)

    monkeypatch.setattr(bundles, "build", build_once_both_have_numbered)
    answers = {}

    def send(name):
        answers[name] = senders[name].post(f"/inbox/cases/{case_id}/exchange", data={
            "csrf_token": tokens[name], "kind": "message", "text": f"{name.title()} writes.", "answers": ""})

    threads = [threading.Thread(target=send, args=(name,)) for name in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert {name: answer.status_code for name, answer in answers.items()} == {"anna": 303, "binh": 303}

    with session_factory() as session:
        sent = session.scalars(select(ExchangeBundle).where(ExchangeBundle.case_id == case_id)
                               .order_by(ExchangeBundle.sequence)).all()
        assert [(row.sequence, row.state) for row in sent] == [(1, "delivered"), (2, "delivered")]
        # Nothing of the attempt that lost the number stayed: one copy and one audit entry per bundle.
        assert session.scalar(select(func.count()).select_from(CaseItem).where(
            CaseItem.case_id == case_id, CaseItem.kind == "exchange")) == 2
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "exchange")) == 2
    assert sorted(bundles.read_manifest(body)["exchange"]["sequence"] for body in forwarded["received"]) == [1, 2]
    page = forwarded["anna"].get(f"/inbox/cases/{case_id}").get_data(as_text=True)
    assert "Anna writes." in page and "Binh writes." in page
