"""The protection policies a stress replay compares, and the exchange-side ones' mechanics.

* ``none``: the position as opened; nothing protects it.
* ``auto-add-margin``: Bybit's Auto-Margin Replenishment, an *exchange-side* feature (isolated
  margin only). Whenever the price reaches the point where the position's margin ratio
  (maintenance margin / margin balance) is at or above ``trigger_margin_ratio`` (default 1.0:
  the liquidation price itself, "about to reach the maintenance margin level"), the exchange
  moves the position's initial margin (entry notional / leverage) from the free futures
  balance (then spot and funding: the whole available balance, as in a unified account) into
  the position; with less available than that it moves what is left; it
  never takes the position below 1x (margin above the entry notional). It repeats at the same
  price until the ratio is below the trigger or the money is gone; then the normal
  liquidation check decides. Applied at every price the replay evaluates (open, adverse
  extreme, close), which is equivalent to the continuous mechanism along the bar's path.
* ``buffer-stop``: a stop-market order resting on the exchange that closes the whole position
  5 % of the way from liquidation back to entry, as freqtrade's ``liquidation_buffer`` does:
  ``stop = liq + buffer * (entry - liq)`` (the same formula for both sides). It fills at the
  stop price when the bar's adverse extreme reaches it, or at the bar's open when the price
  gapped through it; if the open gapped through the liquidation price too, the liquidation
  comes first.
* ``marginguard``: the configured rules, run by the daemon's engine (see ``replay``).

The two exchange-side policies act through the paper exchange's own margin and order paths
(``PaperExchange.apply``), separate from marginguard's engine, strategies and guard.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from bot.domain import Action, ActionKind
from bot.exchanges.paper import PaperExchange, PaperPosition
from bot.risk.escalation import RiskTier

NONE = "none"
AUTO_ADD = "auto-add-margin"
STOP = "buffer-stop"
MARGINGUARD = "marginguard"
POLICIES = (NONE, AUTO_ADD, STOP, MARGINGUARD)
ALIASES = {"auto": AUTO_ADD, "amr": AUTO_ADD, "auto-add": AUTO_ADD, "stop": STOP, "mg": MARGINGUARD}

Point = Literal["open", "extreme", "close"]


def parse_policy(name: str) -> str:
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in POLICIES:
        raise ValueError(f"unknown policy {name!r}; use one of: {', '.join(POLICIES)}")
    return key


@dataclass(frozen=True)
class Event:
    """Something that changed the position or the account during a replay."""

    ts: float
    kind: str  # top_up | reduce | hedge | unwind | auto_add | stop | liquidation
    amount: float  # settlement currency for top_up/auto_add; contracts otherwise
    price: float  # the mark when it happened
    status: str = "done"
    detail: str = ""
    rule: str = ""
    target_distance_pct: float | None = None
    expected_distance_after: float | None = None
    distance_after: float | None = None

    def as_json(self) -> dict[str, object]:
        from bot.stress.prices import iso

        return {
            "time": iso(self.ts), "kind": self.kind, "amount": self.amount, "price": self.price, "status": self.status,
            "rule": self.rule, "detail": self.detail, "target_distance_pct": self.target_distance_pct,
            "expected_distance_after": self.expected_distance_after, "distance_after": self.distance_after,
        }


class ExchangeStep(Protocol):
    """An exchange-side mechanism, applied whenever the replay evaluates a price."""

    def __call__(self, paper: PaperExchange, symbol: str, price: float, at: float, point: Point) -> list[Event]: ...


def margin_ratio_at(p: PaperPosition, price: float) -> float:
    """Maintenance margin / margin balance of an isolated position at ``price`` (1.0 liquidates)."""
    balance = (p.isolated_margin or 0.0) + p.upnl(price)
    return p.maintenance(price) / balance if balance > 0.0 else math.inf


def _action(p: PaperPosition, kind: ActionKind, amount: float, rule: str, reason: str) -> Action:
    return Action(
        kind=kind, account="exchange", symbol=p.symbol, side=p.side, position_side=p.position_side, amount=amount,
        rule=rule, reason=reason, tier=RiskTier.CRITICAL, strategy=rule,
        currency=p.settle if kind is ActionKind.TOP_UP else None,
        source="futures" if kind is ActionKind.TOP_UP else None,
        margin_mode=p.margin_mode,  # type: ignore[arg-type]
        contract_size=p.contract_size, inverse=p.inverse,
    )


@dataclass
class AutoAddMargin:
    trigger_margin_ratio: float = 1.0
    _count: int = field(default=0, init=False)

    def __call__(self, paper: PaperExchange, symbol: str, price: float, at: float, point: Point) -> list[Event]:
        events: list[Event] = []
        for p in list(paper.positions.values()):
            if p.symbol != symbol or p.margin_mode != "isolated" or p.is_hedge_leg or p.isolated_margin is None:
                continue
            entry_notional = p.notional(p.entry_price)
            increment = entry_notional / p.leverage if p.leverage else entry_notional
            while margin_ratio_at(p, price) >= self.trigger_margin_ratio:
                ratio = margin_ratio_at(p, price)
                amount = min(increment, entry_notional - p.isolated_margin)
                moved = self._replenish(paper, p, amount)
                if moved <= 1e-9:
                    break
                shown = "past liquidation" if math.isinf(ratio) else f"margin ratio {ratio:.0%}"
                events.append(Event(at, "auto_add", moved, price, detail=f"{shown} at the {point}", rule=AUTO_ADD))
        return events


    def _replenish(self, paper: PaperExchange, p: PaperPosition, amount: float) -> float:
        """Move up to ``amount`` into the position: free futures first, then spot and funding
        (the whole available balance, as in a unified account). Returns what moved."""
        moved = 0.0
        for source in ("futures", "spot", "funding"):
            have = paper.free_futures(p.settle) if source == "futures" else paper.wallets[source].get(p.settle, 0.0)
            leg = min(amount - moved, have)
            if leg <= 1e-9:
                continue
            self._count += 1
            action = replace(_action(p, ActionKind.TOP_UP, leg, AUTO_ADD, "auto-margin replenishment"), source=source)
            if paper.apply(action, f"amr-{self._count}").status == "done":
                moved += leg
            if amount - moved <= 1e-9:
                break
        return moved


@dataclass
class BufferStop:
    buffer: float = 0.05
    stop_price: float | None = None
    key: tuple[str, str, str] | None = None

    def arm(self, paper: PaperExchange, key: tuple[str, str, str]) -> None:
        """Place the stop for the position ``key`` from its liquidation price now."""
        p = paper.positions[key]
        liq = paper.liquidation_price_of(p)
        self.key = key
        if liq is None or not math.isfinite(liq) or liq <= 0.0:
            self.stop_price = None  # no liquidation possible: nothing to stop before
            return
        self.stop_price = liq + self.buffer * (p.entry_price - liq)

    def __call__(self, paper: PaperExchange, symbol: str, price: float, at: float, point: Point) -> list[Event]:
        stop = self.stop_price
        p = paper.positions.get(self.key) if self.key else None
        if stop is None or p is None or p.symbol != symbol:
            return []
        hit = price <= stop if p.side == "long" else price >= stop
        if not hit:
            return []
        if point != "extreme" and p.margin_mode == "isolated" and margin_ratio_at(p, price) >= 1.0:
            return []  # gapped through the liquidation price as well: the liquidation engine is first
        fill = stop if point == "extreme" else price
        paper.set_mark(symbol, fill)
        contracts = p.contracts
        result = paper.apply(_action(p, ActionKind.REDUCE, contracts, STOP, "buffer stop"), "buffer-stop")
        gap = "" if point == "extreme" else f" (gapped through the stop at {stop:.6g}: filled at the {point})"
        return [Event(at, "stop", contracts, fill, status=result.status, detail=f"stop at {stop:.6g}{gap}", rule=STOP)]


def exchange_step(policy: str, *, trigger_margin_ratio: float = 1.0, buffer: float = 0.05) -> ExchangeStep | None:
    if policy == AUTO_ADD:
        return AutoAddMargin(trigger_margin_ratio)
    if policy == STOP:
        return BufferStop(buffer)
    return None
