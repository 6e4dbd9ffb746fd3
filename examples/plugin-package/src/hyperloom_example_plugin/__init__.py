"""An example third-party hyperloom plugin (see the package's pyproject.toml for the entry points)."""

__version__ = "0.2.0"
