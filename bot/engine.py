"""The guard loop for one account, top to bottom:

    reconcile -> snapshot -> assess -> alert -> plan -> guard -> execute -> record -> notify

``run_cycle`` is what the scheduler calls (one job per account, never overlapping). Exchange
trouble never escapes it: transient errors back off this account only, an authentication
failure parks the account and tells the trader once, and every outcome is journalled.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError

from bot import guard, messages
from bot.alerts import TierMemo, tier_alerts
from bot.assess import AssessConfig, AssessMemory, assess, mark_jumped
from bot.controls import TraderControls
from bot.domain import AccountRisk, AccountSnapshot, Action, PositionRisk, Verdict
from bot.errors import AuthFailed, BadReply, JournalUnavailable, Transient
from bot.exchanges.base import ExchangeAdapter
from bot.executor import Executor
from bot.journal import ActionRow, Alert, PositionState
from bot.notify.base import Notifier
from bot.projection import project
from bot.risk.distance import VolatilityState, annualised_volatility, update_volatility
from bot.risk.escalation import EscalationThresholds, RiskTier
from bot.settings import AccountSettings, GuardSettings, Settings
from bot.store import Store
from strategies import REGISTRY, PlanContext, rule_fires

log = logging.getLogger(__name__)

ALERT_ERRORS_AFTER = 3  # consecutive failed polls before the trader hears about it
REPEAT_NOTICE_S = 900.0  # the same refusal / untrusted notice is repeated at most this often
MAX_ACTIONS_PER_RULE = 4  # legs one rule may take per position per cycle (e.g. futures, then spot)
MAX_BACKOFF_S = 300.0


@dataclass
class CycleResult:
    account: str
    risk: AccountRisk | None = None
    actions: list[ActionRow] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    refused: list[Verdict] = field(default_factory=list)
    error: str | None = None


def assess_config(settings: Settings, account: AccountSettings) -> AssessConfig:
    esc = settings.escalation_for(account)
    return AssessConfig(
        thresholds=EscalationThresholds(
            distance_pct=esc.distance_pct.as_map(),
            sigma=esc.sigma.as_map(),
            margin_ratio=esc.margin_ratio.as_map(),
            hysteresis_pct=esc.hysteresis_pct,
            hysteresis_sigma=esc.hysteresis_sigma,
            hysteresis_margin_ratio=esc.hysteresis_margin_ratio,
        ),
        volatility_horizon_s=settings.volatility.horizon_s,
        default_volatility_annual=settings.volatility.default_annual,
        min_volatility_annual=settings.volatility.min_annual,
        disagreement_tolerance_pct=esc.disagreement_tolerance_pct,
        max_snapshot_age_s=settings.poll.max_snapshot_age_s,
        max_mark_jump_pct=esc.max_mark_jump_pct,
        unknown_tier=RiskTier.parse(esc.unknown_tier),
    )


class Engine(TraderControls):
    def __init__(
        self,
        settings: Settings,
        store: Store,
        adapters: Mapping[str, ExchangeAdapter],
        notifier: Notifier,
        *,
        clock: Callable[[], float] = time.time,
    ):
        self.settings = settings
        self.store = store
        self.adapters = dict(adapters)
        self.notifier = notifier
        self.clock = clock
        self.mode: Literal["paper", "live"] = settings.mode
        self.executor = Executor(
            store, self.adapters, clock=clock, request_timeout_s=settings.poll.request_timeout_s
        )
        self.accounts = {a.name: a for a in settings.accounts if a.enabled}
        self._assess_cfg = {name: assess_config(settings, a) for name, a in self.accounts.items()}
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.memos: dict[str, dict[str, TierMemo]] = defaultdict(dict)
        self.marks: dict[str, dict[str, float]] = defaultdict(dict)
        self.volatility: dict[tuple[str, str], VolatilityState] = {}
        self.latest: dict[str, AccountRisk] = {}
        self.snapshots: dict[str, AccountSnapshot] = {}
        self.last_success: dict[str, float] = {}
        self.broken: dict[str, str] = {}
        self.failures: dict[str, int] = defaultdict(int)
        self.backoff_until: dict[str, float] = {}
        self._notices: dict[tuple[str, ...], float] = {}
        self._last_sample: dict[tuple[str, str], float] = {}
        self._last_flush = 0.0
        self._last_heartbeat = 0.0
        self._verify: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self._memos_unsaved: set[str] = set()
        self._hedge_legs: dict[str, set[tuple[str, str]]] = {}
        self._refresh_hedge_legs()
        self._unsaved_alerts: list[Alert] = []
        self.confirmations: Callable[[Verdict], object] | None = None  # set by the Telegram console
        # Liveness hooks (set by run_daemon): proof the loop moves, and "a cycle went well".
        self.on_tick: Callable[[], None] = lambda: None
        self.on_good_cycle: Callable[[], None] = lambda: None
        self._load_memos()

    # -- state that survives restarts -----------------------------------------------------------

    def _load_memos(self) -> None:
        for st in self.store.position_states():
            self.memos[st.account][st.position_key] = TierMemo(
                RiskTier.parse(st.tier),
                st.since,
                st.last_alert_at,
                RiskTier.parse(st.acked_tier) if st.acked_tier else None,
            )

    def _save_memos(self, account: str, before: Mapping[str, TierMemo], after: Mapping[str, TierMemo]) -> None:
        """Persist tier changes. A busy journal must not abort the cycle (the memos live in
        memory); the whole account is written again on the next cycle instead."""
        if account in self._memos_unsaved:
            before = {}
        try:
            self._write_memos(account, before, after)
        except SQLAlchemyError as e:
            log.warning("%s: could not journal tier states (%s); will retry", account, type(e).__name__)
            self._memos_unsaved.add(account)
        else:
            self._memos_unsaved.discard(account)

    def _write_memos(self, account: str, before: Mapping[str, TierMemo], after: Mapping[str, TierMemo]) -> None:
        now = self.clock()
        changed = [
            PositionState(
                account=account,
                position_key=k,
                tier=m.tier.label,
                since=m.since,
                last_alert_at=m.last_alert_at,
                acked_tier=m.acked_tier.label if m.acked_tier else None,
                updated_at=now,
            )
            for k, m in after.items()
            if before.get(k) != m
        ]
        self.store.save_position_states(changed)
        for k in before:
            if k not in after:
                self.store.delete_position_state(account, k)

    async def startup(self) -> None:
        """Reconcile whatever a previous run left open, before the first poll."""
        for name in self.accounts:
            try:
                await self._reconcile(name, CycleResult(name))
            except Exception:
                log.exception("startup reconcile failed for %s", name)

    async def run_cycle(self, account: str) -> CycleResult:
        async with self._locks[account]:
            result = CycleResult(account)
            try:
                await self._cycle(account, result)
            except Exception as e:  # a bug must not kill the job: journal it and go on
                log.exception("cycle failed for %s", account)
                result.error = f"{type(e).__name__}: {e}"
                self._emit(
                    result,
                    Alert(
                        ts=self.clock(),
                        account=account,
                        kind="failure",
                        text=f"⚠️ {account}: internal error in the guard loop: {result.error}",
                        loud=True,
                    ),
                )
            return result

    async def _cycle(self, account: str, result: CycleResult) -> None:
        now = self.clock()
        if account in self.broken:
            result.error = self.broken[account]
            return
        if now < self.backoff_until.get(account, 0.0):
            result.error = "backing off"
            return
        await self._reconcile(account, result)
        snapshot = await self._snapshot(account, result)
        if snapshot is None:
            return
        now = self.clock()
        cfg = self._assess_cfg[account]
        # The realised volatility includes this poll's mark: the tiers and the rules' volatility
        # targets then react to the move just seen, not one poll later.
        self._update_volatility(account, snapshot)
        memory = AssessMemory(
            previous_tiers={k: m.tier for k, m in self.memos[account].items()},
            last_marks=self.marks[account],
            volatility=self._volatility_view(account, snapshot),
        )
        snapshot = self._mark_hedge_legs(snapshot)
        risk = assess(snapshot, cfg, now, memory)
        result.risk = risk
        self._remember(account, snapshot, risk, now)
        self._announce(account, risk, now, result)
        self._sample(risk, now)
        await self._protect(account, snapshot, risk, now, result)
        if any(row.status == "done" for row in result.actions):
            await self._measure_effects(account)
        self.last_success[account] = now
        self.on_good_cycle()
        self._housekeeping(now)

    async def _reconcile(self, account: str, result: CycleResult) -> None:
        for row in await self.executor.reconcile(account):
            text = messages.action_reconciled(row)
            loud = row.status != "done"
            self._emit(
                result, Alert(ts=self.clock(), account=account, symbol=row.symbol, kind="action", text=text, loud=loud)
            )

    async def _snapshot(self, account: str, result: CycleResult) -> AccountSnapshot | None:
        adapter = self.adapters[account]
        now = self.clock()
        try:
            # ccxt bounds each request; this bounds the whole snapshot (several requests).
            snapshot = await asyncio.wait_for(adapter.snapshot(), timeout=self.settings.poll.request_timeout_s * 4)
        except TimeoutError:
            self._snapshot_failed(account, result, Transient("the exchange did not answer in time"), now)
            return None
        except AuthFailed as e:
            self.broken[account] = f"authentication failed: {e}"
            result.error = self.broken[account]
            self._emit(
                result,
                Alert(
                    ts=now,
                    account=account,
                    kind="failure",
                    loud=True,
                    text=f"⛔ {account}: {self.broken[account]}. Polling stopped; fix the key and /resume.",
                ),
            )
            return None
        except Exception as e:
            self._snapshot_failed(account, result, e, now)
            return None
        if self.failures[account] >= ALERT_ERRORS_AFTER:
            self._emit(
                result,
                Alert(
                    ts=now,
                    account=account,
                    kind="system",
                    text=f"✅ {account}: exchange reachable again after {self.failures[account]} failed polls",
                ),
            )
        self.failures[account] = 0
        self.backoff_until.pop(account, None)
        self.snapshots[account] = snapshot
        return snapshot

    def _mark_hedge_legs(self, snapshot: AccountSnapshot) -> AccountSnapshot:
        """Positions that are hedge legs we opened (known from the journal, so also after a
        restart) are marked, so rules never treat a hedge as a position to protect."""
        legs = self._hedge_legs.get(snapshot.account)
        if not legs:
            return snapshot
        marked = tuple(
            replace(p, is_hedge_leg=True) if (p.symbol, p.side) in legs and not p.is_hedge_leg else p
            for p in snapshot.positions
        )
        return replace(snapshot, positions=marked)

    def _refresh_hedge_legs(self) -> None:
        legs: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for (account, symbol, side), contracts in self.store.open_hedge_legs().items():
            if contracts > 0:
                legs[account].add((symbol, side))
        self._hedge_legs = legs

    def _snapshot_failed(self, account: str, result: CycleResult, e: Exception, now: float) -> None:
        """Back off this account (others keep being guarded); tell the trader if it lasts."""
        n = self.failures[account] = self.failures[account] + 1
        retry_after = getattr(e, "retry_after", None) or 0.0
        delay = min(MAX_BACKOFF_S, max(retry_after, self.settings.poll.interval_s * (2 ** min(n - 1, 6)) / 2))
        self.backoff_until[account] = now + delay if n > 1 else now
        result.error = f"{type(e).__name__}: {e}"
        expected = isinstance(e, Transient | BadReply)
        log.log(
            logging.WARNING if expected else logging.ERROR,
            "%s: snapshot failed (%d in a row): %s",
            account,
            n,
            result.error,
            exc_info=not expected,
        )
        if n == ALERT_ERRORS_AFTER or (n > ALERT_ERRORS_AFTER and n % 20 == 0):
            text = (
                f"⚠️ {account}: {n} polls in a row failed ({result.error}). "
                "Retrying with backoff; positions are NOT being watched meanwhile."
            )
            self._emit(result, Alert(ts=now, account=account, kind="failure", loud=True, text=text))

    def _volatility_view(self, account: str, snapshot: AccountSnapshot) -> dict[str, float]:
        out = {}
        for p in snapshot.positions:
            vol = annualised_volatility(
                self.volatility.get((account, p.symbol)), min_span_s=self.settings.volatility.horizon_s
            )
            if vol is not None:
                out[p.symbol] = vol
        return out

    def _update_volatility(self, account: str, snapshot: AccountSnapshot) -> None:
        window = self.settings.volatility.window_s
        max_jump = self._assess_cfg[account].max_mark_jump_pct
        for p in snapshot.positions:
            if p.mark_price > 0 and math.isfinite(p.mark_price):
                if mark_jumped(p.mark_price, self.marks[account].get(p.symbol), max_jump):
                    continue  # a mark the jump filter distrusts must not inflate the targets for a day
                key = (account, p.symbol)
                self.volatility[key] = update_volatility(
                    self.volatility.get(key), snapshot.fetched_at, p.mark_price, window
                )

    def _remember(self, account: str, snapshot: AccountSnapshot, risk: AccountRisk, now: float) -> None:
        self.latest[account] = risk
        for p in snapshot.positions:
            if p.mark_price > 0 and math.isfinite(p.mark_price):
                self.marks[account][p.symbol] = p.mark_price

    async def _measure_effects(self, account: str) -> None:
        """Re-read the account right after acting and journal each action's distance_after:
        what the venue shows, not what we expected (a silently ignored top-up shows here)."""
        try:
            snapshot = await self.adapters[account].snapshot()
        except Exception as e:  # the next cycle will see it anyway
            log.warning("%s: could not re-read the account after acting: %s", account, e)
            return
        risk = assess(
            snapshot,
            self._assess_cfg[account],
            self.clock(),
            AssessMemory(volatility=self._volatility_view(account, snapshot)),
        )
        self.snapshots[account] = snapshot
        self.latest[account] = risk
        self._record_observed_effects(account, risk)

    def _record_observed_effects(self, account: str, risk: AccountRisk) -> None:
        pending, self._verify[account] = self._verify[account], []
        for action_id, key in pending:
            pos = risk.position(key)
            try:
                self.store.set_distance_after(action_id, pos.distance_pct if pos else None)
            except SQLAlchemyError:
                log.warning("could not journal the observed distance after action #%s", action_id)

    def _announce_from(self, account: str) -> RiskTier:
        rules = self.settings.rules_for(self.accounts[account])
        tiers = [RiskTier.parse(r.at) for r in rules if r.strategy == "alert" and r.enabled]
        return min(tiers) if tiers else RiskTier.WATCH

    def _announce(self, account: str, risk: AccountRisk, now: float, result: CycleResult) -> None:
        esc = self.settings.escalation_for(self.accounts[account])
        before = self.memos[account]
        if risk.untrusted:
            # Do not declare positions gone on data we do not trust.
            before_kept = {k: m for k, m in before.items() if risk.position(k) is not None}
            alerts, after = tier_alerts(risk, before_kept, now, esc, self._announce_from(account))
            after = {**before, **after}
            self._notice(
                result,
                ("untrusted", account, *risk.untrusted),
                now,
                account,
                None,
                f"⚠️ {account}: not acting on this data: " + "; ".join(risk.untrusted),
            )
        else:
            alerts, after = tier_alerts(risk, before, now, esc, self._announce_from(account))
        for a in alerts:
            self._emit(result, a)
        self.memos[account] = after
        if after != before or account in self._memos_unsaved:
            self._save_memos(account, before, after)

    def _notice(
        self, result: CycleResult | None, key: tuple[str, ...], now: float, account: str, symbol: str | None, text: str
    ) -> None:
        """An alert that is repeated at most every REPEAT_NOTICE_S for the same key."""
        last = self._notices.get(key)
        if last is not None and now - last < REPEAT_NOTICE_S:
            return
        self._notices[key] = now
        self._emit(result, Alert(ts=now, account=account, symbol=symbol, kind="notice", text=text, loud=False))

    def _sample(self, risk: AccountRisk, now: float) -> None:
        every = self.settings.database.sample_every_s
        for r in risk.positions:
            key = (risk.account, r.key)
            last = self._last_sample.get(key)
            memo = self.memos[risk.account].get(r.key)
            tier_changed = memo is not None and memo.since == now
            if last is None or now - last >= every or tier_changed:
                self.store.buffer_sample(now, r)
                self._last_sample[key] = now

    # -- plan -> guard -> execute ------------------------------------------------------------------

    def _guard_context(self, account: str, now: float, risk: AccountRisk) -> guard.GuardContext:
        mode = self.mode
        day = guard.utc_day_start(now)
        breaker_reset_at = float(self.store.get("breaker_reset_at") or 0.0)
        last: dict[str, tuple[float, RiskTier]] = {}
        for p in risk.positions:
            found = self.store.last_action(account, p.key, mode=mode)
            if found is not None:
                last[p.key] = (found[0], RiskTier.parse(found[1]))
        return guard.GuardContext(
            now=now,
            mode=mode,
            paused=self.pause_reason(),
            account_broken=self.broken.get(account),
            untrusted=risk.untrusted,
            open_actions=tuple(r.id for r in self.store.open_actions(account) if r.id is not None),
            consecutive_failures=self.store.consecutive_failures(account, since=breaker_reset_at),
            spent_today_account=self.store.spent_since(day, account=account, mode=mode),
            spent_today_global=self.store.spent_since(day, mode=mode),
            last_action=last,
            hedged_contracts=self.hedged_contracts(account),
        )

    def hedged_contracts(self, account: str) -> dict[str, float]:
        return self.store.hedged_contracts(account)

    async def _protect(
        self, account: str, snapshot: AccountSnapshot, risk: AccountRisk, now: float, result: CycleResult
    ) -> None:
        """plan -> guard -> execute, position by position, worst tier first.

        Rules run in order on a *projected* position: after an action, the next rule sees the
        account as it will be, so it only covers what is still missing. The guard context is
        read from the journal once per cycle (cooldowns refer to earlier cycles; the actions of
        this cycle are one response) and spend is added as actions go out."""
        acc = self.accounts[account]
        rules = [r for r in self.settings.rules_for(acc) if r.enabled and r.strategy != "alert"]
        if not rules or not risk.positions:
            return
        guard_cfg = self.settings.guard_for(acc)
        taker_fee = self._taker_fee(account)
        gctx: guard.GuardContext | None = None  # read from the journal only once something is proposed
        hedged = dict(self.hedged_contracts(account)) if any(r.strategy == "hedge" for r in rules) else {}
        by_key = {p.key: p for p in snapshot.positions}
        for position_risk in sorted(risk.positions, key=lambda r: -r.tier):
            if position_risk.is_hedge_leg:
                continue
            projected, current, positions = snapshot, position_risk, by_key
            for rule in rules:
                strategy = REGISTRY[rule.strategy]
                if getattr(strategy, "silent_until_fired", False) and not rule_fires(rule, position_risk.tier):
                    continue  # the common case, over every calm position of every poll
                # Ask the rule again after each action, on the projected account, until it
                # proposes nothing the guard allows (each top-up leg is sized on what is left).
                for _ in range(MAX_ACTIONS_PER_RULE):
                    position = positions.get(current.key)
                    if position is None:
                        break
                    ctx = PlanContext(
                        rule=rule,
                        position=position,
                        snapshot=projected,
                        observed_tier=position_risk.tier,
                        hedge_mode=snapshot.hedge_mode,
                        hedge_account=acc.hedge_account,
                        hedged_contracts=hedged,
                        taker_fee=taker_fee,
                        volatility_horizon_s=self.settings.volatility.horizon_s,
                    )
                    proposals = strategy.decide(current, ctx)
                    for note in ctx.notes:
                        self._notice(
                            result,
                            ("note", account, current.key, rule.name, note[:30]),
                            now,
                            account,
                            current.symbol,
                            f"ℹ️ {account} {current.symbol} ({rule.name}): {note}",
                        )
                    if not proposals:
                        break
                    if gctx is None:
                        gctx = self._guard_context(account, now, risk)
                    verdict = self._first_allowed(
                        proposals, current, replace(gctx, needs_confirmation=rule.confirm), guard_cfg, result, now
                    )
                    if verdict is None:
                        break
                    projected_next = project(projected, verdict.action, taker_fee)
                    after = assess(
                        projected_next,
                        self._assess_cfg[account],
                        now,
                        AssessMemory(volatility=self._volatility_view(account, snapshot)),
                    )
                    after_risk = after.position(current.key)
                    expected = after_risk.distance_pct if after_risk else None
                    verdict = replace(verdict, action=replace(verdict.action, expected_distance_after=expected))
                    if verdict.needs_confirmation:
                        self._ask_confirmation(verdict, result, now)
                        return
                    row = await self.execute(verdict)
                    if row is None:
                        return
                    result.actions.append(row)
                    if row.status != "done":
                        return  # a failed or unknown action stops further actions this cycle
                    gctx = gctx.after(row.position_key, row.kind, row.quote_value, row.filled or row.amount)
                    hedged = dict(gctx.hedged_contracts)  # the next ask sees the leg just opened/closed
                    projected = projected_next
                    positions = {p.key: p for p in projected.positions}
                    if after_risk is None:
                        break
                    current = after_risk

    def _first_allowed(
        self,
        proposals: list[Action],
        position: PositionRisk,
        gctx: guard.GuardContext,
        cfg: GuardSettings,
        result: CycleResult,
        now: float,
    ) -> Verdict | None:
        for action in proposals:
            verdict = guard.review(action, position, gctx, cfg)
            if verdict.allowed:
                return verdict
            result.refused.append(verdict)
            self._notice(
                result,
                ("refused", action.account, position.key, action.kind.value, verdict.code),
                now,
                action.account,
                action.symbol,
                messages.refused(action.account, action.symbol, action.kind.value, verdict.reason),
            )
        return None

    def _ask_confirmation(self, verdict: Verdict, result: CycleResult, now: float) -> None:
        action = verdict.action
        if self.confirmations is not None:
            self.confirmations(verdict)
            return
        self._notice(
            result,
            ("confirm", action.account, action.position_key),
            now,
            action.account,
            action.symbol,
            messages.refused(
                action.account,
                action.symbol,
                action.kind.value,
                "needs a confirmation, and no Telegram console is running",
            ),
        )

    async def execute(self, verdict: Verdict, *, requested_by: int | None = None) -> ActionRow | None:
        """Run one guarded action through the journal, and report it. None: the journal could
        not take the intent, so nothing was sent (the trader is told)."""
        try:
            row = await self.executor.execute(verdict, requested_by=requested_by)
        except JournalUnavailable as e:
            a = verdict.action
            self._emit(
                None,
                Alert(
                    ts=self.clock(),
                    account=a.account,
                    symbol=a.symbol,
                    kind="failure",
                    loud=True,
                    text=f"⚠️ {a.account} {a.symbol}: {a.kind.value} NOT taken: {e}",
                ),
            )
            return None
        if row.kind in ("hedge", "unwind") and row.status in ("done", "unknown"):
            self._refresh_hedge_legs()
        if row.id is not None and row.status == "done":
            self._verify[row.account].append((row.id, row.position_key))
        self._emit(
            None,
            Alert(
                ts=self.clock(),
                account=row.account,
                symbol=row.symbol,
                position_key=row.position_key,
                kind="action",
                tier=row.tier,
                text=messages.action_report(row),
                loud=True,
            ),
        )
        return row

    def _taker_fee(self, account: str) -> float:
        acc = self.accounts[account]
        if acc.paper is not None:
            return acc.paper.taker_fee
        return float(getattr(self.adapters[account], "taker_fee", 0.0005))

    # -- record, notify, heartbeat ---------------------------------------------------------------

    def _emit(self, result: CycleResult | None, alert: Alert) -> None:
        """Journal an alert and hand it to the notifier. If the journal is busy the alert goes
        out anyway and is journalled later (housekeeping), marked as handed over."""
        try:
            alert = self.store.add_alert(alert)
        except SQLAlchemyError as e:
            log.warning("could not journal an alert (%s); sending it anyway, journalling later", type(e).__name__)
            self._unsaved_alerts.append(alert)
        if result is not None:
            result.alerts.append(alert)
        self.notifier.submit(alert)

    def _housekeeping(self, now: float) -> None:
        while self._unsaved_alerts:
            pending = self._unsaved_alerts[0]
            try:
                self.store.add_alert(pending.model_copy(update={"delivered_at": pending.delivered_at or now}))
            except SQLAlchemyError:
                break
            self._unsaved_alerts.pop(0)
        if now - self._last_flush >= 5.0 or self.store.pending_samples >= 2000:
            try:
                self.store.flush_samples()
                self._last_flush = now
            except Exception:
                log.exception("could not write risk samples; keeping them buffered")
        hb = self.settings.health.heartbeat_file
        if hb is not None and now - self._last_heartbeat >= 1.0:
            try:
                hb.parent.mkdir(parents=True, exist_ok=True)
                Path(hb).touch()
                self._last_heartbeat = now
            except OSError:
                log.warning("cannot touch heartbeat file %s", hb)

    # -- liveness ----------------------------------------------------------------------------------

    async def watchdog(self) -> None:
        """Dead-man check, run by the scheduler: tell the trader when an account has not
        completed a cycle for ``health.max_cycle_age_s`` (stuck call, crashed job, outage)."""
        self.on_tick()
        now = self.clock()
        limit = self.settings.health.max_cycle_age_s
        started = getattr(self, "_started_at", None)
        if started is None:
            self._started_at = started = now
        for name in self.accounts:
            last = self.last_success.get(name, started)
            if now - last > limit:
                why = self.broken.get(name) or (
                    "backing off after errors" if self.failures[name] else "no cycle completed"
                )
                self._notice(
                    None,
                    ("stalled", name),
                    now,
                    name,
                    None,
                    f"⏰ {name}: no successful check for {now - last:.0f}s ({why}). Positions are not watched.",
                )
        self._housekeeping(now)

    async def quiesce(self) -> None:
        """Wait until no cycle or action is in flight."""
        for lock in list(self._locks.values()):
            async with lock:
                pass
