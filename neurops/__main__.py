"""``python -m neurops`` runs the command line."""

import sys

from neurops.cli import main

sys.exit(main())
