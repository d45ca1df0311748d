"""The whistle-blower intake portal: ``create_app`` builds the Flask application."""

import logging
from pathlib import Path

from flask import Flask

from . import config as config_module
from . import resources
from .db import make_engine, make_session_factory
from .services import instance as instance_service
from .services import partner_http, work_slots


def create_app(config=None) -> Flask:
    settings = config_module.load(config)
    app = Flask(
        __name__,
        static_folder=str(resources.folder("static")),
        static_url_path="/static",
        instance_path=settings["INSTANCE_PATH"],
    )
    app.config.update(settings)
    _configure_logging(app)

    engine = make_engine(app.config["DATABASE_URL"])
    session_factory = make_session_factory(engine)
    app.extensions["portal.engine"] = engine
    app.extensions["portal.sessions"] = session_factory
    with session_factory() as session:
        instance = instance_service.load(session)
        app.secret_key = instance.secret_key

    default_slots = work_slots.default_slots()
    work_slots.configure(Path(settings["INSTANCE_PATH"]) / "work-slots", {
        work_slots.ARGON2: work_slots.Pool(settings["ARGON2_SLOTS"] or default_slots[work_slots.ARGON2].slots,
                                           settings["ARGON2_WAIT_SECONDS"]),
        work_slots.CLEANING: work_slots.Pool(settings["CLEANING_SLOTS"], settings["CLEANING_WAIT_SECONDS"]),
        work_slots.LOGIN: work_slots.Pool(settings["LOGIN_SLOTS"], settings["ARGON2_WAIT_SECONDS"],
                                          places=settings["LOGIN_PLACES"]),
    }, per_process=settings["THREADS"] - 1)
    partner_http.configure(allow_loopback=settings["ALLOW_LOOPBACK_PARTNERS"])

    upload_cap = app.config["MAX_ATTACHMENTS"] * app.config["MAX_ATTACHMENT_BYTES"]
    app.config.update(
        # Room for the text fields on top of the files.
        MAX_CONTENT_LENGTH=upload_cap + 1024 * 1024,
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
        # A report may take long to write: the token lives as long as the session.
        WTF_CSRF_TIME_LIMIT=None,
        SEND_FILE_MAX_AGE_DEFAULT=86400,
    )

    from . import web

    web.init_app(app, session_factory)
    return app


def _configure_logging(app) -> None:
    # Werkzeug's request log writes client addresses: it is never enabled.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.basicConfig(level=app.config["LOG_LEVEL"], format="%(levelname)s %(name)s: %(message)s")
