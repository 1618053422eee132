"""``python -m resnets_kit.grader``: see :mod:`resnets_kit.grader.cli`."""

import sys

from resnets_kit.grader.cli import main

sys.exit(main())
