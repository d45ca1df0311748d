"""A partner is another organisation's server, and it may turn hostile (or be taken
over): it cannot hurt this portal.

- A bundle that would inflate to hundreds of megabytes, or holds thousands of
  members, or names that climb out of ``items/``, is refused before its signature
  is checked, in a few megabytes of memory, whether it arrives through the API,
  a monitor's import page or the operator's ``forwards import``; nothing is stored.
- A partner's address is https:// at a public address only: every local,
  private or metadata form is refused when saved, and, because DNS may say
  otherwise later, at every connection, without a connection being tried.
  Redirects are never followed, so the bearer token goes nowhere else, and every
  failure reads the same: the address cannot be used to scan other hosts.
- A partner cannot replay an old signed status to move a forward back.
- A partner whose key is valid but whose portal lies (an id longer than its column, a list where a
  reference belongs, a NUL, a size or kind an item does not have, an item listed twice) has its
  bundle refused whole with a reason, whatever the database: nothing is stored, and the file types
  it declares are cleaned as every stored file's are.
"""

import hashlib
import io
import json
import re
import socket
import struct
import threading
import time
import tracemalloc
import uuid
import warnings
import zipfile
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import test_forwarding_between_instances as forwarding_tests
from accounts import passphrase_of, totp_secret_of
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from inbox_pages import log_in
from operator_steps import make_admin, run_portal
from reporter_pages import csrf_token, receipt_on, send_report
from sqlalchemy import func, select
from test_forwarding_between_instances import partner_each_other

import crypto
from portal import config, create_app
from portal.models import Case, CaseItem, Forward, Partner, ReceivedBundle
from portal.services import clock, partner_http, partners, signing, users

two_instances = forwarding_tests.two_instances
monitor_database_url = forwarding_tests.monitor_database_url

MiB = 1024 * 1024
# Refusing a bundle costs less than this, whatever it would inflate to.
MEMORY_BOUND = 16 * MiB
PARTNER_TOKEN = "token-the-partner-presents-to-us-" + "x" * 20
UNREACHABLE = "The partner&#39;s portal did not answer. Check the address and try again."
ADDRESS_REFUSED = "Enter the partner&#39;s public https:// address."


# --- A partner, as registration left it -----------------------------------------------------


def a_partner(session, base_url="https://ew-partner.example", key=None):
    """A partner as it stands once registered (its key checked then): its address, key, recipients
    and the token it presents to us."""
    key = key or Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    monitor = str(crypto.generate_identity().recipient)
    partner = Partner(name="Electronics Watch", base_url=base_url, fingerprint=signing.fingerprint(public),
                      signing_key=public, recipients=json.dumps({"monitors": [monitor], "recovery": []}),
                      fetched_at=clock.now(), outbound_token="token-we-present",
                      inbound_token_digest=partners.token_digest(PARTNER_TOKEN), created_at=clock.now())
    session.add(partner)
    session.commit()
    return partner, key


def signed_bundle(key, addressee_fingerprint, items, change=None):
    """A bundle as a partner's portal makes it: the manifest signed with its key, items stored.
    ``change``, given the manifest, changes it as a partner that lies would (or returns the
    signed text whole)."""
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    manifest = {"bundle_id": str(uuid.uuid4()), "format": "whistleblower-portal-bundle/1",
                "sender": {"organisation": "Electronics Watch", "fingerprint": signing.fingerprint(public)},
                "addressee_fingerprint": addressee_fingerprint, "recipients": [], "case": {"language": "en"},
                "consent_scope": "without_identity", "left_out": {"fields": []},
                "contents": [{"file": name, "kind": name.split("-", 1)[1][:-4], "size": len(data),
                              "sha256": hashlib.sha256(data).hexdigest()} for name, data in items.items()]}
    # A partner signs what it likes: a NUL, half a surrogate pair (JSON escapes what UTF-8 cannot hold).
    body = (change and change(manifest)) or (json.dumps(manifest).encode() if change else signing.canonical(manifest))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("manifest.json", body)
        archive.writestr("manifest.sig", key.sign(body))
        for name, data in items.items():
            archive.writestr(name, data)
    return out.getvalue()


# --- Bundles that would hurt --------------------------------------------------------------------


