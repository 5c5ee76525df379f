"""The contract between the core and a chat platform.

An adapter turns platform events into `Invocation`s for the `CommandRouter`, renders the
`Reply`s it gets back, and delivers `Alert`s from the outbox. It is the only place that
imports a platform SDK. Delivery failures are reported with these exceptions:

    DeliveryError          could not deliver; the dispatcher retries with backoff
    ├── RetryLater         the platform asked us to wait `retry_after` seconds (flood control)
    └── ChatUnavailable    the bot was blocked, removed or lost access: the chat is marked
                           inactive and its deliveries stop until it talks to the bot again
"""

from __future__ import annotations

from typing import Protocol

from bot.core.messages import Alert
from bot.core.models import ChatRef


class DeliveryError(Exception):
    """A delivery failed in a way worth retrying."""


class RetryLater(DeliveryError):
    """Flood control: nothing more to this chat until `retry_after` seconds after this answer."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ChatUnavailable(DeliveryError):
    """The chat cannot receive messages from the bot any more."""


class Adapter(Protocol):
    platform: str  # "console", "telegram", "discord": the prefix of ChatRef/UserRef and admin ids

    async def start(self) -> None:
        """Connect and begin listening. Returns once the adapter is serving."""
        ...

    async def stop(self) -> None:
        """Disconnect cleanly. Safe to call twice."""
        ...

    async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
        """Deliver one alert to one chat, or raise a DeliveryError."""
        ...
