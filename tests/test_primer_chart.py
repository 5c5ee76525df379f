"""The primer chart in bot/primers/chart.py."""

from __future__ import annotations

import asyncio
import csv
import itertools
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from io import BytesIO
from pathlib import Path

import matplotlib.image as mpimg
import pytest

from bot.core.market import Bar
from bot.features.primer import chart
from bot.features.primer.chart import build_figure, render_chart, render_chart_async

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NVDA_CSV = Path("/work/shared/data/prices/NVDA.csv")
NVDA_LEVELS = [("entry", 125.0), ("exit", 170.0), ("stop", 97.0)]


def _bars(closes: list[float], start: date = date(2025, 1, 2)) -> list[Bar]:
    return [Bar(start + timedelta(days=i), c, c, c, c, 1000.0) for i, c in enumerate(closes)]


@pytest.fixture(scope="module")
def nvda_bars() -> list[Bar]:
    """NVDA daily bars 2024-07-29..2025-01-27 (six months up to the DeepSeek sell-off)."""
    if not NVDA_CSV.exists():
        pytest.skip(f"real price data not available: {NVDA_CSV} is absent")
    with NVDA_CSV.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if "2024-07-29" <= r["Date"] <= "2025-01-27"]
    return [
        Bar(date.fromisoformat(r["Date"]), float(r["Open"]), float(r["High"]), float(r["Low"]),
            float(r["Close"]), float(r["Volume"]))
        for r in rows
    ]


def _size(png: bytes) -> tuple[int, int]:
    image = mpimg.imread(BytesIO(png), format="png")
    return image.shape[1], image.shape[0]


def _texts(figure) -> list[str]:
    ax = figure.axes[0]
    return [t.get_text() for t in ax.texts] + [t.get_text() for t in ax.get_legend().get_texts()]


def _level_lines(figure) -> dict[str, float]:
    ax = figure.axes[0]
    return {
        line.get_gid().split(":", 1)[1]: float(line.get_ydata()[0])
        for line in ax.lines
        if (line.get_gid() or "").startswith("level:")
    }


# --------------------------------------------------------------------------- PNG output


def test_png_signature_and_phone_sized(nvda_bars: list[Bar]) -> None:
    png = render_chart("NVDA", nvda_bars, NVDA_LEVELS)
    assert png.startswith(PNG_SIGNATURE)
    width, height = _size(png)
    assert 950 <= width <= 1050 and 530 <= height <= 590, (width, height)


@pytest.mark.parametrize("count", [1, 2])
def test_short_histories_render(count: int) -> None:
    png = render_chart("NVDA", _bars([142.62, 118.42][:count]), NVDA_LEVELS)
    assert png.startswith(PNG_SIGNATURE)
    assert _size(png) == (1000, 560)


def test_empty_bars_raise_value_error() -> None:
    with pytest.raises(ValueError, match="no bars"):
        render_chart("NVDA", [], NVDA_LEVELS)


def test_bars_without_a_valid_close_raise_value_error() -> None:
    with pytest.raises(ValueError, match="NVDA"):
        render_chart("NVDA", _bars([math.nan, 0.0]), [])


def test_no_levels_and_invalid_levels_are_fine() -> None:
    figure = build_figure("NVDA", _bars([100.0, 101.0, 99.0]), [("entry", math.nan), ("stop", -1.0)])
    assert _level_lines(figure) == {}


# --------------------------------------------------------------------------- y-range and levels


def test_levels_in_range_are_drawn_inside_the_y_limits(nvda_bars: list[Bar]) -> None:
    figure = build_figure("NVDA", nvda_bars, NVDA_LEVELS)
    low, high = figure.axes[0].get_ylim()
    closes = [bar.close for bar in nvda_bars]
    assert low <= min(closes) and max(closes) <= high
    lines = _level_lines(figure)
    assert lines == dict(NVDA_LEVELS)
    assert all(low < price < high for price in lines.values())
    texts = _texts(figure)
    assert "exit $170.00" in texts and "entry $125.00" in texts and "stop $97.00" in texts


