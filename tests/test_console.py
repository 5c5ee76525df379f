"""The console adapter as a person uses it: lines in, replies and alerts out."""

from __future__ import annotations

import asyncio
import io
from datetime import date

from rich.console import Console

from bot.adapters.console import ConsoleAdapter
from bot.adapters.console.render import as_text, render_alert
from bot.core.messages import Alert, AlertKind
from tests.conftest import DEMO_DATA, DESCRIBER, ny


async def test_piped_commands_run_in_order_and_end_of_input_stops(make_harness, tmp_path) -> None:
    harness = await make_harness(DEMO_DATA, ny(date(2025, 1, 24), 17))
    screen = io.StringIO()
    ended = asyncio.Event()
    lines = "/price NVDA\n/alert NVDA below 120\n:as analyst\n/setlevel NVDA entry 125\n:as bob\n/setlevel NVDA exit 170\nhello\n"
    adapter = ConsoleAdapter(
        harness.app.router, describer=harness.app.describer(), user="alice", stdin=io.StringIO(lines),
        output=Console(file=screen, width=200), on_end_of_input=ended.set, prompt=False, charts_dir=tmp_path,
    )
    await adapter.start()
    await asyncio.wait_for(ended.wait(), timeout=10)
    await adapter.stop()
    text = screen.getvalue()
    assert "NVDA $142.60" in text
    assert "Alert #1 set: NVDA below $120.00" in text
    assert "Now speaking as analyst (an admin)." in text
    assert "NVDA entry level set at $125.00" in text
    assert "/setlevel is for the bot's admins" in text  # bob is not
    assert "Commands start with /. Try /help." in text


async def test_alerts_print_with_their_actions() -> None:
    alert = Alert(kind=AlertKind.SELLOFF, ticker="CRDO", at=ny(date(2025, 1, 27), 16, 5), price=55.6, change_pct=-30.91, threshold_pct=5.0, extra={"prev_close": 80.47})
    text = as_text(render_alert(alert, DESCRIBER))
    assert text == (
        "🔔 ▼ Sell-off: CRDO down 30.91% today\n"
        "  Now $55.60, −30.91% today (previous close $80.47).\n"
        "  This chat watches CRDO for daily falls of 5% or more.\n"
        "  [Primer: /primer CRDO]\n"
        "  2025-01-27 16:05 ET"
    )
