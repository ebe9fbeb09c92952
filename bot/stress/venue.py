"""Adapters between a replay and the daemon's code.

``ReplayVenue`` is the paper exchange as the engine's exchange adapter, with the reaction
delay: the first order of a cycle does not fill until the replay releases it (``delay_bars``
bars later, at that bar's open). Meanwhile the engine's cycle is in flight, exactly as a
daemon waiting for a slow exchange: no new poll starts for that account.

``Observer`` is the read-only half of the engine's cycle (``assess`` with the engine's tier
and volatility memory) for the policies the engine does not run, so that every policy's
tiers and distances come from the same code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from bot.assess import AssessMemory, assess
from bot.domain import AccountRisk, AccountSnapshot, Action, ActionResult
from bot.engine import CycleResult, assess_config
from bot.exchanges.paper import PaperExchange
from bot.risk.distance import VolatilityState, annualised_volatility, update_volatility
from bot.risk.escalation import RiskTier
from bot.settings import AccountSettings, Settings


@dataclass(frozen=True)
class Fill:
    ts: float
    mark: float
    client_id: str
    action: Action
    result: ActionResult


class ReplayVenue:
    exchange = "paper"
    simulated = True

    def __init__(self, paper: PaperExchange, symbol: str, delay_bars: int):
        self.paper = paper
        self.account = paper.account
        self.symbol = symbol
        self.delay_bars = delay_bars
        self.bar = 0  # set by the replay
        self.due: int | None = None  # bar at whose open the held order fills
        self.fills: list[Fill] = []
        self._gate: asyncio.Future[bool] | None = None
        self._signal: asyncio.Future[None] | None = None  # set when the cycle ends or its order is held
        self._released_this_cycle = False

    async def snapshot(self) -> AccountSnapshot:
        return self.paper.current_snapshot()

    async def execute(self, action: Action, client_id: str) -> ActionResult:
        if self.delay_bars > 0 and not self._released_this_cycle:
            self._released_this_cycle = True
            self._gate = asyncio.get_running_loop().create_future()
            self.due = self.bar + self.delay_bars
            self._notify()
            if not await self._gate:
                return ActionResult(status="failed", error="the replay ended before the order could fill",
                                    error_kind="not_sent")
        result = self.paper.apply(action, client_id)
        self.fills.append(Fill(self.paper.clock(), self.paper.marks[self.symbol], client_id, action, result))
        return result

    async def reconcile(self, action: Action, client_id: str, since: float) -> ActionResult | None:
        known = self.paper.applied.get(client_id)
        if known is not None:
            return known
        return ActionResult(status="failed", error="never reached the paper exchange", error_kind="not_sent")

    async def close(self) -> None:
        return None

    @property
    def holding(self) -> bool:
        return self._gate is not None

    def release(self, fill: bool = True) -> None:
        """Let the held order go out now (or fail it when the replay is over)."""
        gate, self._gate, self.due = self._gate, None, None
        if gate is not None and not gate.done():
            gate.set_result(fill)

    async def start_cycle(
        self, cycle: Coroutine[Any, Any, CycleResult]
    ) -> CycleResult | asyncio.Task[CycleResult]:
        """Run an engine cycle until it finishes (its result) or its first order is held (the task)."""
        self._released_this_cycle = False
        if self.delay_bars == 0:
            return await cycle
        loop = asyncio.get_running_loop()
        self._signal = loop.create_future()
        task = loop.create_task(cycle)
        task.add_done_callback(lambda _: self._notify())
        await self._signal
        return task.result() if task.done() else task

    def _notify(self) -> None:
        if self._signal is not None and not self._signal.done():
            self._signal.set_result(None)


class Observer:
    def __init__(self, settings: Settings, account: AccountSettings):
        self.config = assess_config(settings, account)
        self.volatility_settings = settings.volatility
        self.tiers: dict[str, RiskTier] = {}
        self.volatility: dict[str, VolatilityState] = {}

    def observe(self, snapshot: AccountSnapshot, now: float) -> AccountRisk:
        vs = self.volatility_settings
        for p in snapshot.positions:  # this poll's mark counts, as in the engine
            if p.mark_price > 0:
                self.volatility[p.symbol] = update_volatility(
                    self.volatility.get(p.symbol), snapshot.fetched_at, p.mark_price, vs.window_s
                )
        view = {}
        for p in snapshot.positions:
            vol = annualised_volatility(self.volatility.get(p.symbol), min_span_s=vs.horizon_s)
            if vol is not None:
                view[p.symbol] = vol
        risk = assess(snapshot, self.config, now, AssessMemory(previous_tiers=dict(self.tiers), volatility=view))
        self.tiers = {r.key: r.tier for r in risk.positions}
        return risk
