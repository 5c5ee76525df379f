"""Configuration: a TOML file read with the standard library, every value defaulted.

Every key can also come from the environment as `TICKERBELL_<SECTION>__<KEY>` (for example
`TICKERBELL_MARKET__POLL_SECONDS=30`), which overrides the file. Only names with a double
underscore are config keys: the token variables and `TICKERBELL_CONFIG` are not.

A wrong value stops start-up with one line naming where it came from (the file, or the
environment variable), the key and what was expected (`ConfigError`). Tokens are never in
the file: it names the environment variables that hold them.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

ENV_PREFIX = "TICKERBELL_"
CONFIG_ENV = "TICKERBELL_CONFIG"  # names the config file when --config is not given


class ConfigError(Exception):
    """A configuration problem, worded for the person starting the bot."""


@dataclass(frozen=True)
class BotConfig:
    admins: frozenset[str] = frozenset()  # "platform:user_id"
    max_alerts_per_user: int = 50


@dataclass(frozen=True)
class StorageConfig:
    path: str = "var/tickerbell.sqlite3"
    url: str = ""  # "postgresql://user@host:5432/db" or "sqlite:///path"; when set, it wins over `path`

    @property
    def target(self) -> str:
        """What to open: the URL if one is set, else the SQLite file at `path`."""
        return self.url or self.path


@dataclass(frozen=True)
class MarketConfig:
    provider: str = "yfinance"  # or "csv"
    data_dir: str = ""
    poll_seconds: int = 60
    timeout_seconds: float = 20.0
    exchange: str = "XNYS"
    stream: bool = True  # streamed quotes (with the yfinance provider); polling stays as the fallback
    stream_url: str = "wss://streamer.finance.yahoo.com/?version=2"
    tick_seconds: float = 1.0  # each ticker's latest streamed price is checked at most this often
    extended_hours: bool = False  # ticks before the open and after the close fire every rule, not only levels


@dataclass(frozen=True)
class AlertsConfig:
    rearm_band_pct: float = 1.0
    selloff_pct: float = 5.0  # a watched ticker falling this much in a day alerts the chat
    drawdown_pct: float = 20.0  # ... or this much from its 52-week high
    rearm_cooldown_minutes: float = 30.0  # at most one alert per rule in this time
    look_back: bool = True  # /alert's reply says how often the rule would have fired over three years


@dataclass(frozen=True)
class ConsoleConfig:
    enabled: bool = False
    user: str = "you"


@dataclass(frozen=True)
class TelegramConfig:
    enabled: bool = False
    token_env: str = "TICKERBELL_TELEGRAM_TOKEN"
    api_base_url: str = "https://api.telegram.org/bot"
    mode: str = "polling"  # or "webhook": updates POSTed to this process (any gateway process, behind a load balancer)
    webhook_host: str = "0.0.0.0"  # where the webhook endpoint listens
    webhook_port: int = 8443
    webhook_path: str = "/telegram"
    webhook_url: str = ""  # the public URL Telegram posts to; set, it is registered with setWebhook at start
    webhook_token_env: str = "TICKERBELL_TELEGRAM_WEBHOOK_TOKEN"  # the NAME of the variable holding the secret token


@dataclass(frozen=True)
class DiscordConfig:
    enabled: bool = False
    token_env: str = "TICKERBELL_DISCORD_TOKEN"
    api_base_url: str = "https://discord.com/api/v10"
    guild_ids: tuple[int, ...] = ()
    shard_count: int = 0  # 0: one connection; more: discord.py's automatic sharding
    shard_ids: tuple[int, ...] = ()  # with shard_count: the shards THIS process holds (several processes split them); empty: all
    message_content: bool = False  # read ordinary messages (cashtags): needs the privileged intent in the Developer Portal


@dataclass(frozen=True)
class MetricsConfig:
    enabled: bool = False  # an HTTP endpoint with /healthz and the metrics
    host: str = "127.0.0.1"
    port: int = 9464


ROLES = ("checker", "delivery", "gateway")


@dataclass(frozen=True)
class ClusterConfig:
    """Several processes on one PostgreSQL database (README "Scaling out")."""

    role: str = "all"  # "all", or some of checker, delivery, gateway separated by commas
    lease_seconds: float = 5.0  # how often each process asks for the market-timer lease
    claim_seconds: float = 30.0  # a chat claimed by a process that died returns to the queue after this
    max_chats: int = 16  # chats served at once by one process's dispatcher
    shared_limits: bool = True  # on PostgreSQL: platform send limits shared by every process

    @property
    def roles(self) -> frozenset[str]:
        if self.role == "all":
            return frozenset(ROLES)
        return frozenset(part.strip() for part in self.role.split(","))


@dataclass(frozen=True)
class Config:
    bot: BotConfig = field(default_factory=BotConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    market: MarketConfig = field(default_factory=MarketConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    source: str = "(defaults)"
    # (section, key) -> "environment NAME" for each key the environment set
    overrides: Mapping[tuple[str, str], str] = field(default_factory=dict, compare=False, repr=False)

    def origin(self, section: str, key: str) -> str:
        """Where a key's value came from, for messages: the environment variable, or the file."""
        return self.overrides.get((section, key), self.source)

    def token(self, env_name: str, platform: str, environ: Mapping[str, str] | None = None) -> str:
        """Read a token from the environment, or stop with a line saying which variable to set."""
        value = (os.environ if environ is None else environ).get(env_name, "").strip()
        if not value:
            raise ConfigError(f"{platform} is enabled but the environment variable {env_name} is empty: set it to the bot token.")
        return value

    def check_tokens(self, environ: Mapping[str, str] | None = None) -> None:
        """Stop, before anything connects, if an enabled platform's token variable is empty."""
        problems = []
        for platform, section in (("Telegram", self.telegram), ("Discord", self.discord)):
            if section.enabled:
                try:
                    self.token(section.token_env, platform, environ)
                except ConfigError as problem:
                    problems.append(str(problem))
        if self.telegram.enabled and self.telegram.mode == "webhook" and not (os.environ if environ is None else environ).get(self.telegram.webhook_token_env, "").strip():
            problems.append(f"[telegram] mode is \"webhook\" but the environment variable {self.telegram.webhook_token_env} is empty: "
                            "set it to a secret of 1 to 256 letters, digits, _ or - (Telegram sends it with every update).")
        if problems:
            raise ConfigError(" ".join(problems))


