"""Command-line entry: ``python -m protopool.cli``, as ``python -m protopool``."""

import sys

from protopool.cli import main

sys.exit(main())
