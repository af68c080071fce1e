"""``python -m helpers.data.generator ...``: see :mod:`helpers.data.generator.cli`."""

from helpers.data.generator.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
