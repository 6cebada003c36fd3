"""A module that exits while it is imported, as a script might."""

import sys

sys.exit(0)
