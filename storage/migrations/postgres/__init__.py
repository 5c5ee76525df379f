"""PostgreSQL migrations: the same version numbers as SQLite's (`storage/migrations/NNN_*.sql`), so that
a schema version means the same tables on both backends."""
