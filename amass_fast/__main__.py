import sys

from amass_fast.cli import main

sys.exit(main())
