"""`python -m nps COMMAND`: the same as the `nps` console script."""

import sys

from nps import main

sys.exit(main())
