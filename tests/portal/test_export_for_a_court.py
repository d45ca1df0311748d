"""An investigator exports a case for a lawyer or a court: one file, encrypted
with age to the key they name, that the standard ``age`` tool opens, holding the
report, messages, notes, evidence files with their records and the case's audit
entries, with a manifest of SHA-256 hashes signed by the portal. Whoever holds
it checks it with ``portal cases verify-export``; any change shows."""

import base64
import hashlib
import io
import json
import shutil
import subprocess
import zipfile

import pytest
from accounts import passphrase_of, totp_secret_of
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from inbox_pages import log_in, post_on_case
from operator_steps import logged_in_admin, user_named
from PIL import Image
from reporter_pages import csrf_token, log_in_with_receipt, receipt_on, send_claim_from_start_page, send_report
from sqlalchemy import select

import crypto
from portal.cli import main as portal_cli
from portal.models import AuditEntry, Case
from portal.services import case_exports, partners, signing, users

AGE = shutil.which("age")
AGE_KEYGEN = shutil.which("age-keygen")
needs_age = pytest.mark.skipif(not (AGE and AGE_KEYGEN), reason="the age tool is not installed")


def a_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), "orange").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def case_with_everything(app, facility_ids):
    """A report with a photo; Anna asked a question and wrote a note, the worker answered:
    (case id, reference, receipt)."""
    sent = send_report(app.test_client(), facility_ids[0], description="The fire exit is chained shut",
                       contact="Signal +84 555 0100", files={"files": [(io.BytesIO(a_photo()), "exit.png")]})
    assert sent.status_code == 200
    with app.extensions["portal.sessions"]() as session:
        case = session.scalars(select(Case)).one()
        case_id, reference = case.id, case.reference
    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    assert post_on_case(anna, case_id, "messages", text="Which door, and since when?").status_code == 303
    assert post_on_case(anna, case_id, "notes", text="Visit planned with the auditor.").status_code == 303
    worker = app.test_client()
    assert log_in_with_receipt(worker, receipt_on(sent)).status_code == 303
    page = worker.get("/en/case")
    assert worker.post("/en/case", data={"csrf_token": csrf_token(page), "message": "Door B, since May."}
                       ).status_code == 303
    return case_id, reference, receipt_on(sent)


@pytest.fixture
def anna(app):
    client = app.test_client()
    assert log_in(client, "anna").status_code == 303
    return client


@pytest.fixture
def court_key(tmp_path):
    """A key the court made with age-keygen: (its file, its public key)."""
    key_file = tmp_path / "court-key.txt"
    subprocess.run([AGE_KEYGEN, "-o", str(key_file)], check=True, capture_output=True)
    public = subprocess.run([AGE_KEYGEN, "-y", str(key_file)], check=True, capture_output=True, text=True)
    return key_file, public.stdout.strip()


def export(client, case_id, **fields):
    page = client.get(f"/inbox/cases/{case_id}/export")
    token = csrf_token(page) if page.status_code == 200 else csrf_token(client.get("/inbox/account"))
    return client.post(f"/inbox/cases/{case_id}/export", data={"csrf_token": token, **fields})


def opened_with_age(tmp_path, sealed: bytes, key_file) -> bytes:
    """What the court does: ``age -d -i key.txt case.zip.age > case.zip``."""
    sealed_path, opened_path = tmp_path / "case.zip.age", tmp_path / "case.zip"
    sealed_path.write_bytes(sealed)
    with opened_path.open("wb") as out:
        subprocess.run([AGE, "-d", "-i", str(key_file), str(sealed_path)], check=True, stdout=out)
    return opened_path.read_bytes()


def verify_export(path, *options):
    return CliRunner().invoke(portal_cli, ["cases", "verify-export", str(path), *options])


