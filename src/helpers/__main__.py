"""``python -m helpers build ...``: see :mod:`helpers.site.build`."""

from helpers.site.build import main

if __name__ == "__main__":
    raise SystemExit(main())
