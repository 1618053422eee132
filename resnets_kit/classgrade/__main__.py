"""``python -m resnets_kit.classgrade``: see :mod:`resnets_kit.classgrade.cli`."""

import sys

from resnets_kit.classgrade.cli import main

sys.exit(main())
