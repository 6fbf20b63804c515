"""The SQLite session store: one database file, WAL, versioned schema, one transaction per poll."""
