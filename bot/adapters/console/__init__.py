"""The console adapter: a chat in the terminal, for local use, demos and tests."""

from bot.adapters.console.adapter import ConsoleAdapter

__all__ = ["ConsoleAdapter"]
