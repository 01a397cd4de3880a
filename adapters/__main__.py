"""`python -m adapters ...`: the `infrakit` command (the same as the console script): core's
CLI with the registered chains. Core has no `python -m infrakit`: it cannot know the chains."""

import sys

from adapters.registry import main

sys.exit(main())
