"""Replay a price series bar by bar on the paper exchange, once per protection policy.

Inside every bar, in this order (times are the bar's open, middle and close):

1. **open**: the mark moves to the bar's open; exchange-side policies act; liquidation is
   checked there. A marginguard order held by the reaction delay fills now, at this price.
2. **adverse extreme** (the low for a long, the high for a short; then the other extreme, for
   hedge legs): exchange-side policies act (auto-add-margin, the buffer stop); liquidation is
   checked at that price *before* the bot has reacted to anything in this bar. The distance
   the price came to the liquidation price in force is the bar's closest call.
3. **close**: the mark moves to the close and marginguard's engine runs one full cycle
   (``Engine.run_cycle``: snapshot, assess, alert, plan, guard, execute, journal) on what it
   sees there. With ``delay_bars = 0`` its orders fill at the close; with ``delay_bars = N``
   the first order of the cycle fills at the open of bar i+N (N = 1, the default, is the
   backtesting convention: a decision made on a bar's close trades at the next bar's open)
   and the engine is busy until then, as a daemon waiting on a slow exchange. The bot therefore
   never acts at a bar's extreme, and never before the extreme was tested.

Liquidation is ``PaperExchange.check_liquidations`` at the evaluated price: margin balance at
or below maintenance, i.e. exactly where ``bot.risk.liquidation_price`` puts it.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from bot.app import build_app
from bot.domain import AccountRisk, ActionKind
from bot.engine import CycleResult
from bot.exchanges.paper import PaperExchange
from bot.journal import Alert
from bot.risk.distance import distance_pct
from bot.risk.escalation import RiskTier
from bot.settings import AccountSettings, Settings
from bot.store import Store
from bot.stress.policies import MARGINGUARD, NONE, POLICIES, BufferStop, Event, Point, exchange_step
from bot.stress.prices import Series
from bot.stress.scenario import Scenario, replay_settings
from bot.stress.venue import Observer, ReplayVenue


class SimClock:
    def __init__(self, start: float):
        self.now = start

    def __call__(self) -> float:
        return self.now


class _Quiet:
    """Notifier for replays: counts what the daemon would have sent."""

    def __init__(self) -> None:
        self.sent = 0

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def submit(self, alert: Alert) -> None:
        self.sent += 1


@dataclass
class Trace:
    """Per bar: close time, liquidation price in force after the bar's reactions, liquidation
    price in force when the adverse extreme was tested and the distance the extreme came to it
    (before the bot's reaction to the bar), tier observed at the close, contracts held."""

    ts: list[float] = field(default_factory=list)
    liq: list[float | None] = field(default_factory=list)
    liq_at_extreme: list[float | None] = field(default_factory=list)
    distance: list[float | None] = field(default_factory=list)
    tier: list[int | None] = field(default_factory=list)
    contracts: list[float] = field(default_factory=list)


@dataclass
class PolicyOutcome:
    policy: str
    survived: bool
    liquidation: Event | None
    min_distance_pct: float | None
    min_distance_at: float | None
    collateral_added: float
    contracts_reduced: float
    hedge_notional: float
    actions: int
    max_tier: str | None
    equity_start: float
    equity_end: float
    events: list[Event]
    trace: Trace
    refused: dict[str, int] = field(default_factory=dict)
    alerts: int = 0


@dataclass
class RunResult:
    series: Series
    scenario: Scenario
    entry: float
    contracts: float
    outcomes: dict[str, PolicyOutcome]
    episode: str | None = None  # episode id, for bundled data
    asset: str | None = None


def equity(paper: PaperExchange, price: float) -> float:
    """Wallets + isolated margins + unrealised PnL at ``price`` (single settlement currency)."""
    total = sum(sum(w.values()) for w in paper.wallets.values())
    for p in paper.positions.values():
        if p.margin_mode == "isolated":
            total += p.isolated_margin or 0.0
        total += p.upnl(price)
    return total


class _Replay:
    def __init__(self, series: Series, scenario: Scenario, settings: Settings, policy: str):
        self.series = series
        self.scenario = scenario
        self.policy = policy
        self.symbol = scenario.symbol
        self.side = scenario.side
        self.clock = SimClock(series.ts[0])
        self.account: AccountSettings = settings.accounts[0]
        assert self.account.paper is not None
        self.paper = PaperExchange(self.account.name, self.account.paper, hedge_mode=self.account.hedge_mode,
                                   clock=self.clock, follow_clock=False)
        self.key = next(iter(self.paper.positions))
        self.step = exchange_step(policy, trigger_margin_ratio=scenario.auto_add_trigger, buffer=scenario.stop_buffer)
        if isinstance(self.step, BufferStop):
            self.step.arm(self.paper, self.key)
        self.events: list[Event] = []
        self.trace = Trace()
        self.liquidation: Event | None = None
        self.min_distance: tuple[float, float] | None = None
        self.equity_start = equity(self.paper, series.open[0])
        self.refused: dict[str, int] = {}
        self._at_extreme: tuple[float | None, float | None] = (None, None)  # (liquidation price, distance)

    # -- one bar -------------------------------------------------------------------------------

    def touch(self, price: float, point: Point, at: float) -> tuple[float | None, float | None]:
        """The market trades at ``price``: exchange-side policy, then the liquidation check.
        Returns the liquidation price in force before it and the distance the price came to it."""
        self.clock.now = at
        p = self.paper.positions.get(self.key)
        liq = self.paper.liquidation_price_of(p) if p is not None else None
        events = self.step(self.paper, self.symbol, price, at, point) if self.step is not None else []
        self.events.extend(events)
        seen = next((e.price for e in events if e.kind == "stop"), price)
        d = None
        if liq is not None and math.isfinite(liq) and liq > 0:
            d = distance_pct(self.side, seen, liq)
            if d is not None and (self.min_distance is None or d < self.min_distance[0]):
                self.min_distance = (d, at)
        else:
            liq = None
        for gone in self.paper.check_liquidations({self.symbol: price}):
            hedge_leg = gone.side != self.side
            event = Event(at, "liquidation", gone.contracts, gone.price, detail=(
                f"hedge leg lost {gone.lost_margin:.2f}" if hedge_leg else f"lost margin {gone.lost_margin:.2f}"))
            self.events.append(event)
            if not hedge_leg and self.liquidation is None:
                self.liquidation = event
        return liq, d

    def open(self, i: int) -> None:
        s = self.series
        self.paper.set_mark(self.symbol, s.open[i])
        self.touch(s.open[i], "open", s.ts[i])

    def extremes(self, i: int) -> None:
        s = self.series
        middle = s.ts[i] + s.interval_s / 2
        adverse, favourable = (s.low[i], s.high[i]) if self.side == "long" else (s.high[i], s.low[i])
        self._at_extreme = self.touch(adverse, "extreme", middle)
        if len(self.paper.positions) > 1 or any(p.side != self.side for p in self.paper.positions.values()):
            self.touch(favourable, "extreme", middle)

    def close(self, i: int) -> None:
        s = self.series
        self.paper.set_mark(self.symbol, s.close[i])
        self.touch(s.close[i], "close", s.ts[i] + s.interval_s)

    def record(self, i: int, risk: AccountRisk | None) -> None:
        s = self.series
        p = self.paper.positions.get(self.key)
        liq = self.paper.liquidation_price_of(p) if p is not None else None
        tier = None
        if risk is not None:
            r = risk.position(_key_str(self.key))
            tier = int(r.tier) if r is not None else None
        t = self.trace
        t.ts.append(s.ts[i] + s.interval_s)
        t.liq.append(liq if liq is not None and math.isfinite(liq) and liq > 0 else None)
        t.liq_at_extreme.append(self._at_extreme[0])
        t.distance.append(self._at_extreme[1])
        self._at_extreme = (None, None)
        t.tier.append(tier)
        t.contracts.append(p.contracts if p is not None else 0.0)

    @property
    def done(self) -> bool:
        """Nothing left to replay: the position and any hedge leg are gone (equity is final)."""
        return not self.paper.positions

    # -- the two drivers -------------------------------------------------------------------------

    def run_plain(self, observer: Observer) -> None:
        for i in range(len(self.series)):
            self.open(i)
            self.extremes(i)
            self.close(i)
            risk = observer.observe(self.paper.current_snapshot(), self.clock()) if self.paper.positions else None
            self.record(i, risk)
            if self.done:
                break

    async def run_engine(self, settings: Settings) -> tuple[list[Event], int]:
        venue = ReplayVenue(self.paper, self.symbol, self.scenario.delay_bars)
        notifier = _Quiet()
        app = build_app(settings, notifier=notifier, clock=self.clock, adapters={self.account.name: venue})
        engine, name = app.engine, self.account.name
        pending: asyncio.Task[CycleResult] | None = None
        try:
            await engine.startup()
            for i in range(len(self.series)):
                venue.bar = i
                self.open(i)
                if pending is not None and venue.due == i:
                    venue.release(fill=True)
                    self._cycle_done(await pending)
                    pending = None
                self.extremes(i)
                self.close(i)
                risk = None
                if pending is None and self.paper.positions:
                    out = await venue.start_cycle(engine.run_cycle(name))
                    if isinstance(out, asyncio.Task):
                        pending, risk = out, engine.latest.get(name)
                    else:
                        self._cycle_done(out)
                        risk = out.risk
                self.record(i, risk)
                if self.done and pending is None:
                    break
            if pending is not None:
                venue.release(fill=False)
                self._cycle_done(await pending)
            rows = {r.client_id: r for r in app.store.actions(limit=1_000_000, account=name)}
        finally:
            await app.close()
        events = []
        for f in venue.fills:
            row = rows.get(f.client_id)
            a = f.action
            events.append(Event(
                f.ts, a.kind.value, f.result.filled if f.result.filled is not None else a.amount, f.mark,
                status=f.result.status, detail=a.reason if f.result.status == "done" else (f.result.error or ""),
                rule=a.rule, target_distance_pct=a.target_distance_pct,
                expected_distance_after=row.expected_distance_after if row else a.expected_distance_after,
                distance_after=row.distance_after if row else None,
            ))
        return events, notifier.sent

    def _cycle_done(self, result: CycleResult) -> None:
        for verdict in result.refused:
            self.refused[verdict.code] = self.refused.get(verdict.code, 0) + 1

    def outcome(self, bot_events: list[Event] | None = None, alerts: int = 0) -> PolicyOutcome:
        events = sorted(self.events + (bot_events or []), key=lambda e: e.ts)
        done = [e for e in events if e.status == "done"]
        actions = [e for e in done if e.kind not in ("liquidation",)]
        tiers = [t for t in self.trace.tier if t is not None]
        last = self.series.close[len(self.trace.ts) - 1] if self.trace.ts else self.series.open[0]
        return PolicyOutcome(
            policy=self.policy,
            survived=self.liquidation is None,
            liquidation=self.liquidation,
            min_distance_pct=self.min_distance[0] if self.min_distance else None,
            min_distance_at=self.min_distance[1] if self.min_distance else None,
            collateral_added=sum((e.amount for e in done if e.kind in (ActionKind.TOP_UP.value, "auto_add")), 0.0),
            contracts_reduced=sum((e.amount for e in done if e.kind in (ActionKind.REDUCE.value, "stop")), 0.0),
            hedge_notional=sum((e.amount * e.price for e in done if e.kind == ActionKind.HEDGE.value), 0.0),
            actions=len(actions),
            max_tier=RiskTier(max(tiers)).label if tiers else None,
            equity_start=self.equity_start,
            equity_end=equity(self.paper, last),
            events=events,
            trace=self.trace,
            refused=dict(sorted(self.refused.items())),
            alerts=alerts,
        )


def _key_str(key: tuple[str, str, str]) -> str:
    symbol, position_side, side = key
    return f"{symbol}|{position_side}|{side}"


class Journals:
    """Temporary SQLite journals, one per engine replay, copied from one migrated template
    (running the migrations costs ~150 ms; copying the result ~2 ms)."""

    def __init__(self) -> None:
        # A throwaway journal: on tmpfs where there is one (its fsyncs are then free).
        shm = Path("/dev/shm")
        where = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
        self._dir = tempfile.TemporaryDirectory(prefix="marginguard-stress-", dir=where)
        self.root = Path(self._dir.name)
        self._template: Path | None = None
        self._n = 0

    def new(self) -> Path:
        if self._template is None:
            self._template = self.root / "template.db"
            Store(self._template).close()
        self._n += 1
        path = self.root / f"journal-{self._n}.db"
        shutil.copyfile(self._template, path)
        return path

    def close(self) -> None:
        self._dir.cleanup()

    def __enter__(self) -> Journals:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


async def replay_policy(series: Series, scenario: Scenario, base: Settings, source: AccountSettings | None,
                        policy: str, journals: Journals) -> PolicyOutcome:
    is_bot = policy == MARGINGUARD
    journal = journals.new() if is_bot else journals.root / "unused.db"
    settings = replay_settings(base, source, scenario, series, journal, with_rules=is_bot)
    run = _Replay(series, scenario, settings, policy)
    if not is_bot:
        run.run_plain(Observer(settings, run.account))
        return run.outcome()
    events, alerts = await run.run_engine(settings)
    return run.outcome(events, alerts)


async def replay(series: Series, scenario: Scenario, base: Settings, *, source: AccountSettings | None = None,
                 policies: tuple[str, ...] = POLICIES, journals: Journals | None = None,
                 episode: str | None = None, asset: str | None = None) -> RunResult:
    """Every policy over the same series; ``none`` always runs (it is the holding reference)."""
    own = journals is None
    js = journals or Journals()
    try:
        wanted = tuple(dict.fromkeys((NONE, *policies)))
        outcomes = {p: await replay_policy(series, scenario, base, source, p, js) for p in wanted}
    finally:
        if own:
            js.close()
    entry = scenario.entry_price(series)
    return RunResult(series, scenario, entry, scenario.size(series), outcomes, episode=episode, asset=asset)
