"""The bottom layer: the database connection type, SQL kept as SQL (named queries in
.sql files) and bulk writes. Both the server and the anonymizers build on it; it
imports neither."""
