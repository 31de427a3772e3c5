import sys

try:
    from lab.cli import main
except KeyboardInterrupt:   # interrupted while starting: nothing to clean up yet
    sys.exit(130)

sys.exit(main())
