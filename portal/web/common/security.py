"""Response headers that keep reporter pages private and self-contained."""

import functools

from flask import request

from . import inline_style


@functools.cache
def content_security_policy() -> str:
    # No script-src: default-src 'none' forbids every script, inline or not. Styles come from
    # this origin's files or are the reporter pages' inline stylesheet, matched by its hash;
    # no 'unsafe-inline', so an injected <style> or style="" does nothing either.
    return (
        f"default-src 'none'; style-src 'self' {inline_style.csp_source()}; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def add_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy())
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    if request.endpoint != "static":
        headers["Cache-Control"] = "no-store"
    return response
