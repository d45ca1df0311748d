"""Walking the reporter's pages like a browser would, through the test client."""

import re

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
DRAFT = re.compile(r'name="submission" type="hidden" value="([^"]+)"')
RECEIPT = re.compile(r'class="receipt"[^>]*>([0-9 ]+)<')


def csrf_token(response) -> str:
    match = CSRF.search(response.get_data(as_text=True))
    assert match, "the page has no CSRF token"
    return match.group(1)


def draft_id(response) -> str:
    """The form's own draft id, which a browser sends back with the form."""
    match = DRAFT.search(response.get_data(as_text=True))
    assert match, "the form has no draft id"
    return match.group(1)


def receipt_on(response) -> str:
    match = RECEIPT.search(response.get_data(as_text=True))
    assert match, "the page shows no receipt"
    return match.group(1)


def report_fields(facility, **overrides):
    fields = {
        "facility": str(facility),
        "categories": ["wages"],
        "description": "We were not paid for overtime in October.",
        "when": "October",
        "ongoing": "yes",
        "people_affected": "many",
        "consent": "without_identity",
        "recipient_choice": "contractor",
    }
    fields.update(overrides)
    return fields


def open_form(client, lang="en"):
    form = client.get(f"/{lang}/report")
    assert form.status_code == 200
    return form


def send_report(client, facility, lang="en", files=None, **overrides):
    """Open the form and send it; return the response to the POST."""
    form = open_form(client, lang)
    data = report_fields(facility, **overrides)
    data["csrf_token"] = csrf_token(form)
    data["submission"] = draft_id(form)
    for name, items in (files or {}).items():
        data[name] = items
    return client.post(f"/{lang}/report", data=data, content_type="multipart/form-data")


def log_in_with_receipt(client, receipt, lang="en"):
    page = client.get(f"/{lang}/follow-up")
    return client.post(f"/{lang}/follow-up", data={"csrf_token": csrf_token(page), "receipt": receipt})


def send_claim_from_start_page(client, facility, lang="en", description="I was moved to night shifts after I reported."):
    """A worker with no receipt files a retaliation claim from the start page; the response to the POST."""
    form = client.get(f"/{lang}/retaliation")
    assert form.status_code == 200
    data = {"csrf_token": csrf_token(form), "submission": draft_id(form), "types": ["dismissal"],
            "description": description, "facility": str(facility)}
    return client.post(f"/{lang}/retaliation", data=data, content_type="multipart/form-data")


def right_looking_receipts(session_factory, count, start=0) -> list[str]:
    """Receipts whose check code is right but which open no case: what only a guesser with the
    instance's key could make (or one who timed many guesses), each a different one."""
    from portal.services import instance as instance_service
    from portal.services import receipts

    with session_factory() as session:
        secret = instance_service.load(session).secret_key
    return [receipts.group(receipts.receipt_for_submission(secret, f"no form was sent:{n}"))
            for n in range(start, start + count)]
