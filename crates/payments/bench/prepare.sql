-- The same core work as one batch of `station payments prepare` on the benchmark's files, for
-- DuckDB: per person the latest live card and the latest ended one and whether the card system
-- records them deceased (crates/roster/bench/person.sql, as roster's compare); the recipients grouped by payee (the head of
-- household for a household item, `{household}` = true, else each recipient); a member recorded
-- deceased has their share left out; the payee's amount summed exactly (DECIMAL, to the fen); the
-- decision of payments::cards::decide (deceased, active with an account: paid to the card, active
-- without one, not collected, not activated, making failed, stopped, recalled, cancelled, no
-- card); one line per payee written as CSV with the bank file's columns and the refusal. It does
-- not validate ID numbers, names or amounts, tell lost from stopped cards, consult the paid
-- register, pay passbooks, nor write the to-do lists and rejects that prepare writes as well: it
-- is a lower bound for the same matching.
COPY (
    WITH person AS ({person}),
    recipient AS (
        SELECT
            r.*,
            upper(r."身份证号") AS key,
            CASE WHEN {household} AND coalesce(r."户主身份证号", '') <> '' THEN upper(r."户主身份证号")
                 ELSE upper(r."身份证号") END AS payee,
            CAST(r."补贴额" AS DECIMAL(18, 2)) AS amount,
            coalesce(p.deceased, false) AS dead
        FROM read_csv('{recipients}', all_varchar = true, header = true) r
        LEFT JOIN person p ON upper(r."身份证号") = p.ssn
    ),
    payee AS (
        SELECT
            payee,
            coalesce(max(CASE WHEN key = payee THEN "姓名" END), max("户主姓名")) AS name,
            coalesce(max(CASE WHEN key = payee THEN "镇街" END), min("镇街")) AS township,
            coalesce(max(CASE WHEN key = payee THEN "村（社区）" END), min("村（社区）")) AS village,
            sum(amount) FILTER (WHERE key = payee OR NOT dead) AS amount,
            count(*) FILTER (WHERE key = payee OR NOT dead) AS members
        FROM recipient
        GROUP BY payee
    ),
    decided AS (
        SELECT
            y.*,
            p.live,
            p.ended,
            CASE
                WHEN coalesce(p.deceased, false) THEN '已死亡'
                WHEN p.live.status = 'active' AND coalesce(p.live.account, '') <> '' THEN ''
                WHEN p.live.status = 'active' THEN '无金融账号'
                WHEN p.live.status = 'made' THEN '未领卡'
                WHEN p.live IS NOT NULL THEN '未激活'
                WHEN p.ended.status = 'stopped' THEN '已停用'
                WHEN p.ended.status = 'recalled' THEN '已回收'
                WHEN p.ended.status = 'cancelled' THEN '已注销'
                WHEN p.ended IS NOT NULL THEN '制卡失败'
                ELSE '无制卡记录'
            END AS refusal
        FROM payee y
        LEFT JOIN person p ON y.payee = p.ssn
        WHERE y.members > 0
    )
    SELECT
        CASE WHEN refusal = '' THEN row_number() OVER (PARTITION BY refusal = '' ORDER BY payee) END AS "序号",
        name AS "姓名",
        payee AS "社会保障号码",
        coalesce(live.card, ended.card) AS "社会保障卡号",
        CASE WHEN refusal = '' THEN live.bank END AS "开户银行",
        CASE WHEN refusal = '' THEN live.account END AS "银行卡号",
        amount AS "金额",
        '{summary}' AS "摘要",
        township AS "乡镇",
        village AS "村(社区)",
        CASE WHEN refusal = '' THEN '社保卡' ELSE '' END AS "发放渠道",
        members AS "户内人数",
        refusal AS "未发放原因"
    FROM decided
) TO '{out}' (HEADER);
