"""``python -m ballast.cli``."""

from ballast.cli import main

main()
