"""guard: every safety rule, in one place. Every action passes ``review`` before it is sent.

``review`` is pure: the engine reads what it needs from the journal into a ``GuardContext``
(spend so far today, last action per position, failures in a row, open intents) and the guard
answers with a ``Verdict``. Rules, in the order they are checked:

1. pause switch (``/pause``, the kill-switch file, a signal) -> no action; alerts continue
2. broken account (authentication failed) -> no action
3. untrusted data (stale snapshot, mark jump, liquidation on the wrong side, negative equity)
4. an earlier action on the account whose outcome is unknown -> nothing new until reconciled
5. circuit breaker: N failed actions in a row on the account
6. cooldown per position (unless the tier is now worse than at the last action)
7. exposure: reduce never more than held (never flips), hedge only from a hedge rule and never
   larger than the position, unwind only what we hedged; a top-up moves no exposure
8. caps: money moved (top-ups) and exposure added (hedges) are capped per action (i.e. per
   position per cycle, however many legs), per account per UTC day and globally per UTC day;
   a reduce may close at most ``max_reduce_pct_per_action`` of a position per poll. Actions
   are *clipped* to what the caps allow; clipped below the dust limit they are refused.
9. mode: paper unless ``mode: live``; live actions from a rule with ``confirm: true`` (and
   manual commands not pre-authorised) need a confirmation first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from bot.domain import Action, ActionKind, PositionRisk, Verdict
from bot.risk.escalation import RiskTier
from bot.settings import GuardSettings

DAY = 86400.0


def utc_day_start(now: float) -> float:
    return now - (now % DAY)


@dataclass(frozen=True)
class GuardContext:
    now: float
    mode: str  # paper | live
    paused: str | None = None  # reason, if paused
    account_broken: str | None = None
    untrusted: tuple[str, ...] = ()
    open_actions: tuple[int, ...] = ()  # journal ids of intents with unknown outcome
    consecutive_failures: int = 0
    spent_today_account: float = 0.0
    spent_today_global: float = 0.0
    # position key -> (time, tier) of the last action on it
    last_action: Mapping[str, tuple[float, RiskTier]] = field(default_factory=dict)
    hedged_contracts: Mapping[str, float] = field(default_factory=dict)  # position key -> open hedge
    # What this cycle already moved per position: the per-action cap holds for the whole
    # response to one observation, however many legs it takes.
    spent_this_cycle: Mapping[str, float] = field(default_factory=dict)
    reduced_this_cycle: Mapping[str, float] = field(default_factory=dict)  # contracts closed, per position
    needs_confirmation: bool = False

    def after(self, position_key: str, kind: str, quote_value: float, contracts: float = 0.0) -> GuardContext:
        """The context once an action of this cycle went out (``contracts``: what it filled)."""
        hedged = dict(self.hedged_contracts)
        if kind == ActionKind.HEDGE.value:
            hedged[position_key] = hedged.get(position_key, 0.0) + contracts
        elif kind == ActionKind.UNWIND.value:
            hedged[position_key] = max(0.0, hedged.get(position_key, 0.0) - contracts)
        if kind == ActionKind.REDUCE.value:
            reduced = dict(self.reduced_this_cycle)
            reduced[position_key] = reduced.get(position_key, 0.0) + contracts
            return replace(self, hedged_contracts=hedged, reduced_this_cycle=reduced)
        if kind not in (ActionKind.TOP_UP.value, ActionKind.HEDGE.value):
            # unwinds move no collateral and add no exposure
            return replace(self, hedged_contracts=hedged)
        cycle = dict(self.spent_this_cycle)
        cycle[position_key] = cycle.get(position_key, 0.0) + quote_value
        return replace(
            self,
            spent_today_account=self.spent_today_account + quote_value,
            spent_today_global=self.spent_today_global + quote_value,
            spent_this_cycle=cycle,
            hedged_contracts=hedged,
        )


def _refuse(action: Action, code: str, reason: str, mode: str) -> Verdict:
    return Verdict(action=action, allowed=False, reason=reason, code=code, paper=mode != "live")


def review(action: Action, position: PositionRisk | None, ctx: GuardContext, cfg: GuardSettings) -> Verdict:
    mode = ctx.mode
    if ctx.paused:
        return _refuse(action, "paused", f"paused: {ctx.paused}", mode)
    if ctx.account_broken:
        return _refuse(action, "broken", f"account unavailable: {ctx.account_broken}", mode)
    if ctx.untrusted:
        return _refuse(action, "untrusted", "data not trusted: " + "; ".join(ctx.untrusted), mode)
    if ctx.open_actions:
        ids = ", ".join(f"#{i}" for i in ctx.open_actions)
        return _refuse(action, "unknown_outcome", f"outcome of action {ids} not yet known: reconciling first", mode)
    if ctx.consecutive_failures >= cfg.max_consecutive_failures:
        n = ctx.consecutive_failures
        return _refuse(
            action, "breaker", f"circuit breaker open after {n} failed actions in a row (/resume resets)", mode
        )
    last = ctx.last_action.get(action.position_key)
    if last is not None and ctx.now - last[0] < cfg.cooldown_s and action.tier <= last[1]:
        # A cooldown stops repeating an action at the same risk; a worse tier overrides it.
        ago = ctx.now - last[0]
        return _refuse(
            action,
            "cooldown",
            f"cooldown: last action {ago:.0f}s ago at {last[1].label} (< {cfg.cooldown_s:.0f}s)",
            mode,
        )
    if action.amount <= 0:
        return _refuse(action, "empty", "nothing to do (amount is zero)", mode)

    exposure_problem = _exposure_problem(action, position, ctx)
    if exposure_problem:
        return _refuse(action, "exposure", exposure_problem, mode)

    clipped, notes = _apply_caps(action, position, ctx, cfg)
    if clipped is None:
        return _refuse(action, "caps", "; ".join(notes), mode)
    if notes:
        clipped = clipped.with_amount(clipped.amount, "clipped: " + "; ".join(notes))
    return Verdict(
        action=clipped,
        allowed=True,
        reason="; ".join(notes),
        needs_confirmation=ctx.needs_confirmation and mode == "live",
        paper=mode != "live",
    )


def _exposure_problem(action: Action, position: PositionRisk | None, ctx: GuardContext) -> str | None:
    if action.kind is ActionKind.TOP_UP:
        return None
    if action.kind is ActionKind.UNWIND:
        hedged = ctx.hedged_contracts.get(action.position_key, 0.0)
        if action.amount > hedged * (1 + 1e-9):
            return f"unwind of {action.amount:g} exceeds the hedge we opened ({hedged:g})"
        return None
    if position is None:
        return "the position is not in the current snapshot"
    if action.side != position.side:
        return "action side does not match the position"
    if action.kind is ActionKind.REDUCE and action.amount > position.contracts * (1 + 1e-9):
        return f"reduce of {action.amount:g} exceeds the position ({position.contracts:g}): it would flip"
    if action.kind is ActionKind.HEDGE:
        if action.origin == "rule" and action.strategy != "hedge":
            return "only a hedge rule may add an opposite leg"
        hedged = ctx.hedged_contracts.get(action.position_key, 0.0)
        if hedged + action.amount > position.contracts * (1 + 1e-9):
            return f"hedge would exceed the position ({hedged + action.amount:g} > {position.contracts:g})"
    return None


def _apply_caps(
    action: Action, position: PositionRisk | None, ctx: GuardContext, cfg: GuardSettings
) -> tuple[Action | None, list[str]]:
    """Money caps bound what moves collateral (top-ups) or adds exposure (hedges); a reduce is
    bounded by the share of the position it may close at once. Unwinding our own hedge is
    bounded by the hedge itself (checked above)."""
    notes: list[str] = []
    amount = action.amount
    per_unit = action.quote_value / action.amount  # settlement currency per unit of amount
    if action.kind is ActionKind.REDUCE:
        if position is not None:
            # Per poll, like the money caps: the share is of the position as it was before this
            # poll's reduces (``position`` is already projected after them).
            already = ctx.reduced_this_cycle.get(action.position_key, 0.0)
            most = max(0.0, (position.contracts + already) * cfg.max_reduce_pct_per_action / 100.0 - already)
            if amount > most:
                amount = most
                notes.append(f"at most {cfg.max_reduce_pct_per_action:g}% of the position per reduce")
    elif action.kind in (ActionKind.TOP_UP, ActionKind.HEDGE):
        limits = {
            "per-action cap": cfg.max_action_quote - ctx.spent_this_cycle.get(action.position_key, 0.0),
            "daily cap (account)": cfg.max_daily_quote_per_account - ctx.spent_today_account,
            "daily cap (global)": cfg.max_daily_quote_global - ctx.spent_today_global,
        }
        which, limit = min(limits.items(), key=lambda kv: kv[1])
        limit = max(0.0, limit)
        if action.quote_value > limit:
            amount = limit / per_unit if per_unit > 0 else 0.0
            notes.append(f"{which} allows {limit:.2f}")
    if amount <= 0.0:
        return None, notes  # a cap is used up: its note says which
    if amount * per_unit < cfg.min_action_quote:
        notes.append(f"below the minimum action size ({cfg.min_action_quote:g})")
        return None, notes
    if amount != action.amount:
        return action.with_amount(amount), notes
    return action, notes
