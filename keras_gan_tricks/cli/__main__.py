"""`python -m keras_gan_tricks.cli`."""

import sys

from keras_gan_tricks.cli import main

sys.exit(main())
