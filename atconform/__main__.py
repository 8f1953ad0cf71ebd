"""``python -m atconform`` runs the ``atconform`` command line."""
import sys

from atconform.cli import main

sys.exit(main())
