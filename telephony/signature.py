"""Twilio's request signatures (`X-Twilio-Signature`) checked against the app's public URLs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator, get_signature_algorithm

from core.config import Settings

SIGNATURE_HEADER = "X-Twilio-Signature"
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
MEDIA_PATH = "/twilio/media"


class NotConfigured(Exception):
    """The phone channel lacks a setting it needs; the message names it."""


def public_url(base: str, path: str, query: str = "") -> str:
    """The URL Twilio requested: `PUBLIC_BASE_URL`, the path, the query string if any.

    Behind a TLS proxy the app sees `http://127.0.0.1:8000/...`, while Twilio signed
    `https://agent.example.com/...`: only the configured public URL gives the same signature.
    """
    url = base.rstrip("/") + path
    return f"{url}?{query}" if query else url


def stream_url(base: str) -> str:
    """The Media Streams WebSocket URL: the public URL with ws/wss for http/https."""
    parts = urlsplit(base.rstrip("/"))
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return parts._replace(scheme=scheme).geturl() + MEDIA_PATH


@dataclass(frozen=True)
class TwilioSignatures:
    """Checks that a request came from Twilio: an HMAC of the URL and POST parameters keyed
    with the account's auth token, computed by the twilio SDK's `RequestValidator`."""

    auth_token: str
    public_base_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioSignatures:
        """The checker for these settings; `NotConfigured` names what is missing."""
        missing = []
        token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
        if not token:
            missing.append("TWILIO_AUTH_TOKEN")
        base = (settings.public_base_url or "").strip()
        if not base:
            missing.append("PUBLIC_BASE_URL")
        elif urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).netloc:
            raise NotConfigured(f"PUBLIC_BASE_URL must be an http(s) URL, not {base!r}.")
        if missing:
            raise NotConfigured(
                f"The phone channel needs {' and '.join(missing)}; Twilio requests are refused."
            )
        return cls(auth_token=token, public_base_url=base)

    @property
    def stream_url(self) -> str:
        return stream_url(self.public_base_url)

    def url(self, path: str, query: str = "") -> str:
        return public_url(self.public_base_url, path, query)

    def _valid(
        self, url: str, params: Mapping[str, object], signature: str | None, settings: str | None
    ) -> bool:
        if not signature:
            return False
        validator = RequestValidator(self.auth_token)
        return bool(validator.validate(url, params, signature, get_signature_algorithm(settings)))

    def webhook_valid(
        self,
        path: str,
        query: str,
        params: Mapping[str, object],
        signature: str | None,
        settings_header: str | None = None,
    ) -> bool:
        """A webhook's signature over the public URL (with its query) and its POST fields."""
        return self._valid(self.url(path, query), params, signature, settings_header)

    def stream_valid(self, signature: str | None, settings_header: str | None = None) -> bool:
        """A Media Streams handshake's signature: Twilio signs exactly the stream URL, without
        parameters (the `<Parameter>`s travel later, in the `start` message)."""
        return self._valid(self.stream_url, {}, signature, settings_header)
