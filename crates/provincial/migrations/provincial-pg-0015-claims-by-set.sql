-- Migration 0015: a batch of claims decided by set, not claim by claim (issue #26).
--
-- Profiled under the claims bench, PostgreSQL spent most of a claim starting and ending
-- statements, not writing rows: executor set-up, the CHECK constraints' expressions read anew
-- at each insert, the foreign key's trigger, plpgsql's SPI. A claim ran eight statements, and a
-- batch of claims eight a claim. claim_persons now runs one statement per step for the whole
-- batch: the requests seen before, the persons entered, the persons locked, the numbers, the
-- claims, the requests, the audit. Only what concerns a person already known (their lapsed
-- claims, a live claim, a live card) is still asked person by person, in claim_refusal.
-- claim_person is claim_persons of one claim: one way to decide a claim.
--
-- Each claim gets the answer it would get alone, in the batch's order; the batch's numbers go
-- out in that order. A batch whose claims would give one person two live claims fails on the
-- one_live_claim index, as a batch holding one request twice fails on the requests' key: the
-- service then decides its claims one by one, the second of the two refused (already claimed).
--
-- Locks: the new persons are entered in the order of their numbers, then the persons already
-- known are locked in that order, then numbers are taken. Two batches at once cannot wait for
-- each other over persons: one waits on an insert only for a person the other entered (and both
-- enter in one order), on a lock only for a person the other locked (both lock in one order),
-- and a batch that locks has entered all it will enter.
--
-- The connections' number blocks: each claim moved its block's row on, and the page filled with
-- the row's old versions before PostgreSQL pruned them (at half full), which every look-up of
-- the few rows read through. A batch now moves its block once, and the table prunes at a tenth.

ALTER TABLE card_number_blocks SET (fillfactor = 10);

-- Card number n of prefix with its check character, as 0012's card_number_of made it with a
-- loop over its characters: here one expression (the prefix's letter and the seven digits
-- weighted 3, 7, 9, 10, 5, 8, 4, 2; the check 11 - sum mod 11, 10 as X, 11 as 0), which the
-- planner inlines where it is called. Not STRICT, since a STRICT function with a CASE is not
-- inlined; NULL in gives NULL out all the same. NULL for a prefix that is not one capital
-- letter or a number outside 0 to 9999999. (Checked equal to 0012's for every number of
-- prefixes A, B, M and Z, a lower-case prefix and NULL, and the numbers just outside.)
CREATE OR REPLACE FUNCTION card_number_of(prefix text, n bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN prefix ~ '^[A-Z]$' AND n BETWEEN 0 AND 9999999 THEN
        prefix || lpad(n::text, 7, '0') || substr('0X987654321', 1 + ((ascii(prefix) - 55) * 3
            + n / 1000000 % 10 * 7 + n / 100000 % 10 * 9 + n / 10000 % 10 * 10 + n / 1000 % 10 * 5
            + n / 100 % 10 * 8 + n / 10 % 10 * 4 + n % 10 * 2)::integer % 11, 1)
    END
$$;

-- The refusal of a new claim for person p_ssn, known before and locked by the caller (a person
-- just entered has no claims and no cards yet), or NULL when they may be claimed: a deceased
-- person is refused; the person's lapsed claims end (their numbers held out of circulation
-- unless a kit's), then a live claim refuses (whoever holds it), then a live card unless this
-- is its re-issue.
CREATE OR REPLACE FUNCTION claim_refusal(p_ssn text, p_reissue_of text, p_deceased boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    held record;
    live text;
BEGIN
    IF p_deceased THEN
        RETURN '{"refused": {"refusal": "deceased"}}';
    END IF;
    PERFORM expire_lapsed_claims(p_ssn);
    SELECT station, extract(epoch FROM expires_at)::bigint AS expires_unix INTO held
        FROM claims WHERE ssn = p_ssn AND state = 'live';
    IF FOUND THEN
        RETURN jsonb_build_object('refused', jsonb_build_object(
            'refusal', 'already-claimed', 'station', held.station, 'expires_at', held.expires_unix));
    END IF;
    SELECT card_number INTO live FROM cards WHERE ssn = p_ssn AND status IN ('made', 'issued', 'active');
    IF live IS NOT NULL AND p_reissue_of IS DISTINCT FROM live THEN
        RETURN jsonb_build_object('refused', jsonb_build_object('refusal', 'live-card', 'card_number', live));
    END IF;
    RETURN NULL;
END
$$;

-- Up to k numbers for new claims, in the order they go out: free ones first (lowest first),
-- then the run left in the connection's block, then allocate_card_number's way one at a time
-- (a new block from the counter; when the counter has run out, other blocks' numbers). Fewer
-- than k only when the prefix's numbers are exhausted.
CREATE OR REPLACE FUNCTION allocate_card_numbers(p_prefix text, k integer) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    slot_no constant integer := card_number_slot();
    numbers text[];
    first bigint;
    upto bigint;
    one text;
BEGIN
    IF k < 1 THEN
        RETURN '{}';
    END IF;
    WITH taken AS (
        DELETE FROM free_card_numbers WHERE card_number IN
            (SELECT card_number FROM free_card_numbers ORDER BY card_number LIMIT k FOR UPDATE SKIP LOCKED)
        RETURNING card_number)
    SELECT coalesce(array_agg(card_number ORDER BY card_number), '{}') INTO numbers FROM taken;
    IF cardinality(numbers) < k THEN
        WITH block AS (
            SELECT next, least(next + k - cardinality(numbers), last + 1) AS upto FROM card_number_blocks
            WHERE prefix = p_prefix AND slot = slot_no AND next <= last FOR UPDATE)
        UPDATE card_number_blocks b SET next = block.upto FROM block
            WHERE b.prefix = p_prefix AND b.slot = slot_no
            RETURNING block.next, block.upto INTO first, upto;
        IF FOUND THEN
            FOR n IN first .. upto - 1 LOOP
                numbers := numbers || card_number_of(p_prefix, n);
            END LOOP;
        END IF;
    END IF;
    WHILE cardinality(numbers) < k LOOP
        one := allocate_card_number(p_prefix);
        EXIT WHEN one IS NULL;
        numbers := numbers || one;
    END LOOP;
    RETURN numbers;
END
$$;

-- Claims decided together, in one transaction: claim i is (p_station[i], p_request_id[i],
-- ...) as claim_person takes it, and answer i is the stored answer, {"ok": claim} or
-- {"refused": refusal} as the service's JSON has them. Idempotent as every change: the first
-- call decides and stores its answer; a retry with the same id and body gets that answer, the
-- id with another request a request-id-reused refusal; every call leaves an audit row. A
-- request retried while its first try is still running meets that row's key at the end: the
-- unique violation rolls the retry back and the service retries it, to find the stored answer.
CREATE OR REPLACE FUNCTION claim_persons(
    p_station text[], p_request_id text[], p_hash text[], p_request jsonb[],
    p_ssn text[], p_name text[], p_reissue_of text[], p_lease double precision[], p_prefix text
) RETURNS jsonb[]
LANGUAGE plpgsql
-- Its statements' plans are made once per connection: planned anew at each call (plpgsql's
-- choice for statements over array parameters) they cost more than they run.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    n constant integer := coalesce(array_length(p_ssn, 1), 0);
    answers jsonb[] := array_fill(NULL::jsonb, ARRAY[n]);
    said text[] := array_fill(NULL::text, ARRAY[n]);        -- the audit's outcome of a replay
    states text[] := array_fill(NULL::text, ARRAY[n]);      -- person_state's words
    fresh integer[] := '{}';                                -- the new requests, in order
    fresh_ssn text[] := '{}';
    entered text[];
    granted integer[] := '{}';                              -- those to be claimed, in order
    numbers text[];
    r record;
    i integer;
BEGIN
    IF array_length(p_station, 1) IS DISTINCT FROM n OR array_length(p_request_id, 1) IS DISTINCT FROM n
       OR array_length(p_hash, 1) IS DISTINCT FROM n OR array_length(p_request, 1) IS DISTINCT FROM n
       OR array_length(p_name, 1) IS DISTINCT FROM n OR array_length(p_reissue_of, 1) IS DISTINCT FROM n
       OR array_length(p_lease, 1) IS DISTINCT FROM n THEN
        RAISE EXCEPTION 'claim_persons: arrays of different lengths';
    END IF;

    -- The requests seen before: their first answers, or request-id-reused.
    FOR r IN SELECT u.k, q.op, q.body_hash, q.answer
             FROM unnest(p_station, p_request_id) WITH ORDINALITY AS u(station, request_id, k)
             JOIN requests q ON q.station = u.station AND q.request_id = u.request_id LOOP
        IF r.op <> 'claim' OR (r.body_hash <> '' AND r.body_hash <> p_hash[r.k]) THEN
            answers[r.k] := jsonb_build_object('refused', jsonb_build_object(
                'refusal', 'request-id-reused', 'request_id', p_request_id[r.k], 'op', r.op));
            said[r.k] := 'refused:request-id-reused';
        ELSE
            answers[r.k] := r.answer;
            said[r.k] := 'replayed';
        END IF;
    END LOOP;
    FOR i IN 1 .. n LOOP
        IF answers[i] IS NULL THEN
            fresh := fresh || i;
            fresh_ssn := fresh_ssn || p_ssn[i];
        END IF;
    END LOOP;

    IF cardinality(fresh) > 0 THEN
        -- The persons: the new ones entered, then the known ones locked, each in number order.
        WITH e AS (
            INSERT INTO persons (ssn, name)
                SELECT p_ssn[k], p_name[k] FROM unnest(fresh) AS k ORDER BY p_ssn[k]
                ON CONFLICT (ssn) DO NOTHING RETURNING ssn)
        SELECT coalesce(array_agg(ssn), '{}') INTO entered FROM e;
        FOREACH i IN ARRAY fresh LOOP
            IF p_ssn[i] = ANY (entered) THEN
                states[i] := 'entered';
            END IF;
        END LOOP;
        IF cardinality(entered) < cardinality(fresh) THEN
            FOR r IN SELECT ssn, deceased_at IS NOT NULL AS deceased FROM persons
                     WHERE ssn = ANY (fresh_ssn) AND ssn <> ALL (entered) ORDER BY ssn FOR UPDATE LOOP
                FOREACH i IN ARRAY fresh LOOP
                    IF p_ssn[i] = r.ssn THEN
                        states[i] := CASE WHEN r.deceased THEN 'deceased' ELSE 'known' END;
                    END IF;
                END LOOP;
            END LOOP;
        END IF;

        -- The decisions, in the batch's order; then the numbers, in the same order.
        FOREACH i IN ARRAY fresh LOOP
            IF states[i] <> 'entered' THEN
                answers[i] := claim_refusal(p_ssn[i], p_reissue_of[i], states[i] = 'deceased');
            END IF;
            IF answers[i] IS NULL THEN
                granted := granted || i;
            END IF;
        END LOOP;
        numbers := allocate_card_numbers(p_prefix, cardinality(granted));
        FOR j IN cardinality(numbers) + 1 .. cardinality(granted) LOOP
            answers[granted[j]] := jsonb_build_object('refused', jsonb_build_object(
                'refusal', 'numbers-exhausted', 'prefix', p_prefix));
        END LOOP;
        granted := granted[1:cardinality(numbers)];

        -- The claims, in the batch's order.
        FOR r IN
            WITH made AS (
                INSERT INTO claims (ssn, station, card_number, reissue_of, state, expires_at)
                    SELECT p_ssn[g.k], p_station[g.k], numbers[g.j], p_reissue_of[g.k], 'live',
                           now() + make_interval(secs => p_lease[g.k])
                    FROM unnest(granted) WITH ORDINALITY AS g(k, j) ORDER BY g.j
                    RETURNING claim_id, ssn, station, card_number, reissue_of,
                              extract(epoch FROM expires_at)::bigint AS expires_unix)
            SELECT * FROM made
        LOOP
            i := fresh[array_position(fresh_ssn, r.ssn)];
            answers[i] := jsonb_build_object('ok', jsonb_build_object(
                'claim_id', r.claim_id, 'ssn', r.ssn, 'station', r.station,
                'card_number', r.card_number, 'reissue_of', r.reissue_of, 'expires_at', r.expires_unix));
        END LOOP;

        INSERT INTO requests (station, request_id, op, body_hash, answer)
            SELECT p_station[k], p_request_id[k], 'claim', p_hash[k], answers[k] FROM unnest(fresh) AS k;
    END IF;

    INSERT INTO audit (station, op, request_id, request, outcome)
        SELECT p_station[k], 'claim', p_request_id[k], p_request[k],
               coalesce(said[k], CASE WHEN answers[k] ? 'ok' THEN 'ok'
                                      ELSE 'refused:' || (answers[k] -> 'refused' ->> 'refusal') END)
        FROM generate_series(1, n) AS k ORDER BY k;
    RETURN answers;
END
$$;

-- One claim: claim_persons of one.
CREATE OR REPLACE FUNCTION claim_person(
    p_station text, p_request_id text, p_hash text, p_request jsonb,
    p_ssn text, p_name text, p_reissue_of text, p_lease double precision, p_prefix text
) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    RETURN (claim_persons(ARRAY[p_station], ARRAY[p_request_id], ARRAY[p_hash], ARRAY[p_request],
                          ARRAY[p_ssn], ARRAY[p_name], ARRAY[p_reissue_of], ARRAY[p_lease], p_prefix))[1];
END
$$;

DROP FUNCTION IF EXISTS claim_decide(text, text, text, jsonb, text, text, double precision, text, text);
DROP FUNCTION IF EXISTS claim_replay(text, text, text, jsonb);
