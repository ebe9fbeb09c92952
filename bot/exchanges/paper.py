"""The paper exchange: a simulated futures account that behaves exactly as the risk maths says.

It holds wallets (futures / spot / funding), positions (isolated or cross, one-way or hedge
mode), maintenance tiers and a price path (flat, scripted multipliers, or a seeded random
walk). Top-ups, reduces, hedges and liquidations change it the way ``bot.risk`` predicts:

* isolated top-up: free futures balance -> the position's margin (after a spot/funding
  transfer if that is the source); cross top-up: a transfer into the futures wallet (the pool);
* reduce-only fill at the mark, taker fee charged; realised PnL settles into the position's
  margin; without ``retain_margin`` an isolated reduce then releases margin pro rata (which
  leaves the liquidation price where it was, as on real venues);
* liquidation when margin balance <= maintenance margin at a price (the mark, or a bar's
  adverse extreme in stress replays), which is exactly when the mark crosses
  ``bot.risk.liquidation_price``.

Executing the same client id twice returns the first result, like a venue's client order id.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from bot.domain import (
    AccountSnapshot,
    Action,
    ActionKind,
    ActionResult,
    Position,
    PositionSide,
    Side,
    opposite,
)
from bot.risk.liquidation import Leg, liquidation_price, liquidation_prices_legs, unrealized_pnl
from bot.risk.tables import BUNDLED, table_for
from bot.risk.tiers import TierTable, as_table
from bot.settings import PaperSettings

_EPS = 1e-12


def settle_currency(symbol: str) -> str:
    return symbol.split(":", 1)[1] if ":" in symbol else symbol.split("/")[-1]


@dataclass
class PaperPosition:
    symbol: str
    side: Side
    contracts: float
    entry_price: float
    margin_mode: str
    isolated_margin: float | None
    tiers: TierTable
    leverage: float | None = None
    contract_size: float = 1.0
    inverse: bool = False
    position_side: PositionSide = "both"
    is_hedge_leg: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.symbol, self.position_side, self.side)

    @property
    def settle(self) -> str:
        return settle_currency(self.symbol)

    def notional(self, price: float) -> float:
        q = self.contracts * self.contract_size
        return q / price if self.inverse else q * price

    def upnl(self, price: float) -> float:
        return unrealized_pnl(
            self.side, self.contracts, self.entry_price, price, contract_size=self.contract_size, inverse=self.inverse
        )

    def maintenance(self, price: float) -> float:
        return self.tiers.maintenance_margin(self.notional(price))


@dataclass
class Liquidation:
    at: float
    symbol: str
    side: Side
    contracts: float
    price: float
    lost_margin: float


@dataclass
class PricePathState:
    start: dict[str, float]
    multipliers: dict[str, list[float]]
    kind: str
    vol_per_step: float
    rng: random.Random
    index: int = 0
    walk: dict[str, float] = field(default_factory=dict)


class PaperExchange:
    """A simulated account. The price path is a function of time: step k applies from
    ``k * price_path.step_s`` seconds after creation, so any number of snapshots in the same
    instant see the same marks (``follow_clock=False`` freezes the path: ``step()`` and
    ``set_mark()`` drive it, as stress replays do)."""

    exchange = "paper"
    simulated = True

    def __init__(
        self,
        account: str,
        config: PaperSettings,
        *,
        hedge_mode: bool = False,
        clock: Callable[[], float] = time.time,
        follow_clock: bool = True,
    ):
        self.account = account
        self.clock = clock
        self.hedge_mode = hedge_mode
        self.taker_fee = config.taker_fee
        self.follow_clock = follow_clock
        self._t0 = clock()
        self._step_s = config.price_path.step_s
        self.wallets: dict[str, dict[str, float]] = {w: dict(ccys) for w, ccys in config.wallet.items()}
        for w in ("futures", "spot", "funding"):
            self.wallets.setdefault(w, {})
        self.positions: dict[tuple[str, str, str], PaperPosition] = {}
        self.marks: dict[str, float] = {}
        self.liquidations: list[Liquidation] = []
        self.applied: dict[str, ActionResult] = {}
        self.log: list[tuple[str, Action, ActionResult]] = []
        tier_source = config.tiers
        for cfg in config.positions:
            if isinstance(tier_source, str):
                tiers = table_for(tier_source if tier_source in BUNDLED else BUNDLED[0], cfg.symbol)
            else:
                rows = tier_source.get(cfg.symbol)
                tiers = as_table(rows) if rows else table_for(BUNDLED[0], cfg.symbol)
            q = cfg.contracts * cfg.contract_size
            notional = q / cfg.entry_price if cfg.inverse else q * cfg.entry_price
            margin = None
            if cfg.margin_mode == "isolated":
                margin = cfg.collateral if cfg.collateral is not None else notional / (cfg.leverage or 1.0)
            pos = PaperPosition(
                symbol=cfg.symbol,
                side=cfg.side,
                contracts=cfg.contracts,
                entry_price=cfg.entry_price,
                margin_mode=cfg.margin_mode,
                isolated_margin=margin,
                tiers=tiers,
                leverage=cfg.leverage,
                contract_size=cfg.contract_size,
                inverse=cfg.inverse,
                position_side=cfg.position_side if hedge_mode else "both",
            )
            self.positions[pos.key] = pos
        path = config.price_path
        start = {p.symbol: path.start.get(p.symbol, p.entry_price) for p in self.positions.values()}
        self.marks.update(start)
        vol_per_step = path.volatility_annual * math.sqrt(path.step_s / (365.0 * 86400))
        self._path = PricePathState(
            start=dict(start),
            multipliers={k: list(v) for k, v in path.steps.items()},
            kind=path.kind,
            vol_per_step=vol_per_step,
            rng=random.Random(path.seed),
        )

    # -- the market -----------------------------------------------------------------------

    @property
    def path_finished(self) -> bool:
        if self._path.kind != "scripted":
            return False
        longest = max((len(v) for v in self._path.multipliers.values()), default=0)
        return self._path.index >= longest

    def step(self) -> None:
        st = self._path
        st.index += 1
        for symbol in list(self.marks):
            if st.kind == "scripted":
                steps = st.multipliers.get(symbol) or st.multipliers.get("*") or []
                if steps:
                    m = steps[min(st.index, len(steps)) - 1]
                    self.marks[symbol] = st.start[symbol] * m
            elif st.kind == "random_walk":
                shock = st.rng.gauss(-0.5 * st.vol_per_step**2, st.vol_per_step)
                self.marks[symbol] *= math.exp(shock)
        self.check_liquidations()

    def set_mark(self, symbol: str, price: float) -> None:
        self.marks[symbol] = price

    def check_liquidations(self, prices: Mapping[str, float] | None = None) -> list[Liquidation]:
        """Liquidate whatever is at or past maintenance at ``prices`` (default: the marks)."""
        at = {**self.marks, **(prices or {})}
        now = self.clock()
        gone: list[Liquidation] = []
        for key, p in list(self.positions.items()):
            if p.margin_mode != "isolated" or p.isolated_margin is None:
                continue
            price = at[p.symbol]
            if p.isolated_margin + p.upnl(price) <= p.maintenance(price):
                del self.positions[key]
                gone.append(Liquidation(now, p.symbol, p.side, p.contracts, price, p.isolated_margin))
        for settle in {p.settle for p in self.positions.values() if p.margin_mode == "cross"}:
            pool = [p for p in self.positions.values() if p.margin_mode == "cross" and p.settle == settle]
            wallet = self.wallets["futures"].get(settle, 0.0)
            balance = wallet + sum(p.upnl(at[p.symbol]) for p in pool)
            if balance <= sum(p.maintenance(at[p.symbol]) for p in pool):
                for p in pool:
                    del self.positions[p.key]
                    gone.append(Liquidation(now, p.symbol, p.side, p.contracts, at[p.symbol], wallet))
                self.wallets["futures"][settle] = 0.0
        self.liquidations.extend(gone)
        return gone

    # -- derived figures --------------------------------------------------------------------

    def _cross(self, settle: str) -> list[PaperPosition]:
        return [p for p in self.positions.values() if p.margin_mode == "cross" and p.settle == settle]

    def free_futures(self, currency: str) -> float:
        """Futures balance not backing cross positions (initial margin, or maintenance when no
        leverage is set) and not eaten by their unrealised losses."""
        wallet = self.wallets["futures"].get(currency, 0.0)
        used = 0.0
        upnl = 0.0
        for p in self._cross(currency):
            price = self.marks[p.symbol]
            initial = p.notional(price) / p.leverage if p.leverage else 0.0
            used += max(initial, p.maintenance(price))
            upnl += p.upnl(price)
        return max(0.0, wallet - used + min(0.0, upnl))

    def liquidation_price_of(self, p: PaperPosition) -> float | None:
        if p.margin_mode == "isolated":
            return liquidation_price(
                p.side,
                p.contracts,
                p.entry_price,
                p.isolated_margin or 0.0,
                p.tiers,
                contract_size=p.contract_size,
                inverse=p.inverse,
            )
        pool = self._cross(p.settle)
        legs = [o for o in pool if o.symbol == p.symbol]
        others = [o for o in pool if o.symbol != p.symbol]
        other_mm = sum(o.maintenance(self.marks[o.symbol]) for o in others)
        other_upnl = sum(o.upnl(self.marks[o.symbol]) for o in others)
        wallet = self.wallets["futures"].get(p.settle, 0.0)
        if len(legs) == 1:
            return liquidation_price(
                p.side,
                p.contracts,
                p.entry_price,
                wallet,
                p.tiers,
                contract_size=p.contract_size,
                inverse=p.inverse,
                other_maintenance=other_mm,
                other_unrealized_pnl=other_upnl,
            )
        below, above = liquidation_prices_legs(
            [Leg(o.side, o.contracts, o.entry_price, o.tiers, o.contract_size) for o in legs],
            wallet,
            self.marks[p.symbol],
            inverse=p.inverse,
            other_maintenance=other_mm,
            other_unrealized_pnl=other_upnl,
        )
        return below if p.side == "long" else above

    # -- adapter protocol -------------------------------------------------------------------

    def catch_up(self) -> None:
        """Advance the price path to the current time."""
        if not self.follow_clock:
            return
        due = int((self.clock() - self._t0) // self._step_s)
        while self._path.index < due:
            self.step()

    async def snapshot(self) -> AccountSnapshot:
        self.catch_up()
        return self.current_snapshot()

    def current_snapshot(self) -> AccountSnapshot:
        positions = []
        for p in self.positions.values():
            mark = self.marks[p.symbol]
            positions.append(
                Position(
                    symbol=p.symbol,
                    side=p.side,
                    contracts=p.contracts,
                    entry_price=p.entry_price,
                    mark_price=mark,
                    margin_mode=p.margin_mode,  # type: ignore[arg-type]
                    tiers=p.tiers,
                    collateral=p.isolated_margin,
                    contract_size=p.contract_size,
                    inverse=p.inverse,
                    settle=p.settle,
                    leverage=p.leverage,
                    position_side=p.position_side,
                    liquidation_price_reported=self.liquidation_price_of(p),
                    maintenance_margin_reported=p.maintenance(mark),
                    unrealized_pnl_reported=p.upnl(mark),
                    is_hedge_leg=p.is_hedge_leg,
                )
            )
        settles = {p.settle for p in self.positions.values()} | set(self.wallets["futures"])
        available = {
            "futures": {c: self.free_futures(c) for c in settles},
            "spot": dict(self.wallets["spot"]),
            "funding": dict(self.wallets["funding"]),
        }
        cross_ratio = None
        for settle in settles:
            pool = self._cross(settle)
            if pool:
                balance = self.wallets["futures"].get(settle, 0.0) + sum(p.upnl(self.marks[p.symbol]) for p in pool)
                mm = sum(p.maintenance(self.marks[p.symbol]) for p in pool)
                ratio = mm / balance if balance > 0 else math.inf
                cross_ratio = ratio if cross_ratio is None else max(cross_ratio, ratio)
        return AccountSnapshot(
            account=self.account,
            exchange=self.exchange,
            fetched_at=self.clock(),
            positions=tuple(positions),
            cross_wallet={c: self.wallets["futures"].get(c, 0.0) for c in settles},
            available=available,
            account_margin_ratio=cross_ratio,
            hedge_mode=self.hedge_mode,
        )

    async def execute(self, action: Action, client_id: str) -> ActionResult:
        self.catch_up()
        return self.apply(action, client_id)

    def apply(self, action: Action, client_id: str) -> ActionResult:
        if client_id in self.applied:
            return self.applied[client_id]
        try:
            result = self._apply(action)
        except _Refused as e:
            result = ActionResult(status="failed", error=str(e), error_kind="rejected")
        self.applied[client_id] = result
        self.log.append((client_id, action, result))
        return result

    async def reconcile(self, action: Action, client_id: str, since: float) -> ActionResult | None:
        known = self.applied.get(client_id)
        if known is not None:
            return known
        return ActionResult(status="failed", error="never reached the paper exchange", error_kind="not_sent")

    async def close(self) -> None:
        return None

    # -- effects ----------------------------------------------------------------------------

    def _position(self, symbol: str, position_side: str, side: str) -> PaperPosition:
        p = self.positions.get((symbol, position_side, side))
        if p is None:
            raise _Refused(f"no {side} position in {symbol}")
        return p

    def _apply(self, a: Action) -> ActionResult:
        if a.kind is ActionKind.TOP_UP:
            return self._top_up(a)
        if a.kind is ActionKind.REDUCE:
            p = self._position(a.symbol, a.position_side, a.side)
            return self._reduce(p, a.amount, retain_margin=a.retain_margin)
        if a.kind is ActionKind.HEDGE:
            return self._hedge(a)
        if a.kind is ActionKind.UNWIND:
            leg_side = opposite(a.side)
            pos_side = leg_side if self.hedge_mode else "both"
            p = self._position(a.symbol, pos_side, leg_side)
            return self._reduce(p, a.amount, retain_margin=False)
        raise _Refused(f"unsupported action {a.kind}")

    def _top_up(self, a: Action) -> ActionResult:
        ccy = a.currency or settle_currency(a.symbol)
        if a.amount <= 0:
            raise _Refused("top-up amount must be positive")
        if a.source in ("spot", "funding"):
            have = self.wallets[a.source].get(ccy, 0.0)
            if have + _EPS < a.amount:
                raise _Refused(f"insufficient {a.source} balance: {have:.2f} {ccy} < {a.amount:.2f}")
            self.wallets[a.source][ccy] = have - a.amount
            self.wallets["futures"][ccy] = self.wallets["futures"].get(ccy, 0.0) + a.amount
        p = self._position(a.symbol, a.position_side, a.side)
        if p.margin_mode == "cross":
            if a.source not in ("spot", "funding"):
                raise _Refused("a cross top-up must come from spot or funding (futures funds already back it)")
            return ActionResult(status="done", filled=a.amount, exchange_ref=f"paper-transfer-{len(self.log)}")
        free = self.free_futures(ccy)
        if free + _EPS < a.amount:
            raise _Refused(f"insufficient futures balance: {free:.2f} {ccy} < {a.amount:.2f}")
        self.wallets["futures"][ccy] = self.wallets["futures"].get(ccy, 0.0) - a.amount
        p.isolated_margin = (p.isolated_margin or 0.0) + a.amount
        return ActionResult(status="done", filled=a.amount, exchange_ref=f"paper-margin-{len(self.log)}")

    def _reduce(self, p: PaperPosition, contracts: float, *, retain_margin: bool) -> ActionResult:
        if contracts <= 0:
            raise _Refused("reduce amount must be positive")
        if contracts > p.contracts * (1 + 1e-9):
            raise _Refused(f"reduce-only order of {contracts:g} exceeds the position ({p.contracts:g}): it would flip")
        contracts = min(contracts, p.contracts)
        price = self.marks[p.symbol]
        part = replace(p, contracts=contracts)
        realised = part.upnl(price)
        fee = self.taker_fee * part.notional(price)
        remaining = p.contracts - contracts
        if p.margin_mode == "isolated":
            margin = (p.isolated_margin or 0.0) + realised - fee
            if remaining <= _EPS * max(1.0, p.contracts):
                self.wallets["futures"][p.settle] = self.wallets["futures"].get(p.settle, 0.0) + margin
                margin = 0.0
            elif not retain_margin:
                released = margin * contracts / p.contracts
                margin -= released
                self.wallets["futures"][p.settle] = self.wallets["futures"].get(p.settle, 0.0) + released
            p.isolated_margin = margin
        else:
            self.wallets["futures"][p.settle] = self.wallets["futures"].get(p.settle, 0.0) + realised - fee
        if remaining <= _EPS * max(1.0, p.contracts):
            del self.positions[p.key]
        else:
            p.contracts = remaining
        return ActionResult(
            status="done",
            filled=contracts,
            exchange_ref=f"paper-order-{len(self.log)}",
            details={"price": price, "realised_pnl": realised, "fee": fee},
        )

    def _hedge(self, a: Action) -> ActionResult:
        leg_side = opposite(a.side)
        protected = self.positions.get((a.symbol, a.position_side, a.side))
        if self.hedge_mode:
            if protected is None:
                raise _Refused(f"no {a.side} position in {a.symbol} to hedge")
            pos_side: PositionSide = leg_side
        else:
            # One-way mode: only a separate hedge account may hold the opposite side.
            if protected is not None:
                raise _Refused("one-way mode: an opposite order would reduce, not hedge; enable hedge mode")
            pos_side = "both"
        price = self.marks.get(a.symbol) or a.mark_price
        if a.symbol not in self.marks:
            self.marks[a.symbol] = price
            self._path.start[a.symbol] = price
        template = protected or next((p for p in self.positions.values() if p.symbol == a.symbol), None)
        tiers = template.tiers if template else table_for(BUNDLED[0], a.symbol)
        margin_mode = template.margin_mode if template else "cross"
        leverage = template.leverage if template and template.leverage else 10.0
        ccy = settle_currency(a.symbol)
        leg = self.positions.get((a.symbol, pos_side, leg_side))
        q = a.amount * a.contract_size
        notional = q / price if a.inverse else q * price
        fee = self.taker_fee * notional
        margin = notional / leverage if margin_mode == "isolated" else 0.0
        if self.free_futures(ccy) + _EPS < margin + fee:
            raise _Refused(f"insufficient futures balance for the hedge margin ({margin + fee:.2f} {ccy})")
        self.wallets["futures"][ccy] = self.wallets["futures"].get(ccy, 0.0) - margin - fee
        if leg is None:
            leg = PaperPosition(
                symbol=a.symbol,
                side=leg_side,
                contracts=a.amount,
                entry_price=price,
                margin_mode=margin_mode,
                isolated_margin=margin if margin_mode == "isolated" else None,
                tiers=tiers,
                leverage=leverage,
                contract_size=a.contract_size,
                inverse=a.inverse,
                position_side=pos_side,
                is_hedge_leg=True,
            )
            self.positions[leg.key] = leg
        else:
            total = leg.contracts + a.amount
            leg.entry_price = (leg.entry_price * leg.contracts + price * a.amount) / total
            leg.contracts = total
            if leg.isolated_margin is not None:
                leg.isolated_margin += margin
        return ActionResult(
            status="done",
            filled=a.amount,
            exchange_ref=f"paper-order-{len(self.log)}",
            details={"price": price, "fee": fee},
        )


class _Refused(Exception):
    pass
