"""Views of results for people and scripts: JSON, CSV and terminal tables."""
