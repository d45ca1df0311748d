"""A worker on a cheap phone on 2G: the start page, the report form and the
follow-up page each arrive whole in one compressed response under 14 KB, in
every language, with nothing else to fetch before the page can be drawn. The
page's own stylesheet is written into it and allowed by its hash; no script
can run. A phone that takes gzip gets the same page, only smaller."""

import base64
import gzip
import hashlib
import json
import re
from html.parser import HTMLParser

import pytest
from flask import Response
from reporter_pages import csrf_token, draft_id, receipt_on, report_fields

from portal import i18n

# What fits in TCP's first flight (ten segments): the page comes in one round trip.
FIRST_FLIGHT_BYTES = 14 * 1024
FIRST_PAGES = ["/", "/report", "/follow-up"]
GZIP = {"Accept-Encoding": "gzip, deflate, br"}
HIDDEN_TOKENS = re.compile(r'(name="(?:csrf_token|submission)" type="hidden" value=")[^"]*"')


class PageParts(HTMLParser):
    """What a browser would fetch before or while drawing the page, and its inline styles."""

    FETCHED_LINKS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "mask-icon", "preload",
                     "modulepreload", "manifest", "prefetch"}

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.fetches, self.styles, self.style_attributes, self.scripts = [], [], [], 0
        self.icon_declared = False
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "link":
            rels = set((attributes.get("rel") or "").lower().split())
            self.icon_declared |= "icon" in rels
            if rels & self.FETCHED_LINKS:
                self.fetches.append(attributes.get("href") or "")
        for name in ("src", "srcset", "poster", "data", "background"):
            if attributes.get(name):
                self.fetches.append(attributes[name])
        if attributes.get("style") is not None:
            self.style_attributes.append(attributes["style"])
        self.scripts += tag == "script" or any(name.startswith("on") for name in attributes)
        self._in_style = tag == "style"
        if self._in_style:
            self.styles.append("")

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles[-1] += data


def parts_of(html: str) -> PageParts:
    parts = PageParts()
    parts.feed(html)
    parts.close()
    return parts


def header_block(response) -> int:
    lines = [f"HTTP/1.1 {response.status}"] + [f"{key}: {value}" for key, value in response.headers.items()]
    return len(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def style_sources(policy: str) -> list[str]:
    for directive in policy.split(";"):
        name, *sources = directive.split()
        if name == "style-src":
            return sources
    return []


def unpacked(response) -> Response:
    """The response as the browser reads it after undoing the gzip."""
    assert response.headers["Content-Encoding"] == "gzip"
    return Response(gzip.decompress(response.get_data()), status=response.status_code,
                    content_type=response.content_type)


def every_first_page(app):
    return [(f"/{i18n.url_code(language)}{page}", i18n.url_code(language))
            for language in app.config["LANGUAGES"] for page in FIRST_PAGES]


def test_every_first_page_in_every_language_is_one_compressed_response_under_14_kb(app):
    pages = every_first_page(app)
    assert len(pages) == 3 * 20, "the three first pages in each of the 20 languages"
    for path, code in pages:
        phone = app.test_client()  # a phone that comes for the first time: no cookie, no cache
        response = phone.get(path, headers=GZIP)
        assert response.status_code == 200, path
        wire = header_block(response) + len(response.get_data())
        assert wire < FIRST_FLIGHT_BYTES, f"{path}: {wire} bytes do not fit the first round trip"

        html = unpacked(response).get_data(as_text=True)
        assert f'<html lang="{code}"' in html, path
        parts = parts_of(html)
        assert parts.icon_declared, f"{path}: without an icon declared, the browser asks for /favicon.ico"
        fetched = [url for url in parts.fetches if not url.startswith("data:")]
        assert fetched == [], f"{path} needs more requests before it is drawn: {fetched}"
        assert parts.styles and all(style.strip() for style in parts.styles), f"{path}: no inline style"
        assert "url(" not in "".join(parts.styles), f"{path}: the style fetches something"


def test_the_policy_lets_in_only_the_pages_own_style_and_no_script(app):
    for path, _code in every_first_page(app):
        response = app.test_client().get(path)
        policy = response.headers["Content-Security-Policy"]
        directives = [directive.split()[0] for directive in policy.split(";") if directive.strip()]
        assert "default-src 'none'" in policy, path
        # No script-src of any kind: default-src 'none' then forbids every script.
        assert not {"script-src", "script-src-elem", "script-src-attr"} & set(directives), path
        for loophole in ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'strict-dynamic'",
                         "data:", "*", "http:", "https:"):
            assert loophole not in style_sources(policy), (path, loophole)
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, path

        parts = parts_of(response.get_data(as_text=True))
        assert parts.scripts == 0, f"{path} carries script"
        assert parts.style_attributes == [], f"{path}: style attributes are blocked by the policy"
        hashes = {f"'sha256-{base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()}'"
                  for style in parts.styles}
        allowed = {source for source in style_sources(policy) if source.startswith("'sha")}
        assert hashes and hashes == allowed, f"{path}: the policy must allow exactly the page's own style"


