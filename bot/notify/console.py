"""Console notifier: the default when no Telegram token is configured. Prints each alert
(colour by tier when the terminal supports it) and marks it delivered."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import IO

from rich.console import Console

from bot.journal import Alert
from bot.store import Store

STYLE = {"ok": "green", "watch": "cyan", "warning": "yellow", "danger": "dark_orange", "critical": "bold red"}


class ConsoleNotifier:
    def __init__(
        self, store: Store | None = None, *, file: IO[str] | None = None, clock: Callable[[], float] = time.time
    ):
        self.store = store
        self.console = Console(file=file, highlight=False, soft_wrap=True)
        self.clock = clock
        self.sent: list[Alert] = []

    async def start(self) -> None:
        if self.store is not None:
            for alert in self.store.undelivered_alerts():
                self.submit(alert)

    async def stop(self) -> None:
        return None

    def submit(self, alert: Alert) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(alert.ts))
        style = STYLE.get(alert.tier or "", "white") if alert.kind != "action" else "bold magenta"
        self.console.print(f"[dim]{stamp}[/dim] ", end="")
        self.console.print(alert.text, style=style, markup=False)
        self.sent.append(alert)
        if self.store is not None and alert.id is not None:
            with contextlib.suppress(Exception):  # a busy journal must not stop the printout
                self.store.mark_delivered([alert.id], self.clock())
