"""Runs one of the benchmarks' DuckDB queries on their files: the yardstick beside `station
compare` and `station payments prepare`.

Usage: duckdb_run.py QUERY.sql OUT.csv NAME=PATH...
`{person}` in the query is replaced by person.sql beside this script (the latest cards per
person, which both queries start from), then `{out}` and each `{NAME}` by the paths. The
query's work is timed (reading the CSV files, the query, writing OUT.csv); prints one line:
`duckdb_seconds=<s> duckdb_cpu_seconds=<s> duckdb_peak_rss_kib=<KiB> rows=<n>` (the CPU time of
all its threads: on a machine shared with other work it says more than the wall time).
"""
import os
import resource
import sys
import time

import duckdb

query_file, out = sys.argv[1:3]
params = dict(arg.split("=", 1) for arg in sys.argv[3:])
params["out"] = out
query = open(query_file, encoding="utf-8").read()
person = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "person.sql"), encoding="utf-8").read()
person = "\n".join(line for line in person.splitlines() if not line.startswith("--"))
query = query.replace("{person}", person)
for name, path in params.items():
    query = query.replace("{" + name + "}", path.replace("'", "''"))
con = duckdb.connect()
start = time.perf_counter()
before = resource.getrusage(resource.RUSAGE_SELF)
con.execute(query)
after = resource.getrusage(resource.RUSAGE_SELF)
elapsed = time.perf_counter() - start
cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
rows = con.execute(f"SELECT count(*) FROM read_csv('{out}', all_varchar = true, header = true)").fetchone()[0]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"duckdb_seconds={elapsed:.3f} duckdb_cpu_seconds={cpu:.3f} duckdb_peak_rss_kib={peak} rows={rows}")
