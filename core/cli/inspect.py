"""(placeholder: commands are added by their owner)."""

from hyperloom.cli import app  # noqa: F401
