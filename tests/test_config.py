"""Configuration: defaults, the example file, and one clear line for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Config, ConfigError, load_config
from tests.conftest import ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tickerbell.toml"
    path.write_text(text)
    return path


def test_no_file_means_defaults() -> None:
    config = load_config(None)
    assert config == Config()
    assert config.bot.admins == frozenset()
    assert config.market.provider == "yfinance"
    assert config.alerts.rearm_band_pct == 1.0


def test_the_example_config_loads() -> None:
    config = load_config(ROOT / "config.example.toml")
    assert "console:analyst" in config.bot.admins
    assert config.telegram.token_env == "TICKERBELL_TELEGRAM_TOKEN"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[bot]\nadmins = 'console:analyst'", "[bot] admins: expected a list"),
        ("[bot]\nadmins = ['analyst']", "[bot] admins: expected a list"),
        ("[bot]\ntimezone = 'Mars/Olympus'", "[bot] timezone: expected an IANA time zone"),
        ("[market]\nprovider = 'bloomberg'", '[market] provider: expected "yfinance" or "csv"'),
        ("[market]\nprovider = 'csv'", "[market] data_dir: expected a folder"),
        ("[market]\npoll_seconds = 1", "[market] poll_seconds: expected a number of seconds from 15 to 3600"),
        ("[market]\npoll_seconds = 'often'", "[market] poll_seconds: expected a whole number"),
        ("[alerts]\nrearm_band_pct = -1", "[alerts] rearm_band_pct: expected a percent from 0 to 20"),
        ("[telegram]\nenabled = 'yes'", "[telegram] enabled: expected true or false"),
        ("[telegram]\ntoken_env = '123456:ABC-secret'", "[telegram] token_env: expected the NAME of an environment variable"),
        ("[discord]\nguild_ids = ['x']", "[discord] guild_ids: expected a list of server ids"),
        ("[discord]\napi_base_url = 'discord.com'", "[discord] api_base_url: expected an http(s) URL"),
        ("[storage]\npaht = 'x'", "[storage] paht: unknown key"),
        ("[telgram]\nenabled = true", "[telgram]: unknown section"),
        ("[bot\nadmins = []", "not valid TOML"),
    ],
)
def test_a_wrong_value_stops_with_one_clear_line(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as problem:
        load_config(path)
    message = str(problem.value)
    assert expected in message
    assert str(path) in message
    assert "\n" not in message
    assert "secret" not in message  # a token pasted by mistake is never echoed


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml")


def test_tokens_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = Config()
    monkeypatch.delenv("TICKERBELL_TELEGRAM_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="TICKERBELL_TELEGRAM_TOKEN is empty"):
        config.token("TICKERBELL_TELEGRAM_TOKEN", "Telegram")
    monkeypatch.setenv("TICKERBELL_TELEGRAM_TOKEN", "42:abc")
    assert config.token("TICKERBELL_TELEGRAM_TOKEN", "Telegram") == "42:abc"
