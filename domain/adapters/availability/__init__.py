"""The availability store."""
