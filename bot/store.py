"""The journal's repository: every read and write of the SQLite file goes through here.

SQLite runs in WAL mode with ``synchronous=FULL``: an action intent is on disk before the
exchange call that it announces is sent, even across a power cut. Risk samples are buffered
and written in batches so the hot loop does not pay a commit per poll.

Calls are synchronous and short; a locked database raises ``sqlalchemy.exc.OperationalError``
after ``busy_timeout`` and the engine decides what that means (no intent written -> no action).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, func, insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, create_engine, select

from bot.domain import Action, ActionResult, PositionRisk
from bot.journal import ActionRow, Alert, CommandRow, Confirmation, KeyValue, PositionState, RiskSample

MIGRATIONS = Path(__file__).with_name("migrations")
OPEN_STATUSES = ("intent", "unknown")
# Statuses whose amount counts against caps: anything that did, or may have, moved money.
SPENT_STATUSES = ("intent", "unknown", "done")
# Kinds whose amount counts against the money caps (collateral moved, exposure added).
CAPPED_KINDS = ("top_up", "hedge")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any, busy_timeout_ms: int) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cur.close()


def migrate(engine: Engine) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Store:
    def __init__(self, path: Path | str, *, busy_timeout_ms: int = 3000, clock: Any = time.time):
        self.path = Path(path)
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self.engine = create_engine(f"sqlite:///{self.path}", connect_args={"check_same_thread": False})
        event.listen(self.engine, "connect", lambda c, r: _sqlite_pragmas(c, r, busy_timeout_ms))
        migrate(self.engine)
        self._samples: list[dict[str, Any]] = []

    def close(self) -> None:
        self.flush_samples()
        self.engine.dispose()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # -- risk samples (buffered) ------------------------------------------------------------

    def buffer_sample(self, ts: float, risk: PositionRisk) -> None:
        self._samples.append(
            {
                "ts": ts,
                "account": risk.account,
                "symbol": risk.symbol,
                "side": risk.side,
                "position_side": risk.position_side,
                "contracts": risk.contracts,
                "mark_price": risk.mark_price,
                "liquidation_price": _finite(risk.liquidation_price),
                "liquidation_price_reported": _finite(risk.liquidation_price_reported),
                "liquidation_price_recomputed": _finite(risk.liquidation_price_recomputed),
                "distance_pct": risk.distance_pct,
                "distance_sigma": _finite(risk.distance_sigma),
                "margin_ratio": _finite(risk.margin_ratio),
                "tier": risk.tier.label,
            }
        )

    @property
    def pending_samples(self) -> int:
        return len(self._samples)

    def flush_samples(self) -> int:
        """Write buffered samples in one transaction. On failure they stay buffered."""
        if not self._samples:
            return 0
        rows = self._samples
        with self.engine.begin() as conn:
            conn.execute(insert(RiskSample), rows)
        self._samples = []
        return len(rows)

    def samples(self, account: str | None = None, symbol: str | None = None, since: float = 0.0) -> list[RiskSample]:
        with self.session() as s:
            q = select(RiskSample).where(RiskSample.ts >= since)
            if account:
                q = q.where(RiskSample.account == account)
            if symbol:
                q = q.where(RiskSample.symbol == symbol)
            return list(s.exec(q.order_by(col(RiskSample.ts), col(RiskSample.id))))

    # -- alerts -------------------------------------------------------------------------------

    def add_alert(self, alert: Alert) -> Alert:
        with self.session() as s:
            s.add(alert)
            s.commit()
            s.refresh(alert)
            return alert

    def mark_delivered(self, alert_ids: Iterable[int], ts: float | None = None) -> None:
        ids = list(alert_ids)
        if not ids:
            return
        with self.session() as s:
            for row in s.exec(select(Alert).where(col(Alert.id).in_(ids))):
                row.delivered_at = ts if ts is not None else self.clock()
                s.add(row)
            s.commit()

    def note_attempt(self, alert_ids: Iterable[int]) -> None:
        ids = list(alert_ids)
        with self.session() as s:
            for row in s.exec(select(Alert).where(col(Alert.id).in_(ids))):
                row.attempts += 1
                s.add(row)
            s.commit()

    def undelivered_alerts(self, limit: int = 500) -> list[Alert]:
        with self.session() as s:
            q = select(Alert).where(col(Alert.delivered_at).is_(None)).order_by(col(Alert.id)).limit(limit)
            return list(s.exec(q))

    def alerts(self, limit: int = 100, account: str | None = None) -> list[Alert]:
        with self.session() as s:
            q = select(Alert)
            if account:
                q = q.where(Alert.account == account)
            return list(s.exec(q.order_by(col(Alert.id).desc()).limit(limit)))

    # -- actions: intent first, then the result -----------------------------------------------

    def record_intent(self, action: Action, *, client_id: str, mode: str, requested_by: int | None = None) -> ActionRow:
        now = self.clock()
        row = ActionRow(
            client_id=client_id,
            created_at=now,
            updated_at=now,
            account=action.account,
            symbol=action.symbol,
            side=action.side,
            position_side=action.position_side,
            position_key=action.position_key,
            kind=action.kind.value,
            amount=action.amount,
            quote_value=action.quote_value,
            currency=action.currency,
            source=action.source,
            margin_mode=action.margin_mode,
            retain_margin=action.retain_margin,
            collateral_before=action.collateral_before,
            hedge_account=action.hedge_account,
            rule=action.rule,
            origin=action.origin,
            requested_by=requested_by,
            reason=action.reason,
            tier=action.tier.label,
            mode=mode,
            status="intent",
            distance_before=action.distance_before,
            target_distance_pct=action.target_distance_pct,
            expected_distance_after=action.expected_distance_after,
            mark_price=action.mark_price,
            contract_size=action.contract_size,
            inverse=action.inverse,
        )
        with self.session() as s:
            s.add(row)
            s.commit()
            s.refresh(row)
        return row

    def record_result(self, action_id: int, result: ActionResult, *, distance_after: float | None = None) -> ActionRow:
        with self.session() as s:
            row = s.get(ActionRow, action_id)
            if row is None:
                raise KeyError(action_id)
            row.status = result.status
            row.updated_at = self.clock()
            row.exchange_ref = result.exchange_ref or row.exchange_ref
            row.filled = result.filled if result.filled is not None else row.filled
            row.error = result.error
            row.error_kind = result.error_kind
            if result.details:
                row.details = json.dumps(dict(result.details), default=str, sort_keys=True)
            if distance_after is not None:
                row.distance_after = distance_after
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def set_distance_after(self, action_id: int, distance_after: float | None) -> None:
        with self.session() as s:
            row = s.get(ActionRow, action_id)
            if row is not None:
                row.distance_after = distance_after
                s.add(row)
                s.commit()

    def settle_manually(self, action_id: int, status: str, note: str) -> ActionRow:
        """The trader's verdict on an action whose outcome the venue could not tell us (after
        checking the exchange's own history). Only open rows can be settled."""
        if status not in ("done", "failed"):
            raise ValueError("status must be done or failed")
        with self.session() as s:
            row = s.get(ActionRow, action_id)
            if row is None:
                raise KeyError(f"no action #{action_id}")
            if row.status not in OPEN_STATUSES:
                raise ValueError(f"action #{action_id} is already {row.status}")
            row.status = status
            row.error_kind = "manual"
            row.error = f"settled by hand: {note}" if note else "settled by hand"
            row.updated_at = self.clock()
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def open_actions(self, account: str | None = None) -> list[ActionRow]:
        """Intents whose outcome is not known yet: they block new actions until reconciled."""
        with self.session() as s:
            q = select(ActionRow).where(col(ActionRow.status).in_(OPEN_STATUSES))
            if account:
                q = q.where(ActionRow.account == account)
            return list(s.exec(q.order_by(col(ActionRow.id))))

    def spent_since(self, since: float, account: str | None = None, mode: str | None = None) -> float:
        with self.session() as s:
            q = select(func.coalesce(func.sum(ActionRow.quote_value), 0.0)).where(
                ActionRow.created_at >= since,
                col(ActionRow.status).in_(SPENT_STATUSES),
                col(ActionRow.kind).in_(CAPPED_KINDS),
            )
            if account:
                q = q.where(ActionRow.account == account)
            if mode:
                q = q.where(ActionRow.mode == mode)
            return float(s.exec(q).one())

    def last_action(self, account: str, position_key: str, mode: str | None = None) -> tuple[float, str] | None:
        """(time, tier) of the latest action on a position that did or may have moved money,
        or failed (a failure also cools down: hammering a refusing venue helps no one)."""
        with self.session() as s:
            q = select(ActionRow.created_at, ActionRow.tier).where(
                ActionRow.account == account,
                ActionRow.position_key == position_key,
                col(ActionRow.status).in_((*SPENT_STATUSES, "failed")),
            )
            if mode:
                q = q.where(ActionRow.mode == mode)
            row = s.exec(q.order_by(col(ActionRow.created_at).desc(), col(ActionRow.id).desc()).limit(1)).first()
            return (float(row[0]), str(row[1])) if row is not None else None

    def consecutive_failures(self, account: str, since: float = 0.0) -> int:
        """Failed actions in a row (most recent first), counting only those after ``since``."""
        with self.session() as s:
            q = (
                select(ActionRow.status)
                .where(
                    ActionRow.account == account,
                    col(ActionRow.status).in_(("done", "failed")),
                    ActionRow.updated_at > since,
                )
                .order_by(col(ActionRow.id).desc())
                .limit(50)
            )
            n = 0
            for status in s.exec(q):
                if status != "failed":
                    break
                n += 1
            return n

    def actions(self, limit: int = 100, account: str | None = None) -> list[ActionRow]:
        with self.session() as s:
            q = select(ActionRow)
            if account:
                q = q.where(ActionRow.account == account)
            return list(s.exec(q.order_by(col(ActionRow.id).desc()).limit(limit)))

    def action_by_client_id(self, client_id: str) -> ActionRow | None:
        with self.session() as s:
            return s.exec(select(ActionRow).where(ActionRow.client_id == client_id)).first()

    def hedged_contracts(self, account: str) -> dict[str, float]:
        """Contracts of hedge legs we opened and have not unwound, per protected position."""
        with self.session() as s:
            q = select(ActionRow).where(
                ActionRow.account == account,
                col(ActionRow.kind).in_(("hedge", "unwind")),
                ActionRow.status == "done",
            )
            net: dict[str, float] = {}
            for r in s.exec(q):
                sign = 1.0 if r.kind == "hedge" else -1.0
                net[r.position_key] = net.get(r.position_key, 0.0) + sign * (
                    r.filled if r.filled is not None else r.amount
                )
        return {k: v for k, v in net.items() if v > 1e-12}

    def open_hedge_legs(self) -> dict[tuple[str, str, str], float]:
        """(account holding the leg, symbol, leg side) -> contracts of hedge legs we opened and
        have not unwound, across all accounts."""
        with self.session() as s:
            q = select(ActionRow).where(
                col(ActionRow.kind).in_(("hedge", "unwind")), col(ActionRow.status).in_(("done", "unknown"))
            )
            net: dict[tuple[str, str, str], float] = {}
            for r in s.exec(q):
                leg_side = "short" if r.side == "long" else "long"
                key = (r.hedge_account or r.account, r.symbol, leg_side)
                sign = 1.0 if r.kind == "hedge" else -1.0
                net[key] = net.get(key, 0.0) + sign * (r.filled if r.filled is not None else r.amount)
        return {k: v for k, v in net.items() if v > 1e-12}

    # -- commands and confirmations -----------------------------------------------------------

    def record_command(self, row: CommandRow) -> None:
        with self.session() as s:
            s.add(row)
            s.commit()

    def commands(self, limit: int = 100) -> list[CommandRow]:
        with self.session() as s:
            return list(s.exec(select(CommandRow).order_by(col(CommandRow.id).desc()).limit(limit)))

    def add_confirmation(self, row: Confirmation) -> Confirmation:
        with self.session() as s:
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def claim_confirmation(self, token: str, user_id: int | None, now: float, decision: str) -> Confirmation | None:
        """Atomically move a pending confirmation to ``decision`` if it is still pending, not
        expired, and ``user_id`` is the requester. Returns it, or None (expired, replayed,
        foreign): the caller does nothing in that case."""
        with self.session() as s:
            row = s.exec(select(Confirmation).where(Confirmation.token == token)).first()
            if row is None or row.state != "pending":
                return None
            if row.expires_at <= now:
                row.state = "expired"
                s.add(row)
                s.commit()
                return None
            if row.user_id is not None and user_id != row.user_id:
                return None
            row.state = decision
            row.decided_at = now
            row.decided_by = user_id
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def set_confirmation_message(self, token: str, message_id: int) -> None:
        with self.session() as s:
            row = s.exec(select(Confirmation).where(Confirmation.token == token)).first()
            if row is not None:
                row.message_id = message_id
                s.add(row)
                s.commit()

    def expire_confirmations(self, now: float) -> list[Confirmation]:
        with self.session() as s:
            q = select(Confirmation).where(Confirmation.state == "pending", Confirmation.expires_at <= now)
            rows = list(s.exec(q))
            for r in rows:
                r.state = "expired"
                s.add(r)
            s.commit()
            return rows

    # -- position state and key/value ---------------------------------------------------------

    def position_states(self) -> list[PositionState]:
        with self.session() as s:
            return list(s.exec(select(PositionState)))

    def save_position_states(self, states: Sequence[PositionState]) -> None:
        if not states:
            return
        with self.session() as s:
            for st in states:
                s.merge(st)
            s.commit()

    def delete_position_state(self, account: str, position_key: str) -> None:
        with self.session() as s:
            row = s.get(PositionState, (account, position_key))
            if row is not None:
                s.delete(row)
                s.commit()

    def get(self, key: str, default: str | None = None) -> str | None:
        with self.session() as s:
            row = s.get(KeyValue, key)
            return row.value if row is not None else default

    def put(self, key: str, value: str) -> None:
        with self.session() as s:
            s.merge(KeyValue(key=key, value=value, updated_at=self.clock()))
            s.commit()

    def delete(self, key: str) -> None:
        with self.session() as s:
            row = s.get(KeyValue, key)
            if row is not None:
                s.delete(row)
                s.commit()


def _finite(x: float | None) -> float | None:
    if x is None or x != x or x in (float("inf"), float("-inf")):
        return None
    return x
