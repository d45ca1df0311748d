"""Faults: the server killed with SIGKILL during a burst of reports, the database
going away in the middle of a submission, and a full disk while an attachment
is stored. A reporter never gets a receipt for a report that was not stored
whole, and never finds half a case."""

import io
import json
import signal
import socket
import threading
import uuid

import psutil
import pytest
from http_client import Browser
from live_server import Server
from PIL import Image
from reporter_pages import csrf_token, open_form, report_fields
from sqlalchemy import event, func, select

import crypto
from portal import create_app
from portal.models import Case, CaseCategory, CaseItem, Keyholder

BURST_CLIENTS = 12


def send_from(browser, origin, facility, marker):
    form = browser.get(f"{origin}/en/report")
    answer = browser.post(f"{origin}/en/report", {
        "csrf_token": form.csrf(), "facility": str(facility), "categories": "wages",
        "description": f"Burst report {marker}", "ongoing": "yes", "people_affected": "many",
        "consent": "without_identity", "recipient_choice": "contractor"})
    return answer.receipt() if answer.status == 200 and 'class="receipt"' in answer.text else None


def assert_every_case_is_whole(session_factory, recovery_identity):
    with session_factory() as session:
        for case in session.scalars(select(Case)):
            kinds = [item.kind for item in case.items]
            assert kinds.count("report") == 1, f"case {case.id} has items {kinds}"
            report = json.loads(crypto.decrypt(next(i for i in case.items if i.kind == "report").blob,
                                               recovery_identity))
            assert report["description"].startswith("Burst report")
            assert session.scalar(select(func.count()).select_from(CaseCategory)
                                  .where(CaseCategory.case_id == case.id)) >= 1
            assert session.scalar(select(func.count()).select_from(Keyholder)
                                  .where(Keyholder.case_id == case.id)) >= 1
        orphans = session.scalar(select(func.count()).select_from(CaseItem).where(
            CaseItem.case_id.not_in(select(Case.id))))
        assert orphans == 0


def test_a_server_killed_during_a_burst_loses_no_receipted_report_and_starts_again(
        database_url, session_factory, recovery_identity, investigators, facility_ids, tmp_path):
    server = Server(database_url, tmp_path / "instance", tmp_path / "gunicorn.log", workers=2).start()
    receipts, started = {}, threading.Barrier(BURST_CLIENTS + 1)

    def reporter(number):
        started.wait()
        for attempt in range(3):
            marker = f"{number}-{attempt}-{uuid.uuid4().hex[:6]}"
            try:
                receipt = send_from(Browser(timeout=20), server.origin, facility_ids[0], marker)
            except OSError:
                return  # the server died under this client: no receipt, as expected
            if receipt:
                receipts[marker] = receipt

    clients = [threading.Thread(target=reporter, args=(n,)) for n in range(BURST_CLIENTS)]
    for client in clients:
        client.start()
    started.wait()
    # Kill every gunicorn process at once, as a power cut would, while reports are in flight.
    threading.Event().wait(1.5)
    master = psutil.Process(server.process.pid)
    for process in master.children(recursive=True) + [master]:
        process.send_signal(signal.SIGKILL)
    server.process.wait()
    server.process = None
    for client in clients:
        client.join(timeout=60)

    assert_every_case_is_whole(session_factory, recovery_identity)
    server.start()
    try:
        for marker, receipt in receipts.items():
            follower = Browser()
            page = follower.get(f"{server.origin}/en/follow-up")
            opened = follower.post(f"{server.origin}/en/follow-up", {"csrf_token": page.csrf(), "receipt": receipt})
            assert opened.status == 200 and f"Burst report {marker}" in opened.text, marker
    finally:
        server.stop()
    assert receipts, "no client got a receipt before the kill: the burst was too short to test anything"


class Proxy:
    """A TCP relay to the database server that can be cut, as a network or a server failure would."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections, self.open = [], True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.open = False
        for connection in self.connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            except OSError:
                pass
        self.connections.clear()

    def restore(self):
        self.open = True


def test_the_database_going_away_mid_submission_gives_a_clear_page_and_no_receipt(
        app_config, session_factory, recovery_identity, investigators, facility_ids):
    from sqlalchemy.engine import make_url
    url = make_url(app_config["DATABASE_URL"])
    if url.get_backend_name() != "postgresql":
        pytest.skip("the database server going away needs PostgreSQL (CI runs this on PostgreSQL)")
    proxy = Proxy(url.port or 5432)
    app = create_app(dict(app_config, DATABASE_URL=url.set(host="127.0.0.1", port=proxy.port)
                          .render_as_string(hide_password=False)))
    app.config["TESTING"] = True
    engine = app.extensions["portal.engine"]

    @event.listens_for(engine, "before_cursor_execute")
    def cut_when_the_case_is_written(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("INSERT INTO CASES"):
            proxy.cut()

    try:
        client = app.test_client()
        form = open_form(client, "vi")
        answer = client.post("/vi/report", data=dict(report_fields(facility_ids[0]), csrf_token=csrf_token(form)))
        page = answer.get_data(as_text=True)
        assert answer.status_code == 503 and 'class="receipt"' not in page
        assert 'lang="vi"' in page and "Your report was not sent" not in page  # said in Vietnamese
        event.remove(engine, "before_cursor_execute", cut_when_the_case_is_written)
        proxy.restore()
        with session_factory() as session:
            assert session.scalar(select(func.count()).select_from(Case)) == 0
        retry = client.get("/vi/report")
        assert retry.status_code == 200
    finally:
        proxy.cut()
        engine.dispose()


def test_a_full_disk_while_storing_an_attachment_gives_a_clear_page_and_stores_nothing(
        app_config, session_factory, recovery_identity, investigators, facility_ids):
    if not app_config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("a full disk is made with SQLite's page limit (the default run is on SQLite)")
    app = create_app(app_config)
    app.config["TESTING"] = True
    engine = app.extensions["portal.engine"]
    with engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()

    @event.listens_for(engine, "connect")
    def little_room_left(dbapi_connection, _record):
        # The database may grow by about 400 KB: a photo of a few MB does not fit, as on a full disk.
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 100}")

    engine.dispose()
    try:
        client = app.test_client()
        form = open_form(client, "ms")
        noise = Image.effect_noise((1600, 1200), 80).convert("RGB")
        photo = io.BytesIO()
        noise.save(photo, "PNG")
        answer = client.post("/ms/report", content_type="multipart/form-data", data=dict(
            report_fields(facility_ids[0]), csrf_token=csrf_token(form),
            photo=(io.BytesIO(photo.getvalue()), "photo.png")))
        page = answer.get_data(as_text=True)
        assert answer.status_code == 503 and 'class="receipt"' not in page
        assert 'lang="ms"' in page and "Your report was not sent" not in page  # said in Malay
        with session_factory() as session:
            assert session.scalar(select(func.count()).select_from(Case)) == 0
            assert session.scalar(select(func.count()).select_from(CaseItem)) == 0
    finally:
        event.remove(engine, "connect", little_room_left)
        engine.dispose()
