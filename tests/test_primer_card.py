"""/primer: the card as the console renders it (golden files), its chart, the seed levels, and
start-up stopping on a broken primer file.

Regenerate the golden files after an intended change with: UPDATE_GOLDEN=1 pytest tests/test_primer_card.py
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bot.adapters.console.render import as_text, render_reply, save_image
from bot.app import App
from bot.config import Config, ConfigError
from bot.core.clock import ReplayClock
from bot.core.messages import Reply
from bot.core.models import LevelName
from bot.features import primer
from bot.features.earnings import EarningsFeature
from bot.features.primer import card
from bot.market.calendar import MarketCalendar
from bot.market.csv_provider import CsvMarket
from tests.conftest import ALICE, ANALYST, CHAT, DEMO_DATA, ny

GOLDEN = Path(__file__).resolve().parent / "golden"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
AFTER_THE_SELL_OFF = ny(date(2025, 1, 28), 17)  # NVDA closed at 127.83 the day after the DeepSeek drop (demo prices)


class Chat:
    def __init__(self, app: App, clock: ReplayClock) -> None:
        self.app, self.clock = app, clock

    async def ask(self, text: str, *, user=ALICE) -> list[Reply]:
        return await self.app.router.handle_text(text, chat=CHAT, user=user, is_chat_manager=True)

    async def say(self, text: str, *, user=ALICE) -> str:
        return "\n".join(r.text for r in await self.ask(text, user=user))


@pytest.fixture
async def make_chat(tmp_path: Path, calendar: MarketCalendar) -> AsyncIterator:
    apps: list[App] = []

    async def build(data: Path = DEMO_DATA, start=AFTER_THE_SELL_OFF, *, folder: Path | None = None,
                    db: Path | None = None, clock: ReplayClock | None = None) -> Chat:
        clock = clock or ReplayClock(start)
        config = replace(Config(), bot=replace(Config().bot, admins=frozenset({ANALYST.key})))

        app = await App.create(config, clock=clock, market=CsvMarket(data, clock=clock, calendar=calendar), calendar=calendar,
                               storage_path=db or tmp_path / "bot.sqlite3", features=())
        apps.append(app)
        earnings = EarningsFeature(app.context, outbox=app.storage.outbox)
        await app.add_feature(primer.PrimerFeature(app.context, earnings=earnings.desk, folder=folder))
        await app.add_feature(earnings)
        return Chat(app, clock)

    yield build
    for app in apps:
        await app.close()


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    assert path.is_file(), f"{path} is missing: run with UPDATE_GOLDEN=1 to create it"
    assert text + "\n" == path.read_text(encoding="utf-8")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# -- the card -----------------------------------------------------------------------------


async def test_the_nvda_card_reads_as_the_golden_file(make_chat) -> None:
    chat = await make_chat()
    [reply] = await chat.ask("/primer nvda")
    text = as_text(render_reply(reply))
    check_golden("primer_NVDA.txt", text)
    assert len(reply.text) < 1024  # fits a Telegram photo caption
    assert "unavailable" not in reply.text  # the demo data has every figure


async def test_the_chart_is_a_png_of_phone_size_with_the_levels_inside_its_range(make_chat, tmp_path: Path) -> None:
    from bot.features.primer.chart import build_figure

    chat = await make_chat()
    [reply] = await chat.ask("/primer NVDA")
    assert reply.image is not None and reply.image.filename == "NVDA-2025-01-28.png"
    width, height = png_size(reply.image.data)
    assert (width, height) == (1000, 560) and len(reply.image.data) > 20_000
    saved = save_image(reply.image, tmp_path / "charts")
    assert saved.read_bytes() == reply.image.data
    assert f"saved to {saved}]" in as_text(render_reply(reply, image_path=saved))
    # The same inputs the card charts: every level is drawn, inside the y-range.
    quote = (await chat.app.market.quotes(["NVDA"]))["NVDA"]
    bars = card.chart_window(await card.primer_history(chat.app.context, "NVDA", quote), quote.session)
    levels = card.chart_levels(await chat.app.rules.analyst_levels("NVDA"))
    assert sorted(levels) == [("entry", 125.0), ("exit", 170.0), ("stop", 97.0)]
    assert bars[-1].close == pytest.approx(127.83, abs=0.01) and bars[0].day >= date(2024, 7, 28)
    axes = build_figure("NVDA", bars, levels).axes[0]
    low, high = axes.get_ylim()
    drawn = {line.get_gid().split(":", 1)[1]: line.get_ydata()[0] for line in axes.lines if (line.get_gid() or "").startswith("level:")}
    assert drawn == {"entry": 125.0, "exit": 170.0, "stop": 97.0}
    assert all(low < price < high for price in drawn.values())


async def test_a_ticker_without_a_primer_file_gets_the_live_part(make_chat, tmp_path: Path) -> None:
    only_nvda = tmp_path / "primers"
    only_nvda.mkdir()
    shutil.copy(primer.default_folder() / "NVDA.toml", only_nvda / "NVDA.toml")
    chat = await make_chat(folder=only_nvda)
    [reply] = await chat.ask("/primer MSFT")
    text = as_text(render_reply(reply))
    check_golden("primer_MSFT_no_notes.txt", text)
    assert "No analyst notes for MSFT yet" in text
    assert reply.image is not None


async def test_an_index_without_fundamentals_says_unavailable(make_chat) -> None:
    chat = await make_chat()
    text = await chat.say("/primer ^SOX")
    assert "^SOX · PHLX Semiconductor Index" in text
    assert "Market cap: unavailable" in text and "P/E trailing · forward: unavailable · unavailable" in text
    assert "Gross margin: unavailable" in text
    assert "Next earnings: no date known." in text


async def test_an_unknown_ticker_gets_a_clear_reply(make_chat) -> None:
    chat = await make_chat()
    [reply] = await chat.ask("/primer XYZZ")
    assert reply.tone.value == "error" and reply.image is None
    assert reply.title.startswith("Unknown ticker XYZZ")


async def test_a_short_history_still_gets_a_card_and_a_chart(make_chat, tmp_path: Path) -> None:
    data = tmp_path / "short"
    data.mkdir()
    (data / "NEWCO.csv").write_text("Date,Open,High,Low,Close,Volume\n2025-01-27,10,11,9,10.5,100\n2025-01-28,10.5,12,10,11.75,100\n")
    chat = await make_chat(data=data)
    [reply] = await chat.ask("/primer NEWCO")
    assert "Range since 2025-01-27 $10.50 – $11.75 (closes): at 100% of it, at the high." in reply.text
    assert reply.image is not None and png_size(reply.image.data) == (1000, 560)
    # A single bar (a listing day) too.
    (data / "ONE.csv").write_text("Date,Open,High,Low,Close,Volume\n2025-01-28,10,11,9,10.5,100\n")
    single = await make_chat(data=data, db=tmp_path / "one.sqlite3")
    [reply] = await single.ask("/primer ONE")
    assert reply.image is not None and "No analyst notes for ONE yet" in reply.text


# -- the seed levels ----------------------------------------------------------------------


async def test_seed_levels_are_created_on_start_and_a_level_set_in_chat_wins_across_restarts(make_chat, tmp_path: Path) -> None:
    db = tmp_path / "keep.sqlite3"
    first = await make_chat(db=db)
    levels = {(r.ticker, str(r.level_name)): r.threshold for r in await first.app.rules.analyst_levels()}
    assert levels[("NVDA", "entry")] == 125.0 and levels[("^SOX", "stop")] == 4800.0
    assert levels[("MSFT", "exit")] == pytest.approx(36 * 13.90)  # 36x forward EPS from the demo fundamentals
    assert len(levels) == 25
    assert "NVDA entry level set at $118.00" in await first.say("/setlevel NVDA entry 118", user=ANALYST)
    assert "Cleared stop for AVGO" in await first.say("/clearlevel AVGO stop", user=ANALYST)
    await first.app.close()
    second = await make_chat(db=db, clock=first.clock)
    nvda = {str(r.level_name): r.threshold for r in await second.app.rules.analyst_levels("NVDA")}
    assert nvda == {"entry": 118.0, "exit": 170.0, "stop": 97.0}
    assert [str(r.level_name) for r in await second.app.rules.analyst_levels("AVGO")] == ["entry", "exit"]
    assert len(second.app.rules.rules_of("NVDA")) == 3


async def test_a_changed_seed_file_moves_a_level_still_at_its_old_seed_only(make_chat, tmp_path: Path) -> None:
    folder = tmp_path / "primers"
    shutil.copytree(primer.default_folder(), folder, ignore=shutil.ignore_patterns("*.md"))
    db = tmp_path / "seeds.sqlite3"
    first = await make_chat(folder=folder, db=db)
    await first.say("/setlevel NVDA exit 180", user=ANALYST)
    await first.app.close()
    nvda = (folder / "NVDA.toml").read_text()
    nvda = nvda.replace("entry = { price = 125.0", "entry = { price = 120.0").replace("exit = { price = 170.0", "exit = { price = 175.0")
    (folder / "NVDA.toml").write_text(nvda)
    second = await make_chat(folder=folder, db=db, clock=first.clock)
    levels = {str(r.level_name): r.threshold for r in await second.app.rules.analyst_levels("NVDA")}
    assert levels == {"entry": 120.0, "exit": 180.0, "stop": 97.0}  # the analyst's file moved entry; chat's exit stands
    assert [r.level_name for r in await second.app.rules.analyst_levels("NVDA")] == [LevelName.ENTRY, LevelName.EXIT, LevelName.STOP]


async def test_a_broken_primer_file_stops_start_up_naming_the_file_and_the_field(make_chat, tmp_path: Path) -> None:
    folder = tmp_path / "primers"
    shutil.copytree(primer.default_folder(), folder, ignore=shutil.ignore_patterns("*.md"))
    text = (folder / "AVGO.toml").read_text()
    (folder / "AVGO.toml").write_text(text.replace("stop = { price = ", "stop = { price = -", 1))
    chat = await make_chat()  # a good start, then the feature again over the broken folder
    with pytest.raises(ConfigError) as problem:
        await chat.app.add_feature(primer.PrimerFeature(chat.app.context, folder=folder))
    message = str(problem.value)
    assert "AVGO.toml" in message and "levels.stop.price" in message and "positive" in message
    (folder / "AVGO.toml").write_text(text.replace("summary =", "sumary =", 1))
    with pytest.raises(ConfigError, match=r"AVGO\.toml: sumary: unknown key"):
        await chat.app.add_feature(primer.PrimerFeature(chat.app.context, folder=folder))


# -- the demo -----------------------------------------------------------------------------


async def test_the_demo_shows_a_primer_card_saves_its_chart_and_tells_earnings(tmp_path: Path) -> None:
    import io

    from bot.replay import run_replay

    out = io.StringIO()
    script = (DEMO_DATA.parent / "script.txt").read_text().splitlines()
    await run_replay(Config(), data_dir=DEMO_DATA, start=date(2025, 1, 21), end=date(2025, 1, 31), script=script, out=out, charts_dir=tmp_path / "charts")
    text = out.getvalue()
    chart = tmp_path / "charts" / "NVDA-2025-01-21.png"  # the chart of the first session, when the script runs
    assert f"saved to {chart}]" in text and chart.read_bytes()[:8] == PNG_SIGNATURE
    assert "NVDA · NVIDIA Corporation" in text and "Levels: entry $125.00" in text
    assert "MSFT reports earnings tomorrow, after the close" in text
    assert "META reports earnings today, after the close" in text
    assert "MSFT after earnings: −6.20% on Thu 2025-01-30" in text and "META after earnings: +1.60% on Thu 2025-01-30" in text
    assert "Traceback" not in text
