"""``python -m drift_monitor`` runs the CLI."""

import sys

from drift_monitor.cli import main

sys.exit(main())
