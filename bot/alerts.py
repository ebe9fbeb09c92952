"""Which alerts a cycle produces, from the tier history of each position. Pure.

* a position entering a tier at or above the announce level -> escalation (loud from
  ``escalation.loud_from``);
* easing to a lower tier -> a quiet de-escalation notice;
* staying in a tier -> a re-alert every ``realert_every_s[tier]`` unless acknowledged (/ack);
* a position that was being watched disappearing -> "closed or liquidated" notice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from bot import messages
from bot.domain import AccountRisk
from bot.journal import Alert
from bot.risk.escalation import RiskTier
from bot.settings import EscalationSettings


@dataclass(frozen=True)
class TierMemo:
    tier: RiskTier
    since: float
    last_alert_at: float
    acked_tier: RiskTier | None = None


def tier_alerts(
    risk: AccountRisk,
    memos: Mapping[str, TierMemo],
    now: float,
    cfg: EscalationSettings,
    announce_from: RiskTier = RiskTier.WATCH,
) -> tuple[list[Alert], dict[str, TierMemo]]:
    """(alerts to send, the account's new memos). Memos of positions that are gone are dropped."""
    loud_from = RiskTier.parse(cfg.loud_from)
    out: list[Alert] = []
    new: dict[str, TierMemo] = {}

    def alert(kind: str, tier: RiskTier, prev: RiskTier | None, text: str, symbol: str, key: str, loud: bool) -> None:
        out.append(
            Alert(
                ts=now,
                account=risk.account,
                symbol=symbol,
                position_key=key,
                kind=kind,
                tier=tier.label,
                previous_tier=prev.label if prev is not None else None,
                text=text,
                loud=loud,
            )
        )

    for r in risk.positions:
        memo = memos.get(r.key)
        prev = memo.tier if memo else None
        if memo is None or r.tier > memo.tier:
            announced = r.tier >= announce_from
            if announced:
                alert("escalation", r.tier, prev, messages.tier_change(r, prev), r.symbol, r.key, r.tier >= loud_from)
            new[r.key] = TierMemo(r.tier, now, now if announced else 0.0)
        elif r.tier < memo.tier:
            if memo.tier >= announce_from:
                alert("deescalation", r.tier, prev, messages.tier_change(r, prev), r.symbol, r.key, False)
            new[r.key] = TierMemo(r.tier, now, now)
        else:
            cadence = cfg.realert_every_s.get(r.tier.label, 0)  # type: ignore[call-overload]
            due = cadence > 0 and now - memo.last_alert_at >= cadence
            if due and r.tier >= announce_from and memo.acked_tier != r.tier:
                alert("realert", r.tier, prev, messages.realert(r), r.symbol, r.key, r.tier >= loud_from)
                memo = replace(memo, last_alert_at=now)
            new[r.key] = memo
    for key, memo in memos.items():
        if key not in new and memo.tier >= announce_from:
            symbol = key.split("|")[0]
            alert(
                "gone",
                memo.tier,
                memo.tier,
                messages.position_gone(risk.account, key, memo.tier),
                symbol,
                key,
                memo.tier >= loud_from,
            )
    return out, new
