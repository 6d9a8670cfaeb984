"""``python -m glm_core.cli``: the ``glm-explore`` command line."""

import sys

from . import main

sys.exit(main())
