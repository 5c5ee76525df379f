"""Configuration: defaults, the example file, and one clear line for each mistake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.config import BotConfig, Config, ConfigError, MetricsConfig, load_config
from tests.conftest import ROOT

TIMEZONE_REMOVED = "removed; times follow the exchange's own time zone from its calendar ([market] exchange)"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tickerbell.toml"
    path.write_text(text)
    return path


def test_no_file_means_defaults() -> None:
    config = load_config(None, environ={})
    assert config == Config()
    assert config.bot.admins == frozenset()
    assert config.market.provider == "yfinance"
    assert config.alerts.rearm_band_pct == 1.0


def test_the_example_config_loads() -> None:
    config = load_config(ROOT / "config.example.toml", environ={})
    assert "console:analyst" in config.bot.admins
    assert config.telegram.token_env == "TICKERBELL_TELEGRAM_TOKEN"
    assert config.metrics == MetricsConfig(enabled=False, host="127.0.0.1", port=9464)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[bot]\nadmins = 'console:analyst'", "[bot] admins: expected a list"),
        ("[bot]\nadmins = ['analyst']", "[bot] admins: expected a list"),
        ("[bot]\ntimezone = 'America/New_York'", f"[bot] timezone: {TIMEZONE_REMOVED}"),
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
        ("[metrics]\nport = 0", "[metrics] port: expected a TCP port from 1 to 65535, got 0"),
        ("[metrics]\nhost = 'my host'", "[metrics] host: expected a host name or IP address"),
        ("[metrics]\nenabled = 1", "[metrics] enabled: expected true or false"),
    ],
)
def test_a_wrong_value_stops_with_one_clear_line(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as problem:
        load_config(path, environ={})
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


def test_an_enabled_platform_without_its_token_stops_before_anything_starts() -> None:
    config = load_config(None, environ={"TICKERBELL_TELEGRAM__ENABLED": "true", "TICKERBELL_DISCORD__ENABLED": "true"})
    with pytest.raises(ConfigError) as problem:
        config.check_tokens({"TICKERBELL_DISCORD_TOKEN": "  "})
    message = str(problem.value)
    assert "TICKERBELL_TELEGRAM_TOKEN is empty" in message and "TICKERBELL_DISCORD_TOKEN is empty" in message
    assert "\n" not in message
    config.check_tokens({"TICKERBELL_TELEGRAM_TOKEN": "42:abc", "TICKERBELL_DISCORD_TOKEN": "xyz"})  # both set: no error


def test_a_disabled_platform_needs_no_token() -> None:
    load_config(None, environ={}).check_tokens({})
    config = load_config(None, environ={"TICKERBELL_TELEGRAM__ENABLED": "1", "TICKERBELL_TELEGRAM__TOKEN_ENV": "MY_TOKEN"})
    with pytest.raises(ConfigError, match="MY_TOKEN is empty"):
        config.check_tokens({"TICKERBELL_TELEGRAM_TOKEN": "42:abc"})
    config.check_tokens({"MY_TOKEN": "42:abc"})


# Every key from the environment: TICKERBELL_<SECTION>__<KEY>.


@pytest.mark.parametrize(
    ("name", "value", "read"),
    [
        ("TICKERBELL_STORAGE__PATH", "/data/tickerbell.sqlite3", lambda c: c.storage.path == "/data/tickerbell.sqlite3"),
        ("TICKERBELL_MARKET__POLL_SECONDS", "30", lambda c: c.market.poll_seconds == 30),
        ("TICKERBELL_MARKET__TIMEOUT_SECONDS", "7.5", lambda c: c.market.timeout_seconds == 7.5),
        ("TICKERBELL_MARKET__TIMEOUT_SECONDS", "12", lambda c: c.market.timeout_seconds == 12.0),
        ("TICKERBELL_ALERTS__SELLOFF_PCT", "3.5", lambda c: c.alerts.selloff_pct == 3.5),
        ("TICKERBELL_BOT__ADMINS", '["telegram:1", "console:analyst"]', lambda c: c.bot.admins == {"telegram:1", "console:analyst"}),
        ("TICKERBELL_BOT__ADMINS", "telegram:1, discord:2", lambda c: c.bot.admins == {"telegram:1", "discord:2"}),
        ("TICKERBELL_BOT__ADMINS", "", lambda c: c.bot.admins == frozenset()),
        ("TICKERBELL_DISCORD__GUILD_IDS", "1,2", lambda c: c.discord.guild_ids == (1, 2)),
        ("TICKERBELL_DISCORD__GUILD_IDS", "[80351110224678912]", lambda c: c.discord.guild_ids == (80351110224678912,)),
        ("TICKERBELL_METRICS__PORT", "9100", lambda c: c.metrics.port == 9100),
        ("TICKERBELL_METRICS__HOST", "0.0.0.0", lambda c: c.metrics.host == "0.0.0.0"),
        ("TICKERBELL_TELEGRAM__API_BASE_URL", "http://127.0.0.1:8081/bot/", lambda c: c.telegram.api_base_url == "http://127.0.0.1:8081/bot"),
    ],
)
def test_each_key_can_come_from_the_environment(name: str, value: str, read: Any) -> None:
    config = load_config(None, environ={name: value})
    assert read(config)
    section, key = name.removeprefix("TICKERBELL_").lower().split("__")
    assert config.origin(section, key) == f"environment {name}"


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("false", False), ("0", False), ("No", False)])
def test_booleans_from_the_environment(text: str, expected: bool) -> None:
    assert load_config(None, environ={"TICKERBELL_METRICS__ENABLED": text}).metrics.enabled is expected


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[market]\npoll_seconds = 120\nexchange = 'XLON'\n[console]\nenabled = true\n")
    config = load_config(path, environ={"TICKERBELL_MARKET__POLL_SECONDS": "30", "TICKERBELL_CONSOLE__ENABLED": "false"})
    assert config.market.poll_seconds == 30  # from the environment
    assert config.market.exchange == "XLON"  # from the file
    assert config.console.enabled is False
    assert config.origin("market", "poll_seconds") == "environment TICKERBELL_MARKET__POLL_SECONDS"
    assert config.origin("market", "exchange") == str(path)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {"TICKERBELL_MARKET__POLL_SECONDS": "2"},
            "environment TICKERBELL_MARKET__POLL_SECONDS: [market] poll_seconds: expected a number of seconds from 15 to 3600, got 2",
        ),
        ({"TICKERBELL_MARKET__POLL_SECONDS": "often"}, "environment TICKERBELL_MARKET__POLL_SECONDS: [market] poll_seconds: expected a whole number, got 'often'"),
        ({"TICKERBELL_CONSOLE__ENABLED": "maybe"}, "environment TICKERBELL_CONSOLE__ENABLED: [console] enabled: expected true or false, got 'maybe'"),
        ({"TICKERBELL_ALERTS__DRAWDOWN_PCT": "a lot"}, "environment TICKERBELL_ALERTS__DRAWDOWN_PCT: [alerts] drawdown_pct: expected a number, got 'a lot'"),
        ({"TICKERBELL_BOT__ADMINS": "analyst"}, "environment TICKERBELL_BOT__ADMINS: [bot] admins: expected a list like"),
        ({"TICKERBELL_DISCORD__GUILD_IDS": "1,two"}, "environment TICKERBELL_DISCORD__GUILD_IDS: [discord] guild_ids: expected a list of server ids (numbers), got [1, 'two']"),
        ({"TICKERBELL_DISCORD__GUILD_IDS": "[1,"}, "environment TICKERBELL_DISCORD__GUILD_IDS: [discord] guild_ids: expected a list of server ids"),
        ({"TICKERBELL_METRICS__PORT": "70000"}, "environment TICKERBELL_METRICS__PORT: [metrics] port: expected a TCP port from 1 to 65535, got 70000"),
        ({"TICKERBELL_MARKET__PROVIDER": "csv"}, 'environment TICKERBELL_MARKET__PROVIDER: [market] data_dir: expected a folder of CSV prices when provider = "csv"'),
        ({"TICKERBELL_BOT__TIMEZONE": "America/New_York"}, f"environment TICKERBELL_BOT__TIMEZONE: [bot] timezone: {TIMEZONE_REMOVED}"),
        ({"TICKERBELL_MARKET__PAHT": "x"}, "environment TICKERBELL_MARKET__PAHT: [market] paht: unknown key "
                                            "(known: data_dir, exchange, extended_hours, poll_seconds, provider, stream, stream_url, tick_seconds, timeout_seconds)"),
        ({"TICKERBELL_FOO__BAR": "x"}, "environment TICKERBELL_FOO__BAR: [foo]: unknown section (known: alerts, bot"),
        ({"TICKERBELL_TELEGRAM__TOKEN": "123456:ABC-secret"}, "environment TICKERBELL_TELEGRAM__TOKEN: [telegram] token: unknown key"),
        ({"TICKERBELL_TELEGRAM__TOKEN_ENV": "123456:ABC-secret"}, "environment TICKERBELL_TELEGRAM__TOKEN_ENV: [telegram] token_env: expected the NAME of an environment variable"),
    ],
)
def test_a_wrong_environment_value_names_the_variable(environ: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as problem:
        load_config(None, environ=environ)
    message = str(problem.value)
    assert message.startswith(expected)
    assert "\n" not in message
    assert "secret" not in message  # a token put in the wrong variable is never echoed


def test_an_environment_mistake_is_named_even_with_a_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[market]\npoll_seconds = 60\n")
    with pytest.raises(ConfigError) as problem:
        load_config(path, environ={"TICKERBELL_MARKET__POLL_SECONDS": "2"})
    assert str(problem.value) == "environment TICKERBELL_MARKET__POLL_SECONDS: [market] poll_seconds: expected a number of seconds from 15 to 3600, got 2"


def test_token_variables_and_other_names_are_not_config_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "[telegram]\ntoken_env = 'TICKERBELL_TG__TOKEN'\n")
    environ = {
        "TICKERBELL_TELEGRAM_TOKEN": "123456:ABC-secret",
        "TICKERBELL_DISCORD_TOKEN": "discord-secret",
        "TICKERBELL_TG__TOKEN": "123456:ABC-secret",  # named by token_env, so not a config key despite its "__"
        "TICKERBELL_CONFIG": str(path),
        "TICKERBELL_SOMETHING": "single underscore: not a config key",
        "OTHER__THING": "not ours",
    }
    config = load_config(path, environ=environ)
    assert config.telegram.token_env == "TICKERBELL_TG__TOKEN"
    assert config.overrides == {}
    assert "secret" not in repr(config)
    with pytest.raises(ConfigError, match="TICKERBELL_TG__TOKEN: \\[tg\\]: unknown section"):
        load_config(None, environ=environ)  # with the default token_env, the same variable is a mistake


def test_the_removed_timezone_key_is_reported_from_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[bot]\ntimezone = 'Europe/London'\n")
    with pytest.raises(ConfigError) as problem:
        load_config(path, environ={})
    assert str(problem.value) == f"{path}: [bot] timezone: {TIMEZONE_REMOVED}"
    assert "timezone" not in set(BotConfig.__dataclass_fields__)
