"""Backups: streaming encrypted dumps, retention, restore and restore drills."""
