"""The PostgreSQL implementation of the storage ports (`bot.core.ports`), through asyncpg."""
