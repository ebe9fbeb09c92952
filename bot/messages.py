"""What the trader reads. Plain text here; each notifier formats it (Telegram escapes it into
HTML). No secrets ever reach these functions: they only see domain objects and journal rows."""

from __future__ import annotations

from bot.domain import PositionRisk
from bot.journal import ActionRow
from bot.risk.escalation import RiskTier

ICON = {
    RiskTier.OK: "🟢",
    RiskTier.WATCH: "🔵",
    RiskTier.WARNING: "🟡",
    RiskTier.DANGER: "🟠",
    RiskTier.CRITICAL: "🔴",
}


def fmt_price(x: float | None) -> str:
    if x is None:
        return "none"
    if x != x or x in (float("inf"), float("-inf")):
        return "n/a"
    if abs(x) >= 1000:
        return f"{x:,.2f}"
    if abs(x) >= 1:
        return f"{x:.4f}"
    return f"{x:.6g}"


def fmt_pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}%"


def position_line(r: PositionRisk) -> str:
    liq = fmt_price(r.liquidation_price)
    sig = "" if r.distance_sigma is None or r.distance_sigma == float("inf") else f", {r.distance_sigma:.1f}σ"
    return (
        f"{r.account} {r.symbol} {r.side} {r.contracts:g} @ {fmt_price(r.entry_price)} | mark {fmt_price(r.mark_price)}"
        f" | liq {liq} ({fmt_pct(r.distance_pct)}{sig})"
    )


def tier_change(r: PositionRisk, previous: RiskTier | None) -> str:
    arrow = "escalated to" if previous is None or r.tier > previous else "eased to"
    head = f"{ICON[r.tier]} {r.tier.label.upper()}: {r.account} {r.symbol} {r.side} {arrow} {r.tier.label}"
    if previous is not None:
        head += f" (was {previous.label})"
    lines = [head, position_line(r)]
    if r.touch_probability >= 0.001:
        lines.append(f"chance of touching liquidation within the horizon: {r.touch_probability:.1%}")
    lines.extend(r.reasons)
    return "\n".join(lines)


def realert(r: PositionRisk) -> str:
    return (
        f"{ICON[r.tier]} still {r.tier.label.upper()}: "
        + position_line(r)
        + ("\n" + "\n".join(r.reasons) if r.reasons else "")
    )


def position_gone(account: str, key: str, previous: RiskTier) -> str:
    symbol, _, side = key.split("|")
    return f"⚪ {account} {symbol} {side} is no longer open (closed or liquidated); it was {previous.label}"


def action_report(row: ActionRow) -> str:
    what = {
        "top_up": f"top-up {row.amount:.2f} {row.currency or ''} from {row.source or 'futures'}",
        "reduce": f"reduce {row.amount:.6g} contracts (reduce-only)",
        "hedge": f"hedge {row.amount:.6g} contracts" + (f" on {row.hedge_account}" if row.hedge_account else ""),
        "unwind": f"unwind hedge {row.amount:.6g} contracts",
    }.get(row.kind, row.kind)
    mode = "PAPER" if row.mode == "paper" else "LIVE"
    status = {"done": "done", "failed": "FAILED", "unknown": "OUTCOME UNKNOWN", "intent": "sent"}.get(
        row.status, row.status
    )
    lines = [f"🛡 [{mode}] {row.account} {row.symbol} {row.side}: {what}: {status} (journal #{row.id})"]
    before, after = fmt_pct(row.distance_before), fmt_pct(row.expected_distance_after)
    lines.append(f"distance to liquidation {before} -> {after} expected (target {fmt_pct(row.target_distance_pct)})")
    lines.append(f"why: {row.reason}")
    if row.error:
        lines.append(f"error: {row.error}")
    if row.status == "unknown":
        lines.append("It may or may not have gone through. Nothing will be repeated until it is reconciled.")
    return "\n".join(lines)


def action_reconciled(row: ActionRow) -> str:
    return f"🧾 action #{row.id} ({row.kind} {row.account} {row.symbol}) reconciled: {row.status}" + (
        f" ({row.error})" if row.error else ""
    )


def refused(account: str, symbol: str, kind: str, reason: str) -> str:
    return f"✋ {account} {symbol}: {kind} not taken: {reason}"
