"""``python -m mlcycle_ref.cli`` runs the ``mlcycle`` command."""

import sys

from mlcycle_ref.cli import main

sys.exit(main())
