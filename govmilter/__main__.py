"""``python -m govmilter`` runs the command line."""

import sys

from govmilter.cli import main

sys.exit(main())
