"""``python -m matcher``: the CLI without the console script."""

import sys

from matcher.cli import main

sys.exit(main())