SECTIONS: dict[str, type] = {
    "bot": BotConfig,
    "storage": StorageConfig,
    "market": MarketConfig,
    "alerts": AlertsConfig,
    "console": ConsoleConfig,
    "telegram": TelegramConfig,
    "discord": DiscordConfig,
    "metrics": MetricsConfig,
    "cluster": ClusterConfig,
}
REMOVED: dict[tuple[str, str], str] = {
    ("bot", "timezone"): "removed; times follow the exchange's own time zone from its calendar ([market] exchange)",
}
_ADMIN = re.compile(r"^[a-z]+:[^\s]{1,64}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")
_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


STORAGE_SCHEMES = ("postgresql://", "postgres://", "sqlite:///")
_PASSWORD = re.compile(r"(//[^/:@]*:)[^@/]*@")  # the password of a URL, masked in messages


def load_config(path: str | Path | None, environ: Mapping[str, str] | None = None) -> Config:
    """Read and check a config file (None: no file) with the environment's overrides (default `os.environ`)."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    source = "(defaults)"
    if path is not None:
        file = Path(path)
        source = str(file)
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{file}: no such file") from None
        except IsADirectoryError:
            raise ConfigError(f"{file}: a folder, not a config file") from None
        except tomllib.TOMLDecodeError as problem:
            raise ConfigError(f"{file}: not valid TOML ({problem})") from None
        unknown = sorted(set(raw) - set(SECTIONS))
        if unknown:
            raise ConfigError(f"{source}: [{unknown[0]}]: unknown section (known: {', '.join(sorted(SECTIONS))})")
    overrides, strays = _apply_environment(raw, environ)
    config = _build(_Reader(raw, source, overrides))
    tokens = {config.telegram.token_env, config.discord.token_env}
    for name, stray_problem in strays:
        if name not in tokens:  # a token variable whose name happens to have a double underscore
            raise ConfigError(f"environment {name}: {stray_problem}")
    return config


def _apply_environment(raw: dict[str, Any], environ: Mapping[str, str]) -> tuple[dict[tuple[str, str], str], list[tuple[str, str]]]:
    """Merge `TICKERBELL_<SECTION>__<KEY>` values into `raw`; return where each came from, and the unknown names."""
    overrides: dict[tuple[str, str], str] = {}
    strays: list[tuple[str, str]] = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or "__" not in name[len(ENV_PREFIX) :]:
            continue
        section, key = name[len(ENV_PREFIX) :].lower().split("__", 1)
        if section not in SECTIONS:
            strays.append((name, f"[{section}]: unknown section (known: {', '.join(sorted(SECTIONS))})"))
            continue
        kinds = _kinds(section)
        if key not in kinds and (section, key) not in REMOVED:
            strays.append((name, f"[{section}] {key}: unknown key (known: {', '.join(sorted(kinds))})"))
            continue
        table = raw.setdefault(section, {})
        if isinstance(table, dict):  # otherwise the file's own mistake is reported
            table[key] = _parse(environ[name], kinds.get(key, str))
            overrides[(section, key)] = f"environment {name}"
    return overrides, strays


def _kinds(section: str) -> dict[str, Any]:
    """A section's keys and their types, from its dataclass."""
    hints = get_type_hints(SECTIONS[section])
    return {f.name: hints[f.name] for f in fields(SECTIONS[section])}


