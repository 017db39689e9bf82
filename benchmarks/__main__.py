"""``python -m benchmarks list | run NAME [options]``: see :mod:`benchmarks.runner`."""

import sys

from benchmarks.runner import main

sys.exit(main())
