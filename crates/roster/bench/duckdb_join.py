"""DuckDB's hash join on the benchmark's files: the yardstick for `station compare`.

Usage: duckdb_join.py ROSTER.csv ISSUANCE.csv OUT.csv
Prints one line: `duckdb_seconds=<s> duckdb_peak_rss_kib=<KiB> rows=<n>`.
The join is a plain LEFT JOIN on the ID number with the card columns written out; it does
no validation, no classification and no reports, so it is a lower bound for the same I/O.
"""
import resource
import sys
import time

import duckdb

roster, issuance, out = sys.argv[1:4]
con = duckdb.connect()
start = time.perf_counter()
con.execute(
    f"""
    COPY (
        SELECT r.*, i.card_number, i.status, i.bank, i.account, i.status_date, i.deceased
        FROM read_csv('{roster}', all_varchar = true, header = true) r
        LEFT JOIN read_csv('{issuance}', all_varchar = true, header = true) i
          ON upper(r."身份证号") = i.ssn
    ) TO '{out}' (HEADER)
    """
)
elapsed = time.perf_counter() - start
rows = con.execute(f"SELECT count(*) FROM read_csv('{out}', all_varchar = true, header = true)").fetchone()[0]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"duckdb_seconds={elapsed:.3f} duckdb_peak_rss_kib={peak} rows={rows}")
