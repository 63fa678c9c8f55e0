import sys

from nasedu.cli import main

sys.exit(main())
