-- Per person of the issuance file `{issuance}`: the latest live card (made, issued, active),
-- the latest ended one, and whether the card system records them deceased. Shared by the
-- benchmarks' queries: duckdb_run.py puts it where a query says `{person}`, as the body of
-- a CTE (`WITH person AS ({person})`).
SELECT
    ssn,
    arg_max({'card': card_number, 'status': status, 'bank': bank, 'account': account, 'date': status_date},
            status_date) FILTER (WHERE status IN ('made', 'issued', 'active')) AS live,
    arg_max({'card': card_number, 'status': status, 'bank': bank, 'account': account, 'date': status_date,
             'failure': failure_reason},
            status_date) FILTER (WHERE status NOT IN ('made', 'issued', 'active')) AS ended,
    bool_or(deceased = '1') AS deceased
FROM read_csv('{issuance}', all_varchar = true, header = true)
GROUP BY ssn
