"""The notifier protocol. ``submit`` never blocks and never raises: the guard loop hands an
alert over and carries on; delivery, retries and marking alerts delivered in the journal are
the notifier's job."""

from __future__ import annotations

from typing import Protocol

from bot.journal import Alert


class Notifier(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def submit(self, alert: Alert) -> None: ...
