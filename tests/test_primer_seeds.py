"""The primer seed files in seeds/primers and the loader/validator in bot/primers/seeds.py."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest

from bot.features.primer.seeds import Primer, PrimerError, PrimerLevel, load_primer, load_primers

SEEDS = Path(__file__).resolve().parents[1] / "seeds" / "primers"

# Real closes on 2025-01-24, the Friday before the DeepSeek sell-off.
CLOSES = {
    "NVDA": 142.62,
    "AVGO": 244.70,
    "CRDO": 80.47,
    "ANET": 129.17,
    "TSM": 221.88,
    "MSFT": 444.06,
    "GOOG": 201.90,
    "META": 647.49,
    "^SOX": 5341.94,
}
STOCKS = sorted(t for t in CLOSES if not t.startswith("^"))

# Rough forward P/E at the 2025-01-24 close (consensus forward EPS), only to turn a
# multiple-based exit into an approximate price for the ordering check below.
APPROX_FORWARD_PE = {"MSFT": 32.0, "GOOG": 22.0}


@pytest.fixture(scope="module")
def seeds() -> dict[str, Primer]:
    return load_primers(SEEDS)


# --------------------------------------------------------------------------- the seed files


def test_all_nine_seed_files_load(seeds: dict[str, Primer]) -> None:
    assert set(seeds) == set(CLOSES)
    assert len(list(SEEDS.glob("*.toml"))) == 9


@pytest.mark.parametrize("ticker", sorted(CLOSES))
def test_seed_file_is_named_after_its_ticker_and_documents_the_format(
    seeds: dict[str, Primer], ticker: str
) -> None:
    primer = seeds[ticker]
    assert primer.source.name == ticker.replace("^", "") + ".toml"
    text = primer.source.read_text(encoding="utf-8")
    assert text.startswith("#"), "each seed starts with a header comment describing the format"
    assert "[levels]" in text and "README.md" in text


@pytest.mark.parametrize("ticker", sorted(CLOSES))
def test_seed_has_the_primer_fields(seeds: dict[str, Primer], ticker: str) -> None:
    primer = seeds[ticker]
    assert primer.ticker == ticker
    assert primer.name and primer.summary and len(primer.summary) <= 120
    assert primer.description
    assert primer.updated is not None and date(2025, 1, 20) <= primer.updated <= date(2025, 1, 31)
    assert 1 <= len(primer.risks) <= 3
    assert 1 <= len(primer.catalysts) <= 3
    assert all(len(bullet) <= 160 for bullet in primer.thesis + primer.risks + primer.catalysts)
    if not ticker.startswith("^"):
        assert 2 <= len(primer.thesis) <= 4
        assert primer.valuation


@pytest.mark.parametrize("ticker", STOCKS)
def test_stock_levels_are_ordered_around_the_pre_selloff_close(
    seeds: dict[str, Primer], ticker: str
) -> None:
    primer = seeds[ticker]
    close = CLOSES[ticker]
    assert {level.name for level in primer.levels} == {"entry", "exit", "stop"}

    forward_eps = close / APPROX_FORWARD_PE[ticker] if ticker in APPROX_FORWARD_PE else None
    prices = {}
    for level in primer.levels:
        if level.price is None:
            assert level.basis in ("pe", "fpe") and 5 <= (level.multiple or 0) <= 100
            assert forward_eps is not None, f"{ticker}: add an approximate P/E to check {level.name}"
        price = level.resolve_price(forward_eps=forward_eps, trailing_eps=forward_eps)
        assert price is not None
        # Plausible: within 50% of the close (CRDO swings hard), not a typo 10x off.
        assert 0.5 * close < price < 1.5 * close, (ticker, level)
        prices[level.name] = price
    assert prices["stop"] < prices["entry"] < close < prices["exit"], (ticker, prices)


def test_some_exits_are_valuation_multiples(seeds: dict[str, Primer]) -> None:
    multiple_based = [t for t, p in seeds.items() if any(level.multiple for level in p.levels)]
    assert 1 <= len(multiple_based) <= 2
    msft_exit = seeds["MSFT"].level("exit")
    assert msft_exit is not None and msft_exit.basis == "fpe" and msft_exit.price is None


def test_the_index_only_has_a_stop_below_its_close(seeds: dict[str, Primer]) -> None:
    sox = seeds["^SOX"]
    assert sox.source.name == "SOX.toml"
    assert [level.name for level in sox.levels] == ["stop"]
    assert sox.levels[0].price is not None and sox.levels[0].price < CLOSES["^SOX"]


# --------------------------------------------------------------------------- broken files

VALID = 'ticker = "TEST"\nname = "Test Corp"\nsummary = "A test company."\n'

BROKEN = [
    # (id, file text, field the message must name)
    ("bad_toml", 'ticker = "TEST"\nname = "Test Corp\nsummary = "x"\n', "toml"),
    ("missing_name", 'ticker = "TEST"\nsummary = "A test company."\n', "name"),
    ("missing_ticker", 'name = "Test"\nsummary = "A test company."\n', "ticker"),
    ("negative_price", VALID + "[levels]\nentry = { price = -5.0 }\n", "levels.entry.price"),
    ("zero_price", VALID + "[levels]\nstop = { price = 0 }\n", "levels.stop.price"),
    ("nan_price", VALID + "[levels]\nexit = { price = nan }\n", "levels.exit.price"),
    ("inf_multiple", VALID + '[levels]\nexit = { multiple = inf, basis = "pe" }\n', "levels.exit.multiple"),
    ("string_price", VALID + '[levels]\nentry = { price = "120" }\n', "levels.entry.price"),
    ("unknown_key", VALID + 'sumary = "typo"\n', "sumary"),
    ("unknown_level", VALID + "[levels]\ntarget = { price = 10.0 }\n", "levels.target"),
    ("unknown_level_key", VALID + "[levels]\nentry = { price = 10.0, reason = 'x' }\n", "levels.entry.reason"),
    ("both_price_and_multiple", VALID + '[levels]\nexit = { price = 10.0, multiple = 30.0, basis = "pe" }\n', "levels.exit"),
    ("neither_price_nor_multiple", VALID + "[levels]\nexit = { note = 'x' }\n", "levels.exit"),
    ("unknown_basis", VALID + '[levels]\nexit = { multiple = 30.0, basis = "ps" }\n', "levels.exit.basis"),
    ("multiple_without_basis", VALID + "[levels]\nexit = { multiple = 30.0 }\n", "levels.exit.basis"),
    ("basis_with_price", VALID + '[levels]\nexit = { price = 30.0, basis = "pe" }\n', "levels.exit.basis"),
    ("level_not_a_table", VALID + "[levels]\nexit = 30.0\n", "levels.exit"),
    ("levels_not_a_table", VALID + "levels = [1, 2]\n", "levels"),
    ("long_summary", 'ticker = "TEST"\nname = "Test"\nsummary = "' + "x" * 121 + '"\n', "summary"),
    ("long_note", VALID + '[levels]\nentry = { price = 1.0, note = "' + "n" * 201 + '" }\n', "levels.entry.note"),
    ("long_bullet", VALID + 'thesis = ["' + "t" * 161 + '"]\n', "thesis[0]"),
    ("too_many_risks", VALID + 'risks = ["a", "b", "c", "d"]\n', "risks"),
    ("thesis_not_a_list", VALID + 'thesis = "one string"\n', "thesis"),
    ("bullet_not_a_string", VALID + "catalysts = [1]\n", "catalysts[0]"),
    ("empty_summary", 'ticker = "TEST"\nname = "Test"\nsummary = "   "\n', "summary"),
    ("name_not_a_string", 'ticker = "TEST"\nname = 5\nsummary = "x"\n', "name"),
    ("bad_ticker", 'ticker = "NV DA"\nname = "Test"\nsummary = "x"\n', "ticker"),
    ("long_ticker", 'ticker = "ABCDEFGHIJKLM"\nname = "Test"\nsummary = "x"\n', "ticker"),
    ("ticker_not_a_string", 'ticker = 42\nname = "Test"\nsummary = "x"\n', "ticker"),
    ("updated_as_string", VALID + 'updated = "2025-01-28"\n', "updated"),
    ("updated_as_datetime", VALID + "updated = 2025-01-28T10:00:00\n", "updated"),
]


@pytest.mark.parametrize(("case", "text", "field"), BROKEN, ids=[case for case, _, _ in BROKEN])
def test_broken_file_raises_one_clear_error(tmp_path: Path, case: str, text: str, field: str) -> None:
    path = tmp_path / f"{case}.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PrimerError) as caught:
        load_primer(path)
    message = str(caught.value)
    assert f"{case}.toml" in message
    assert f": {field}: " in message, message


def test_invalid_toml_message_has_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('ticker = "TEST"\nname = "Test Corp\nsummary = "x"\n', encoding="utf-8")
    with pytest.raises(PrimerError, match=r"broken\.toml: toml: .*line 2"):
        load_primer(path)


def test_invalid_utf8_is_a_primer_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'ticker = "TEST"\nname = "Caf\xe9"\nsummary = "x"\n')
    with pytest.raises(PrimerError, match=r"latin1\.toml"):
        load_primer(path)


def test_duplicate_ticker_across_files_names_both_files(tmp_path: Path) -> None:
    (tmp_path / "first.toml").write_text(VALID, encoding="utf-8")
    (tmp_path / "second.toml").write_text(VALID.replace('"TEST"', '"test"'), encoding="utf-8")
    with pytest.raises(PrimerError) as caught:
        load_primers(tmp_path)
    message = str(caught.value)
    assert "second.toml: ticker:" in message and "first.toml" in message and "TEST" in message


def test_primer_error_is_a_value_error() -> None:
    assert issubclass(PrimerError, ValueError)


def test_folder_errors(tmp_path: Path) -> None:
    assert load_primers(tmp_path) == {}
    with pytest.raises(PrimerError, match="folder"):
        load_primers(tmp_path / "missing")


# --------------------------------------------------------------------------- valid files


def test_minimal_file_gets_empty_optional_fields(tmp_path: Path) -> None:
    path = tmp_path / "min.toml"
    path.write_text('ticker = "brk.b"\nname = "Berkshire"\nsummary = "Holding company."\n', encoding="utf-8")
    primer = load_primer(path)
    assert primer.ticker == "BRK.B"
    assert primer.description is None and primer.updated is None and primer.valuation is None
    assert primer.thesis == primer.risks == primer.catalysts == ()
    assert primer.levels == ()
    assert primer.source == path


def test_levels_are_parsed_in_entry_exit_stop_order(tmp_path: Path) -> None:
    path = tmp_path / "lv.toml"
    path.write_text(
        VALID
        + "updated = 2025-01-28\n"
        + "[levels]\n"
        + 'stop = { price = 90 }\n'
        + 'exit = { multiple = 40, basis = "fpe", note = "rich" }\n'
        + "entry = { price = 120.5 }\n",
        encoding="utf-8",
    )
    primer = load_primer(path)
    assert primer.updated == date(2025, 1, 28)
    assert [level.name for level in primer.levels] == ["entry", "exit", "stop"]
    assert primer.levels[0] == PrimerLevel("entry", price=120.5)
    assert primer.levels[1] == PrimerLevel("exit", multiple=40.0, basis="fpe", note="rich")
    assert isinstance(primer.levels[2].price, float) and primer.levels[2].price == 90.0
    assert primer.level("stop") is primer.levels[2] and primer.level("other") is None


def test_resolve_price() -> None:
    assert PrimerLevel("entry", price=120.0).resolve_price() == 120.0
    fpe = PrimerLevel("exit", multiple=40.0, basis="fpe")
    assert fpe.resolve_price(forward_eps=13.5, trailing_eps=12.0) == pytest.approx(540.0)
    assert fpe.resolve_price(trailing_eps=12.0) is None
    assert fpe.resolve_price(forward_eps=-1.0) is None
    assert fpe.resolve_price(forward_eps=math.nan) is None
    pe = PrimerLevel("exit", multiple=30.0, basis="pe")
    assert pe.resolve_price(forward_eps=13.5, trailing_eps=12.0) == pytest.approx(360.0)
