"""``python -m shoal.cli`` runs the command line (as ``shoal`` and ``python -m shoal`` do)."""

import sys

from . import main

sys.exit(main())