def rewritten(zip_bytes: bytes, change) -> bytes:
    """The ZIP with its members passed through ``change(name, data)``: it returns (name, data) pairs."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as original, zipfile.ZipFile(out, "w") as copy:
        for name in original.namelist():
            for new_name, new_data in change(name, original.read(name)):
                copy.writestr(new_name, new_data)
    return out.getvalue()


def case_exports_in_audit(app):
    with app.extensions["portal.sessions"]() as session:
        return [(entry.case_id, entry.actor_user_id, json.loads(entry.detail)) for entry in
                session.scalars(select(AuditEntry).where(AuditEntry.action == "case_export"))]


@needs_age
def test_an_investigator_exports_a_case_for_a_court_and_the_court_checks_it(
        app, anna, case_with_everything, court_key, tmp_path):
    case_id, reference, _receipt = case_with_everything
    key_file, public = court_key
    case_page = anna.get(f"/inbox/cases/{case_id}").get_data(as_text=True)
    assert f"/inbox/cases/{case_id}/export" in case_page and "Export this case" in case_page

    response = export(anna, case_id, to="other", recipient=public)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f'attachment; filename="case-{reference}.zip.age"'
    sealed = response.get_data()
    assert sealed.startswith(b"age-encryption.org/v1\n") and b"chained shut" not in sealed

    opened = opened_with_age(tmp_path, sealed, key_file)
    with zipfile.ZipFile(io.BytesIO(opened)) as archive:
        names = set(archive.namelist())
        report = json.loads(archive.read("report.json"))
        messages = json.loads(archive.read("messages.json"))
        notes = json.loads(archive.read("notes.json"))
        audit = json.loads(archive.read("audit.json"))
        manifest = json.loads(archive.read("manifest.json"))
        photo = next(name for name in names if name.startswith("files/") and name.endswith("-file.png"))
        record = json.loads(archive.read(photo.replace("-file.png", "-evidence.json")))
        photo_bytes = archive.read(photo)
        readable = archive.read("report.txt").decode("utf-8")
        conversation = archive.read("messages.txt").decode("utf-8")
    assert report["reference"] == reference and report["report"]["description"] == "The fire exit is chained shut"
    assert "The fire exit is chained shut" in readable and "Signal +84 555 0100" in readable
    assert [(m["from"], m["text"]) for m in messages] == [("Anna", "Which door, and since when?"),
                                                          ("reporter", "Door B, since May.")]
    assert "at" in messages[0] and "at" not in messages[1], "a worker's message keeps its day only"
    assert "Reporter\nDoor B, since May." in conversation
    assert [n["text"] for n in notes] == ["Visit planned with the auditor."]
    assert Image.open(io.BytesIO(photo_bytes)).size == (8, 6)
    assert record["record"]["sha256"] == hashlib.sha256(photo_bytes).hexdigest()
    assert "rebuilt_from_pixels" in record["record"]["cleaning_steps"]
    assert {entry["action"] for entry in audit} >= {"view", "message", "note"}
    with app.extensions["portal.sessions"]() as session:
        instance_fingerprint = partners.own_fingerprint(session)
    assert manifest["case"] == reference and manifest["exported_by"]["username"] == "anna"
    assert manifest["signer"]["fingerprint"] == instance_fingerprint
    assert {entry["path"] for entry in manifest["files"]} == names - {"manifest.json", "manifest.sig"}

    # The export is recorded by the key's fingerprint, never the key or the content.
    [(audited_case, actor, detail)] = case_exports_in_audit(app)
    assert audited_case == case_id and actor == user_named(app, "anna").id
    assert len(detail["recipient"]) == 64 and public not in json.dumps(detail) and detail["own_key"] is False

    zip_path = tmp_path / "case.zip"
    checked = verify_export(zip_path, "--fingerprint", instance_fingerprint)
    assert checked.exit_code == 0, checked.output
    assert "export verified" in checked.output and f"ok: {photo}" in checked.output
    # The same check from the encrypted file and the court's key.
    from_sealed = verify_export(tmp_path / "case.zip.age", "--identity", str(key_file))
    assert from_sealed.exit_code == 0, from_sealed.output
    # Only the instance's key: a manifest signed by another is refused when the fingerprint is given.
    wrong_key = tmp_path / "wrong-key.txt"
    wrong_key.write_text(str(crypto.generate_identity(pq=False)) + "\n")
    not_theirs = verify_export(tmp_path / "case.zip.age", "--identity", str(wrong_key))
    assert not_theirs.exit_code != 0 and "cannot decrypt" in not_theirs.output
    elsewhere = verify_export(zip_path, "--fingerprint", "ab" * 32)
    assert elsewhere.exit_code != 0 and "another key" in elsewhere.output


def _altered_manifest(name, data):
    if name == "manifest.json":
        manifest = json.loads(data)
        manifest["files"][0]["sha256"] = "0" * 64
        data = json.dumps(manifest).encode()
    return [(name, data)]


TAMPERINGS = {
    "a file changed": (lambda name, data: [(name, data.replace(b"auditor", b"AUDITOR"))], "changed: notes.json"),
    "a file added": (lambda name, data: [(name, data)] + ([("files/9999-file.jpg", b"planted")]
                                                          if name == "notes.json" else []),
                     "not in the manifest: files/9999-file.jpg"),
    "a file removed": (lambda name, data: [] if name == "audit.json" else [(name, data)], "missing: audit.json"),
    "a file renamed": (lambda name, data: [(name.replace("notes.json", "notes2.json"), data)],
                       "missing: notes.json"),
    "a byte of a file flipped in the ZIP": (None, "changed: files/"),
    "the manifest altered": (_altered_manifest, "not a valid signature"),
    "the signature altered": (lambda name, data: [(name, bytes([data[0] ^ 1]) + data[1:] if name == "manifest.sig"
                                                   else data)], "not a valid signature"),
    "the signature removed": (lambda name, data: [] if name == "manifest.sig" else [(name, data)],
                              "manifest.sig is missing"),
}


@needs_age
@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_any_change_to_the_export_makes_the_check_fail(app, anna, case_with_everything, court_key, tmp_path,
                                                       tampering):
    case_id, _reference, _receipt = case_with_everything
    key_file, public = court_key
    opened = opened_with_age(tmp_path, export(anna, case_id, to="other", recipient=public).get_data(), key_file)
    change, problem = TAMPERINGS[tampering]
    tampered = tmp_path / "tampered.zip"
    if change is None:
        # The photo is stored as it is in the ZIP: one of its bytes changed in place fails the CRC.
        with zipfile.ZipFile(io.BytesIO(opened)) as archive:
            photo = next(archive.read(name) for name in archive.namelist() if name.endswith("-file.png"))
        at = opened.index(photo) + len(photo) // 2
        tampered.write_bytes(opened[:at] + bytes([opened[at] ^ 0xFF]) + opened[at + 1:])
    else:
        tampered.write_bytes(rewritten(opened, change))
    result = verify_export(tampered)
    assert result.exit_code != 0
    assert problem in result.output and "does not verify" in result.output


def test_a_manifest_signed_again_by_another_key_is_not_the_portals(app, anna, case_with_everything, tmp_path):
    """Whoever changes a file can sign a new manifest with their own key: only the portal's
    fingerprint, given out of band, tells the two apart."""
    case_id, _reference, _receipt = case_with_everything
    identity = crypto.generate_identity(pq=False)
    opened = crypto.decrypt(export(anna, case_id, to="other", recipient=str(identity.recipient)).get_data(),
                            identity)
    forger = Ed25519PrivateKey.generate()
    public = forger.public_key().public_bytes(**signing.RAW)
    with zipfile.ZipFile(io.BytesIO(opened)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        contents = {name: archive.read(name) for name in archive.namelist()}
    contents["notes.json"] = contents["notes.json"].replace(b"auditor", b"AUDITOR")
    for entry in manifest["files"]:
        data = contents[entry["path"]]
        entry.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    manifest["signer"] = {"public_key": base64.b64encode(public).decode(),
                          "fingerprint": signing.fingerprint(public)}
    contents["manifest.json"] = signing.canonical(manifest)
    contents["manifest.sig"] = forger.sign(contents["manifest.json"])
    forged = tmp_path / "forged.zip"
    forged.write_bytes(rewritten(opened, lambda name, _data: [(name, contents[name])]))
    with app.extensions["portal.sessions"]() as session:
        portal_fingerprint = partners.own_fingerprint(session)
    without = verify_export(forged)
    assert without.exit_code == 0 and signing.readable(signing.fingerprint(public)) in without.output
    assert "Compare the signing key's fingerprint" in without.output
    refused = verify_export(forged, "--fingerprint", signing.readable(portal_fingerprint))
    assert refused.exit_code != 0 and "another key" in refused.output


def test_the_export_to_ones_own_key_opens_with_ones_identity(app, anna, case_with_everything, investigators):
    case_id, reference, _receipt = case_with_everything
    response = export(anna, case_id, to="own", recipient="")
    assert response.status_code == 200
    opened = crypto.decrypt(response.get_data(), investigators["anna"][1])
    with zipfile.ZipFile(io.BytesIO(opened)) as archive:
        assert json.loads(archive.read("report.json"))["reference"] == reference
    # Binh, who holds the case too, cannot open Anna's export: it is hers alone.
    with pytest.raises(crypto.NoIdentityError):
        crypto.decrypt(response.get_data(), investigators["binh"][1])
    [(_case, _actor, detail)] = case_exports_in_audit(app)
    assert detail["own_key"] is True


def test_a_post_quantum_recipient_is_accepted(app, anna, case_with_everything):
    case_id, _reference, _receipt = case_with_everything
    identity = crypto.generate_identity(pq=True)
    assert str(identity.recipient).startswith("age1pq1")
    response = export(anna, case_id, to="other", recipient=str(identity.recipient))
    assert response.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(crypto.decrypt(response.get_data(), identity))).testzip() is None


def test_a_retaliation_claim_is_exported_with_the_claim_as_its_report(app, facility_ids, investigators):
    with app.extensions["portal.sessions"]() as session:
        users.create(session, "rosa", "Rosa", "retaliation_officer", passphrase_of("rosa"), work_factor=10,
                     totp_secret=totp_secret_of("rosa"))
    assert send_claim_from_start_page(app.test_client(), facility_ids[0]).status_code in (200, 303)
    with app.extensions["portal.sessions"]() as session:
        claim_id = session.scalar(select(Case.id).where(Case.kind == "retaliation"))
    rosa = app.test_client()
    assert log_in(rosa, "rosa").status_code == 303
    assert f"/inbox/cases/{claim_id}/export" in rosa.get(f"/inbox/cases/{claim_id}").get_data(as_text=True)
    identity = crypto.generate_identity(pq=False)
    response = export(rosa, claim_id, to="other", recipient=str(identity.recipient))
    assert response.status_code == 200
    opened = io.BytesIO(crypto.decrypt(response.get_data(), identity))
    with zipfile.ZipFile(opened) as archive:
        report = json.loads(archive.read("report.json"))
    assert report["kind"] == "retaliation"
    assert report["report"]["description"] == "I was moved to night shifts after I reported."
    assert case_exports.verify(opened).ok


BAD_RECIPIENTS = {
    "nothing": "",
    "words": "the court's key",
    "a truncated key": "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgp",
    "a wrong checksum": "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8q"[:-1] + "x",
    "a secret key": "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX",
    "an ssh key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsomething court@example",
    "two keys": "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n"
                "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
    "a huge text": "age1" + "q" * 100_000,
    "markup": "<script>alert(1)</script>",
}


@pytest.mark.parametrize("recipient", list(BAD_RECIPIENTS))
def test_a_bad_recipient_is_refused_with_a_message_and_nothing_is_exported(app, anna, case_with_everything,
                                                                            recipient):
    case_id, _reference, _receipt = case_with_everything
    response = export(anna, case_id, to="other", recipient=BAD_RECIPIENTS[recipient])
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This is not an age public key" in page and "<script>alert" not in page
    assert case_exports_in_audit(app) == []


def test_only_a_keyholder_who_is_fully_logged_in_can_export(app, case_with_everything, colleague, facility_ids):
    case_id, _reference, receipt = case_with_everything
    recipient = str(crypto.generate_identity(pq=False).recipient)

    # A colleague who does not hold the case: as if it did not exist, for a case that does not either.
    chandra = app.test_client()
    assert log_in(chandra, "chandra").status_code == 303
    for target in (case_id, case_id + 1000):
        assert chandra.get(f"/inbox/cases/{target}/export").status_code == 404
        assert export(chandra, target, to="other", recipient=recipient).status_code == 404
        assert export(chandra, target, to="own").status_code == 404

    # Someone not logged in, a log-in that failed at the code, and the reporter's own session: to the log-in page.
    half = app.test_client()
    assert log_in(half, "anna", code="000000").status_code != 303
    reporter = app.test_client()
    log_in_with_receipt(reporter, receipt)
    for client in (app.test_client(), half, reporter):
        assert client.get(f"/inbox/cases/{case_id}/export").status_code == 303
        token = csrf_token(client.get("/inbox/login"))
        refused = client.post(f"/inbox/cases/{case_id}/export",
                              data={"csrf_token": token, "to": "other", "recipient": recipient})
        assert refused.status_code in (303, 400) and b"age-encryption.org" not in refused.get_data()

    # A holder with a conflict of interest declared after the case reached her: 403.
    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    root = logged_in_admin(app)
    page = root.get("/admin/routing")
    declared = root.post("/admin/routing/exclusions", data={
        "csrf_token": csrf_token(page), "user": str(user_named(app, "anna").id), "facility": str(facility_ids[0]),
        "supplier": ""})
    assert declared.status_code == 303
    assert anna.get(f"/inbox/cases/{case_id}/export").status_code == 403
    assert export(anna, case_id, to="own").status_code == 403
    assert case_exports_in_audit(app) == []


def _local_entries(name: str, data: bytes) -> bytes:
    """A ZIP member's local header and data, without a central directory: what a reader that walks
    a ZIP from its first byte (streaming unzippers do) finds, and one that reads its directory does not."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(name, data)
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        return out.getvalue()[:archive.start_dir]


