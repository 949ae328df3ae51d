"""The server's named SQL queries (server/sql/queries.sql)."""

from anonymizers.queries import load_queries

Q = load_queries("server.sql", "queries.sql")
