"""An administrator prints, for each of the portal's languages, an A4 poster for the notice board
and an A7 wallet card to hand out: the portal's address and a QR code that opens it, the onion
address, what a worker can report, that they stay anonymous and how, the deadlines the portal keeps,
and the SMS number when there is one. Each page is read back the way a worker would meet it: the
PDF's text against the catalogue, its fonts, its pixels, its QR code through a decoder."""

import collections
import functools
import io
import os
import re
import shutil
import subprocess
import unicodedata

import pikepdf
import pytest
import zxingcpp
from click.testing import CliRunner
from fontTools.ttLib import TTFont
from inbox_pages import log_in
from operator_steps import logged_in_admin
from PIL import Image
from sqlalchemy import select, update

from portal import cli, create_app
from portal.i18n import NATIVE_NAMES
from portal.models import AuditEntry, Instance

ADDRESS = "https://speakup.example.org"
ONION = "pz3kqyfw5e7hlqzj6n2jvxo4xkqf4pgxj4hrb2sgc3wdsq2o6u5yqdad.onion"
SMS = "+95 9 4500 1234"
ORGANISATION = "Acme Electronics NV"
LANGUAGES = ("en,zh_Hans,zh_Hant,vi,th,ms,id,fil,my,km,ne,bn,hi,ta,ur,ko,es,cs,nl,fr").split(",")
# Page sizes in points (1/72 inch): A4 210x297 mm, A7 74x105 mm.
SIZES = {"poster": (595.3, 841.9), "card": (209.8, 297.6)}
# The font that must draw each script (pdffonts names them without spaces).
SCRIPT_FONTS = {"zh_Hans": "Noto-Sans-CJK-SC", "zh_Hant": "Noto-Sans-CJK-TC", "ko": "Noto-Sans-CJK-KR",
                "th": "Noto-Sans-Thai", "my": "Noto-Sans-Myanmar", "km": "Noto-Sans-Khmer",
                "ne": "Noto-Sans-Devanagari", "hi": "Noto-Sans-Devanagari", "bn": "Noto-Sans-Bengali",
                "ta": "Noto-Sans-Tamil", "ur": "Noto-Nastaliq-Urdu"}
# Scripts whose glyphs are shaped clusters (vowels drawn before their consonant, two-part vowels,
# Nastaliq's joined forms): the PDF's text comes back with the letters of a cluster in another
# order, so it is compared letter by letter rather than as one string.
SHAPED = {"th", "my", "km", "ne", "hi", "bn", "ta", "ur"}
# Of those, the scripts whose letters (without their vowel signs and marks) come back in order.
IN_ORDER = {"th", "ta"}

ACK = ("Within %(num)d day, we tell you that your report was received.",
       "Within %(num)d days, we tell you that your report was received.")
FEEDBACK = ("Within %(num)d month, we tell you what we did.", "Within %(num)d months, we tell you what we did.")
BOTH = ["Report a problem at work, safely", "Open this address on your phone, or scan the code:",
        "You can stay anonymous",
        "You do not need to give your name. We do not record your phone, your internet address or the time you write.",
        ACK, FEEDBACK]
ONION_SENTENCE = "For more privacy, open this address in Tor Browser:"
SMS_SENTENCE = "No internet? Send an SMS to %(number)s."
SENTENCES = {
    "poster": BOTH + [
        "This is a safe way to tell %(organisation)s about problems in a factory that makes electronics: unpaid "
        "wages, forced overtime, danger, threats, or anything else that is wrong.",
        "Who reads your report",
        "Only the few people named to investigate reports read it. Your report is locked so that nobody else can "
        "read it, not even the people who run this website.",
        "What happens next", "You get a receipt of 16 digits. Write it down and keep it safe.",
        "Come back with your receipt to read our answers, answer our questions and add photos.",
        "If someone else sees your phone", "If you can, use a phone or computer that your employer does not control."],
    "card": BOTH,
}


@pytest.fixture(autouse=True)
def tools():
    """Poppler's pdftotext, pdffonts and pdftoppm read the pages back: fail in CI, skip elsewhere, when missing."""
    if shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None or shutil.which("pdffonts") is None:
        message = "`pdftotext`, `pdffonts` or `pdftoppm` was not found: install the Debian package `poppler-utils`"
        in_ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
        pytest.fail(message) if in_ci else pytest.skip(message)


