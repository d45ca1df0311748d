"""Languages: the URL prefix chooses, so a reporter needs no cookie for it."""

from decimal import Decimal, InvalidOperation

from babel import Locale, support
from babel.core import get_global
from flask import g, has_app_context
from flask_babel import (
    Babel,
    Domain,
    format_currency,
    format_date,
    format_datetime,
    format_decimal,
    format_percent,
    get_locale,
    get_translations,
)

# Each language is named in its own script, as the picker shows it.
NATIVE_NAMES = {
    "en": "English",
    "zh_Hans": "简体中文",
    "zh_Hant": "繁體中文",
    "vi": "Tiếng Việt",
    "ms": "Bahasa Melayu",
    "ne": "नेपाली",
    "my": "မြန်မာ",
    "bn": "বাংলা",
    "id": "Bahasa Indonesia",
    "th": "ไทย",
    "fil": "Filipino",
    "es": "Español",
    "hi": "हिन्दी",
    "ta": "தமிழ்",
    "km": "ខ្មែរ",
    "cs": "Čeština",
    "ko": "한국어",
    "nl": "Nederlands",
    "fr": "Français",
    "ur": "اردو",
}


def url_code(language: str) -> str:
    """``zh_Hans`` -> ``zh-Hans``: URLs use BCP 47 tags."""
    return language.replace("_", "-")


def from_url_code(code: str, languages) -> str | None:
    language = (code or "").replace("-", "_")
    return language if language in languages else None


def direction(language: str) -> str:
    return "rtl" if Locale.parse(language).character_order == "right-to-left" else "ltr"


def best_match(accept_languages, languages, default) -> str:
    """The first language the browser asks for that the portal has."""
    by_tag = {}
    for language in languages:
        locale = Locale.parse(language)
        by_tag.setdefault(str(locale).lower().replace("_", "-"), language)
        by_tag.setdefault(locale.language, language)
    for tag, _quality in accept_languages:
        tag = _current_tag(tag.lower().replace("_", "-"))
        if tag in by_tag:
            return by_tag[tag]
        # zh-CN and zh-SG read Simplified, zh-TW and zh-HK Traditional.
        if tag in ("zh-cn", "zh-sg", "zh-my") and "zh_Hans" in languages:
            return "zh_Hans"
        if tag in ("zh-tw", "zh-hk", "zh-mo") and "zh_Hant" in languages:
            return "zh_Hant"
        if tag.split("-")[0] in by_tag:
            return by_tag[tag.split("-")[0]]
    return default


def _current_tag(tag: str) -> str:
    """A tag with a retired or legacy language code in today's code (CLDR's aliases): phones still
    send ``tl`` and ``tl-PH`` for Filipino, ``in-ID`` for Indonesian, ``iw`` for Hebrew."""
    language, separator, rest = tag.partition("-")
    current = get_global("language_aliases").get(language)
    if not current:
        return tag
    return current.lower().replace("_", "-") + separator + rest


def money(amount: str, currency: str = "") -> str:
    """An amount as the reader's locale writes it (9.600.000 ₫ in Vietnamese), or as stored."""
    try:
        value = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        return f"{amount} {currency}".strip()
    try:
        return format_currency(value, currency) if currency else format_decimal(value)
    except (ValueError, KeyError):  # a currency code Babel does not know
        return f"{format_decimal(value)} {currency}"


class _OverridingDomain(Domain):
    """The catalogues with the instance's overrides on top: the one place every ``gettext``,
    ``pgettext`` and ``ngettext`` (Python and templates alike) finds its translation.

    ``overrides()`` gives (generation, language -> {catalog key: text}); it is asked once per
    request and language, and each process merges a language again only when the generation moves.
    """

    def __init__(self, overrides):
        super().__init__()
        self._overrides = overrides
        self._merged = {}

    def get_translations(self):
        if not has_app_context():
            return support.NullTranslations()
        language = str(get_locale())
        memo = g.get("_portal_translations")
        if memo is not None and memo[0] == language:
            return memo[1]
        translations = super().get_translations()
        found = self._overrides()
        generation = None if found is None else found[0]
        if found is not None:
            generation, overrides = found
            strings = overrides.get(language)
            if strings:
                kept = self._merged.get(language)
                if kept is None or kept[0] != generation or kept[1] is not translations:
                    merged = support.Translations()
                    merged.__dict__.update(translations.__dict__)
                    merged._catalog = {**translations._catalog, **strings}
                    kept = (generation, translations, merged)
                    self._merged[language] = kept
                translations = kept[2]
        g._portal_translations = (language, translations, generation)
        return translations


def words_generation():
    """Which overrides this page's words come from: a page a process keeps rendered is kept per value."""
    get_translations()
    memo = g.get("_portal_translations")
    return None if memo is None else memo[2]


def init_app(app, translations_folder: str, locale_selector, overrides=None) -> None:
    """Flask-Babel, with the page's language chosen by ``locale_selector`` (the web layer's) and,
    with ``overrides``, the instance's own words on top of the catalogues."""
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = translations_folder
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    babel = Babel(app, locale_selector=locale_selector)
    if overrides is not None:
        babel.domain_instance = _OverridingDomain(overrides)
    app.jinja_env.globals.update(format_date=format_date, format_datetime=format_datetime,
                                 format_decimal=format_decimal,
                                 format_percent=format_percent, money=money)
