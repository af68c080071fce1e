"""Paths of the repository the tests read: the root, the shipped configs, the generated data."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOKS = ROOT / "playbooks"
SEGMENT_MAP = PLAYBOOKS / "segment_map.yaml"
ACTIONS = PLAYBOOKS / "actions.yaml"
NEWRETAIL = ROOT / "data" / "newretail"
