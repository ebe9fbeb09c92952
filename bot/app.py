"""Wiring: settings -> store, exchange adapters, notifier, engine; and the daemon's lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.engine import Engine
from bot.exchanges.base import ExchangeAdapter
from bot.notify.base import Notifier
from bot.settings import AccountSettings, Settings
from bot.store import Store

log = logging.getLogger(__name__)


def make_adapter(
    settings: Settings, account: AccountSettings, *, clock: Callable[[], float] = time.time
) -> ExchangeAdapter:
    if account.is_paper_exchange:
        from bot.exchanges.paper import PaperExchange

        assert account.paper is not None
        return PaperExchange(account.name, account.paper, hedge_mode=account.hedge_mode, clock=clock)
    from bot.exchanges.ccxt_adapter import CcxtAdapter  # slow import: only for real venues

    return CcxtAdapter(
        account, settings.poll, clock=clock, max_slippage_pct=settings.guard_for(account).max_slippage_pct
    )


def make_notifier(settings: Settings, store: Store, engine_ref: Callable[[], Engine]) -> Notifier:
    if settings.telegram.token is not None:
        from bot.notify.telegram import TelegramConsole

        return TelegramConsole(settings, store, engine_ref)
    from bot.notify.console import ConsoleNotifier

    return ConsoleNotifier(store)


@dataclass
class App:
    settings: Settings
    store: Store
    adapters: dict[str, ExchangeAdapter]
    notifier: Notifier
    engine: Engine

    async def close(self) -> None:
        for adapter in self.adapters.values():
            with contextlib.suppress(Exception):
                await adapter.close()
        with contextlib.suppress(Exception):
            await self.notifier.stop()
        self.store.close()


def build_app(
    settings: Settings,
    *,
    notifier: Notifier | None = None,
    clock: Callable[[], float] = time.time,
    adapters: dict[str, ExchangeAdapter] | None = None,
) -> App:
    store = Store(settings.database.path, busy_timeout_ms=settings.database.busy_timeout_ms, clock=clock)
    if adapters is None:
        adapters = {a.name: make_adapter(settings, a, clock=clock) for a in settings.accounts if a.enabled}
    holder: dict[str, Engine] = {}
    if notifier is None:
        notifier = make_notifier(settings, store, lambda: holder["engine"])
    engine = Engine(settings, store, adapters, notifier, clock=clock)
    holder["engine"] = engine
    return App(settings, store, adapters, notifier, engine)


async def run_daemon(app: App, *, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or ``stop`` is set); then finish running polls and close."""
    from bot.scheduler import build_scheduler

    settings, engine = app.settings, app.engine
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(NotImplementedError, RuntimeError, AttributeError):
        loop.add_signal_handler(signal.SIGUSR1, lambda: engine.pause("SIGUSR1 received"))
        loop.add_signal_handler(signal.SIGUSR2, engine.resume)
    from bot.watchdog import HealthPinger, LoopWatchdog, telegram_sender

    watchdog = LoopWatchdog(settings.health.max_cycle_age_s, telegram_sender(settings))
    pinger = HealthPinger(settings.health.ping_url)
    engine.on_tick = watchdog.tick
    engine.on_good_cycle = pinger.cycle_ok
    watchdog.start()
    await app.notifier.start()
    await engine.startup()
    accounts = list(engine.accounts)
    scheduler = build_scheduler(
        accounts,
        engine.run_cycle,
        interval_s=settings.poll.interval_s,
        misfire_grace_s=settings.poll.misfire_grace_s,
        extra_jobs=[("watchdog", engine.watchdog, min(5.0, settings.poll.interval_s))],
    )
    scheduler.start()
    log.info("guarding %d account(s) in %s mode", len(accounts), engine.mode)
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        scheduler.shutdown(wait=False)
        watchdog.stop()
        # Let a poll that is mid-action finish: its journal rows must be complete.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(engine.quiesce(), timeout=30)
        await app.close()
