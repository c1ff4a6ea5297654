"""Runs bench/baseline/manifest.yaml the way Airbyte's source-declarative-manifest image runs a
connector's local manifest.yaml: a YamlDeclarativeSource (a ConcurrentDeclarativeSource) built
from config, catalog and state, handed to airbyte_cdk.entrypoint.launch.

    python source.py read --config config.json --catalog catalog.json
"""

import sys
from pathlib import Path

from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource

MANIFEST = Path(__file__).resolve().parent / "manifest.yaml"


def main() -> None:
    args = sys.argv[1:]
    parsed = AirbyteEntrypoint.parse_args(args)
    config = getattr(parsed, "config", None)
    catalog = getattr(parsed, "catalog", None)
    state = getattr(parsed, "state", None)
    source = YamlDeclarativeSource(
        path_to_yaml=str(MANIFEST),
        config=YamlDeclarativeSource.read_config(config) if config else None,
        catalog=YamlDeclarativeSource.read_catalog(catalog) if catalog else None,
        state=YamlDeclarativeSource.read_state(state) if state else None,
    )
    launch(source, args)


if __name__ == "__main__":
    main()