def _parse(text: str, kind: Any) -> Any:
    """An environment value as the key's type; text that does not parse is kept, for the checks to reject."""
    if get_origin(kind) in (frozenset, tuple, list):
        return _parse_list(text, get_args(kind)[0])
    if kind is bool:
        return _BOOLS.get(text.strip().lower(), text)
    if kind in (int, float):
        try:
            return kind(text.strip())
        except ValueError:
            return text
    return text


def _parse_list(text: str, item: Any) -> Any:
    """A TOML/JSON array (`["telegram:1"]`, `[1, 2]`) or a comma-separated list (`1,2`)."""
    text = text.strip()
    if text.startswith("["):
        try:
            return tomllib.loads(f"value = {text}")["value"]
        except tomllib.TOMLDecodeError:
            return text
    return [_parse(part.strip(), item) for part in text.split(",") if part.strip()]


class _Reader:
    def __init__(self, raw: dict[str, Any], source: str, overrides: dict[tuple[str, str], str]) -> None:
        self.raw = raw
        self.source = source
        self.overrides = overrides

    def where(self, section: str, key: str) -> str:
        return self.overrides.get((section, key), self.source)

    def section(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{self.source}: [{name}] must be a table")
        for key in sorted(value):
            if (name, key) in REMOVED:
                raise ConfigError(f"{self.where(name, key)}: [{name}] {key}: {REMOVED[(name, key)]}")
        known = set(_kinds(name))
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigError(f"{self.source}: [{name}] {unknown[0]}: unknown key (known: {', '.join(sorted(known))})")
        return value

    def fail(self, section: str, key: str, expected: str, got: object, *, blame: str | None = None) -> ConfigError:
        """`blame` names another key of the section whose value caused the problem (when this one was not set)."""
        where = self.where(section, blame) if blame else self.where(section, key)
        return ConfigError(f"{where}: [{section}] {key}: expected {expected}, got {got!r}")


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


def _build(reader: _Reader) -> Config:
    t = reader.section("bot")
    admins_raw = t.get("admins", [])
    if not isinstance(admins_raw, list) or not all(isinstance(a, str) and _ADMIN.match(a) for a in admins_raw):
        raise reader.fail("bot", "admins", 'a list like ["console:analyst", "telegram:123456"]', admins_raw)
    max_alerts = _get(reader, t, "bot", "max_alerts_per_user", BotConfig.max_alerts_per_user, int)
    if not 1 <= max_alerts <= 10_000:
        raise reader.fail("bot", "max_alerts_per_user", "a number from 1 to 10000", max_alerts)
    bot = BotConfig(admins=frozenset(admins_raw), max_alerts_per_user=max_alerts)

    t = reader.section("storage")
    storage = StorageConfig(path=_get(reader, t, "storage", "path", StorageConfig.path, str), url=_get(reader, t, "storage", "url", "", str))
    if storage.url and not storage.url.startswith(STORAGE_SCHEMES):
        raise reader.fail("storage", "url", '"postgresql://user@host:5432/db" or "sqlite:///path"', _PASSWORD.sub(r"\1***@", storage.url))

    t = reader.section("market")
    provider = _get(reader, t, "market", "provider", MarketConfig.provider, str)
    if provider not in ("yfinance", "csv"):
        raise reader.fail("market", "provider", '"yfinance" or "csv"', provider)
    data_dir = _get(reader, t, "market", "data_dir", "", str)
    if provider == "csv" and not data_dir:
        blame = None if "data_dir" in t else "provider"
        raise reader.fail("market", "data_dir", 'a folder of CSV prices when provider = "csv"', data_dir, blame=blame)
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
        **_stream_keys(reader, t),
    )

    t = reader.section("alerts")
    alerts = AlertsConfig(
        rearm_band_pct=_percent(reader, t, "rearm_band_pct", AlertsConfig.rearm_band_pct, 0.0, 20.0),
        selloff_pct=_percent(reader, t, "selloff_pct", AlertsConfig.selloff_pct, 0.1, 100.0),
        drawdown_pct=_percent(reader, t, "drawdown_pct", AlertsConfig.drawdown_pct, 0.1, 99.0),
        rearm_cooldown_minutes=_cooldown(reader, t),
        look_back=_get(reader, t, "alerts", "look_back", AlertsConfig.look_back, bool),
    )

    t = reader.section("console")
    console = ConsoleConfig(
        enabled=_get(reader, t, "console", "enabled", False, bool),
        user=_get(reader, t, "console", "user", ConsoleConfig.user, str),
    )

    t = reader.section("telegram")
    telegram = TelegramConfig(
        enabled=_get(reader, t, "telegram", "enabled", False, bool),
        token_env=_env_name(reader, t, "telegram", TelegramConfig.token_env),
        api_base_url=_url(reader, t, "telegram", TelegramConfig.api_base_url),
        **_webhook(reader, t),
    )

    t = reader.section("discord")
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
        shard_ids=_shard_ids(reader, t, shards),
    )

    t = reader.section("metrics")
    host = _get(reader, t, "metrics", "host", MetricsConfig.host, str)
    if not re.match(r"^[A-Za-z0-9.:\-]{1,253}$", host):
        raise reader.fail("metrics", "host", "a host name or IP address to listen on, such as 127.0.0.1 or 0.0.0.0", host)
    port = _get(reader, t, "metrics", "port", MetricsConfig.port, int)
    if not 1 <= port <= 65535:
        raise reader.fail("metrics", "port", "a TCP port from 1 to 65535", port)
    metrics = MetricsConfig(enabled=_get(reader, t, "metrics", "enabled", False, bool), host=host, port=port)
    cluster = _cluster(reader)
    if cluster.role != "all" and not _postgres(storage.target):
        raise ConfigError(f"{reader.where('cluster', 'role')}: [cluster] role: {cluster.role!r} {SPLIT_NEEDS_POSTGRES}")
    return Config(bot, storage, market, alerts, console, telegram, discord, metrics, cluster=cluster, source=reader.source, overrides=dict(reader.overrides))


