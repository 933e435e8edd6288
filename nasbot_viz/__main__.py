import sys

from nasbot_viz.cli import main

sys.exit(main())
