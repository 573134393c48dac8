import sys

from linters.cli import console_main

sys.exit(console_main())
