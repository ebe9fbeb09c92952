"""Telegram HTML for marginguard: escaping, monospace tables, and splitting at line boundaries.

Every string that comes from an exchange, a config file or a user goes through :func:`esc`
(``html.escape``) before it is put between our own tags. Texts are built from *lines*, each a
self-contained piece of HTML (no tag spans two lines, except the ``<pre>`` blocks that
:func:`paginate` opens and closes itself), so a long text can be cut between any two lines and
every part is still valid HTML. Telegram counts the 4096-character limit in UTF-16 code units
*after* entity parsing, which is what :func:`utf16_len` of the plain line measures.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.domain import AccountRisk, Action, ActionKind, PositionRisk
from bot.journal import ActionRow, Alert
from bot.messages import ICON, fmt_pct, fmt_price, position_line
from bot.settings import EscalationSettings

MAX_TEXT = 4096  # sendMessage / editMessageText, UTF-16 units after parsing
MAX_CAPTION = 1024  # sendPhoto caption
DIGEST_ITEMS = 8  # older alerts listed in a coalesced message's "(earlier: ...)" digest
DIGEST_ITEM_CHARS = 110


def esc(text: object) -> str:
    """Escape anything for Telegram HTML (``&``, ``<``, ``>``); quotes are fine outside attributes."""
    return html.escape(str(text), quote=False)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a message: its plain text and how to wrap it (``b``, ``i``, ``pre`` or none)."""

    text: str
    style: str = ""

    def html(self) -> str:
        body = esc(self.text)
        return f"<{self.style}>{body}</{self.style}>" if self.style in ("b", "i") and body else body


def lines(text: str, style: str = "") -> list[Line]:
    return [Line(t, style) for t in text.split("\n")]


def pre(rows: Iterable[str]) -> list[Line]:
    return [Line(r, "pre") for r in rows]


def _hard_split(line: Line, limit: int) -> list[Line]:
    """Cut a line longer than ``limit`` UTF-16 units into pieces (never inside a surrogate pair)."""
    out: list[Line] = []
    piece: list[str] = []
    size = 0
    for ch in line.text:
        n = 2 if ord(ch) > 0xFFFF else 1
        if size + n > limit:
            out.append(Line("".join(piece), line.style))
            piece, size = [], 0
        piece.append(ch)
        size += n
    out.append(Line("".join(piece), line.style))
    return out


def _render(chunk: Sequence[Line]) -> str:
    out: list[str] = []
    i = 0
    while i < len(chunk):
        if chunk[i].style == "pre":
            j = i
            while j < len(chunk) and chunk[j].style == "pre":
                j += 1
            out.append("<pre>" + "\n".join(esc(x.text) for x in chunk[i:j]) + "</pre>")
            i = j
        else:
            out.append(chunk[i].html())
            i += 1
    return "\n".join(out)


def paginate(content: Iterable[Line], limit: int = MAX_TEXT, *, as_html: bool = True) -> list[str]:
    """Messages of at most ``limit`` UTF-16 units (after parsing) each, cut between lines: HTML, or
    plain text (``as_html=False``, the fallback when Telegram refuses our HTML)."""
    chunks: list[list[Line]] = [[]]
    size = 0
    for line in content:
        for piece in _hard_split(line, limit) if utf16_len(line.text) > limit else [line]:
            n = utf16_len(piece.text)
            if chunks[-1] and size + 1 + n > limit:
                chunks.append([])
                size = 0
            size += n + (1 if len(chunks[-1]) else 0)
            chunks[-1].append(piece)
    kept = [c for c in chunks if any(x.text.strip() for x in c)]
    rendered = [_render(c) if as_html else "\n".join(x.text for x in c) for c in kept]
    return rendered or ["(empty)"]


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Left-aligned monospace columns (for a ``<pre>`` block); the last column is not padded."""
    body = [list(map(str, r)) for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in body if i < len(r)]) for i, h in enumerate(header)]

    def fmt(cells: Sequence[str]) -> str:
        padded = [c.ljust(widths[i]) if i < len(cells) - 1 else c for i, c in enumerate(cells)]
        return "  ".join(padded).rstrip()

    return [fmt(header)] + [fmt(r) for r in body]


# -- alerts ---------------------------------------------------------------------------------------


def clock_str(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts))


def alert_lines(alert: Alert) -> list[Line]:
    """The alert's plain text as lines: the first one bold (it says what happened)."""
    head, _, rest = alert.text.partition("\n")
    out = [Line(head, "b")]
    if rest:
        out.extend(lines(rest))
    return out


def digest_item(alert: Alert) -> str:
    first = alert.text.split("\n", 1)[0].strip()
    if len(first) > DIGEST_ITEM_CHARS:
        first = first[: DIGEST_ITEM_CHARS - 1] + "…"
    return f"{clock_str(alert.ts)} {first}"


def coalesced_lines(alerts: Sequence[Alert]) -> list[Line]:
    """The newest alert in full, then a compact digest of the older ones (newest first)."""
    newest, older = alerts[-1], list(reversed(alerts[:-1]))
    out = alert_lines(newest)
    if older:
        items = [digest_item(a) for a in older[:DIGEST_ITEMS]]
        more = len(older) - DIGEST_ITEMS
        if more > 0:
            items.append(f"+{more} more")
        out.append(Line(""))
        out.append(Line(f"(earlier, UTC, newest first: {items[0]}" + (";" if len(items) > 1 else ")"), "i"))
        for k, item in enumerate(items[1:], start=2):
            out.append(Line(f"  {item}" + (";" if k < len(items) else ")"), "i"))
    return out


# -- views for commands ---------------------------------------------------------------------------