def catalogue(app, language, kind, ack_days=7, feedback_months=3, onion=True, sms=True) -> list[str]:
    """What the catalogue says the page says, in ``language``."""
    from flask_babel import force_locale, gettext, ngettext

    sentences = SENTENCES[kind] + ([ONION_SENTENCE] if onion else []) + ([SMS_SENTENCE] if sms else [])
    said = []
    with app.app_context(), force_locale(language):
        for sentence in sentences:
            if sentence in (ACK, FEEDBACK):
                said.append(ngettext(*sentence, ack_days if sentence is ACK else feedback_months))
            else:
                said.append(gettext(sentence, organisation=ORGANISATION, number=SMS))
    return said


def squashed(text: str) -> str:
    """Letters only as they compare: decomposed, without spaces, line breaks or direction marks."""
    return "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not c.isspace() and unicodedata.category(c) != "Cf")


def shows(page_text: str, sentence: str, language: str) -> bool:
    page, wanted = squashed(page_text), squashed(sentence)
    if language not in SHAPED:
        return wanted in page
    if language in IN_ORDER and skeleton(sentence) not in skeleton(page_text):
        return False
    # Every letter of the sentence is found (as many times) in one stretch of the page twice its
    # length, bar a few that a shaped cluster gives back as another code point: a sentence of
    # another language, or another sentence of the page, has too few of them there. Nastaliq's
    # joined letters come back worst (a quarter of a short line), so Urdu is also checked by its
    # glyphs and its direction.
    # Compared by their letters alone (``skeleton``): text extraction gives a cluster's vowel signs
    # and marks back split, merged or moved, never its consonants.
    page, wanted = skeleton(page), skeleton(wanted)
    want = collections.Counter(wanted)
    allowed = len(wanted) * (30 if language == "ur" else 10) // 100
    width, step = len(wanted) * 2 + 4, 3
    for start in range(0, max(1, len(page) - width + step), step):
        have = collections.Counter(page[start:start + width])
        if sum(max(0, count - have[c]) for c, count in want.items()) <= allowed:
            return True
    return False


