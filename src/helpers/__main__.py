"""``python -m helpers build ...`` (:mod:`helpers.site.build`) and ``python -m helpers run
NOTEBOOK -y PARAMS`` (:func:`helpers.site.run.run_main`)."""

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["run"]:
        from helpers.site.run import run_main

        return run_main(argv[1:])
    from helpers.site.build import main as build_main

    return build_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