ROLE_EXPECTED = f'"all", or some of {", ".join(ROLES)} separated by commas'


def _role_parts(role: str) -> set[str] | None:
    """The roles a `role` value names, or None if it is not one."""
    if role.strip().lower() == "all":
        return set(ROLES)
    parts = {part.strip().lower() for part in role.split(",")}
    return parts if parts and parts <= set(ROLES) else None


def with_role(config: Config, role: str) -> Config:
    """The config with `tickerbell run --role ROLE` instead of its [cluster] role."""
    parts = _role_parts(role)
    if parts is None:
        raise ConfigError(f"--role: expected {ROLE_EXPECTED}, got {role!r}")
    value = "all" if parts == set(ROLES) else ",".join(sorted(parts))
    if value != "all" and not _postgres(config.storage.target):
        raise ConfigError(f"--role: {value!r} {SPLIT_NEEDS_POSTGRES}")
    return replace(config, cluster=replace(config.cluster, role=value))


SPLIT_NEEDS_POSTGRES = 'splits the work between processes, which needs a PostgreSQL database ([storage] url = "postgresql://...")'


def _postgres(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def _cluster(reader: _Reader) -> ClusterConfig:
    t = reader.section("cluster")
    role = _get(reader, t, "cluster", "role", ClusterConfig.role, str).strip().lower()
    parts = _role_parts(role)
    if parts is None:
        raise reader.fail("cluster", "role", ROLE_EXPECTED, role)
    lease = _get(reader, t, "cluster", "lease_seconds", ClusterConfig.lease_seconds, float)
    if not 0.1 <= lease <= 60:
        raise reader.fail("cluster", "lease_seconds", "a number of seconds from 0.1 to 60", lease)
    claim = _get(reader, t, "cluster", "claim_seconds", ClusterConfig.claim_seconds, float)
    if not 1 <= claim <= 3600:
        raise reader.fail("cluster", "claim_seconds", "a number of seconds from 1 to 3600", claim)
    max_chats = _get(reader, t, "cluster", "max_chats", ClusterConfig.max_chats, int)
    if not 1 <= max_chats <= 256:
        raise reader.fail("cluster", "max_chats", "a number from 1 to 256", max_chats)
    shared = _get(reader, t, "cluster", "shared_limits", ClusterConfig.shared_limits, bool)
    return ClusterConfig(role=",".join(sorted(parts)) if parts != set(ROLES) else "all", lease_seconds=lease, claim_seconds=claim,
                         max_chats=max_chats, shared_limits=shared)


def _shard_ids(reader: _Reader, t: dict[str, Any], shard_count: int) -> tuple[int, ...]:
    ids = t.get("shard_ids", [])
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < max(shard_count, 1) for i in ids) or len(set(ids)) != len(ids):
        raise reader.fail("discord", "shard_ids", f"a list of distinct shard numbers from 0 to shard_count - 1 ({max(shard_count - 1, 0)})", ids)
    if ids and shard_count == 0:
        raise reader.fail("discord", "shard_count", "the total number of shards when shard_ids is set", shard_count, blame="shard_ids")
    return tuple(ids)


