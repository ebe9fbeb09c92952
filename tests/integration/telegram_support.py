"""Shared set-up for the Telegram console tests: settings pointing at the fake Bot API, and an
app whose console is started (PTB polling the fake) and always shut down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.app import App, build_app
from bot.exchanges.paper import PaperExchange
from bot.notify.telegram import TelegramConsole
from bot.settings import Settings
from tests.conftest import paper_settings
from tests.fakes.telegram import FakeTelegramServer, SentMessage

USER = 1001  # allowed, private chat with the bot (chat id == user id)
USER2 = 1002  # allowed as well
GROUP = -100500  # allowed group chat: alerts go here too
STRANGER = 666  # in no allowlist
STRANGER_CHAT = 777
SYMBOL = "BTC/USDT:USDT"


def telegram_settings(
    tmp_path: Path, tg: FakeTelegramServer, telegram: dict[str, Any] | None = None, **overrides: Any
) -> Settings:
    block: dict[str, Any] = {
        "token": tg.token,
        "base_url": f"{tg.url}/bot",
        "chat_ids": [USER, GROUP],
        "user_ids": [USER, USER2],
        "poll_timeout_s": 1,
        "confirm_ttl_s": 30,
    }
    block.update(telegram or {})
    return paper_settings(tmp_path, telegram=block, **overrides)


def console_of(app: App) -> TelegramConsole:
    assert isinstance(app.notifier, TelegramConsole)
    return app.notifier


def paper_of(app: App) -> PaperExchange:
    paper = app.adapters["acct"]
    assert isinstance(paper, PaperExchange)
    return paper


def fast(console: TelegramConsole) -> None:
    """Retry quickly: tests wait seconds, not the production backoff of up to 30 s."""
    console.retry_base_s = 0.2
    console.max_backoff_s = 0.5


@asynccontextmanager
async def running_console(settings: Settings) -> AsyncIterator[App]:
    """build_app + the console started and polling; the engine is driven by hand (no scheduler)."""
    app = build_app(settings)
    console = console_of(app)
    fast(console)
    try:
        await console.start()
        await asyncio.wait_for(console.ready.wait(), timeout=5)
        yield app
    finally:
        await app.close()


async def command(
    tg: FakeTelegramServer, text: str, *, user: int = USER, chat: int = USER, timeout: float = 5.0
) -> SentMessage:
    """Send a command and return the bot's first new message in that chat."""
    before = len(tg.messages_to(chat))
    tg.push_message(user, chat, text, username=f"u{user}")
    messages = await tg.wait_for_messages(before + 1, timeout=timeout, chat_id=chat)
    return messages[before]


async def settle(tg: FakeTelegramServer, seconds: float = 0.3) -> None:
    """Give the bot a moment to (wrongly) react; used before asserting that nothing happened."""
    await tg.wait_for_calls("getUpdates", n=len(tg.calls("getUpdates")) + 1, timeout=3)
    await asyncio.sleep(seconds)
