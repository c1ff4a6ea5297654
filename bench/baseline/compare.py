"""Reads crm/account from the local Flowlu stand-in with Airbyte's declarative Flowlu source
(bench/baseline/manifest.yaml run by airbyte-cdk, see source.py) and with our release
`flowlu-connector` binary, back to back on the same stand-in, and prints the medians.

Started by bench/baseline/run.sh, which builds the binaries and the venv. Loopback only; every
read is bounded by a timeout.

Each read is one process whose stdout goes straight to a file (no reader competing for the
2 cores). Seconds: process start to exit; stream seconds: from the STREAM_STATUS STARTED
trace to COMPLETE (both readers emit them), i.e. without process start-up. Peak memory: the
process's maximum RSS as /usr/bin/time reports it. RECORD lines and distinct ids are counted
from the file after the process has ended.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
KEY = "emulator-key"


def start_emulator(binary, accounts, latency_ms, transactions=250):
    proc = subprocess.Popen(
        [binary, "--listen", "127.0.0.1:0", "--seed", "42", "--records", "0",
         "--model-records", f"crm/account={accounts}",
         "--model-records", f"fin/transaction={transactions}",
         "--latency-ms", str(latency_ms)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = proc.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        proc.kill()
        raise SystemExit(f"the stand-in did not start: {url!r}")
    return proc, url


def emulator_requests(url):
    import urllib.request
    with urllib.request.urlopen(f"{url}/_emulator/stats", timeout=10) as r:
        return json.load(r)["total"]


def reset_stats(url):
    import urllib.request
    req = urllib.request.Request(f"{url}/_emulator/reset_stats", method="POST")
    urllib.request.urlopen(req, timeout=10).read()


def catalog(stream):
    return {"streams": [{"stream": {"name": stream, "json_schema": {},
                                    "supported_sync_modes": ["full_refresh"]},
                         "sync_mode": "full_refresh", "destination_sync_mode": "append"}]}


def run_once(cmd, env, timeout_s, workdir):
    """One bounded read under /usr/bin/time (its %M is the command's peak RSS; the ru_maxrss of
    a child forked straight from Python would include Python's own pages from before exec).
    stdout goes to a file."""
    out_path = Path(workdir) / "stdout.jsonl"
    time_path = Path(workdir) / "time.txt"
    with open(out_path, "wb") as out, open(Path(workdir) / "stderr.txt", "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(["/usr/bin/time", "-f", "%M %U %S", "-o", str(time_path)] + cmd,
                                stdout=out, stderr=err, env=env)
        timed_out = threading.Event()

        def kill():
            timed_out.set()
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
            for pid in children.read_text().split() if children.exists() else []:
                os.kill(int(pid), signal.SIGKILL)

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        proc.wait()
        seconds = time.perf_counter() - started
        timer.cancel()
    peak_kib, user, system = time_path.read_text().strip().splitlines()[-1].split()
    records, ids, lines, status = 0, set(), 0, {}
    with open(out_path, "rb") as f:
        for line in f:
            lines += 1
            if line.startswith(b'{"type":"RECORD"'):
                records += 1
                try:
                    ids.add(str(json.loads(line)["record"]["data"].get("id")))
                except ValueError:
                    pass  # a line cut by the kill
            elif b'"STREAM_STATUS"' in line:
                trace = json.loads(line)["trace"]
                status[trace["stream_status"]["status"]] = trace["emitted_at"]
    out_path.unlink()
    # From the STREAM_STATUS STARTED trace to COMPLETE: the read without process start-up.
    stream_s = ((status["COMPLETE"] - status["STARTED"]) / 1000
                if "COMPLETE" in status and "STARTED" in status else None)
    return {"seconds": seconds, "stream_seconds": stream_s, "records": records,
            "distinct_ids": len(ids), "lines": lines, "peak_mib": int(peak_kib) / 1024,
            "cpu_s": float(user) + float(system), "exit": proc.returncode,
            "timed_out": timed_out.is_set()}


class Runner:
    def __init__(self, args):
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="flowlu-baseline-"))
        self.results = []

    def airbyte(self, url, stream, timeout_s):
        cfg = self.work / "airbyte_config.json"
        cat = self.work / f"airbyte_catalog_{stream}.json"
        cfg.write_text(json.dumps({"api_key": KEY, "base_url": url}))
        cat.write_text(json.dumps(catalog(stream)))
        cmd = [sys.executable, str(HERE / "source.py"), "read", "--config", str(cfg),
               "--catalog", str(cat)]
        return run_once(cmd, dict(os.environ), timeout_s, self.work)

    def ours(self, url, concurrency, timeout_s):
        cfg = self.work / f"ours_config_{concurrency}.json"
        cat = self.work / "ours_catalog.json"
        cfg.write_text(json.dumps({"name": "bench", "account_domain": "bench", "api_key": KEY,
                                   "advanced": {"max_concurrency": concurrency,
                                                "page_size": 100}}))
        cat.write_text(json.dumps(catalog("crm_account")))
        env = dict(os.environ, FLOWLU_BASE_URL=url)
        cmd = [self.args.connector, "read", "--config", str(cfg), "--catalog", str(cat)]
        return run_once(cmd, env, timeout_s, self.work)

    def record(self, **row):
        self.results.append(row)
        print(json.dumps(row), flush=True)

    def scenario(self, accounts, latency_ms):
        emu, url = start_emulator(self.args.emulator, accounts, latency_ms)
        try:
            for rep in range(1, self.args.reps + 1):
                # Back to back, so the three see the same machine load.
                for label, read in [
                    ("airbyte-cdk, page in query (as shipped for account)",
                     lambda: self.airbyte(url, "account", self.args.timeout)),
                    ("flowlu-connector, 1 request in flight",
                     lambda: self.ours(url, 1, self.args.timeout)),
                    ("flowlu-connector, 4 in flight (default)",
                     lambda: self.ours(url, 4, self.args.timeout)),
                ]:
                    reset_stats(url)
                    m = read()
                    self.record(kind="read", who=label, records_in_standin=accounts,
                                latency_ms=latency_ms, rep=rep,
                                requests=emulator_requests(url), **m)
        finally:
            emu.kill()
            emu.wait()

    def defect(self):
        """`page` in a JSON body of a GET: bounded by --defect-timeout."""
        emu, url = start_emulator(self.args.emulator, self.args.defect_accounts, 0,
                                  transactions=250)
        try:
            for stream, in_standin in [("account_page_in_body", self.args.defect_accounts),
                                       ("transactions", 250)]:
                reset_stats(url)
                m = self.airbyte(url, stream, self.args.defect_timeout)
                self.record(kind="defect", who=f"airbyte-cdk, stream {stream}, page in JSON body",
                            records_in_standin=in_standin, latency_ms=0, rep=1,
                            requests=emulator_requests(url), **m)
        finally:
            emu.kill()
            emu.wait()

    def startup(self):
        for rep in range(1, self.args.reps + 1):
            m = run_once([sys.executable, str(HERE / "source.py"), "spec"], dict(os.environ),
                         120, self.work)
            self.record(kind="startup", who="airbyte-cdk spec (start-up alone)", rep=rep, **m)


def summarize(results):
    print()
    print("| records | added latency | reader | seconds | records/s | stream seconds "
          "| records/s (stream) | peak memory | CPU s | requests | runs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    groups = {}
    for r in results:
        if r["kind"] == "read":
            groups.setdefault((r["records_in_standin"], r["latency_ms"], r["who"]), []).append(r)
    for (n, lat, who), rs in groups.items():
        ok = all(r["records"] == n and r["distinct_ids"] == n and r["exit"] == 0 for r in rs)
        med = lambda k: statistics.median(r[k] for r in rs)
        secs = med("seconds")
        rate = statistics.median(r["records"] / r["seconds"] for r in rs)
        ss = [r["stream_seconds"] for r in rs if r["stream_seconds"]]
        stream = (f"{statistics.median(ss):.3f} | "
                  f"{statistics.median(n / x for x in ss):.0f}") if ss else "- | -"
        print(f"| {n} | {lat} ms | {who} | {secs:.2f} | {rate:.0f} | {stream} "
              f"| {med('peak_mib'):.1f} MiB | {med('cpu_s'):.2f} | {med('requests'):.0f} "
              f"| {len(rs)}{'' if ok else ' (INCOMPLETE)'} |")
    starts = [r for r in results if r["kind"] == "startup"]
    if starts:
        print(f"airbyte-cdk start-up alone (`spec`), median of {len(starts)}: "
              f"{statistics.median(r['seconds'] for r in starts):.2f} s, "
              f"{statistics.median(r['peak_mib'] for r in starts):.1f} MiB")
    for r in results:
        if r["kind"] == "defect":
            print(f"defect: {r['who']}: {r['records_in_standin']} records in the stand-in; "
                  f"{'killed after' if r['timed_out'] else 'ended after'} {r['seconds']:.1f} s "
                  f"(exit {r['exit']}); {r['requests']} requests; {r['records']} RECORD lines, "
                  f"{r['distinct_ids']} distinct ids; peak {r['peak_mib']:.1f} MiB")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--connector", required=True)
    p.add_argument("--emulator", required=True)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--defect-timeout", type=float, default=30)
    p.add_argument("--defect-accounts", type=int, default=10000)
    p.add_argument("--scenarios", default="10000:0,100000:0,10000:100",
                   help="records:latency_ms,...")
    p.add_argument("--skip-defect", action="store_true")
    args = p.parse_args()
    r = Runner(args)
    r.startup()
    for sc in args.scenarios.split(","):
        n, lat = sc.split(":")
        r.scenario(int(n), int(lat))
    if not args.skip_defect:
        r.defect()
    summarize(r.results)
    (r.work / "results.jsonl").write_text(
        "\n".join(json.dumps(x) for x in r.results) + "\n")
    print(f"raw results: {r.work / 'results.jsonl'}")


if __name__ == "__main__":
    main()
