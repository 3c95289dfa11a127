"""The store: saved runs, exact replay and a tamper-evident audit chain, on SQLite or PostgreSQL.

``db`` makes engines and migrates; ``models`` holds every table; ``runs`` saves, lists and loads runs;
``audit`` appends to and verifies the hash chain.
"""
