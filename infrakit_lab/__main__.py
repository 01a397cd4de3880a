"""``python -m infrakit_lab``: the same as the ``infrakit-lab`` command."""

import sys

from infrakit_lab.cli import main

sys.exit(main())
