"""The server's named SQL queries (server/sql/queries.sql)."""

from db.queries import load_queries

Q = load_queries("server.sql", "queries.sql")
