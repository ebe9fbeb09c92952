"""Alert delivery edge cases: a backlog left by a previous run, flood control, a blocked chat,
Telegram down at start, very long alerts, and a rejected token that must not reach the logs."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.app import App, build_app
from bot.journal import Alert
from bot.notify.console import ConsoleNotifier
from bot.notify.formatting import MAX_TEXT
from bot.settings import Settings
from tests.conftest import paper_settings
from tests.fakes.telegram import FakeTelegramServer, utf16_len
from tests.integration.telegram_support import GROUP, SYMBOL, USER, console_of, fast, paper_of, telegram_settings

pytestmark = pytest.mark.timeout(20)
KEY = f"{SYMBOL}|both|long"


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer() as server:
        yield server


@asynccontextmanager
async def started(settings: Settings, *, wait_ready: bool = True) -> AsyncIterator[App]:
    app = build_app(settings)
    fast(console_of(app))
    try:
        await console_of(app).start()
        if wait_ready:
            await asyncio.wait_for(console_of(app).ready.wait(), timeout=5)
        yield app
    finally:
        await app.close()


def journal_alert(app: App, text: str, *, key: str | None = KEY, kind: str = "escalation", loud: bool = False) -> Alert:
    """An alert as the engine journals it before handing it to the notifier."""
    return app.store.add_alert(
        Alert(
            ts=time.time(),
            account="acct",
            symbol=SYMBOL if key else None,
            position_key=key,
            kind=kind,
            text=text,
            loud=loud,
        )
    )


def test_console_notifier_stays_the_default_without_a_token(tmp_path: Path) -> None:
    app = build_app(paper_settings(tmp_path))
    assert isinstance(app.notifier, ConsoleNotifier)
    app.store.close()


async def test_backlog_from_a_previous_run_is_coalesced_per_position(tmp_path: Path, tg: FakeTelegramServer) -> None:
    app = build_app(telegram_settings(tmp_path, tg))
    fast(console_of(app))
    try:
        for tier in ("WATCH", "WARNING", "DANGER"):  # left undelivered by an earlier run
            journal_alert(app, f"{tier}: acct {SYMBOL} long\nliq line", loud=tier == "DANGER")
        journal_alert(app, "⚠️ acct: 3 polls in a row failed", key=None, kind="failure", loud=True)
        journal_alert(app, "✅ acct: exchange reachable again", key=None, kind="system")
        await console_of(app).start()
        await tg.wait_for(lambda: app.store.undelivered_alerts() == [], timeout=5)
        sent = tg.messages_to(USER)
        assert [m.plain_text.split("\n")[0] for m in sent if m.plain_text] == [
            f"DANGER: acct {SYMBOL} long",
            "⚠️ acct: 3 polls in a row failed",
            "✅ acct: exchange reachable again",
        ]
        assert "(earlier, UTC, newest first:" in (sent[0].plain_text or "") and "WATCH" in (sent[0].plain_text or "")
        assert [m.disable_notification for m in sent] == [False, False, True]
        assert [m.plain_text for m in tg.messages_to(GROUP)] == [m.plain_text for m in sent]
        # Caught up: new alerts for the same position go out one by one again.
        for tier in ("WARNING", "WATCH"):
            console_of(app).submit(journal_alert(app, f"{tier}: eased"))
            await tg.wait_for(lambda: app.store.undelivered_alerts() == [], timeout=5)
        assert [m.plain_text for m in tg.messages_to(USER)[3:]] == ["WARNING: eased", "WATCH: eased"]
    finally:
        await app.close()
    assert all(a.delivered_at is not None and a.attempts == 2 for a in app.store.alerts())  # one per chat


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_flood_control_is_waited_out(tmp_path: Path, tg: FakeTelegramServer) -> None:
    async with started(telegram_settings(tmp_path, tg, telegram={"chat_ids": [USER]})) as app:
        await tg.go_down("flood", methods=["sendMessage"], retry_after=1, times=3)
        started_at = time.monotonic()
        alert = journal_alert(app, "🟠 DANGER: flood test", loud=True)
        console_of(app).submit(alert)
        await tg.wait_for(lambda: app.store.undelivered_alerts() == [], timeout=10)
        assert time.monotonic() - started_at >= 2.5  # two waits in the rate limiter, one in our queue
    assert [m.plain_text for m in tg.messages_to(USER)] == ["🟠 DANGER: flood test"]  # once, not lost
    assert [r.status for r in tg.calls("sendMessage")] == [429, 429, 429, 200]
    assert app.store.alerts()[0].attempts == 2


async def test_a_blocked_chat_does_not_hold_up_delivery(tmp_path: Path, tg: FakeTelegramServer) -> None:
    async with started(telegram_settings(tmp_path, tg)) as app:
        tg.block(GROUP)
        console_of(app).submit(journal_alert(app, "🟡 WARNING: blocked test"))
        await tg.wait_for(lambda: app.store.undelivered_alerts() == [], timeout=5)
        await asyncio.sleep(0.5)
    assert [m.plain_text for m in tg.messages_to(USER)] == ["🟡 WARNING: blocked test"]
    assert [r.status for r in tg.calls("sendMessage") if r.params.get("chat_id") == GROUP] == [403]  # no retry loop


async def test_telegram_down_at_start_does_not_stop_guarding(tmp_path: Path, tg: FakeTelegramServer) -> None:
    await tg.go_down("refuse")
    async with started(telegram_settings(tmp_path, tg), wait_ready=False) as app:
        for price in (60000, 53000):  # the engine runs and escalates regardless
            paper_of(app).set_mark(SYMBOL, price)
            assert (await app.engine.run_cycle("acct")).error is None
        assert not console_of(app).ready.is_set()
        assert [a.kind for a in app.store.undelivered_alerts()] == ["escalation"]
        await tg.come_up()
        await asyncio.wait_for(console_of(app).ready.wait(), timeout=8)
        await tg.wait_for(lambda: app.store.undelivered_alerts() == [], timeout=5)
    assert "WARNING" in (tg.messages_to(USER)[0].plain_text or "")


async def test_a_very_long_alert_is_split(tmp_path: Path, tg: FakeTelegramServer) -> None:
    async with started(telegram_settings(tmp_path, tg, telegram={"chat_ids": [USER]})) as app:
        body = "\n".join(f"reason {i}: equity < maintenance & {'x' * 40}" for i in range(300))
        console_of(app).submit(journal_alert(app, f"⚠️ long one\n{body}", key=None, kind="notice"))
        await tg.wait_for(lambda: app.store.undelivered_alerts() == [], timeout=5)
    parts = [m.plain_text or "" for m in tg.messages_to(USER)]
    assert len(parts) >= 4 and all(utf16_len(p) <= MAX_TEXT for p in parts)
    assert "\n".join(parts) == f"⚠️ long one\n{body}"


async def test_a_rejected_token_never_reaches_the_logs(
    tmp_path: Path, tg: FakeTelegramServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "123456:WRONG-secret-token-xyz"
    settings = telegram_settings(tmp_path, tg, telegram={"token": wrong})
    async with started(settings, wait_ready=False) as app:
        await tg.wait_for(lambda: "rejected the bot token" in caplog.text, timeout=5)
        paper_of(app).set_mark(SYMBOL, 60000)
        assert (await app.engine.run_cycle("acct")).error is None  # guarding goes on
    assert tg.calls("getMe")[0].status == 401
    assert "WRONG-secret-token-xyz" not in caplog.text
    assert "***" in caplog.text  # httpx's request log line, scrubbed
