"""``python -m pytest_genquality.cli``: the same as the ``genquality`` command."""

import sys

from .main import main

sys.exit(main())
