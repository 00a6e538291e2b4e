"""Runs one of the benchmarks' DuckDB queries on their files: the yardstick beside `station
compare` and `station payments prepare`.

Usage: duckdb_run.py QUERY.sql OUT.csv NAME=PATH...
`{out}` and each `{NAME}` in the query are replaced by the paths. The query's work is timed
(reading the CSV files, the query, writing OUT.csv); prints one line:
`duckdb_seconds=<s> duckdb_peak_rss_kib=<KiB> rows=<n>`.
"""
import resource
import sys
import time

import duckdb

query_file, out = sys.argv[1:3]
params = dict(arg.split("=", 1) for arg in sys.argv[3:])
params["out"] = out
query = open(query_file, encoding="utf-8").read()
for name, path in params.items():
    query = query.replace("{" + name + "}", path.replace("'", "''"))
con = duckdb.connect()
start = time.perf_counter()
con.execute(query)
elapsed = time.perf_counter() - start
rows = con.execute(f"SELECT count(*) FROM read_csv('{out}', all_varchar = true, header = true)").fetchone()[0]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"duckdb_seconds={elapsed:.3f} duckdb_peak_rss_kib={peak} rows={rows}")
