-- The same core work as `station compare` on the benchmark's files, for DuckDB: per person the
-- latest live card (made, issued, active) and the latest ended one, and whether the card system
-- records them deceased (person.sql, shared with payments' query); the roster joined to that on
-- the ID number; the five classes and the action of roster::classify (the account compared with
-- the roster's for an active card), the stock/dormant/recalled flags (dormant: handed over 180
-- days or more before 2025-06-01, the bench's day); the classified roster written as CSV with the
-- card's columns. It does not validate ID numbers, names or amounts, nor write the rejects,
-- action lists and reports that `station compare` writes as well: it is a lower bound for the
-- same comparison.
COPY (
    WITH person AS ({person}),
    classified AS (
        SELECT
            r.*,
            p.live,
            p.ended,
            CASE
                WHEN coalesce(p.deceased, false) THEN '已死亡'
                WHEN p.live.status = 'active' THEN '已制卡已激活'
                WHEN p.live IS NOT NULL THEN '已制卡未激活'
                WHEN p.ended.status = 'failed' THEN '制卡失败'
                ELSE '无制卡记录'
            END AS class
        FROM read_csv('{roster}', all_varchar = true, header = true) r
        LEFT JOIN person p ON upper(r."身份证号") = p.ssn
    )
    SELECT
        * EXCLUDE (live, ended, class),
        class AS "比对结果",
        CASE class
            WHEN '已制卡已激活' THEN CASE WHEN live.account = "银行卡号" THEN '' ELSE '变更发放账号' END
            WHEN '已制卡未激活' THEN CASE WHEN live.status = 'made' THEN '领卡并激活' ELSE '激活' END
            WHEN '制卡失败' THEN '核实后重新申领'
            WHEN '无制卡记录' THEN '申领'
            ELSE CASE WHEN live IS NOT NULL THEN '注销卡片' ELSE '' END
        END AS "待办事项",
        coalesce(live.card, ended.card) AS "社保卡号",
        CASE coalesce(live.status, ended.status)
            WHEN 'made' THEN '已制卡待领' WHEN 'issued' THEN '已发放' WHEN 'active' THEN '已激活'
            WHEN 'stopped' THEN '已停用' WHEN 'recalled' THEN '已回收' WHEN 'cancelled' THEN '已注销'
            WHEN 'failed' THEN '制卡失败' ELSE '' END AS "卡状态",
        coalesce(live.bank, ended.bank) AS "社保卡发卡银行",
        coalesce(live.account, ended.account) AS "社保卡金融账号",
        coalesce(live.date, ended.date) AS "状态日期",
        CASE WHEN live IS NULL THEN ended.failure ELSE '' END AS "制卡失败原因",
        concat_ws(';',
            CASE WHEN class <> '已死亡' AND live.status = 'made' THEN '库存卡' END,
            CASE WHEN class <> '已死亡' AND live.status = 'issued'
                  AND date_diff('day', CAST(live.date AS DATE), DATE '2025-06-01') >= 180 THEN '睡眠卡' END,
            CASE WHEN live IS NULL AND ended.status = 'recalled' THEN '回收卡' END
        ) AS "库存/睡眠/回收"
    FROM classified
) TO '{out}' (HEADER);
