"""Deletes under PyAirbyte: its DuckDB cache, merging by primary key, ends with exactly the
stand-in's leads once the tombstones are filtered out.

Usage (PyAirbyte installed; FLOWLU_BASE_URL set to a fresh stand-in):
    deletes_pyairbyte.py BINARY WORK
Reads crm_lead into a local DuckDB cache (PyAirbyte's `merge`), deletes 3 and creates 2 leads
in the stand-in, marks the reconciliation due in the cache's saved state, reads again: the
cache holds 3 tombstone rows (`_ab_cdc_deleted_at` set) in place of the deleted leads, the 2 new
leads, and, read `WHERE _ab_cdc_deleted_at IS NULL`, exactly the stand-in's leads.
"""
import json
import os
import sys
import urllib.request

os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

import airbyte as ab  # noqa: E402


def portal_leads(base_url):
    leads, page = [], 1
    while True:
        url = f"{base_url}/api/v1/module/crm/lead/list?api_key=emulator-key&limit=100&page={page}&order_by[asc][]=id"
        items = json.load(urllib.request.urlopen(url))["response"]["items"]
        leads.extend(items)
        if len(items) < 100:
            return leads
        page += 1


def main() -> int:
    binary, work = sys.argv[1], sys.argv[2]
    base_url = os.environ["FLOWLU_BASE_URL"]
    config = {"name": "py", "account_domain": "py", "api_key": "emulator-key", "advanced": {"deletes": 1}}
    source = ab.get_source("source-flowlu", local_executable=binary, config=config)
    source.select_streams(["crm_lead"])
    cache = ab.new_local_cache("deletes", cache_dir=f"{work}/pyairbyte-cache")
    source.read(cache=cache, write_strategy="merge")
    assert len(cache["crm_lead"].to_pandas()) == len(portal_leads(base_url))

    body = b'{"module": "crm", "model": "lead", "seed": 5, "deletes": 3, "inserts": 2}'
    request = urllib.request.Request(base_url + "/_emulator/mutate", data=body, headers={"content-type": "application/json"})
    mutation = json.load(urllib.request.urlopen(request))

    # The reconciliation a day old in the cache's saved state: one is due.
    with cache.get_sql_engine().begin() as connection:
        from sqlalchemy import text

        row = connection.execute(text("SELECT state_json FROM _airbyte_state WHERE stream_name = 'crm_lead'")).one()
        state = json.loads(row[0])
        state["stream"]["stream_state"]["deletes"]["reconciled_at"] = 0
        connection.execute(
            text("UPDATE _airbyte_state SET state_json = :s WHERE stream_name = 'crm_lead'"), {"s": json.dumps(state)}
        )

    source.read(cache=cache, write_strategy="merge")
    table = cache["crm_lead"].to_pandas()
    deleted = table[table["_ab_cdc_deleted_at"].notna()]
    assert sorted(int(i) for i in deleted["id"]) == mutation["deleted"], (list(deleted["id"]), mutation["deleted"])
    live = table[table["_ab_cdc_deleted_at"].isna()]
    portal = portal_leads(base_url)
    assert sorted(int(i) for i in live["id"]) == sorted(lead["id"] for lead in portal), (len(live), len(portal))
    assert all(int(i) in set(live["id"].astype(int)) for i in mutation["inserted"])
    print(
        f"deletes under PyAirbyte: {len(deleted)} tombstone rows in place of the deleted leads; "
        f"the cache read WHERE _ab_cdc_deleted_at IS NULL holds exactly the stand-in's {len(portal)} leads"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
