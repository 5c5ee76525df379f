"""The Telegram adapter: python-telegram-bot in our event loop, HTML replies, inline buttons."""

from bot.adapters.telegram.adapter import PacedRateLimiter, TelegramAdapter

__all__ = ["PacedRateLimiter", "TelegramAdapter"]
