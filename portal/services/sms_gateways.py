"""The SMS gateways the portal speaks to: one adapter each, over one interface.

- ``android``: SMS Gateway for Android (capcom6/android-sms-gateway, sms-gate.app),
  the open-source app an NGO runs on a phone with a local SIM. Sending: ``POST
  {api}/messages`` with HTTP Basic auth and JSON ``{"textMessage": {"text": ...},
  "phoneNumbers": [...]}`` (docs.sms-gate.app, "Sending Messages"); the phone cuts a
  long text into concatenated parts. The webhook's ``payload`` carries ``message`` and
  ``phoneNumber`` (docs.sms-gate.app, "Webhooks").
  Incoming: the ``sms:received`` webhook, JSON, signed: ``X-Signature`` is the hex
  HMAC-SHA256 of the raw body followed by ``X-Timestamp`` (Unix seconds) under the
  signing key set in the app.
- ``twilio``: Twilio's Messages API. Sending: ``POST
  {api}/2010-04-01/Accounts/{sid}/Messages.json``, form fields ``To``, ``From``,
  ``Body`` (at most 1600 characters, sent as concatenated parts), Basic auth with the
  Account SID and auth token. Incoming: a form POST signed in ``X-Twilio-Signature``:
  base64 HMAC-SHA1, under the auth token, of the URL Twilio called followed by every
  form field's name and value in name order. It carries no time: its ``MessageSid``
  is what a replay repeats.

An adapter authenticates and reads a webhook (``inbound``) and sends (``send``); the
conversation itself (services/sms.py) knows nothing of either.
"""

import base64
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from .refusal import Refusal

# A webhook older or newer than this is refused (the Android app signs its time).
TIMESTAMP_WINDOW_SECONDS = 300
SEND_TIMEOUT_SECONDS = 10
log = logging.getLogger(__name__)


class WebhookRefused(Refusal):
    """A webhook that is not the gateway's, or not a text: ``reason`` says which."""


class SendFailed(RuntimeError):
    """The gateway did not take the text."""


@dataclass(frozen=True)
class Inbound:
    sender: str
    text: str
    # What a replay of this very webhook repeats: the gateway's message id or its signature.
    replay_key: str


def normalised_number(number: str) -> str:
    """A number as the gateways write it: a leading + and digits only."""
    digits = "".join(c for c in number if c.isdigit() and c.isascii())
    return ("+" if number.strip().startswith("+") else "") + digits


class AndroidGateway:
    name = "android"

    def __init__(self, config):
        self.api_url = config["SMS_API_URL"].rstrip("/")
        self.user, self.password = config["SMS_API_USER"], config["SMS_API_PASSWORD"]
        self.key = config["SMS_WEBHOOK_KEY"].encode()

    def inbound(self, headers, body: bytes, form, url: str) -> Inbound:
        signature, stamp = headers.get("X-Signature", ""), headers.get("X-Timestamp", "")
        if not self.key or not signature or not stamp.isdigit():
            raise WebhookRefused("signature")
        expected = hmac.new(self.key, body + stamp.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise WebhookRefused("signature")
        if abs(time.time() - int(stamp)) > TIMESTAMP_WINDOW_SECONDS:
            raise WebhookRefused("stale")
        try:
            event = json.loads(body)
            payload = event["payload"]
            sender, text = payload["phoneNumber"], payload["message"]
        except (ValueError, KeyError, TypeError):
            raise WebhookRefused("malformed") from None
        if event.get("event") != "sms:received" or not isinstance(sender, str) or not isinstance(text, str):
            raise WebhookRefused("malformed")
        return Inbound(sender, text, "android:" + signature.lower())

    def send(self, number: str, text: str) -> None:
        _post(f"{self.api_url}/messages", self.user, self.password, "application/json",
              json.dumps({"textMessage": {"text": text}, "phoneNumbers": [number]}).encode())


class TwilioGateway:
    name = "twilio"

    def __init__(self, config):
        self.api_url = (config["SMS_API_URL"] or "https://api.twilio.com").rstrip("/")
        self.sid, self.token = config["SMS_API_USER"], config["SMS_API_PASSWORD"]
        self.number = config["SMS_NUMBER"]

    def inbound(self, headers, body: bytes, form, url: str) -> Inbound:
        signature = headers.get("X-Twilio-Signature", "")
        if not self.token or not signature:
            raise WebhookRefused("signature")
        signed = url + "".join(name + value for name, value in sorted(form.items(multi=True)))
        expected = base64.b64encode(hmac.new(self.token.encode(), signed.encode(), hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(expected, signature):
            raise WebhookRefused("signature")
        sender, text, sid = form.get("From", ""), form.get("Body"), form.get("MessageSid", "")
        if form.get("AccountSid") != self.sid or not sender or text is None or not sid:
            raise WebhookRefused("malformed")
        return Inbound(sender, text, "twilio:" + sid)

    def send(self, number: str, text: str) -> None:
        _post(f"{self.api_url}/2010-04-01/Accounts/{urllib.parse.quote(self.sid)}/Messages.json",
              self.sid, self.token, "application/x-www-form-urlencoded",
              urllib.parse.urlencode({"To": number, "From": self.number, "Body": text}).encode())


GATEWAYS = {"android": AndroidGateway, "twilio": TwilioGateway}


def configured(config):
    """The instance's gateway, or None when SMS is off."""
    name = config["SMS_GATEWAY"]
    return GATEWAYS[name](config) if name else None


def _post(url: str, user: str, password: str, content_type: str, data: bytes) -> None:
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Authorization": f"Basic {credentials}", "Content-Type": content_type, "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_SECONDS) as response:
            if response.status >= 300:
                raise SendFailed(response.status)
    except (urllib.error.URLError, OSError) as error:
        # The error's text could hold the request (the number): only its kind and status go on.
        reason = f"{type(error).__name__} {getattr(error, 'code', '')}".strip()
        log.warning("The SMS gateway did not take a text: %s", reason)
        raise SendFailed(reason) from None
