"""The architecture's rules, checked on the source: the arrows point inward, state has one owner,
the price check stays a pipeline of small steps, and the README's command table is the command table.

import-linter (`make lint`) holds the import contracts between packages; these tests hold what it
cannot express.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from bot.app import App
from bot.config import Config
from bot.core.commands import Access
from tests.conftest import ROOT

CORE = ROOT / "bot" / "core"
RULE_FIELDS = {"armed", "threshold", "snoozed_until", "direction", "met_session", "multiple", "basis", "note", "level_name", "ticker", "kind", "source"}
RULE_OWNERS = {CORE / "rules.py", CORE / "engine.py", ROOT / "bot" / "vector" / "engine.py", CORE / "indicators.py"}  # the rules owner and its in-memory indexes


def python_files(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*.py") if ".venv" not in p.parts)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", python_files(CORE), ids=lambda p: p.name)
def test_the_core_imports_only_itself_and_the_standard_library(path: Path) -> None:
    outside = {
        module
        for module in imported_modules(path)
        if not module.startswith("bot.core") and module.split(".")[0] not in sys.stdlib_module_names and module != "__future__"
    }
    assert outside == set(), f"{path.relative_to(ROOT)} imports {sorted(outside)}"


def test_no_module_outside_the_rules_owner_changes_a_rule() -> None:
    """Assignments to a rule's fields happen only in bot/core/rules.py and the engine it owns
    (storage sets the id and creation time of the row it inserts, nothing else)."""
    offenders = []
    for path in python_files(ROOT / "bot", ROOT / "jobs", ROOT / "storage"):
        if path in RULE_OWNERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr in RULE_FIELDS and isinstance(target.value, ast.Name) and "rule" in target.value.id:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} sets {target.value.id}.{target.attr}")
    assert offenders == []


def test_only_the_rules_owner_writes_rules_through_storage() -> None:
    writes = re.compile(r"(storage|store)\.rules\.(add|delete|set_snooze|update_level)\(|\.checks\.(record_check|apply_split)\(")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in python_files(ROOT / "bot", ROOT / "jobs")
        if path not in RULE_OWNERS
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if writes.search(line)
    ]
    assert offenders == []


def test_no_adapter_or_job_reaches_storage() -> None:
    for path in python_files(ROOT / "bot" / "adapters", ROOT / "jobs"):
        assert not any(m.startswith("storage") for m in imported_modules(path)), path
        assert ".store." not in path.read_text(encoding="utf-8"), f"{path} reaches into a store"


def test_the_price_check_is_a_pipeline_of_small_steps() -> None:
    tree = ast.parse((ROOT / "jobs" / "price_check.py").read_text(encoding="utf-8"))
    steps = {node.name: node.end_lineno - node.lineno + 1 for node in ast.walk(tree) if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef)}
    assert {"run_once", "_fetch_quotes", "_evaluate", "_fresh_quote", "_firings", "_hear_listeners"} <= set(steps)
    assert max(steps.values()) <= 30, steps


def test_no_module_names_a_time_zone_but_the_calendar() -> None:
    """The exchange's time zone comes from its calendar; nothing else hard-codes one."""
    named = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in python_files(ROOT / "bot", ROOT / "jobs", ROOT / "storage")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"ZoneInfo\(\s*[\"']", line)
    ]
    assert named == []


async def test_the_readme_command_table_is_the_command_table(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Chat commands", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `/")]
    documented: dict[str, bool] = {}
    for row in rows:
        first, what = row.split(" | ")[0:2]
        for name in re.findall(r"`/([a-z]+)", first):
            documented[name] = "*admins*" in what
    app = await App.create(Config(), storage_path=tmp_path / "bot.sqlite3", market=_NoMarket())
    try:
        table = {command.name: command.access is Access.ADMIN for command in app.router.commands}
    finally:
        await app.close()
    assert sorted(documented) == sorted(table), "the README's command table and the command table differ"
    assert documented == table, "a command's admins-only mark differs between the README and the table"


class _NoMarket:
    """Enough of a market for the app to start with every feature (no prices at all)."""

    async def quotes(self, tickers: object) -> dict[str, object]:
        return {}

    async def history(self, *args: object) -> list[object]:
        return []

    async def splits(self, ticker: str) -> list[object]:
        return []

    async def earnings(self, ticker: str) -> list[object]:
        return []

    async def fundamentals(self, ticker: str) -> None:
        return None

    async def aclose(self) -> None:
        return None
