"""A dispatcher process for the kill -9 trials: `python -m tests.faults.crash_worker DB SENDS`.

It drains DB's outbox through the real dispatcher (16 chats at a time) and a platform that takes
up to 5 ms per send and appends each send it accepted to SENDS (one line: the dedupe key), then
exits 0 once nothing is pending.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys

from bot.core.chats import ChatDirectory
from bot.core.clock import LiveClock
from bot.core.messages import Alert
from bot.core.models import ChatRef
from jobs.dispatch import Dispatcher
from storage.sqlite import SqliteStorage


class AppendingPlatform:
    """Accepts a send after a short network delay and appends its key to a file (kept by the OS through a kill -9)."""

    platform = "telegram"

    def __init__(self, fd: int) -> None:
        self.fd = fd

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
        await asyncio.sleep(random.uniform(0.0, 0.005))
        os.write(self.fd, f"k{alert.rule_id}\n".encode())


async def main(db: str, sends: str) -> None:
    clock = LiveClock()
    storage = await SqliteStorage.open(db)
    fd = os.open(sends, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        sender = Dispatcher(storage.outbox, ChatDirectory(storage.chats, clock), {"telegram": AppendingPlatform(fd)}, clock)
        while (await storage.outbox.counts()).pending:
            await sender.drain_once()
    finally:
        os.close(fd)
        await storage.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
