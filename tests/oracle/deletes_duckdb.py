"""Checks the deletes of tests/oracle/deletes.sh and merges both reads into DuckDB.

Usage: deletes_duckdb.py WORK BASE_URL
The second read must hold exactly one tombstone per lead the stand-in deleted and one record
per lead it created; a table merged by id as Append Deduped merges (per id, the newest cursor
wins, a later row on a tie; a winning row with _ab_cdc_deleted_at set removes the id) must end
with exactly the leads the stand-in lists.
"""
import json
import sys
import urllib.request

import duckdb


def records(path):
    out = []
    for line in open(path):
        message = json.loads(line)
        if message["type"] == "RECORD":
            out.append(message["record"]["data"])
    return out


def portal_leads(base_url):
    leads, page = [], 1
    while True:
        url = f"{base_url}/api/v1/module/crm/lead/list?api_key=emulator-key&limit=100&page={page}&order_by[asc][]=id"
        items = json.load(urllib.request.urlopen(url))["response"]["items"]
        leads.extend(items)
        if len(items) < 100:
            return leads
        page += 1


SCHEMA = json.load(open(f"{sys.path[0]}/../../schemas/flowlu/streams/crm_lead.json"))["properties"]


def is_date(name):
    return SCHEMA.get(name, {}).get("format") in ("date", "date-time")


def as_passed_on(lead):
    """A lead as the source passes it on: Flowlu's blank and zero dates are null (what they
    mean; see the stream schema's descriptions). Only the standard fields the stream schema
    declares are compared: custom fields (`cf_<id>`, or an alias) are named by the connector
    from the account's field names, which the schema committed here does not hold."""
    out = {}
    for name, value in lead.items():
        if name not in SCHEMA:
            continue
        if is_date(name) and (value == "" or (isinstance(value, str) and value.startswith("0000-00-00"))):
            value = None
        out[name] = value
    return out


def without_named_custom_fields(row):
    """A merged row without the columns the stream schema does not declare (the custom
    fields, named from the account) and without the connector's own columns, which stay
    null on a live record."""
    return {
        name: value
        for name, value in row.items()
        if name in SCHEMA and name not in ("_ab_cdc_deleted_at", "_flowlu_raw_values")
    }


def main() -> int:
    work, base_url = sys.argv[1], sys.argv[2]
    mutation = json.load(open(f"{work}/mutation.json"))
    first, second = records(f"{work}/read1.jsonl"), records(f"{work}/read2.jsonl")
    tombstones = sorted(r["id"] for r in second if r.get("_ab_cdc_deleted_at"))
    created = sorted(r["id"] for r in second if not r.get("_ab_cdc_deleted_at"))
    assert tombstones == mutation["deleted"], (tombstones, mutation["deleted"])
    assert created == mutation["inserted"], (created, mutation["inserted"])
    assert all(r.get("_ab_cdc_deleted_at") is None for r in first), "a tombstone in the first read"

    db = duckdb.connect()
    db.execute("CREATE TABLE raw (seq INTEGER, id BIGINT, cursor VARCHAR, deleted_at VARCHAR, data JSON)")
    rows = [
        (seq, r["id"], r.get("updated_date"), r.get("_ab_cdc_deleted_at"), json.dumps(r))
        for seq, r in enumerate(first + second)
    ]
    db.executemany("INSERT INTO raw VALUES (?, ?, ?, ?, ?)", rows)
    db.execute(
        """CREATE TABLE crm_lead AS
           SELECT id, data FROM (
             SELECT *, row_number() OVER (PARTITION BY id ORDER BY cursor DESC NULLS LAST, seq DESC) AS n FROM raw
           ) WHERE n = 1 AND deleted_at IS NULL"""
    )
    merged = {row[0]: json.loads(row[1]) for row in db.execute("SELECT id, data FROM crm_lead ORDER BY id").fetchall()}
    portal = {lead["id"]: lead for lead in portal_leads(base_url)}
    assert sorted(merged) == sorted(portal), (len(merged), len(portal), sorted(set(merged) ^ set(portal))[:10])
    for lead_id, lead in portal.items():
        want, got = as_passed_on(lead), without_named_custom_fields(merged[lead_id])
        diff = {k: (want.get(k), got.get(k)) for k in set(want) | set(got) if want.get(k) != got.get(k)}
        assert not diff, f"lead {lead_id} differs: {diff}"
    print(
        f"deletes: 3 tombstones and 2 records as the stand-in changed; DuckDB table merged by id holds exactly "
        f"the stand-in's {len(portal)} leads"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
