"""The store: saved runs, exact replay and a tamper-evident audit chain, on SQLite or PostgreSQL.

``db`` makes engines and migrates; ``models`` holds every table; ``runs`` saves, lists and loads runs;
``audit`` appends to and verifies the hash chain.
"""

ENV_VAR = "MATCHER_DB"  # the database URL when --db is not given (light: the CLI reads it at start-up)
