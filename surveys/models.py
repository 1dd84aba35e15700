"""Database models of the study app (added as the study features land)."""
