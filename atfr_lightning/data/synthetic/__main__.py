"""``python -m atfr_lightning.data.synthetic``: generate the synthetic dataset (see ``generator.main``)."""

import sys

from atfr_lightning.data.synthetic.generator import main

if __name__ == "__main__":
    sys.exit(main())
