import sys

from linters.cli import main

sys.exit(main())
