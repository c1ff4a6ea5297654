"""Airbyte's standard tests (airbyte_cdk.test.standard_tests) against the flowlu-connector binary.

The suite runs a connector in process: it calls a Python `Source` object's spec/check/discover/
read through `AirbyteEntrypoint` (the connector's `main`), with the scenarios of
`acceptance-test-config.yml`. Its image tests (`-m image_tests`) run the same scenarios in the
image instead (`docker run`, answered by podman in CI; `--connector-image` names the image):
.ci/standard-tests.sh runs both. `BinarySource` is not used by them.

`BinarySource` is that object for a non-Python connector: each call runs the real binary
(`FLOWLU_CONNECTOR_BIN`) as a subprocess with the same command line Airbyte would give it, the
config, catalog and state written to files exactly as airbyte-cdk serialises them (explicit nulls
included), and returns the messages the binary printed, parsed with airbyte-cdk's own models.
Nothing is answered by Python: a failing binary fails the suite. `FLOWLU_BASE_URL` (inherited)
points the binary at the local stand-in.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, List, Mapping, Optional

import orjson
from airbyte_cdk.models import (
    AirbyteCatalog,
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteMessageSerializer,
    AirbyteStateMessage,
    AirbyteStateMessageSerializer,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteCatalogSerializer,
    ConnectorSpecification,
    Type,
)
from airbyte_cdk.sources import Source
from airbyte_cdk.test import standard_tests


class BinaryFailed(Exception):
    """The binary exited non-zero without saying why in a TRACE message."""


def _binary() -> str:
    path = os.environ.get("FLOWLU_CONNECTOR_BIN")
    if not path or not Path(path).is_file():
        raise RuntimeError(f"FLOWLU_CONNECTOR_BIN must name the flowlu-connector binary (got {path!r})")
    return path


def _run(args: list[str]) -> Iterator[AirbyteMessage]:
    """Runs the binary, yielding each stdout line as an AirbyteMessage."""
    proc = subprocess.Popen([_binary(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    traced = False
    for line in proc.stdout:
        if not line.strip():
            continue
        message = AirbyteMessageSerializer.load(orjson.loads(line))
        traced |= message.type == Type.TRACE and message.trace is not None and message.trace.error is not None
        yield message
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = proc.wait()
    if code != 0 and not traced:
        raise BinaryFailed(f"flowlu-connector {args[0]} exited {code}: {stderr[-2000:]}")


def _file(directory: str, name: str, value: Any) -> str:
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(orjson.dumps(value))
    return path


class BinarySource(Source):
    """The flowlu-connector binary, seen by airbyte-cdk as a Source."""

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        specs = [m.spec for m in _run(["spec"]) if m.type == Type.SPEC]
        if len(specs) != 1:
            raise BinaryFailed(f"spec printed {len(specs)} SPEC messages")
        return specs[0]

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        with tempfile.TemporaryDirectory() as d:
            messages = list(_run(["check", "--config", _file(d, "config.json", dict(config))]))
        statuses = [m.connectionStatus for m in messages if m.type == Type.CONNECTION_STATUS]
        if len(statuses) != 1:
            raise BinaryFailed(f"check printed {len(statuses)} CONNECTION_STATUS messages: {messages}")
        return statuses[0]

    def discover(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteCatalog:
        with tempfile.TemporaryDirectory() as d:
            messages = list(_run(["discover", "--config", _file(d, "config.json", dict(config))]))
        catalogs = [m.catalog for m in messages if m.type == Type.CATALOG]
        if len(catalogs) != 1:
            raise BinaryFailed(f"discover printed {len(catalogs)} CATALOG messages")
        return catalogs[0]

    def read_state(self, state_path: str) -> List[AirbyteStateMessage]:
        if not state_path:
            return []
        return [AirbyteStateMessageSerializer.load(s) for s in json.loads(Path(state_path).read_text())]

    def read_catalog(self, catalog_path: str) -> ConfiguredAirbyteCatalog:
        return ConfiguredAirbyteCatalogSerializer.load(json.loads(Path(catalog_path).read_text()))

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> Iterable[AirbyteMessage]:
        with tempfile.TemporaryDirectory() as d:
            args = [
                "read",
                "--config",
                _file(d, "config.json", dict(config)),
                "--catalog",
                _file(d, "catalog.json", ConfiguredAirbyteCatalogSerializer.dump(catalog)),
            ]
            if state:
                args += ["--state", _file(d, "state.json", [AirbyteStateMessageSerializer.dump(s) for s in state])]
            yield from _run(args)


class TestFlowluStandardTests(standard_tests.SourceTestSuiteBase):
    """Airbyte's standard source tests, at `test_strictness_level: high`."""

    connector = BinarySource