def fmt_age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def fmt_num(x: float | None, digits: int = 2) -> str:
    if x is None or x != x or x in (float("inf"), float("-inf")):
        return "n/a"
    return f"{x:.{digits}f}"


def describe_action(action: Action) -> str:
    """One line saying what an action would do, e.g. "top-up 250.00 USDT from spot"."""
    kind = action.kind
    if kind is ActionKind.TOP_UP:
        what = f"top-up {action.amount:.2f} {action.currency or ''} from {action.source or 'futures'}"
    elif kind is ActionKind.REDUCE:
        what = f"reduce {action.amount:.6g} contracts (reduce-only, ~{action.quote_value:.2f} notional)"
    elif kind is ActionKind.HEDGE:
        where = f" on {action.hedge_account}" if action.hedge_account else ""
        what = f"hedge {action.amount:.6g} contracts{where} (~{action.quote_value:.2f} notional)"
    else:
        what = f"{kind.value} {action.amount:.6g}"
    return f"{what}: {action.account} {action.symbol} {action.side}"


def action_prompt(action: Action, *, mode: str, expires_at: float, note: str = "") -> list[Line]:
    """The text above a confirmation keyboard."""
    head = f"🛎 Confirm {mode.upper()} action: {describe_action(action)}"
    out = [Line(head, "b")]
    out.append(
        Line(
            f"tier {action.tier.label}; distance to liquidation {fmt_pct(action.distance_before)} -> "
            f"{fmt_pct(action.expected_distance_after)} expected"
        )
    )
    out.append(Line(f"why: {action.reason}"))
    if note:
        out.append(Line(note, "i"))
    out.append(
        Line(f"expires at {clock_str(expires_at)} UTC; when confirmed, the guard checks it again on fresh data", "i")
    )
    return out


def status_lines(name: str, risk: AccountRisk | None, now: float, problem: str | None) -> list[Line]:
    if risk is None:
        return [Line(f"{name}: no data yet" + (f" ({problem})" if problem else ""), "b")]
    head = f"{name} ({risk.exchange}): {risk.tier.label.upper()}, data {fmt_age(max(0.0, now - risk.fetched_at))} old"
    out = [Line(head, "b")]
    if problem:
        out.append(Line(f"⚠️ {problem}"))
    for u in risk.untrusted:
        out.append(Line(f"⚠️ not acting on this data: {u}"))
    if not risk.positions:
        out.append(Line("no open positions", "i"))
        return out
    rows = [
        (
            r.symbol + (" (hedge)" if r.is_hedge_leg else ""),
            r.side,
            fmt_pct(r.distance_pct),
            fmt_num(r.distance_sigma, 1),
            r.tier.label,
            fmt_price(r.liquidation_price),
        )
        for r in sorted(risk.positions, key=lambda r: (-r.tier, r.distance_pct if r.distance_pct is not None else 1e9))
    ]
    out.extend(pre(table(("symbol", "side", "dist", "σ", "tier", "liq"), rows)))
    return out


def position_detail(r: PositionRisk) -> list[Line]:
    out = [Line(f"{ICON[r.tier]} {r.account} {r.symbol} {r.side} ({r.margin_mode}): {r.tier.label.upper()}", "b")]
    out.append(Line(position_line(r)))
    mr = "n/a" if r.margin_ratio is None or r.margin_ratio != r.margin_ratio else f"{r.margin_ratio:.1%}"
    out.append(
        Line(
            f"margin ratio {mr}; liquidation from {r.liquidation_source}; "
            f"volatility {r.volatility_annual:.0%}/yr; touch chance {r.touch_probability:.1%}"
        )
    )
    out.extend(Line(f"· {reason}") for reason in r.reasons)
    return out


def history_lines(rows: Sequence[ActionRow]) -> list[Line]:
    if not rows:
        return [Line("no actions in the journal yet", "i")]
    out = [Line(f"last {len(rows)} action(s), newest first (UTC)", "b")]
    for row in rows:
        when = time.strftime("%m-%d %H:%M", time.gmtime(row.created_at))
        amount = f"{row.amount:.2f} {row.currency or ''}".strip() if row.kind == "top_up" else f"{row.amount:.6g}"
        by = f" by {row.requested_by}" if row.requested_by else ""
        out.append(
            Line(
                f"#{row.id} {when} [{row.mode}] {row.kind} {amount} {row.account} {row.symbol} {row.side}: "
                f"{row.status} ({row.origin}{by}; dist {fmt_pct(row.distance_before)} -> "
                f"{fmt_pct(row.distance_after)})"
            )
        )
        if row.error:
            out.append(Line(f"   error: {row.error}", "i"))
    return out


def tiers_lines(title: str, esc_cfg: EscalationSettings) -> list[Line]:
    d, s, m = esc_cfg.distance_pct, esc_cfg.sigma, esc_cfg.margin_ratio
    rows = []
    for tier in ("watch", "warning", "danger", "critical"):
        every = esc_cfg.realert_every_s.get(tier, 0)
        rows.append(
            (
                tier,
                _cut(getattr(d, tier), "%"),
                _cut(getattr(s, tier), ""),
                _cut(getattr(m, tier), ""),
                fmt_age(every) if every else "never",
            )
        )
    out = [Line(title, "b")]
    out.extend(pre(table(("tier", "dist<=", "sigma<=", "mr>=", "re-alert"), rows)))
    out.append(
        Line(
            f"hysteresis {esc_cfg.hysteresis_pct:g} pp / {esc_cfg.hysteresis_sigma:g} σ / "
            f"{esc_cfg.hysteresis_margin_ratio:g} mr; loud from {esc_cfg.loud_from}; "
            f"unassessable positions count as {esc_cfg.unknown_tier}"
        )
    )
    return out


def _cut(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:g}{unit}"
