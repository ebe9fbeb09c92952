"""Telegram HTML produced by bot.notify.formatting, checked with the fake server's port of
TDLib's parser: exchange strings are escaped, and long texts are cut at line boundaries into
parts that each stay within 4096 UTF-16 units after parsing."""

from __future__ import annotations

import pytest

from bot.journal import Alert
from bot.notify.formatting import (
    MAX_TEXT,
    Line,
    alert_lines,
    coalesced_lines,
    lines,
    paginate,
    pre,
    table,
)
from tests.fakes.telegram import parse_html, utf16_len

pytestmark = pytest.mark.timeout(10)

NASTY = "acct <script> & BTC/USDT:USDT </b> &amp; 🚀 \"quoted\" 'x'"


def test_exchange_strings_are_escaped() -> None:
    alert = Alert(ts=0, kind="notice", text=f"{NASTY}\nsecond <i>line</i> & more")
    [html] = paginate(alert_lines(alert))
    parsed = parse_html(html)  # strict: a bare & or an unknown tag would raise
    assert parsed.text == f"{NASTY}\nsecond <i>line</i> & more"
    assert parsed.entities == [{"type": "bold", "offset": 0, "length": utf16_len(NASTY)}]


def test_long_text_is_split_at_line_boundaries_within_the_limit() -> None:
    body = [f"{i:04d} 🟠 {'<&>' * 20} position line with emoji 🚀🚀" for i in range(400)]
    content = [Line("header", "b"), *lines("\n".join(body))]
    parts = paginate(content)
    assert len(parts) > 2
    seen: list[str] = []
    for part in parts:
        parsed = parse_html(part)
        assert utf16_len(parsed.text) <= MAX_TEXT
        seen.extend(parsed.text.split("\n"))
    assert seen == ["header", *body]  # nothing lost, nothing cut inside a line


def test_tables_stay_monospace_across_parts() -> None:
    rows = [(f"SYM{i}/USDT:USDT", "long", f"{i * 0.37:.2f}%", "warning") for i in range(300)]
    parts = paginate([Line("risk", "b"), *pre(table(("symbol", "side", "dist", "tier"), rows))])
    assert len(parts) > 1
    for part in parts:
        parsed = parse_html(part)
        assert utf16_len(parsed.text) <= MAX_TEXT
        assert any(e["type"] == "pre" for e in parsed.entities)
    header = parse_html(parts[0]).text.split("\n")[1]
    assert header.split() == ["symbol", "side", "dist", "tier"]


def test_a_single_overlong_line_is_hard_split_without_breaking_emoji() -> None:
    parts = paginate([Line("🚀" * 5000)], limit=MAX_TEXT)
    texts = [parse_html(p).text for p in parts]
    assert all(utf16_len(t) <= MAX_TEXT for t in texts)
    assert "".join(texts) == "🚀" * 5000


def test_coalesced_alert_shows_the_newest_first_with_a_digest() -> None:
    alerts = [
        Alert(ts=3600 * 10 + i, kind="escalation", position_key="BTC|both|long", text=f"{tier} <{i}>\ndetails {i}")
        for i, tier in enumerate(["WATCH", "WARNING", "DANGER"])
    ]
    parsed = parse_html(paginate(coalesced_lines(alerts))[0])
    assert parsed.text.startswith("DANGER <2>\ndetails 2\n")
    assert "(earlier, UTC, newest first: 10:00:01 WARNING <1>;" in parsed.text
    assert parsed.text.endswith("10:00:00 WATCH <0>)")
    assert "details 1" not in parsed.text  # the digest is compact: first lines only
