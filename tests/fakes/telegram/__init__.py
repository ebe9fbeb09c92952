"""Loopback fake Telegram Bot API server for tests (see :mod:`tests.fakes.telegram.server`)."""

from .formatting import EntityParseError, FormattedText, find_bot_commands, parse_html, utf16_len
from .media import probe_image, tiny_png
from .ptb import application_builder, polling
from .server import (
    DEFAULT_TOKEN,
    AnsweredCallback,
    ApiError,
    FakeTelegramServer,
    OutageMode,
    RecordedRequest,
    SentMessage,
)

__all__ = [
    "DEFAULT_TOKEN",
    "AnsweredCallback",
    "ApiError",
    "EntityParseError",
    "FakeTelegramServer",
    "FormattedText",
    "OutageMode",
    "RecordedRequest",
    "SentMessage",
    "application_builder",
    "find_bot_commands",
    "parse_html",
    "polling",
    "probe_image",
    "tiny_png",
    "utf16_len",
]