def _webhook(reader: _Reader, t: dict[str, Any]) -> dict[str, Any]:
    """[telegram] mode and the webhook endpoint's keys."""
    mode = _get(reader, t, "telegram", "mode", TelegramConfig.mode, str)
    if mode not in ("polling", "webhook"):
        raise reader.fail("telegram", "mode", '"polling" or "webhook"', mode)
    port = _get(reader, t, "telegram", "webhook_port", TelegramConfig.webhook_port, int)
    if not 1 <= port <= 65535:
        raise reader.fail("telegram", "webhook_port", "a TCP port from 1 to 65535", port)
    path = _get(reader, t, "telegram", "webhook_path", TelegramConfig.webhook_path, str)
    if not re.match(r"^/[A-Za-z0-9_\-/]{0,200}$", path):
        raise reader.fail("telegram", "webhook_path", "a URL path such as /telegram", path)
    url = _get(reader, t, "telegram", "webhook_url", "", str)
    if url and not re.match(r"^https://[^\s]+$", url):
        raise reader.fail("telegram", "webhook_url", "the public https:// URL Telegram posts updates to", url)
    secret_env: str = _get(reader, t, "telegram", "webhook_token_env", TelegramConfig.webhook_token_env, str)
    if not _ENV_NAME.match(secret_env):
        raise reader.fail("telegram", "webhook_token_env", "the NAME of an environment variable (the secret itself never goes in this file)", "<hidden>")
    host = _get(reader, t, "telegram", "webhook_host", TelegramConfig.webhook_host, str)
    return {"mode": mode, "webhook_host": host, "webhook_port": port, "webhook_path": path, "webhook_url": url, "webhook_token_env": secret_env}


def _stream_keys(reader: _Reader, table: dict[str, Any]) -> dict[str, Any]:
    """[market] stream, stream_url, tick_seconds, extended_hours."""
    url = _get(reader, table, "market", "stream_url", MarketConfig.stream_url, str)
    if not re.match(r"^wss?://[^\s]+$", url):
        raise reader.fail("market", "stream_url", "a ws:// or wss:// URL", url)
    tick = _get(reader, table, "market", "tick_seconds", MarketConfig.tick_seconds, float)
    if not 0.1 <= tick <= 60:
        raise reader.fail("market", "tick_seconds", "a number of seconds from 0.1 to 60", tick)
    return {"stream": _get(reader, table, "market", "stream", MarketConfig.stream, bool), "stream_url": url, "tick_seconds": tick,
            "extended_hours": _get(reader, table, "market", "extended_hours", MarketConfig.extended_hours, bool)}


def _cooldown(reader: _Reader, table: dict[str, Any]) -> float:
    value: float = _get(reader, table, "alerts", "rearm_cooldown_minutes", AlertsConfig.rearm_cooldown_minutes, float)
    if not 0 <= value <= 1440:
        raise reader.fail("alerts", "rearm_cooldown_minutes", "a number of minutes from 0 to 1440", value)
    return value


def _percent(reader: _Reader, table: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value: float = _get(reader, table, "alerts", key, default, float)
    if not low <= value <= high:
        raise reader.fail("alerts", key, f"a percent from {low:g} to {high:g}", value)
    return value


def _env_name(reader: _Reader, table: dict[str, Any], section: str, default: str) -> str:
    value: str = _get(reader, table, section, "token_env", default, str)
    if not _ENV_NAME.match(value):
        raise reader.fail(section, "token_env", "the NAME of an environment variable (the token itself never goes in this file)", "<hidden>")
    return value


def _url(reader: _Reader, table: dict[str, Any], section: str, default: str) -> str:
    value: str = _get(reader, table, section, "api_base_url", default, str)
    if not re.match(r"^https?://[^\s]+$", value):
        raise reader.fail(section, "api_base_url", "an http(s) URL", value)
    return value.rstrip("/")
