"""``python -m helpers build ...`` (see :mod:`helpers.site.build`), ``python -m helpers run
NOTEBOOK -y PARAMS`` (one notebook, one-line errors: :func:`helpers.site.run.run_main`) and
``python -m helpers schema NAME`` (the JSON schema of a config file, for editors)."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

#: Every config file kind and its pydantic model (module, class).
SCHEMAS: dict[str, tuple[str, str]] = {
    "playbooks": ("helpers.site.config", "PlaybooksFile"),  # playbooks/playbooks.yaml
    "segment-map": ("helpers.studies.segments.analysis", "SegmentMapFile"),  # playbooks/segment_map.yaml
    "actions": ("helpers.studies.segments.actions", "ActionLibraryFile"),  # playbooks/actions.yaml
    "design": ("helpers.studies.loyalty.design", "DesignFile"),  # playbooks/designs/*.yaml
    "generator": ("helpers.data.generator.config", "GeneratorConfig"),  # truth.json's config, --config
    "pilot": ("helpers.studies.pilot.analysis", "ReadoutSettings"),  # the pilot readout's settings
    "triggers": ("helpers.studies.triggers.rules", "TriggersFile"),  # playbooks/triggers.yaml
    "tags": ("helpers.studies.tags.engine", "TagsFile"),  # playbooks/tags.yaml
    "kpi-targets": ("helpers.studies.kpi.analysis", "TargetsFile"),  # the KPI page's targets parameter
}


def json_schema(name: str) -> dict:
    """The JSON schema of the config kind ``name`` (a key of :data:`SCHEMAS`)."""
    from helpers.errors import ConfigError

    if name not in SCHEMAS:
        raise ConfigError(f"no config kind {name!r}; choose one of {', '.join(SCHEMAS)}")
    module, cls = SCHEMAS[name]
    schema = getattr(importlib.import_module(module), cls).model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def schema_main(argv: Sequence[str]) -> int:
    """``schema NAME`` prints one schema; ``schema --all FOLDER`` writes ``FOLDER/<name>.schema.json`` for each."""
    from helpers.errors import HelperError
    from helpers.files import write_text_atomic

    usage = f"usage: python -m helpers schema NAME | --all FOLDER  (NAME: {', '.join(SCHEMAS)})"
    try:
        if len(argv) == 1 and argv[0] not in ("-h", "--help"):
            print(json.dumps(json_schema(argv[0]), indent=2, ensure_ascii=False))
            return 0
        if len(argv) == 2 and argv[0] == "--all":
            for name in SCHEMAS:
                write_text_atomic(Path(argv[1]) / f"{name}.schema.json", json.dumps(json_schema(name), indent=2, ensure_ascii=False) + "\n")
            return 0
    except HelperError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(usage, file=sys.stderr)
    return 0 if argv[:1] in (["-h"], ["--help"]) else 2


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["schema"]:
        return schema_main(argv[1:])
    if argv[:1] == ["run"]:
        from helpers.site.run import run_main

        return run_main(argv[1:])
    from helpers.site.build import main as build_main

    return build_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
