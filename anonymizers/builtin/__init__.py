"""The built-in data types: accounts, activity, contacts, files, messages. Each is
written against anonymizers.api only, and owns its SQL (sql/<data type>.sql)."""
