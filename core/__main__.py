"""``python -m hyperloom`` runs the CLI."""

import sys

from hyperloom.cli import main

sys.exit(main())
