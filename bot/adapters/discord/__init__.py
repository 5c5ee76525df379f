"""The Discord adapter (discord.py): slash commands from the command table, embeds, buttons."""

from bot.adapters.discord.adapter import DiscordAdapter

__all__ = ["DiscordAdapter"]