def _deflated_member(archive, name, size):
    """A member of ``size`` zero bytes, deflated (about a thousandth of that), written in chunks."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w") as member:
        chunk = bytes(MiB)
        for _ in range(size // MiB):
            member.write(chunk)


def ratio_bomb(name="manifest.json", size=200 * MiB):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("manifest.sig", bytes(64))
        _deflated_member(archive, name, size)
    return out.getvalue()


def lying_bomb(size=200 * MiB, claimed=1000):
    """A manifest whose headers say ``claimed`` bytes, and whose data inflates to ``size``."""
    data = bytearray(ratio_bomb("manifest.json", size))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        local = archive.getinfo("manifest.json").header_offset
    central = data.rfind(b"PK\x01\x02")  # the manifest's entry, the last of the directory
    for at in (local + 22, central + 24):  # where each header keeps the uncompressed size
        data[at:at + 4] = struct.pack("<I", claimed)
    return bytes(data)


def many_members(count=5000):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for number in range(count):
            archive.writestr(f"items/{number:04d}-message.age", b"")
    return out.getvalue()


def a_bundle_with_member(name, duplicate=False, manifest=b"{}"):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("manifest.json", manifest)
        archive.writestr("manifest.sig", bytes(64))
        archive.writestr(name, b"age")
        if duplicate:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # zipfile warns of the duplicate it is asked to write
                archive.writestr(name, b"age")
    return out.getvalue()


CLIMBING_OR_NESTED_NAMES = ["../../etc/cron.d/x", "/items/01-report.age", "items/../manifest.json",
                            "items/sub/01-report.age", "items\\01-report.age", "items/01-report.zip",
                            "items/01-report.age/", "manifest.json.age", "items/01-REPORT.age", "x" * 300]


@pytest.fixture(scope="module")
def hostile_bundles():
    """Each story, its bundle (under 2 MiB) and the error code it gets."""
    return {
        "a manifest that inflates to 200 MiB": (ratio_bomb(), "limits"),
        "an item that inflates to 200 MiB": (ratio_bomb("items/01-report.age"), "limits"),
        "a manifest that says 1000 bytes and inflates to 200 MiB": (lying_bomb(), "malformed"),
        "5000 members": (many_members(), "limits"),
        "a member twice": (a_bundle_with_member("items/01-report.age", duplicate=True), "limits"),
        **{f"a member named {name[:30]!r}": (a_bundle_with_member(name), "limits")
           for name in CLIMBING_OR_NESTED_NAMES},
        # Unsigned: the API refuses them on their signature, the import page on their manifest.
        **{f"a manifest {body[:20]!r}": (a_bundle_with_member("items/01-report.age", manifest=body), "signature")
           for body in (b"[]", b'{"sender": "Electronics Watch"}', b"[" * 5000 + b"]" * 5000)},
    }


@contextmanager
def peak_memory():
    """The peak of what Python allocated inside the block, in bytes."""
    tracemalloc.start()
    measured = {}
    try:
        yield measured
    finally:
        measured["peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def stored(sessions):
    with sessions() as session:
        return (session.scalar(select(func.count()).select_from(ReceivedBundle)),
                session.scalar(select(func.count()).select_from(Case)))


def test_a_hostile_bundle_is_refused_through_the_api_in_bounded_memory(app, session_factory, hostile_bundles):
    with session_factory() as session:
        _partner, key = a_partner(session)
        own = partners.own_fingerprint(session)
    api = app.test_client()
    headers = {"Authorization": f"Bearer {PARTNER_TOKEN}", "Content-Type": "application/zip"}
    before = stored(session_factory)
    for story, (bundle, code) in hostile_bundles.items():
        assert len(bundle) < 2 * MiB, story
        with peak_memory() as memory:
            answer = api.post("/api/v1/bundles", data=bundle, headers=headers)
        assert (answer.status_code, (answer.get_json() or {}).get("error")) == (400, code), (story, answer.data[-300:])
        assert memory["peak"] < MEMORY_BOUND, f"{story}: {memory['peak'] / MiB:.0f} MiB"

    # Larger than any bundle may be: refused on its Content-Length, before its body is read.
    with peak_memory() as memory:
        answer = api.post("/api/v1/bundles", input_stream=io.BytesIO(b"PK"),
                          environ_overrides={"CONTENT_LENGTH": str(257 * MiB)},
                          headers=headers)
    assert (answer.status_code, answer.get_json()["error"]) == (413, "too_large")
    assert memory["peak"] < MEMORY_BOUND
    assert stored(session_factory) == before

    # The partner's real bundles still arrive.
    report = crypto.encrypt(b'{"description": "Passports kept."}', [str(crypto.generate_identity().recipient)])
    answer = api.post("/api/v1/bundles", data=signed_bundle(key, own, {"items/01-report.age": report}),
                      headers=headers)
    assert answer.status_code == 201, answer.get_json()
    assert stored(session_factory) == (before[0] + 1, before[1] + 1)


def test_a_hostile_bundle_imported_by_hand_is_refused_with_a_message_and_nothing_stored(
        app, session_factory, tmp_path, hostile_bundles):
    with session_factory() as session:
        a_partner(session)
        users.create(session, "max", "Max Monitor", "monitor", passphrase_of("max"), work_factor=10,
                     totp_secret=totp_secret_of("max"))
    max_client = app.test_client()
    assert log_in(max_client, "max").status_code == 303
    before = stored(session_factory)
    for story, (bundle, code) in hostile_bundles.items():
        page = max_client.get("/inbox/forwards/import")
        with peak_memory() as memory:
            answer = max_client.post("/inbox/forwards/import", data={
                "csrf_token": csrf_token(page), "bundle": (io.BytesIO(bundle), "bundle.zip")},
                content_type="multipart/form-data")
        shown = answer.get_data(as_text=True)
        assert answer.status_code == 400, story
        expected = ("This bundle holds more items, larger items or other names than a bundle may. "
                    "Nothing was stored." if code == "limits" else "This file is not a bundle.")
        assert expected in shown, story
        assert memory["peak"] < MEMORY_BOUND + 2 * len(bundle), f"{story}: {memory['peak'] / MiB:.0f} MiB"

    # The operator's command refuses them the same way.
    for bundle, code in (hostile_bundles["a manifest that inflates to 200 MiB"], hostile_bundles["5000 members"]):
        path = tmp_path / "bundle.zip"
        path.write_bytes(bundle)
        refused = run_portal(app, "forwards", "import", str(path))
        assert refused.returncode != 0 and f"refused, nothing stored: {code}" in refused.stderr
    huge = tmp_path / "huge.zip"
    with huge.open("wb") as sparse:
        sparse.truncate(257 * MiB)  # a sparse file: its size is enough to refuse it
    refused = run_portal(app, "forwards", "import", str(huge))
    assert refused.returncode != 0 and "refused, nothing stored: too_large" in refused.stderr
    assert stored(session_factory) == before


# --- Manifests that lie, signed with the partner's valid key -------------------------------------


def _set(*path, value=None, delete=False):
    """A change of the manifest field at ``path`` (keys and list indexes)."""
    def change(manifest):
        *parents, last = path
        for key in parents:
            manifest = manifest[key]
        if delete:
            del manifest[last]
        else:
            manifest[last] = value
    return change


def _both(*changes):
    return lambda manifest: [change(manifest) for change in changes] and None


UPPER_UUID = "0000000A-0000-4000-8000-00000000000B"
FACILITY = {"listed": True, "name": "Shenzhen Assembly No. 2", "country": "CN", "address": "1 Road"}
# Each story, its change to a forwarded case's manifest (report, message, file) and the error code.
LYING_MANIFESTS = {
    "a bundle id longer than its column": (_set("bundle_id", value="b" * 37), "malformed"),
    "a bundle id not a UUID": (_set("bundle_id", value="x"), "malformed"),
    "a bundle id in capitals": (_set("bundle_id", value=UPPER_UUID), "malformed"),
    "a bundle id that is a number": (_set("bundle_id", value=12345), "malformed"),
    "a bundle id that is a list": (_set("bundle_id", value=[str(uuid.uuid4())]), "malformed"),
    "no bundle id": (_set("bundle_id", delete=True), "malformed"),
    "an exchange bundle's id longer than its column": (
        _both(_set("bundle_id", value="e" * 40), _set("exchange", value={"of": "x", "sequence": 1})), "malformed"),
    "an addition to a bundle id that is none": (_set("addition_to", value="a" * 300), "malformed"),
    "an answer to a bundle id that is a list": (_set("reply_to", value=["x"]), "malformed"),
    "a NUL in the sender's name": (_set("sender", "organisation", value="Electronics\x00Watch"), "malformed"),
    "half a surrogate pair in the reference": (_set("case", "reference", value="2026-\ud800"), "malformed"),
    "a NUL as a key": (_set("case", "\x00", value=1), "malformed"),
    "JSON nested deeper than Python parses": (
        lambda manifest: json.dumps(manifest)[:-1].encode() + b', "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        "malformed"),
    "a number beyond what Python reads": (
        lambda manifest: json.dumps(manifest)[:-1].encode() + b', "x": ' + b"9" * 5000 + b"}", "malformed"),
    "a case that is a list": (_set("case", value=[]), "malformed"),
    "a case that is a string": (_set("case", value="2026-00001"), "malformed"),
    "a sender's name that is a list": (_set("sender", "organisation", value=["EW"]), "malformed"),
    "a sender's name of 5000 characters": (_set("sender", "organisation", value="E" * 5000), "malformed"),
    "recipients that are objects": (_set("recipients", value=[{"age": 1}]), "malformed"),
    "recipients that are a number": (_set("recipients", value=7), "malformed"),
    "categories that are objects": (_set("case", "categories", value=[{"code": "wages"}]), "malformed"),
    "categories that are a string": (_set("case", "categories", value="wages"), "malformed"),
    "a category longer than its column": (_set("case", "categories", value=["w" * 41]), "malformed"),
    "a language longer than its column": (_set("case", "language", value="en-" + "x" * 14), "malformed"),
    "a language that is a list": (_set("case", "language", value=["en"]), "malformed"),
    "urgency that is a word": (_set("case", "urgent", value="no"), "malformed"),
    "a reference longer than shown": (_set("case", "reference", value="R" * 101), "malformed"),
    "a report it is about that is a list": (_set("case", "about_reference", value=["2026-00001"]), "malformed"),
    "a day that is not a date": (_set("case", "received_on", value="yesterday"), "malformed"),
    "a day that is a number": (_set("case", "acknowledge_due", value=20260101), "malformed"),
    "a facility that is a list": (_set("case", "facility", value=["Shenzhen"]), "malformed"),
    "a facility whose name is 5000 characters": (
        _set("case", "facility", value=dict(FACILITY, name="F" * 5000)), "malformed"),
    "a facility whose country is a list": (_set("case", "facility", value=dict(FACILITY, country=["CN"])),
                                           "malformed"),
    "a facility listed as a word": (_set("case", "facility", value=dict(FACILITY, listed="yes")), "malformed"),
    "a consent that is none": (_set("consent_scope", value="everything"), "malformed"),
    "a consent that is a list": (_set("consent_scope", value=["with_identity"]), "malformed"),
    "a worker's key that is not one": (_set("reply_recipient", value="age1notakey"), "malformed"),
    "exchange recipients that are a number": (_set("exchange_recipients", value=7), "malformed"),
    "exchange recipients that are not keys": (_set("exchange_recipients", value=["age1notakey"]), "malformed"),
    "what was left out as a list": (_set("left_out", value=[]), "malformed"),
    "a creation time that is an object": (_set("created_at", value={}), "malformed"),
    "a message by an author longer than its column": (_set("contents", 1, "author", value="a" * 300), "malformed"),
    "a message by nobody this portal knows": (_set("contents", 1, "author", value="the director"), "malformed"),
    "a file's day that is not a date": (_set("contents", 2, "day", value="2026-13-45"), "malformed"),
    "a record describing a list": (_set("contents", 2, "describes", value=["x"]), "malformed"),
    "an item whose kind is not its name's": (_set("contents", 0, "kind", value="note"), "contents"),
    "an item whose kind is a list": (_set("contents", 0, "kind", value=["report"]), "contents"),
    "a size beyond any column": (_set("contents", 2, "size", value=2**63), "contents"),
    "a size that is a fraction": (_set("contents", 2, "size", value=1.5), "contents"),
    "a size that is a string": (_set("contents", 2, "size", value="10"), "contents"),
    "a size that lies": (lambda manifest: manifest["contents"][2].update(size=1) and None, "contents"),
    "an item listed twice": (lambda manifest: manifest["contents"].append(manifest["contents"][1]) and None,
                             "contents"),
    "the manifest listed as an item": (
        lambda manifest: manifest["contents"].append({"file": "manifest.json", "kind": "report"}) and None,
        "contents"),
    "contents that are an object": (_set("contents", value={"file": "items/01-report.age"}), "malformed"),
}


def test_a_partner_that_signs_a_lying_manifest_is_refused_whole_and_nothing_is_stored(app, session_factory):
    with session_factory() as session:
        _partner, key = a_partner(session)
        own = partners.own_fingerprint(session)
    api = app.test_client()
    headers = {"Authorization": f"Bearer {PARTNER_TOKEN}", "Content-Type": "application/zip"}
    items = {"items/01-report.age": b"age: the report", "items/02-message.age": b"age: a message",
             "items/03-attachment.age": b"age: a photo"}

    def bundle(change):
        def lying(manifest):
            manifest["contents"][1]["author"] = "reporter"
            manifest["contents"][2]["content_type"] = "text/html\r\nSet-Cookie: session=stolen"
            return change(manifest)
        return signed_bundle(key, own, items, lying)

    def rows():
        with session_factory() as session:
            return [session.scalar(select(func.count()).select_from(t)) for t in (ReceivedBundle, Case, CaseItem)]

    before = rows()
    for story, (change, code) in LYING_MANIFESTS.items():
        answer = api.post("/api/v1/bundles", data=bundle(change), headers=headers)
        assert (answer.status_code, (answer.get_json() or {}).get("error")) == (400, code), (story, answer.data[-300:])
    # An item no forward holds: an internal note, signed as the partner's.
    answer = api.post("/api/v1/bundles", data=signed_bundle(key, own, {"items/01-note.age": b"age"}), headers=headers)
    assert (answer.status_code, answer.get_json()["error"]) == (400, "contents")
    assert rows() == before

    # Told the truth, the same bundle is filed, and the file's type is one no browser renders.
    answer = api.post("/api/v1/bundles", data=bundle(lambda manifest: None), headers=headers)
    assert answer.status_code == 201, answer.get_json()
    with session_factory() as session:
        filed = session.scalars(select(CaseItem).order_by(CaseItem.id.desc())).first()
        assert (filed.kind, filed.content_type, filed.size) == ("attachment", "application/octet-stream", 12)


# --- Partner addresses -------------------------------------------------------------------------


@pytest.fixture
def production_app(app_config, investigators, facility_ids):
    """The portal as it runs in production: partners on this machine are not allowed."""
    application = create_app(dict(app_config, ALLOW_LOOPBACK_PARTNERS=0))
    application.config["TESTING"] = True
    yield application
    application.extensions["portal.engine"].dispose()


# What no partner's address may be, written every way that reaches the same places.
LOCAL_ADDRESSES = ["127.0.0.1", "127.8.9.10", "::1", "0.0.0.0", "::", "10.0.0.5", "172.16.3.4", "192.168.1.1",
                   "169.254.169.254", "100.64.0.1", "100.127.255.254", "224.0.0.1", "239.255.255.250",
                   "255.255.255.255", "240.0.0.1", "198.18.0.1", "192.0.0.8", "fe80::1", "fd00::1", "fc00::5",
                   "ff02::1", "fec0::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.5",
                   "::127.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "64:ff9b:1::a00:5",
                   "2002:a9fe:a9fe::1", "2002:7f00:1::1", "2002:c0a8:101::1", "2001:db8::1"]
REFUSED_WHEN_SAVED = (
    [f"https://{a}/" if ":" not in a else f"https://[{a}]/" for a in LOCAL_ADDRESSES]
    + ["http://ew-partner.example", "ftp://ew-partner.example", "https://localhost", "https://localhost:8443",
       "https://127.1", "https://2130706433", "https://0x7f000001", "https://017700000001", "https://0x7f.1",
       "https://intranet", "https://metadata.google.internal", "https://printer.local", "https://router.lan",
       "https://ew.example@169.254.169.254", "https://user:secret@ew-partner.example",
       "https://ew-partner.example/?next=http://127.0.0.1", "https://ew-partner.example:99999",
       "https://ew-partner.example#x", "http://127.0.0.1:8080", "javascript:alert(1)"])


def register_on_page(admin, base_url, fingerprint="ab" * 32):
    page = admin.get("/admin/partners")
    return admin.post("/admin/partners", data={"csrf_token": csrf_token(page), "name": "Electronics Watch",
                                               "base_url": base_url, "fingerprint": fingerprint, "token": ""})


class Network:
    """The machine's resolver and sockets, watched: names resolve as the test says, every
    connection tried is recorded, and the one public address in these tests is not on the
    internet (none is reachable from a test)."""

    PUBLIC = "93.184.215.14"

    def __init__(self, monkeypatch):
        self.names, self.tried = {}, []
        real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

        def getaddrinfo(host, port, *args, **kwargs):
            if host in self.names:
                return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                         (a, port, 0, 0) if ":" in a else (a, port)) for a in self.names[host]]
            return real_getaddrinfo(host, port, *args, **kwargs)

        def connect(sock, address):
            self.tried.append(address[0])
            if address[0] == self.PUBLIC:
                raise ConnectionRefusedError(111, "Connection refused")
            return real_connect(sock, address)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(socket.socket, "connect", connect)


class Listener:
    """A service on this machine (an admin port, a database) that counts who reaches it."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.server.settimeout(0)
        self.port = self.server.getsockname()[1]

    def reached(self) -> int:
        count = 0
        while True:
            try:
                connection, _ = self.server.accept()
            except BlockingIOError:
                return count
            connection.close()
            count += 1

    def close(self):
        self.server.close()