def test_far_off_levels_are_clipped_not_squashing_the_chart(nvda_bars: list[Bar]) -> None:
    base = build_figure("NVDA", nvda_bars, NVDA_LEVELS).axes[0].get_ylim()
    far = [*NVDA_LEVELS, ("stop", 10.0), ("exit", 900.0)]
    figure = build_figure("NVDA", nvda_bars, far)
    low, high = figure.axes[0].get_ylim()
    assert (high - low) <= 1.25 * (base[1] - base[0])
    assert low > 10.0 and high < 900.0
    # the in-range levels and every close are still inside
    assert all(low < price < high for _, price in NVDA_LEVELS)
    assert low <= min(b.close for b in nvda_bars) and max(b.close for b in nvda_bars) <= high
    texts = _texts(figure)
    assert any("stop $10.00 (off chart)" in t for t in texts)
    assert any("exit $900.00 (off chart)" in t for t in texts)
    assert all(10.0 != y != 900.0 for y in _level_lines(figure).values())


def test_level_labels_stay_inside_the_axes_and_apart() -> None:
    # Three levels within a hair of each other, and one far below: labels must not pile up.
    levels = [("entry", 100.0), ("exit", 100.5), ("stop", 99.5), ("stop", 1.0)]
    figure = build_figure("X", _bars([98.0, 102.0, 100.0]), levels)
    ys = sorted(t.get_position()[1] for t in figure.axes[0].texts if (t.get_gid() or "").startswith("level"))
    assert len(ys) == 4
    assert all(0.0 <= y <= 1.0 for y in ys)
    assert all(b - a >= 0.07 for a, b in itertools.pairwise(ys))


# --------------------------------------------------------------------------- drawdown and labels


def test_drawdown_from_the_peak_close_is_in_the_legend(nvda_bars: list[Bar]) -> None:
    figure = build_figure("NVDA", nvda_bars, NVDA_LEVELS)
    texts = _texts(figure)
    # peak close 149.43 on 2025-01-06, last close 118.42 on 2025-01-27: -20.8 %
    assert any("drawdown -20.8%" in t and "$149.43" in t and "Jan 6" in t for t in texts), texts
    assert any("$118.42" in t.get_text() for t in figure.axes[0].texts), "the last price is marked"
    assert len(figure.axes[0].collections) == 1  # the shaded drawdown


def test_no_drawdown_when_the_last_close_is_the_peak() -> None:
    figure = build_figure("NVDA", _bars([100.0, 105.0, 110.0]), [])
    assert not any("drawdown" in t for t in _texts(figure))
    assert len(figure.axes[0].collections) == 0


def test_index_prices_have_no_dollar_sign() -> None:
    figure = build_figure("^SOX", _bars([5341.94, 4853.24]), [("stop", 4800.0)])
    texts = _texts(figure)
    assert "stop 4,800.00" in texts and not any("$" in t for t in texts)


def test_custom_title() -> None:
    figure = build_figure("NVDA", _bars([1.0, 2.0]), [], title="NVDA after DeepSeek")
    assert figure.axes[0].get_title(loc="left") == "NVDA after DeepSeek"


def test_unsorted_bars_are_plotted_in_date_order() -> None:
    bars = _bars([100.0, 90.0, 95.0])
    figure = build_figure("X", list(reversed(bars)), [])
    texts = _texts(figure)
    assert any("last $95.00" in t for t in texts)


# --------------------------------------------------------------------------- threads


async def test_render_chart_async_runs_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[threading.Thread] = []
    real = chart.render_chart

    def spy(*args, **kwargs):
        seen.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(chart, "render_chart", spy)
    png = await render_chart_async("NVDA", _bars([142.62, 118.42]), NVDA_LEVELS, title="t")
    assert png.startswith(PNG_SIGNATURE)
    assert seen and seen[0] is not threading.main_thread()


def test_concurrent_renders_in_threads() -> None:
    bars = _bars([100.0 + i for i in range(30)])
    with ThreadPoolExecutor(max_workers=4) as pool:
        pngs = list(pool.map(lambda i: render_chart(f"T{i}", bars, [("entry", 110.0)]), range(8)))
    assert all(p.startswith(PNG_SIGNATURE) and _size(p) == (1000, 560) for p in pngs)


async def test_render_chart_async_does_not_block_the_loop() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        await render_chart_async("NVDA", _bars([100.0 + i for i in range(120)]), NVDA_LEVELS)
    finally:
        task.cancel()
    assert ticks > 0
