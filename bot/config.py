"""Configuration: a TOML file read with the standard library, every value defaulted.

A wrong value stops start-up with one line naming the file, the key and what was
expected (`ConfigError`). Tokens are never in the file: it names the environment
variables that hold them.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(Exception):
    """A configuration problem, worded for the person starting the bot."""


@dataclass(frozen=True)
class BotConfig:
    admins: frozenset[str] = frozenset()  # "platform:user_id"
    timezone: str = "America/New_York"  # how times are shown and when daily jobs run
    max_alerts_per_user: int = 50


@dataclass(frozen=True)
class StorageConfig:
    path: str = "var/tickerbell.sqlite3"


@dataclass(frozen=True)
class MarketConfig:
    provider: str = "yfinance"  # or "csv"
    data_dir: str = ""
    poll_seconds: int = 60
    timeout_seconds: float = 20.0
    exchange: str = "XNYS"


@dataclass(frozen=True)
class AlertsConfig:
    rearm_band_pct: float = 1.0
    selloff_pct: float = 5.0  # a watched ticker falling this much in a day alerts the chat
    drawdown_pct: float = 20.0  # ... or this much from its 52-week high


@dataclass(frozen=True)
class ConsoleConfig:
    enabled: bool = False
    user: str = "you"


@dataclass(frozen=True)
class TelegramConfig:
    enabled: bool = False
    token_env: str = "TICKERBELL_TELEGRAM_TOKEN"
    api_base_url: str = "https://api.telegram.org/bot"


@dataclass(frozen=True)
class DiscordConfig:
    enabled: bool = False
    token_env: str = "TICKERBELL_DISCORD_TOKEN"
    api_base_url: str = "https://discord.com/api/v10"
    guild_ids: tuple[int, ...] = ()
    shard_count: int = 0  # 0: one connection; more: discord.py's automatic sharding


@dataclass(frozen=True)
class Config:
    bot: BotConfig = field(default_factory=BotConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    market: MarketConfig = field(default_factory=MarketConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    source: str = "(defaults)"

    def token(self, env_name: str, platform: str) -> str:
        """Read a token from the environment, or stop with a line saying which variable to set."""
        value = os.environ.get(env_name, "").strip()
        if not value:
            raise ConfigError(f"{platform} is enabled but the environment variable {env_name} is empty: set it to the bot token.")
        return value


_ADMIN = re.compile(r"^[a-z]+:[^\s]{1,64}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")


def load_config(path: str | Path | None) -> Config:
    """Read and check a config file; None gives the defaults."""
    if path is None:
        return Config()
    file = Path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such file") from None
    except tomllib.TOMLDecodeError as problem:
        raise ConfigError(f"{file}: not valid TOML ({problem})") from None
    return _build(raw, str(file))


class _Reader:
    def __init__(self, raw: dict[str, Any], source: str) -> None:
        self.raw = raw
        self.source = source

    def section(self, name: str, known: set[str]) -> dict[str, Any]:
        value = self.raw.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{self.source}: [{name}] must be a table")
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigError(f"{self.source}: [{name}] {unknown[0]}: unknown key (known: {', '.join(sorted(known))})")
        return value

    def fail(self, section: str, key: str, expected: str, got: object) -> ConfigError:
        return ConfigError(f"{self.source}: [{section}] {key}: expected {expected}, got {got!r}")


def _get(reader: _Reader, table: dict[str, Any], section: str, key: str, default: Any, kind: type) -> Any:
    if key not in table:
        return default
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is bool and not isinstance(value, bool):
        raise reader.fail(section, key, "true or false", value)
    if kind is not bool and (isinstance(value, bool) or not isinstance(value, kind)):
        raise reader.fail(section, key, {int: "a whole number", float: "a number", str: "a string"}.get(kind, str(kind)), value)
    return value


def _build(raw: dict[str, Any], source: str) -> Config:
    reader = _Reader(raw, source)
    sections = {"bot", "storage", "market", "alerts", "console", "telegram", "discord"}
    unknown = sorted(set(raw) - sections)
    if unknown:
        raise ConfigError(f"{source}: [{unknown[0]}]: unknown section (known: {', '.join(sorted(sections))})")

    t = reader.section("bot", {"admins", "timezone", "max_alerts_per_user"})
    admins_raw = t.get("admins", [])
    if not isinstance(admins_raw, list) or not all(isinstance(a, str) and _ADMIN.match(a) for a in admins_raw):
        raise reader.fail("bot", "admins", 'a list like ["console:analyst", "telegram:123456"]', admins_raw)
    timezone = _get(reader, t, "bot", "timezone", BotConfig.timezone, str)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise reader.fail("bot", "timezone", "an IANA time zone such as America/New_York", timezone) from None
    max_alerts = _get(reader, t, "bot", "max_alerts_per_user", BotConfig.max_alerts_per_user, int)
    if not 1 <= max_alerts <= 10_000:
        raise reader.fail("bot", "max_alerts_per_user", "a number from 1 to 10000", max_alerts)
    bot = BotConfig(admins=frozenset(admins_raw), timezone=timezone, max_alerts_per_user=max_alerts)

    t = reader.section("storage", {"path"})
    storage = StorageConfig(path=_get(reader, t, "storage", "path", StorageConfig.path, str))

    t = reader.section("market", {"provider", "data_dir", "poll_seconds", "timeout_seconds", "exchange"})
    provider = _get(reader, t, "market", "provider", MarketConfig.provider, str)
    if provider not in ("yfinance", "csv"):
        raise reader.fail("market", "provider", '"yfinance" or "csv"', provider)
    data_dir = _get(reader, t, "market", "data_dir", "", str)
    if provider == "csv" and not data_dir:
        raise reader.fail("market", "data_dir", 'a folder of CSV prices when provider = "csv"', data_dir)
    poll = _get(reader, t, "market", "poll_seconds", MarketConfig.poll_seconds, int)
    if not 15 <= poll <= 3600:
        raise reader.fail("market", "poll_seconds", "a number of seconds from 15 to 3600", poll)
    timeout = _get(reader, t, "market", "timeout_seconds", MarketConfig.timeout_seconds, float)
    if not 1 <= timeout <= 300:
        raise reader.fail("market", "timeout_seconds", "a number of seconds from 1 to 300", timeout)
    market = MarketConfig(
        provider=provider,
        data_dir=data_dir,
        poll_seconds=poll,
        timeout_seconds=timeout,
        exchange=_get(reader, t, "market", "exchange", MarketConfig.exchange, str),
    )

    t = reader.section("alerts", {"rearm_band_pct", "selloff_pct", "drawdown_pct"})
    alerts = AlertsConfig(
        rearm_band_pct=_percent(reader, t, "rearm_band_pct", AlertsConfig.rearm_band_pct, 0.0, 20.0),
        selloff_pct=_percent(reader, t, "selloff_pct", AlertsConfig.selloff_pct, 0.1, 100.0),
        drawdown_pct=_percent(reader, t, "drawdown_pct", AlertsConfig.drawdown_pct, 0.1, 99.0),
    )

    t = reader.section("console", {"enabled", "user"})
    console = ConsoleConfig(
        enabled=_get(reader, t, "console", "enabled", False, bool),
        user=_get(reader, t, "console", "user", ConsoleConfig.user, str),
    )

    t = reader.section("telegram", {"enabled", "token_env", "api_base_url"})
    telegram = TelegramConfig(
        enabled=_get(reader, t, "telegram", "enabled", False, bool),
        token_env=_env_name(reader, t, "telegram", TelegramConfig.token_env),
        api_base_url=_url(reader, t, "telegram", TelegramConfig.api_base_url),
    )

    t = reader.section("discord", {"enabled", "token_env", "api_base_url", "guild_ids", "shard_count"})
    guilds = t.get("guild_ids", [])
    if not isinstance(guilds, list) or not all(isinstance(g, int) and not isinstance(g, bool) and g > 0 for g in guilds):
        raise reader.fail("discord", "guild_ids", "a list of server ids (numbers)", guilds)
    shards = _get(reader, t, "discord", "shard_count", 0, int)
    if not 0 <= shards <= 1000:
        raise reader.fail("discord", "shard_count", "a number from 0 to 1000", shards)
    discord = DiscordConfig(
        enabled=_get(reader, t, "discord", "enabled", False, bool),
        token_env=_env_name(reader, t, "discord", DiscordConfig.token_env),
        api_base_url=_url(reader, t, "discord", DiscordConfig.api_base_url),
        guild_ids=tuple(guilds),
        shard_count=shards,
    )
    return Config(bot, storage, market, alerts, console, telegram, discord, source=source)


def _percent(reader: _Reader, table: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = _get(reader, table, "alerts", key, default, float)
    if not low <= value <= high:
        raise reader.fail("alerts", key, f"a percent from {low:g} to {high:g}", value)
    return value


def _env_name(reader: _Reader, table: dict[str, Any], section: str, default: str) -> str:
    value = _get(reader, table, section, "token_env", default, str)
    if not _ENV_NAME.match(value):
        raise reader.fail(section, "token_env", "the NAME of an environment variable (the token itself never goes in this file)", "<hidden>")
    return value


def _url(reader: _Reader, table: dict[str, Any], section: str, default: str) -> str:
    value = _get(reader, table, section, "api_base_url", default, str)
    if not re.match(r"^https?://[^\s]+$", value):
        raise reader.fail(section, "api_base_url", "an http(s) URL", value)
    return value.rstrip("/")