def test_a_partner_address_of_this_machine_or_a_private_network_is_refused_when_saved(production_app,
                                                                                     monkeypatch):
    network = Network(monkeypatch)
    make_admin(production_app)
    admin = production_app.test_client()
    assert log_in(admin, "root").status_code == 303
    for base_url in REFUSED_WHEN_SAVED:
        answer = register_on_page(admin, base_url)
        assert answer.status_code == 400, base_url
        assert ADDRESS_REFUSED in answer.get_data(as_text=True), base_url
    assert network.tried == []
    with production_app.extensions["portal.sessions"]() as session:
        assert session.scalar(select(func.count()).select_from(Partner)) == 0


def test_a_partner_name_is_checked_at_every_connection_and_every_failure_reads_the_same(
        production_app, facility_ids, monkeypatch, caplog):
    """DNS rebinding: a name that led to a public address when the partner was registered leads
    to this machine, a private network or the metadata service at the next connection."""
    network = Network(monkeypatch)
    internal = Listener()
    make_admin(production_app)
    admin = production_app.test_client()
    assert log_in(admin, "root").status_code == 303
    sessions = production_app.extensions["portal.sessions"]
    try:
        # A public address is tried (and, no internet here, does not answer): the generic message.
        network.names["ew-partner.example"] = [Network.PUBLIC]
        answer = register_on_page(admin, "https://ew-partner.example")
        assert answer.status_code == 400 and UNREACHABLE in answer.get_data(as_text=True)
        assert network.tried == [Network.PUBLIC]
        with sessions() as session:
            partner, _key = a_partner(session, "https://ew-partner.example")
            partner_id = partner.id
        refresh = f"/admin/partners/{partner_id}/refresh"
        listed = admin.get("/admin/partners").get_data(as_text=True)
        pages = set()
        for resolved in [["127.0.0.1"], ["::ffff:127.0.0.1"], [Network.PUBLIC, "127.0.0.1"]] + [
                [address] for address in LOCAL_ADDRESSES]:
            network.names["ew-partner.example"] = resolved
            network.tried.clear()
            page = admin.get("/admin/partners")
            answer = admin.post(refresh, data={"csrf_token": csrf_token(page)})
            shown = answer.get_data(as_text=True)
            assert answer.status_code == 400 and UNREACHABLE in shown, resolved
            assert network.tried == [], resolved
            assert not any(address in shown and address not in listed for address in resolved), resolved
            pages.add(re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", shown))
        # Refused before any connection, it reads exactly like a partner that is down.
        network.names["ew-partner.example"] = [Network.PUBLIC]
        page = admin.get("/admin/partners")
        down = admin.post(refresh, data={"csrf_token": csrf_token(page)}).get_data(as_text=True)
        pages.add(re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", down))
        assert len(pages) == 1

        # A forward to it waits, with nothing to tell what stopped it, and reaches no local service.
        network.names["ew-partner.example"] = ["127.0.0.1"]
        network.tried.clear()
        with sessions() as session:
            session.get(Partner, partner_id).base_url = f"https://ew-partner.example:{internal.port}"
            session.commit()
        assert receipt_on(send_report(production_app.test_client(), facility_ids[0], consent="without_identity",
                                      recipient_choice="monitor", description="Passports kept."))
        with sessions() as session:
            forward = session.scalars(select(Forward)).one()
            assert (forward.state, forward.last_error) == ("pending", "unreachable")
        assert internal.reached() == 0 and network.tried == []
        # The operator's log says which kind of failure, and no address.
        logged = " ".join(r.getMessage() for r in caplog.records if r.name == partner_http.__name__)
        assert f"partner {partner_id} could not be reached (address)" in logged
        assert "127.0.0.1" not in logged and Network.PUBLIC not in logged
    finally:
        internal.close()


def self_signed(tmp_path, name):
    """A certificate for ``name`` and its key, as files; the certificate is its own authority."""
    from datetime import datetime, timedelta, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_a_partner_is_reached_at_the_checked_address_with_its_name_for_tls_and_host(app, monkeypatch, tmp_path):
    """The connection goes to the address the check passed, and TLS still checks the certificate
    for the partner's name (SNI too), and the Host header names it: not the address."""
    import ssl

    network = Network(monkeypatch)
    network.names["ew-partner.example"] = ["127.0.0.1"]  # allowed here: partners on this machine, as in tests
    certificates = {name: self_signed(tmp_path, name) for name in ("ew-partner.example", "someone-else.example")}
    # Both are trusted: the second is refused for its name alone.
    trusted = tmp_path / "trusted.pem"
    trusted.write_bytes(b"".join(cert.read_bytes() for cert, _key in certificates.values()))
    monkeypatch.setenv("SSL_CERT_FILE", str(trusted))
    seen = []

    class Partner(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.headers.get("Host"))
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    for certificate_name, answers in (("ew-partner.example", True), ("someone-else.example", False)):
        cert_file, key_file = certificates[certificate_name]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        names = []
        context.sni_callback = lambda _sock, name, _context, names=names: names.append(name)
        server = ThreadingHTTPServer(("127.0.0.1", 0), Partner)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.server_address[1]
        try:
            if answers:
                answer = partner_http.get(f"https://ew-partner.example:{port}", "/x")
                assert (answer.status, answer.json()) == (200, {"ok": True})
                assert seen[-1] == f"ew-partner.example:{port}"
            else:
                # A trusted certificate for another name: refused, like any failure.
                with pytest.raises(partner_http.Unreachable):
                    partner_http.get(f"https://ew-partner.example:{port}", "/x")
            assert names == ["ew-partner.example"]
            assert network.tried == ["127.0.0.1"]
            network.tried.clear()
        finally:
            server.shutdown()
            server.server_close()


class _Redirecting(BaseHTTPRequestHandler):
    """A partner's server that answers every request with a redirect to ``target``."""

    target = ""
    code = 302
    seen = []

    def _redirect(self):
        self.seen.append((self.command, self.path, self.headers.get("Authorization")))
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(self.code)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _redirect

    def log_message(self, *args):
        pass


@contextmanager
def http_server(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_partner_that_redirects_is_not_followed_and_the_token_goes_nowhere_else(app):
    """With partners on this machine allowed (as the tests run them), a partner that answers with a
    redirect, to the metadata service or a service of ours, gets no further."""
    trap_hits = []

    class Trap(_Redirecting):
        def _redirect(self):
            trap_hits.append((self.path, self.headers.get("Authorization")))
            self.send_response(200)
            self.end_headers()

        do_GET = do_POST = _redirect

    make_admin(app)
    admin = app.test_client()
    assert log_in(admin, "root").status_code == 303
    with http_server(Trap) as trap:
        for code in (301, 302, 303, 307, 308):
            handler = type("Redirecting", (_Redirecting,), {"target": f"{trap}/latest/meta-data/", "code": code,
                                                              "seen": []})
            with http_server(handler) as partner:
                answer = register_on_page(admin, partner)
                assert answer.status_code == 400 and UNREACHABLE in answer.get_data(as_text=True)
                with pytest.raises(partner_http.Unreachable):
                    partner_http.post(partner, "/api/v1/bundles", "secret-bearer-token", b"PK", "application/zip")
                assert [seen[0] for seen in handler.seen] == ["GET", "POST"]
    assert trap_hits == []


def test_partners_on_this_machine_are_refused_outside_development(app, monkeypatch):
    with pytest.raises(ValueError, match="PORTAL_ALLOW_LOOPBACK_PARTNERS"):
        config.load({"ALLOW_LOOPBACK_PARTNERS": 1}, environ={})
    monkeypatch.setenv("PORTAL_ALLOW_LOOPBACK_PARTNERS", "1")
    monkeypatch.delenv("PORTAL_ENV", raising=False)
    refused = run_portal(app, "forwards", "fingerprint")
    assert refused.returncode != 0 and "PORTAL_ALLOW_LOOPBACK_PARTNERS" in refused.stderr
    assert config.load({}, environ={})["ALLOW_LOOPBACK_PARTNERS"] == 0


# --- Statuses -----------------------------------------------------------------------------------


def test_an_old_signed_status_replayed_cannot_move_a_forward_back(two_instances, facility_ids, monkeypatch):
    world = two_instances
    app_a, server_a = world["a"], world["server_a"]
    partner_each_other(world)
    assert receipt_on(send_report(app_a.test_client(), facility_ids[0], recipient_choice="monitor",
                                  consent="without_identity", description="Passports kept in the office."))
    with world["sessions_b"]() as session:
        filed = session.scalars(select(ReceivedBundle)).one()
        filed_case, bundle_id = filed.case_id, filed.bundle_id
        token_to_a = session.scalars(select(Partner)).one().outbound_token

    # Electronics Watch's statuses travel signed; what went over the wire is kept, as a thief would.
    sent = []
    real_post = partner_http.post

    def recording_post(base_url, path, token, body, content_type):
        if path.endswith("/status"):
            sent.append(body)
        return real_post(base_url, path, token, body, content_type)

    monkeypatch.setattr(partner_http, "post", recording_post)
    max_client = world["b"].test_client()
    assert log_in(max_client, "max").status_code == 303
    for status in ("acknowledged", "under_review", "closed"):
        page = max_client.get(f"/inbox/cases/{filed_case}")
        assert max_client.post(f"/inbox/cases/{filed_case}/remote-status",
                               data={"csrf_token": csrf_token(page), "status": status}).status_code == 303
    assert [json.loads(body)["document"]["sequence"] for body in sent] == [1, 2, 3]

    def the_forward():
        with world["sessions_a"]() as session:
            forward = session.scalars(select(Forward)).one()
            return forward.remote_status, forward.remote_status_at, forward.remote_status_sequence

    closed = the_forward()
    assert closed[0] == "closed" and closed[2] == 3
    # Each old status, replayed with its valid signature, is refused and changes nothing.
    for old in sent:
        answer = real_post(server_a.origin, f"/api/v1/bundles/{bundle_id}/status", token_to_a, old,
                           "application/json")
        assert (answer.status, answer.json()["error"]) == (409, "stale")
        assert the_forward() == closed
    # ... and so is a status without a number, as a portal older than this one signed them.
    with world["sessions_b"]() as session:
        unnumbered = signing.signed_document(session, {
            "bundle_id": bundle_id, "status": "acknowledged", "at": "2026-01-01T00:00:00+00:00",
            "from": partners.own_fingerprint(session)})
    answer = real_post(server_a.origin, f"/api/v1/bundles/{bundle_id}/status", token_to_a,
                       json.dumps(unnumbered).encode(), "application/json")
    assert (answer.status, answer.json()["error"]) == (409, "stale")
    # A number the partner did not sign is a forgery, not a newer status.
    forged = json.loads(sent[0])
    forged["document"]["sequence"] = 99
    answer = real_post(server_a.origin, f"/api/v1/bundles/{bundle_id}/status", token_to_a,
                       json.dumps(forged).encode(), "application/json")
    assert (answer.status, answer.json()["error"]) == (400, "signature")
    assert the_forward() == closed


def test_a_signed_status_whose_number_no_database_column_holds_is_refused_and_changes_nothing(
        two_instances, facility_ids):
    world = two_instances
    app_a, server_a = world["a"], world["server_a"]
    partner_each_other(world)
    assert receipt_on(send_report(app_a.test_client(), facility_ids[0], recipient_choice="monitor",
                                  consent="without_identity", description="Night shifts are not paid."))
    with world["sessions_b"]() as session:
        bundle_id = session.scalars(select(ReceivedBundle)).one().bundle_id
        token_to_a = session.scalars(select(Partner)).one().outbound_token

    def the_forward():
        with world["sessions_a"]() as session:
            forward = session.scalars(select(Forward)).one()
            return forward.remote_status, forward.remote_status_at, forward.remote_status_sequence

    before = the_forward()
    # Signed by the partner itself: only the number is out of range (PostgreSQL's integer
    # holds up to 2**31 - 1, SQLite's up to 2**63 - 1), or not a count at all.
    for sequence in (2**31, 2**63, 2**64, 10**30, -(2**63) - 1, 0, -1, True, 1.0, "2"):
        with world["sessions_b"]() as session:
            envelope = signing.signed_document(session, {
                "bundle_id": bundle_id, "status": "closed", "at": "2026-01-01T00:00:00+00:00",
                "from": partners.own_fingerprint(session), "sequence": sequence})
        answer = partner_http.post(server_a.origin, f"/api/v1/bundles/{bundle_id}/status", token_to_a,
                                   json.dumps(envelope).encode(), "application/json")
        assert (answer.status, (answer.json() or {}).get("error")) == (400, "status"), sequence
        assert the_forward() == before


class _Dripping(BaseHTTPRequestHandler):
    """A partner that answers at once and then sends its answer a byte at a time, for a long while."""

    protocol_version = "HTTP/1.1"
    seconds = 5.0

    def _drip(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        stop = time.monotonic() + self.seconds
        try:
            while time.monotonic() < stop:
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass
        # Then it hangs up: what came so far is not a whole answer.
        self.close_connection = True

    do_GET = do_POST = _drip

    def log_message(self, *args):
        pass


def test_a_partner_that_answers_a_byte_at_a_time_holds_a_call_no_longer_than_its_deadline(app, monkeypatch):
    """Every byte comes well within the network timeout, yet the whole call has its own deadline:
    a partner cannot hold the request that delivers to it (a worker's report or answer)."""
    monkeypatch.setattr(partner_http, "CALL_SECONDS", 1)
    with http_server(_Dripping) as partner:
        for call in (lambda: partner_http.get(partner, partner_http.WELL_KNOWN_PATH),
                     lambda: partner_http.post(partner, "/api/v1/bundles", "bearer-token", b"PK", "application/zip")):
            with pytest.raises(partner_http.Unreachable) as refused:
                call()
            assert refused.value.reason == "timeout"
