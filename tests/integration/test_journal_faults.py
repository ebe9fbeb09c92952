"""SQLite locked by someone else: no intent, no action; nothing journalled is lost; the loop goes on."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

from bot.app import build_app
from bot.exchanges.paper import PaperExchange
from bot.notify.console import ConsoleNotifier
from tests.conftest import SimClock, paper_settings


async def test_locked_journal_blocks_actions_loses_nothing_and_recovers(tmp_path: Path, clock: SimClock) -> None:
    settings = paper_settings(tmp_path, database={"path": str(tmp_path / "journal.db"), "busy_timeout_ms": 100})
    notifier = ConsoleNotifier(file=io.StringIO(), clock=clock)
    app = build_app(settings, notifier=notifier, clock=clock)
    notifier.store = app.store
    paper = app.adapters["acct"]
    assert isinstance(paper, PaperExchange)
    engine = app.engine

    async def cycle(price: float):  # type: ignore[no-untyped-def]
        clock.advance(settings.poll.interval_s)
        paper.set_mark("BTC/USDT:USDT", price)
        return await engine.run_cycle("acct")

    await cycle(60000)
    blocker = sqlite3.connect(tmp_path / "journal.db", timeout=0.1)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        result = await cycle(51000)  # danger: the top-up rule wants to act
        assert result.error is None  # the loop carried on
        assert paper.applied == {}  # no intent could be written, so nothing was sent
        texts = [a.text for a in notifier.sent]
        assert any("NOT taken" in t and "nothing was sent" in t for t in texts)
        assert any(a.kind == "escalation" and a.tier == "danger" for a in notifier.sent)  # alerts still go out
    finally:
        blocker.rollback()
        blocker.close()
    result = await cycle(50900)  # the journal is free again: the same response goes through
    assert [r.kind for r in result.actions] == ["top_up"] and result.actions[0].status == "done"
    assert len(paper.applied) == 1
    kinds = [a.kind for a in app.store.alerts(limit=100)]
    assert "escalation" in kinds and "failure" in kinds  # alerts sent during the lock were journalled later
    states = {s.position_key: s.tier for s in app.store.position_states()}
    assert states == {"BTC/USDT:USDT|both|long": "danger"}
    await app.close()
