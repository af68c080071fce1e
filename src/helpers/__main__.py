"""``python -m helpers build ...``: see :mod:`helpers.build`."""

from helpers.build import main

if __name__ == "__main__":
    raise SystemExit(main())