def test_a_phone_that_takes_gzip_gets_the_same_page_and_its_report_is_received(app, facility_ids):
    for lang in ("en", "my", "ur"):
        plain, packed = app.test_client().get(f"/{lang}/"), app.test_client().get(f"/{lang}/", headers=GZIP)
        assert "Content-Encoding" not in plain.headers
        assert unpacked(packed).get_data() == plain.get_data()

        phone = app.test_client()
        for path in (f"/{lang}/follow-up", f"/{lang}/report"):
            plain, packed = phone.get(path), phone.get(path, headers=GZIP)
            # The same session, so the same page but for the tokens each showing gets.
            page = unpacked(packed).get_data(as_text=True)
            assert HIDDEN_TOKENS.sub(r"\1", page) == HIDDEN_TOKENS.sub(r"\1", plain.get_data(as_text=True))

        # The form, as the phone unpacked it, sends a report that is received.
        form = unpacked(phone.get(f"/{lang}/report", headers=GZIP))
        data = dict(report_fields(facility_ids[0]), csrf_token=csrf_token(form), submission=draft_id(form))
        sent = phone.post(f"/{lang}/report", data=data, content_type="multipart/form-data", headers=GZIP)
        assert sent.status_code == 200
        receipt = receipt_on(unpacked(sent))
        assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", receipt)


@pytest.mark.parametrize("accept_encoding", [None, "identity", "gzip;q=0", "br", "*;q=0"])
def test_a_browser_that_does_not_take_gzip_gets_the_page_plain(client, accept_encoding):
    headers = {"Accept-Encoding": accept_encoding} if accept_encoding else {}
    response = client.get("/en/report", headers=headers)
    assert response.status_code == 200 and "Content-Encoding" not in response.headers
    assert "<form" in response.get_data(as_text=True)
    assert "Accept-Encoding" in response.headers["Vary"]


@pytest.mark.parametrize("started_by", ["cross-site", "same-site"])
def test_a_request_another_site_started_is_answered_uncompressed(client, started_by):
    """BREACH needs a compressed answer to a request the attacker's page makes the browser send."""
    for path in ("/en/", "/en/report", "/en/follow-up", "/static/portal.css"):
        response = client.get(path, headers=dict(GZIP, **{"Sec-Fetch-Site": started_by}))
        assert "Content-Encoding" not in response.headers, path
        assert "Sec-Fetch-Site" in response.headers["Vary"], path
    for started_here in ("same-origin", "none"):
        response = client.get("/en/report", headers=dict(GZIP, **{"Sec-Fetch-Site": started_here}))
        assert response.headers["Content-Encoding"] == "gzip", started_here


def test_every_text_type_is_compressed_and_opens_to_the_same_bytes(app, client):
    pages = {
        "/static/portal.css": "text/css",
        "/static/inbox.css": "text/css",
        "/inbox/login": "text/html",
        "/en/no-such-page": "text/html",
    }
    for path, content_type in pages.items():
        plain, packed = client.get(path), client.get(path, headers=GZIP)
        assert packed.mimetype == content_type, path
        assert packed.headers["Content-Encoding"] == "gzip", path
        if content_type == "text/css":
            assert unpacked(packed).get_data() == plain.get_data(), path
    # JSON: the signed document partner instances read.
    document = "/.well-known/whistleblower-portal.json"
    plain, packed = client.get(document), client.get(document, headers=GZIP)
    assert packed.mimetype == "application/json"
    assert json.loads(unpacked(packed).get_data()) == json.loads(plain.get_data())


def test_a_compressed_stylesheet_is_still_revalidated_with_a_304(client):
    first = client.get("/static/inbox.css", headers=GZIP)
    assert first.headers["Content-Encoding"] == "gzip" and "Accept-Ranges" not in first.headers
    etag = first.headers["ETag"]
    assert etag.startswith('W/"'), "a compressed body must not carry the plain body's strong validator"
    again = client.get("/static/inbox.css", headers=dict(GZIP, **{"If-None-Match": etag}))
    assert again.status_code == 304 and again.get_data() == b""
