"""The exchange adapter protocol: everything the engine needs from a venue, nothing more.

Adapters raise the classes in ``bot.errors`` (never raw ccxt errors) and must not retry
money-moving calls themselves: a call that timed out may have gone through.
"""

from __future__ import annotations

from typing import Protocol

from bot.domain import AccountSnapshot, Action, ActionResult


class ExchangeAdapter(Protocol):
    account: str
    exchange: str
    # True when actions only change a simulation (the paper exchange), so paper mode may
    # execute them for real instead of going to the dry-run ledger.
    simulated: bool

    async def snapshot(self) -> AccountSnapshot:
        """Positions, balances, marks and tiers, fetched now."""
        ...

    async def execute(self, action: Action, client_id: str) -> ActionResult:
        """Send one action, tagged with our idempotency key ``client_id``. Raise
        ``OutcomeUnknown`` when it cannot be known whether it happened."""
        ...

    async def reconcile(self, action: Action, client_id: str, since: float) -> ActionResult | None:
        """Find out what became of an earlier ``execute`` whose outcome was unknown (order
        lookup by client id, margin/transfer history, position deltas). None = still unknown."""
        ...

    async def close(self) -> None: ...
