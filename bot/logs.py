"""Logging setup. Every handler gets a filter that replaces any configured secret (API keys,
secrets, passphrases, the bot token) with ``***`` wherever it appears in a record, including
exception tracebacks, so a library that logs a URL or a request body cannot leak one."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import IO

from bot.settings import Settings

REDACTED = "***"


def secrets_of(settings: Settings) -> list[str]:
    values: list[str] = []
    for a in settings.accounts:
        for secret in (a.credentials.api_key, a.credentials.secret, a.credentials.password):
            if secret is not None and secret.get_secret_value():
                values.append(secret.get_secret_value())
    if settings.telegram.token is not None:
        token = settings.telegram.token.get_secret_value()
        values.append(token)
        if ":" in token:  # the part after the bot id is the secret half
            values.append(token.split(":", 1)[1])
    return sorted({v for v in values if len(v) >= 6}, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str]) -> str:
    for s in secrets:
        if s in text:
            text = text.replace(s, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.secrets = list(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = redact(message, self.secrets)
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        return True


def setup_logging(settings: Settings, *, level: str | None = None, stream: IO[str] | None = None) -> RedactingFilter:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    redactor = RedactingFilter(secrets_of(settings))
    handler.addFilter(redactor)
    root.addHandler(handler)
    root.setLevel(level or settings.log_level)
    # httpx logs every request URL at INFO, and Telegram URLs contain the bot token.
    for noisy in ("httpx", "httpcore", "apscheduler.executors.default", "telegram.ext.Updater"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return redactor
