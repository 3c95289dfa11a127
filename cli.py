"""Thin entry point so that ``python cli.py ...`` works from a checkout."""

from matcher.cli import main

if __name__ == "__main__":
    main()
