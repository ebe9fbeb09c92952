"""What the trader can do to the running guard (the Telegram console calls these): pause and
resume, acknowledge re-alerts, switch mode, and manual actions that go through the same guard
and journal as the rules, re-checked on fresh data when confirmed. Mixed into ``Engine``."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Literal, Protocol

from bot import guard
from bot.alerts import TierMemo
from bot.assess import AssessConfig, assess
from bot.domain import AccountRisk, AccountSnapshot, Action, ActionKind, Verdict
from bot.journal import ActionRow
from bot.projection import project
from bot.settings import AccountSettings, Settings
from bot.store import Store


class _Engine(Protocol):
    """The parts of ``Engine`` these controls use."""

    settings: Settings
    store: Store
    clock: Callable[[], float]
    mode: Literal["paper", "live"]
    accounts: dict[str, AccountSettings]
    memos: dict[str, dict[str, TierMemo]]
    latest: dict[str, AccountRisk]
    snapshots: dict[str, AccountSnapshot]
    broken: dict[str, str]
    _assess_cfg: dict[str, AssessConfig]
    _locks: dict[str, asyncio.Lock]

    def pause_reason(self) -> str | None: ...
    def _save_memos(
        self: _Engine, account: str, before: Mapping[str, TierMemo], after: Mapping[str, TierMemo]
    ) -> None: ...
    def _guard_context(self, account: str, now: float, risk: AccountRisk) -> guard.GuardContext: ...
    def _taker_fee(self, account: str) -> float: ...
    async def execute(self, verdict: Verdict, *, requested_by: int | None = None) -> ActionRow | None: ...
    async def _measure_effects(self, account: str) -> None: ...


class TraderControls:
    def pause_reason(self: _Engine) -> str | None:
        reason = self.store.get("paused")
        if reason:
            return reason
        kill = self.settings.guard.kill_switch_file
        if kill is not None and kill.exists():
            return f"kill-switch file {kill} exists"
        return None

    def pause(self: _Engine, reason: str) -> None:
        self.store.put("paused", reason)

    def resume(self: _Engine) -> None:
        self.store.delete("paused")
        self.store.put("breaker_reset_at", str(self.clock()))
        self.broken.clear()

    def acknowledge(self: _Engine, account: str | None = None) -> int:
        """Silence re-alerts of every position's current tier (until it changes)."""
        n = 0
        for acc, memos in self.memos.items():
            if account and acc != account:
                continue
            before = dict(memos)
            for key, memo in memos.items():
                memos[key] = replace(memo, acked_tier=memo.tier)
                n += 1
            self._save_memos(acc, before, memos)
        return n

    # -- the cycle -------------------------------------------------------------------------------

    def propose_manual(
        self: _Engine,
        account: str,
        symbol: str,
        kind: ActionKind,
        amount: float,
        *,
        side: str | None = None,
        source: str = "futures",
        requested_by: int | None = None,
    ) -> Verdict:
        """A trader's /topup, /reduce or /hedge, checked by the guard against the latest data.
        Raises ValueError with a short usage-level message when the request names nothing real."""
        if account not in self.accounts:
            raise ValueError(f"unknown account {account!r}; accounts: {', '.join(self.accounts)}")
        risk = self.latest.get(account)
        snapshot = self.snapshots.get(account)
        if risk is None or snapshot is None:
            raise ValueError(f"no data for {account} yet; try again after the next poll")
        matches = [
            p
            for p in snapshot.positions
            if p.symbol.upper() == symbol.upper() and not p.is_hedge_leg and (side is None or p.side == side)
        ]
        if not matches:
            raise ValueError(f"no open {side + ' ' if side else ''}position in {symbol} on {account}")
        if len(matches) > 1:
            raise ValueError(f"{symbol} has both sides open on {account}: say long or short")
        p = matches[0]
        position_risk = risk.position(p.key)
        if position_risk is None:
            raise ValueError(f"{symbol} on {account} could not be assessed")
        if not (amount > 0 and math.isfinite(amount)):
            raise ValueError("the amount must be a positive number")
        if kind is ActionKind.TOP_UP and p.margin_mode == "cross" and source == "futures":
            source = "spot"
        action = Action(
            kind=kind,
            account=account,
            symbol=p.symbol,
            side=p.side,
            position_side=p.position_side,
            amount=amount,
            rule="manual",
            strategy="manual",
            reason=f"requested on Telegram by user {requested_by}",
            tier=position_risk.tier,
            currency=p.settle if kind is ActionKind.TOP_UP else None,
            source=source if kind is ActionKind.TOP_UP else None,
            margin_mode=p.margin_mode,
            mark_price=p.mark_price,
            contract_size=p.contract_size,
            inverse=p.inverse,
            distance_before=position_risk.distance_pct,
            retain_margin=kind is ActionKind.REDUCE and p.margin_mode == "isolated",
            collateral_before=p.collateral,
            hedge_account=self.accounts[account].hedge_account if kind is ActionKind.HEDGE else None,
            origin="command",
        )
        gctx = self._guard_context(account, self.clock(), risk)
        verdict = guard.review(action, position_risk, gctx, self.settings.guard_for(self.accounts[account]))
        if verdict.allowed:
            projected = project(snapshot, verdict.action, self._taker_fee(account))
            after = assess(projected, self._assess_cfg[account], self.clock()).position(p.key)
            verdict = replace(
                verdict, action=replace(verdict.action, expected_distance_after=after.distance_pct if after else None)
            )
        return verdict

    async def run_confirmed(self: _Engine, action: Action, *, requested_by: int | None = None) -> ActionRow | Verdict:
        """Execute an action a trader confirmed, after re-checking it against the data of now:
        the guard runs again (pause, freshness, caps, cooldown), so a stale button cannot act.
        Returns the journal row, or the refusing verdict."""
        async with self._locks[action.account]:
            risk = self.latest.get(action.account)
            if risk is None:
                return Verdict(action=action, allowed=False, reason="no data for the account", code="untrusted")
            now = self.clock()
            fresh = replace(
                risk,
                untrusted=risk.untrusted
                + (
                    (f"data is {now - risk.fetched_at:.0f}s old",)
                    if now - risk.fetched_at > self.settings.poll.max_snapshot_age_s
                    else ()
                ),
            )
            position_risk = risk.position(action.position_key)
            verdict = guard.review(
                action,
                position_risk,
                self._guard_context(action.account, now, fresh),
                self.settings.guard_for(self.accounts[action.account]),
            )
            if not verdict.allowed:
                return verdict
            verdict = replace(verdict, needs_confirmation=False)
            row = await self.execute(verdict, requested_by=requested_by)
            if row is None:
                return Verdict(action=action, allowed=False, reason="the journal is unavailable", code="journal")
            if row.status == "done":
                await self._measure_effects(action.account)
            return row

    def set_mode(self: _Engine, mode: str) -> None:
        """Switch paper/live at runtime (the Telegram console asks for confirmation and checks
        ``telegram.allow_live_switch`` first). Not persisted: a restart uses the config's mode."""
        if mode not in ("paper", "live"):
            raise ValueError("mode must be paper or live")
        self.mode = "live" if mode == "live" else "paper"
