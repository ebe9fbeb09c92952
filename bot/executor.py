"""execute and reconcile: the only code that moves money.

Order of events for every action, live or paper:

1. the intent row is committed to the journal (``synchronous=FULL``) with our client id;
   if that write fails, nothing is sent;
2. the call goes out: to the exchange (live, or any mode on the simulated paper exchange), or
   to the dry-run ledger (paper mode on a real account: nothing is sent);
3. the result row: done / failed / unknown. Unknown (a timeout, a dropped connection, an
   unexpected error after sending) is never retried: it blocks new actions on the account
   until ``reconcile`` asks the venue what happened, by client id.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Literal, cast

from sqlalchemy.exc import SQLAlchemyError

from bot.domain import Action, ActionKind, ActionResult, MarginMode, PositionSide, Side, Verdict
from bot.errors import ActionRejected, AuthFailed, JournalUnavailable, OutcomeUnknown, Transient
from bot.exchanges.base import ExchangeAdapter
from bot.journal import ActionRow
from bot.risk.escalation import RiskTier
from bot.store import Store

log = logging.getLogger(__name__)


def new_client_id() -> str:
    """Our idempotency key. Alphanumeric and <= 32 chars: valid as a Binance
    newClientOrderId, Bybit orderLinkId and OKX clOrdId alike."""
    return "mg" + uuid.uuid4().hex[:24]


def action_from_row(row: ActionRow) -> Action:
    """Rebuild the Action an intent row announced (rows are only ever written from Actions)."""
    return Action(
        kind=ActionKind(row.kind),
        account=row.account,
        symbol=row.symbol,
        side=cast(Side, row.side),
        position_side=cast(PositionSide, row.position_side),
        amount=row.amount,
        rule=row.rule,
        reason=row.reason,
        tier=RiskTier.parse(row.tier),
        currency=row.currency,
        source=row.source,
        margin_mode=cast(MarginMode, row.margin_mode),
        mark_price=row.mark_price,
        contract_size=row.contract_size,
        inverse=row.inverse,
        retain_margin=row.retain_margin,
        collateral_before=row.collateral_before,
        hedge_account=row.hedge_account,
        origin=cast(Literal["rule", "command"], row.origin),
    )


class Executor:
    def __init__(
        self,
        store: Store,
        adapters: Mapping[str, ExchangeAdapter],
        *,
        clock: Callable[[], float] = time.time,
        request_timeout_s: float = 10.0,
    ):
        self.store = store
        self.adapters = adapters
        self.clock = clock
        self.request_timeout_s = request_timeout_s
        # Accounts with intents whose outcome is open, so a quiet cycle skips the journal query.
        self.open_accounts: set[str] = {row.account for row in store.open_actions()}
        # Results the journal could not take yet (locked database): written at the next reconcile.
        self._unrecorded: dict[int, ActionResult] = {}
        self._unrecorded_rows: dict[int, ActionRow] = {}

    def _venue_for(self, action: Action) -> ExchangeAdapter:
        if action.kind in (ActionKind.HEDGE, ActionKind.UNWIND) and action.hedge_account:
            return self.adapters[action.hedge_account]
        return self.adapters[action.account]

    async def execute(self, verdict: Verdict, *, requested_by: int | None = None) -> ActionRow:
        """intent -> send -> result. Raises JournalUnavailable (and sends nothing) when the
        intent cannot be written."""
        action = verdict.action
        venue = self._venue_for(action)
        dry_run = verdict.paper and not venue.simulated
        client_id = new_client_id()
        try:
            row = self.store.record_intent(
                action, client_id=client_id, mode="paper" if verdict.paper else "live", requested_by=requested_by
            )
        except SQLAlchemyError as e:
            raise JournalUnavailable(f"the journal refused the intent ({type(e).__name__}); nothing was sent") from None
        assert row.id is not None
        self.open_accounts.add(action.account)
        if dry_run:
            result = ActionResult(
                status="done", exchange_ref="dry-run", filled=action.amount, details={"dry_run": True}
            )
        else:
            result = await self._send(venue, action, client_id)
        return self._record(row, result)

    def _record(self, row: ActionRow, result: ActionResult) -> ActionRow:
        """Journal a result. If the journal is unavailable the result is kept in memory and
        retried at the next reconcile; the account stays blocked until it is written."""
        assert row.id is not None
        try:
            saved = self.store.record_result(row.id, result)
        except SQLAlchemyError as e:
            log.error("could not journal the result of action #%s (%s); will retry", row.id, type(e).__name__)
            self._unrecorded[row.id] = result
            self._unrecorded_rows[row.id] = row
            self.open_accounts.add(row.account)
            return row.model_copy(update={"status": result.status, "error": result.error, "filled": result.filled})
        self._unrecorded.pop(row.id, None)
        self._unrecorded_rows.pop(row.id, None)
        if saved.status != "unknown":
            self._refresh_open(saved.account)
        return saved

    def _refresh_open(self, account: str) -> None:
        unrecorded = any(r.account == account for r in self._unrecorded_rows.values())
        if unrecorded or self.store.open_actions(account):
            self.open_accounts.add(account)
        else:
            self.open_accounts.discard(account)

    def time_budget(self, action: Action) -> float:
        """Seconds an action may take: one request timeout per call it makes, plus slack. A
        transfer before the add-margin, or putting released margin back after a reduce, are
        extra calls; cutting such an action short would leave it half done."""
        calls = 2
        if action.kind is ActionKind.TOP_UP and action.source in ("spot", "funding"):
            calls += 2
        if action.retain_margin:
            calls += 3
        return self.request_timeout_s * (calls + 1)

    async def _send(self, venue: ExchangeAdapter, action: Action, client_id: str) -> ActionResult:
        budget = self.time_budget(action)
        try:
            return await asyncio.wait_for(venue.execute(action, client_id), timeout=budget)
        except TimeoutError:
            return ActionResult(status="unknown", error=f"no answer within {budget:.0f}s", error_kind="unknown")
        except OutcomeUnknown as e:
            return ActionResult(status="unknown", error=str(e), error_kind="unknown")
        except ActionRejected as e:
            return ActionResult(status="failed", error=str(e), error_kind="rejected")
        except AuthFailed as e:
            return ActionResult(status="failed", error=str(e), error_kind="auth")
        except Transient as e:
            # Adapters raise Transient only when the venue certainly did not act (e.g. a 429
            # answer); anything ambiguous is OutcomeUnknown.
            return ActionResult(status="failed", error=str(e), error_kind="transient")
        except Exception as e:  # a bug after the request may have left: assume it may have happened
            log.exception("unexpected error while executing %s", client_id)
            return ActionResult(status="unknown", error=f"{type(e).__name__}: {e}", error_kind="unknown")

    async def reconcile(self, account: str) -> list[ActionRow]:
        """Settle every open intent of the account. Returns the rows that changed."""
        changed: list[ActionRow] = []
        if account not in self.open_accounts:
            return changed
        for action_id, row in list(self._unrecorded_rows.items()):
            if row.account == account:
                saved = self._record(row, self._unrecorded[action_id])
                if action_id not in self._unrecorded:
                    changed.append(saved)
        if any(r.account == account for r in self._unrecorded_rows.values()):
            return changed  # the journal is still unavailable: nothing else until it is
        for row in self.store.open_actions(account):
            assert row.id is not None
            if row.mode == "paper" and not self.adapters[row.account].simulated:
                result: ActionResult | None = ActionResult(
                    status="done", exchange_ref="dry-run", details={"dry_run": True}
                )
            else:
                action = action_from_row(row)
                try:
                    result = await asyncio.wait_for(
                        self._venue_for(action).reconcile(action, row.client_id, row.created_at),
                        timeout=self.request_timeout_s * 4,
                    )
                except (Transient, OutcomeUnknown, TimeoutError) as e:
                    log.warning("reconcile %s: %s", row.client_id, e or "timed out")
                    result = None
            if result is None:
                if row.status == "intent":  # the process died between intent and send, or mid-send
                    changed.append(self._record(row, ActionResult(status="unknown", error="outcome not yet known")))
                continue
            changed.append(self._record(row, result))
        self._refresh_open(account)
        return changed
