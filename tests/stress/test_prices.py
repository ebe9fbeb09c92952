"""CSV loading: the formats exchanges and tools export, and the repairs the loader reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.stress.prices import PriceFileError, load_csv, parse_text, parse_time

T0 = 1_668_038_400.0  # 2022-11-10T00:00:00Z


@pytest.mark.parametrize(
    "text",
    ["2022-11-10T00:00:00Z", "2022-11-10T00:00:00+00:00", "2022-11-10 00:00:00", "2022-11-10T01:00:00+01:00",
     "1668038400", "1668038400000", "1668038400000000", "1668038400.0"],
)
def test_times_iso_or_epoch_in_seconds_milliseconds_or_microseconds(text: str) -> None:
    assert parse_time(text) == T0


@pytest.mark.parametrize("header", ["timestamp_utc", "timestamp", "date", "open_time", "Time", "DATETIME"])
def test_header_names_for_the_time_column(header: str) -> None:
    text = (f"{header},open,high,low,close,volume\n"
            "2022-11-10T00:00:00Z,1,2,0.5,1.5,9\n2022-11-10T01:00:00Z,1.5,2,1,1,9\n")
    s = parse_text(text, name="x.csv")
    assert s.ts == (T0, T0 + 3600) and s.interval_s == 3600 and s.interval_label == "1h"
    assert s.close == (1.5, 1.0) and not s.notes


def test_columns_in_any_order_and_extra_columns() -> None:
    text = "close,low,high,open,date,trades\n1.5,0.5,2,1,1668038400000,3\n1,1,2,1.5,1668038460000,4\n"
    s = parse_text(text, name="x.csv")
    assert s.open == (1.0, 1.5) and s.high == (2.0, 2.0) and s.interval_label == "1m"


def test_binance_data_vision_klines_without_header() -> None:
    rows = [f"{int((T0 + 60 * i) * 1000)},100,101,99,100.5,12.3,{int((T0 + 60 * i + 59.999) * 1000)},1234,10,5,500,0"
            for i in range(3)]
    s = parse_text("\n".join(rows) + "\n", name="BTCUSDT-1m.csv")
    assert len(s) == 3 and s.interval_s == 60 and s.low == (99.0, 99.0, 99.0)


def test_semicolons_newest_first_duplicates_and_inconsistent_bars_are_repaired_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "\ufefftimestamp;open;high;low;close\n"
        "2022-11-10T02:00:00Z;3;3;3;3\n"
        "2022-11-10T01:00:00Z;2;1.5;2.5;2\n"  # high below open, low above it
        "2022-11-10T01:00:00Z;9;9;9;9\n"  # duplicate time: dropped
        "2022-11-10T00:00:00Z;1;1;1;1\n",
        encoding="utf-8",
    )
    s = load_csv(path)
    assert s.ts == (T0, T0 + 3600, T0 + 7200)
    assert (s.high[1], s.low[1]) == (2.5, 1.5)
    assert any("duplicate" in n for n in s.notes) and any("widened" in n for n in s.notes)


def test_cryptodatadownload_style_preamble_and_price_column_aliases() -> None:
    text = ("https://www.CryptoDataDownload.com\n"
            "unix,date,symbol,Open Price,High Price,Low Price,Close Price,Volume BTC\n"
            "1668042000000,2022-11-10 01:00:00,BTC/USDT,2,2,1,1,5\n"
            "1668038400000,2022-11-10 00:00:00,BTC/USDT,1,2,1,2,5\n")
    s = parse_text(text, name="Binance_BTCUSDT_1h.csv")
    assert s.ts == (T0, T0 + 3600) and s.close == (2.0, 1.0)


def test_gaps_are_counted() -> None:
    text = "date,open,high,low,close\n" + "\n".join(
        f"{int(T0 + 60 * i)},1,1,1,1" for i in (0, 1, 2, 5, 6)) + "\n"
    s = parse_text(text, name="x")
    assert s.interval_s == 60 and any("1 gap" in n for n in s.notes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no rows"),
        ("when,open,high,low,close\nx,1,1,1,1\n", "no time column"),
        ("date,open,high,low\n1668038400,1,1,1\n", "no 'close' column"),
        ("date,open,high,low,close\n1668038400,1,1,1,1\n", "at least 2 bars"),
        ("date,open,high,low,close\n1668038400,1,1,1,1\nsoon,1,1,1,1\n", "line 3"),
        ("date,open,high,low,close\n1668038400,1,1,1,1\n1668038460,1,1,-1,1\n", "positive"),
    ],
)
def test_unusable_files_say_why(text: str, message: str) -> None:
    with pytest.raises(PriceFileError, match=message):
        parse_text(text, name="bad.csv")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PriceFileError, match="no such file"):
        load_csv(tmp_path / "nope.csv")
