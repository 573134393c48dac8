import sys

from linters.cli import console_main, start_early

start_early(sys.argv[1:])
sys.exit(console_main())