SMUGGLINGS = {
    "a file before the export's first": lambda opened: _local_entries("notes.txt", b"Forged notes") + opened,
    "a file between two of the export's": lambda opened: _between_members(opened),
    "a comment on the ZIP": lambda opened: _with_comment(opened, b"Checked by the court: notes.txt is the original"),
}


def _between_members(opened: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(opened)) as archive:
        second = sorted(info.header_offset for info in archive.infolist())[1]
    planted = _local_entries("report.txt", b"Forged report")
    # Every offset the directory gives after the planted bytes moves by their length.
    out = io.BytesIO()
    out.write(opened[:second] + planted + opened[second:])
    fixed = bytearray(out.getvalue())
    with zipfile.ZipFile(io.BytesIO(opened)) as archive:
        start = archive.start_dir
    at = start + len(planted)
    while fixed[at:at + 4] == b"PK\x01\x02":
        offset = int.from_bytes(fixed[at + 42:at + 46], "little")
        if offset >= second:
            fixed[at + 42:at + 46] = (offset + len(planted)).to_bytes(4, "little")
        at += 46 + sum(int.from_bytes(fixed[at + i:at + i + 2], "little") for i in (28, 30, 32))
    assert fixed[at:at + 4] == b"PK\x05\x06"
    fixed[at + 16:at + 20] = (start + len(planted)).to_bytes(4, "little")
    return bytes(fixed)


def _with_comment(opened: bytes, comment: bytes) -> bytes:
    out = io.BytesIO(opened)
    with zipfile.ZipFile(out, "a") as archive:
        archive.comment = comment
    return out.getvalue()


@pytest.mark.parametrize("smuggling", list(SMUGGLINGS))
def test_bytes_smuggled_where_another_unzipper_would_read_them_make_the_check_fail(
        app, anna, case_with_everything, tmp_path, smuggling):
    """Every reader of the ZIP must find in it what the check found: nothing but the export's
    files, one after the other from the first byte, and no comment."""
    case_id, _reference, _receipt = case_with_everything
    identity = crypto.generate_identity(pq=False)
    opened = crypto.decrypt(export(anna, case_id, to="other", recipient=str(identity.recipient)).get_data(),
                            identity)
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(SMUGGLINGS[smuggling](opened))
    with zipfile.ZipFile(tampered) as archive:
        assert archive.testzip() is None  # still a ZIP whose listed files are all as signed
    result = verify_export(tampered)
    assert result.exit_code != 0 and "does not verify" in result.output, result.output
