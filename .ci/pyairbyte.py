"""The connector under PyAirbyte, as a data team runs it: every stream read twice into a
DuckDB cache from the discovered catalog. Checks, from the cache's own column types:

* every field the stream schema declares with a date format is a DATE or TIMESTAMP column;
* every number custom field is a numeric column, every custom field column named by the
  field's name (`x-flowlu-field`), never `cf_<id>`;
* PyAirbyte prints no "Could not determine airbyte type" notice;
* the second read is incremental: it reads again only the full-refresh streams' records.

Usage: python pyairbyte.py <connector executable> <work dir>; FLOWLU_BASE_URL set (the stand-in).
Prints one line per finding and a summary; exit code 1 when a check fails.
"""

import contextlib
import io
import json
import logging
import sys
import warnings
from pathlib import Path

import airbyte as ab
import sqlalchemy

NOTICE = "Could not determine airbyte type"
NUMERIC = ("DOUBLE", "DECIMAL", "FLOAT", "REAL", "NUMERIC", "BIGINT", "INTEGER", "HUGEINT")


def main() -> int:
    exe, work = sys.argv[1], Path(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("always")
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    logging.getLogger().addHandler(handler)
    config = {"name": "ci", "account_domain": "ci", "api_key": "emulator-key"}
    source = ab.get_source("source-flowlu", local_executable=exe, config=config)
    source.select_all_streams()
    schemas = {s.stream.name: s.stream.json_schema for s in source.configured_catalog.streams}
    incremental = {
        s.stream.name for s in source.configured_catalog.streams if "incremental" in [m.value for m in s.stream.supported_sync_modes]
    }
    cache = ab.new_local_cache(cache_name="flowlu_ci", cache_dir=str(work / "cache"), cleanup=True)
    reads = []
    for _ in range(2):
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            warnings.simplefilter("always")
            result = source.read(cache=cache, force_full_refresh=False)
        for w in caught:
            captured.write(f"{w.category.__name__}: {w.message}\n")
        reads.append(result.processed_records)
    text = captured.getvalue()
    notices = text.count(NOTICE)

    with cache.get_sql_engine().connect() as db:
        rows = db.execute(
            sqlalchemy.text(
                "select table_name, column_name, data_type from information_schema.columns where table_schema = :schema"
            ),
            {"schema": cache.schema_name},
        ).fetchall()
        columns = {(t, c): d for t, c, d in rows}
        counts = {
            t: db.execute(sqlalchemy.text(f'select count(*) from "{cache.schema_name}"."{t}"')).scalar()
            for t in {t for t, _ in columns}
        }

    problems, dates, numbers, named = [], 0, 0, 0
    for stream, schema in schemas.items():
        for name, prop in schema.get("properties", {}).items():
            column = name.lower()
            kind = columns.get((stream, column))
            if kind is None:
                problems.append(f"{stream}.{name}: no column in the cache")
                continue
            fmt = prop.get("format")
            description = prop.get("description") or ""
            # A date by its description (the format Flowlu sends it in) or its declared format.
            if fmt in ("date", "date-time") or "YYYY-MM-DD" in description:
                dates += 1
                if not (kind == "DATE" or kind.startswith("TIMESTAMP")):
                    problems.append(f"{stream}.{name}: a date ({fmt or 'no format'}), a {kind} column")
            field = prop.get("x-flowlu-field")
            if field or description.startswith("Custom field"):
                named += 1
                if not field or name.startswith("cf_"):
                    problems.append(f"{stream}.{name}: a custom field column not named by its field's name")
                if description.startswith("Custom field (number)") and "label" not in description:
                    numbers += 1
                    if not kind.startswith(NUMERIC):
                        problems.append(f"{stream}.{name}: a number custom field, a {kind} column")
    full_refresh_rows = sum(counts.get(s, 0) for s in schemas if s not in incremental)
    if notices:
        problems.append(f'{notices} "{NOTICE}" notices')
    if reads[1] != full_refresh_rows or reads[1] >= reads[0]:
        problems.append(f"second read: {reads[1]} records (first {reads[0]}; full-refresh streams hold {full_refresh_rows}): not incremental")
    for p in problems:
        print("FAILED:", p)
    print(
        f"pyairbyte: {len(schemas)} streams, {reads[0]} records then {reads[1]} (full-refresh streams only); "
        f"{dates} date fields all DATE/TIMESTAMP, {numbers} number custom fields numeric, "
        f"{named} custom field columns by name, {notices} '{NOTICE}' notices"
    )
    print(json.dumps({"first_read": reads[0], "second_read": reads[1], "date_fields": dates, "number_custom_fields": numbers,
                      "custom_columns": named, "notices": notices, "problems": len(problems)}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
