"""``python -m helpers.generator ...``: see :mod:`helpers.generator.cli`."""

from helpers.generator.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