def skeleton(text: str) -> str:
    """The letters and digits alone, without the vowel signs and marks a shaped cluster reorders."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if unicodedata.category(c) in ("Lo", "Nd"))


def stray_letters(page_text: str, expected: list[str]) -> float:
    """The share of the page's letters outside Latin that the catalogue's sentences do not have:
    words of a sentence the page should not show."""
    def letters(text):
        # Letters alone, not the marks that extraction splits or merges (see ``shows``).
        return collections.Counter(c for c in skeleton(squashed(text)) if ord(c) > 0x24F)
    page = letters(page_text)
    extra = page - letters(" ".join(expected))
    return sum(extra.values()) / max(1, sum(page.values()))


def pdf_text(path) -> str:
    # In the order the page draws it (-raw): the layout mode reorders the marks of Tamil lines.
    return subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def embedded_fonts(path) -> list[str]:
    """The fonts pdffonts lists, by name without the subset prefix, each checked to be embedded."""
    lines = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()
    fonts = []
    for line in lines[2:]:
        name, *_, emb, sub, uni, _obj, _gen = line.split()
        assert emb == "yes" and uni == "yes", line
        fonts.append(name.split("+", 1)[-1])
    return fonts


@functools.cache
def characters_of(font_name: str) -> frozenset:
    """What the system font of that name draws (its cmap), found as fontconfig finds it."""
    family, bold, _rest = font_name.replace("-", " ").partition(" Bold")
    found = subprocess.run(["fc-match", "-f", "%{file}:%{index}", f"{family}:style={'Bold' if bold else 'Regular'}"],
                           capture_output=True, text=True, check=True).stdout
    file, index = found.rsplit(":", 1)
    return frozenset(TTFont(file, fontNumber=int(index), lazy=True).getBestCmap())


def page_image(path, dpi) -> Image.Image:
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-singlefile", str(path), str(path.with_suffix(""))],
                   check=True)
    with Image.open(path.with_suffix(".png")) as image:
        return image.convert("L")


def ink(image: Image.Image) -> float:
    histogram = image.histogram()
    return sum(histogram[:128]) / (image.width * image.height)


def one_page(pdf: bytes):
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert len(document.pages) == 1
        box = document.pages[0].mediabox
        return float(box[2]) - float(box[0]), float(box[3]) - float(box[1])


# All languages at once, from the command line an operator runs: heavy, so in the whole suite only;
# the download test below covers the same path for one language on every run.

@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("posters")
    env = {"PORTAL_INSTANCE_PATH": str(folder / "instance"), "PORTAL_DATABASE_URL": f"sqlite:///{folder}/portal.db",
           "PORTAL_BASE_URL": ADDRESS, "PORTAL_ONION_ADDRESS": f"http://{ONION}/", "PORTAL_SMS_NUMBER": SMS,
           "PORTAL_LANGUAGES": ",".join(LANGUAGES)}
    runner = CliRunner()
    made = runner.invoke(cli.main, ["init", "--organisation", ORGANISATION, "--classic-keys"], env=env)
    assert made.exit_code == 0, made.output
    built = runner.invoke(cli.main, ["posters", "build", "--out", str(folder / "out")], env=env)
    assert built.exit_code == 0, built.output
    app = create_app({"DATABASE_URL": env["PORTAL_DATABASE_URL"], "INSTANCE_PATH": env["PORTAL_INSTANCE_PATH"]})
    yield app, folder / "out", built.output
    app.extensions["portal.engine"].dispose()


@pytest.mark.slow
def test_the_command_writes_a_poster_and_a_card_per_language_and_says_their_size_and_time(printed):
    _app, out, output = printed
    lines = output.strip().splitlines()
    names = [f"{kind}-{code.replace('_', '-')}.pdf" for code in LANGUAGES for kind in ("poster", "card")]
    assert [line.split("\t")[0] for line in lines] == names
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    for line in lines:
        assert re.fullmatch(r"\S+\.pdf\t\d+ KiB\t\d+\.\d\d s", line), line


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["poster", "card"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_each_page_says_the_catalogues_words_in_its_own_script(printed, language, kind):
    app, out, _output = printed
    path = out / f"{kind}-{language.replace('_', '-')}.pdf"
    pdf = path.read_bytes()
    width, height = one_page(pdf)
    assert abs(width - SIZES[kind][0]) <= 1 and abs(height - SIZES[kind][1]) <= 1

    text = pdf_text(path)
    expected = catalogue(app, language, kind)
    for sentence in expected:
        assert shows(text, sentence, language), (language, kind, sentence)
    for exact in (ADDRESS.removeprefix("https://") + f"/{language.replace('_', '-')}/", ONION, SMS, ORGANISATION):
        assert squashed(exact) in squashed(text), exact
    # No sentence the page should not show. Shaped clusters come back with a few letters doubled;
    # Nastaliq's joined forms come back too broken to count (its letters are checked above and its
    # glyphs below).
    if language != "ur":
        assert stray_letters(text, expected + [NATIVE_NAMES[language]]) <= (0.1 if language in SHAPED else 0.01)

    # Drawn with the system's Noto fonts, embedded, the script's own among them, and each letter
    # of the sentences is one those fonts have: no empty box where a letter should be.
    fonts = embedded_fonts(path)
    assert fonts and all(font.startswith("Noto-") for font in fonts), fonts
    if language in SCRIPT_FONTS:
        assert SCRIPT_FONTS[language] in fonts, fonts
    drawable = frozenset().union(*(characters_of(font) for font in fonts))
    letters = {c for sentence in expected for c in sentence if unicodedata.category(c)[0] in "LMN"}
    assert not {f"U+{ord(c):04X}" for c in letters if ord(c) not in drawable}

    # The page has ink, and its QR code opens the portal's start page in the page's language.
    image = page_image(path, 120 if kind == "card" else 72)
    assert 0.02 < ink(image) < 0.5
    codes = zxingcpp.read_barcodes(image)
    assert [code.text for code in codes] == [f"{ADDRESS}/{language.replace('_', '-')}/"]
    # Urdu is laid out right to left: the QR code stands on the right of the address, not the left.
    centre = (codes[0].position.top_left.x + codes[0].position.bottom_right.x) / 2
    assert (centre > image.width / 2) == (language == "ur")


# On every run: the administrator's page and one download, refused to anyone else.

@pytest.fixture
def poster_app(app_config, investigators, facility_ids):
    app = create_app(dict(app_config, BASE_URL=ADDRESS, ONION_ADDRESS=ONION, SMS_NUMBER=SMS,
                          ACK_DAYS=5, FEEDBACK_MONTHS=2))
    app.config["TESTING"] = True
    with app.extensions["portal.sessions"]() as session:
        session.execute(update(Instance).values(organisation_name=ORGANISATION))
        session.commit()
    yield app
    app.extensions["portal.engine"].dispose()


def test_an_administrator_downloads_an_urdu_poster_that_promises_the_instances_own_deadlines(poster_app, tmp_path):
    admin = logged_in_admin(poster_app)
    settings = admin.get("/admin/settings").get_data(as_text=True)
    assert 'href="/admin/posters"' in settings
    page = admin.get("/admin/posters")
    assert page.status_code == 200
    listing = page.get_data(as_text=True)
    for code in LANGUAGES:
        for kind in ("poster", "card"):
            assert f'href="/admin/posters/{kind}-{code.replace("_", "-")}.pdf"' in listing
    assert ONION in listing and SMS in listing

    got = admin.get("/admin/posters/poster-ur.pdf")
    assert got.status_code == 200 and got.mimetype == "application/pdf"
    assert got.headers["Content-Disposition"] == 'attachment; filename="poster-ur.pdf"'
    width, height = one_page(got.data)
    assert abs(width - 595.3) <= 1 and abs(height - 841.9) <= 1
    path = tmp_path / "poster-ur.pdf"
    path.write_bytes(got.data)
    text = pdf_text(path)
    # The deadlines printed are the instance's (5 days, 2 months here), never a number of the template.
    for sentence in catalogue(poster_app, "ur", "poster", ack_days=5, feedback_months=2):
        assert shows(text, sentence, "ur"), sentence
    assert "Noto-Nastaliq-Urdu" in embedded_fonts(path)

    card = admin.get("/admin/posters/card-zh-Hant.pdf")
    assert card.status_code == 200
    path.write_bytes(card.data)
    text = squashed(pdf_text(path))
    for sentence in catalogue(poster_app, "zh_Hant", "card", ack_days=5, feedback_months=2):
        assert squashed(sentence) in text, sentence

    with poster_app.extensions["portal.sessions"]() as session:
        downloads = session.scalars(select(AuditEntry).where(AuditEntry.action == "poster_download")
                                    .order_by(AuditEntry.id)).all()
        assert [entry.detail for entry in downloads] == ['{"kind":"poster","language":"ur"}',
                                                         '{"kind":"card","language":"zh_Hant"}']
    assert admin.get("/admin/posters/poster-xx.pdf").status_code == 404
    assert admin.get("/admin/posters/flyer-en.pdf").status_code == 404


def test_only_administrators_print_posters(poster_app):
    anna = poster_app.test_client()
    assert anna.get("/admin/posters").status_code == 303  # to the log-in page
    assert log_in(anna, "anna").status_code == 303
    # An investigator is refused as on every administrator's page (404, as for a case not theirs).
    assert anna.get("/admin/posters").status_code == 404
    assert anna.get("/admin/posters/poster-en.pdf").status_code == 404
    with poster_app.extensions["portal.sessions"]() as session:
        assert not session.scalars(select(AuditEntry).where(AuditEntry.action == "poster_download")).all()


def test_a_card_without_onion_or_sms_settings_prints_neither_and_a_hostile_name_stays_text(app, tmp_path):
    out = tmp_path / "printed"
    with app.extensions["portal.sessions"]() as session:
        session.execute(update(Instance).values(organisation_name='<img src="file:///etc/passwd"> Acme'))
        session.commit()
    ran = CliRunner().invoke(cli.main, ["posters", "build", "--out", str(out), "--language", "en"], env={
        "PORTAL_DATABASE_URL": app.config["DATABASE_URL"], "PORTAL_INSTANCE_PATH": app.config["INSTANCE_PATH"],
        "PORTAL_ONION_ADDRESS": "", "PORTAL_SMS_NUMBER": ""})
    assert ran.exit_code == 0, ran.output
    assert sorted(p.name for p in out.iterdir()) == ["card-en.pdf", "poster-en.pdf"]
    text = pdf_text(out / "card-en.pdf")
    assert "Tor Browser" not in text and "SMS" not in text and ".onion" not in text
    assert '<img src="file:///etc/passwd"> Acme' in pdf_text(out / "poster-en.pdf")

    refused = CliRunner().invoke(cli.main, ["posters", "build", "--out", str(out), "--language", "xx"], env={
        "PORTAL_DATABASE_URL": app.config["DATABASE_URL"], "PORTAL_INSTANCE_PATH": app.config["INSTANCE_PATH"]})
    assert refused.exit_code == 2 and "PORTAL_LANGUAGES" in refused.output


@pytest.mark.parametrize("setting, value", [("ONION_ADDRESS", "example.onion"), ("ONION_ADDRESS", "https://evil.example/"),
                                            ("SMS_NUMBER", "call 555"), ("SMS_NUMBER", "+1 <b>")])
def test_a_malformed_onion_address_or_sms_number_is_refused_at_start(app_config, setting, value):
    with pytest.raises(ValueError, match=f"PORTAL_{setting}"):
        create_app(dict(app_config, **{setting: value}))
