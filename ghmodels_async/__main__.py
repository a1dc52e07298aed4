"""``python -m ghmodels_async``: the command line (see ``ghmodels_async.cli``)."""

import sys

from .cli import main

sys.exit(main())
