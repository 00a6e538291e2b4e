-- Migration 0015: a batch of claims decided by set, not claim by claim (issue #26).
--
-- Profiled under the claims bench, much of PostgreSQL's time went to starting and ending
-- statements rather than writing rows: executor set-up, the CHECK constraints' expressions
-- read anew at each insert, plpgsql's SPI, and plans made anew at each call. A claim ran eight
-- statements, and a batch of claims eight a claim. claim_persons now runs one statement per
-- step for the whole batch: the requests seen before, the persons entered, the persons locked,
-- the numbers, the claims, the requests, the audit. Only what concerns a person already known
-- (their lapsed claims, a live claim, a live card) is still asked person by person, in
-- claim_refusal. Its plans are made once per connection. Under pgbench, batches of five made
-- ~20 % more claims a second than 0014's claim_persons.
-- A claim alone keeps claim_person, statement by statement: the set's statements cost more to
-- start than a single row's, and claim_persons of one made ~30 % fewer claims a second. The
-- two share every rule: the replay (claim_replay), the refusals (claim_refusal), the numbers,
-- the answer (claim_answer) and the audit's outcome (claim_outcome).
--
-- Each claim gets the answer it would get alone, in the batch's order; the batch's numbers go
-- out in that order. A batch whose claims would give one person two live claims fails (with an
-- error that names nobody, where the one_live_claim index's would put the ID number in
-- PostgreSQL's log), as a batch holding one request twice fails on the requests' key: the
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

-- 0014's steps, replaced below by claim_replay (another signature) and claim_refusal.
DROP FUNCTION IF EXISTS claim_decide(text, text, text, jsonb, text, text, double precision, text, text);
DROP FUNCTION IF EXISTS claim_replay(text, text, text, jsonb);

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

-- What a request seen before gets: its first answer, or a request-id-reused refusal when the
-- id came with another operation or body (p_first: its requests row), with the audit's word.
CREATE OR REPLACE FUNCTION claim_replay(
    p_first requests, p_request_id text, p_hash text, OUT answer jsonb, OUT said text
)
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_first.op <> 'claim' OR (p_first.body_hash <> '' AND p_first.body_hash <> p_hash) THEN
        answer := jsonb_build_object('refused', jsonb_build_object(
            'refusal', 'request-id-reused', 'request_id', p_request_id, 'op', p_first.op));
        said := 'refused:request-id-reused';
    ELSE
        answer := p_first.answer;
        said := 'replayed';
    END IF;
END
$$;

-- A claim's answer as the service's JSON has it. STABLE as its expiry's epoch is (an
-- IMMUTABLE function over a STABLE expression would not be inlined).
CREATE OR REPLACE FUNCTION claim_answer(made claims) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('ok', jsonb_build_object(
        'claim_id', made.claim_id, 'ssn', made.ssn, 'station', made.station,
        'card_number', made.card_number, 'reissue_of', made.reissue_of,
        'expires_at', extract(epoch FROM made.expires_at)::bigint))
$$;

-- The audit's word for a new claim's answer: ok, or refused: and the refusal.
CREATE OR REPLACE FUNCTION claim_outcome(answer jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN answer ? 'ok' THEN 'ok' ELSE 'refused:' || (answer -> 'refused' ->> 'refusal') END
$$;

-- The refusal when the prefix's numbers have run out.
CREATE OR REPLACE FUNCTION claim_exhausted(p_prefix text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('refused', jsonb_build_object('refusal', 'numbers-exhausted', 'prefix', p_prefix))
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
-- then a run from the connection's block if it holds the rest, else allocate_card_number's
-- way one at a time (the block's last numbers, a new block from the counter; when the counter
-- has run out, other blocks' numbers). Fewer than k only when the prefix's numbers are
-- exhausted.
CREATE OR REPLACE FUNCTION allocate_card_numbers(p_prefix text, k integer) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    slot_no constant integer := card_number_slot();
    numbers text[];
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
    -- The run from the connection's block, when the block holds all that is still wanted.
    IF cardinality(numbers) < k THEN
        UPDATE card_number_blocks SET next = next + k - cardinality(numbers)
            WHERE prefix = p_prefix AND slot = slot_no AND next + k - cardinality(numbers) - 1 <= last
            RETURNING next INTO upto;
        IF FOUND THEN
            FOR n IN upto - k + cardinality(numbers) .. upto - 1 LOOP
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
    said text[] := array_fill(NULL::text, ARRAY[n]);        -- a replay's outcome; NULL: new
    states text[] := array_fill(NULL::text, ARRAY[n]);      -- person_state's words
    fresh integer[] := '{}';                                -- the new requests, in order
    fresh_ssn text[] := '{}';
    entered text[];
    granted integer[] := '{}';                              -- those to be claimed, in order
    granted_ssn text[] := '{}';
    numbers text[];
    placed text[] := array_fill(NULL::text, ARRAY[n]);      -- claim i's number
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
    FOR r IN SELECT u.k, c.answer, c.said
             FROM unnest(p_station, p_request_id, p_hash) WITH ORDINALITY AS u(station, request_id, hash, k)
             JOIN requests q ON q.station = u.station AND q.request_id = u.request_id
             CROSS JOIN LATERAL claim_replay(q, u.request_id, u.hash) AS c LOOP
        answers[r.k] := r.answer;
        said[r.k] := r.said;
    END LOOP;
    FOR i IN 1 .. n LOOP
        IF said[i] IS NULL THEN
            fresh := fresh || i;
            fresh_ssn := fresh_ssn || p_ssn[i];
        END IF;
    END LOOP;

    IF cardinality(fresh) > 0 THEN
        -- The persons: the new ones entered, then the known ones locked, each in number order.
        WITH e AS (
            INSERT INTO persons (ssn, name)
                SELECT ssn, name FROM unnest(p_ssn, p_name, said) AS u(ssn, name, seen)
                WHERE seen IS NULL ORDER BY ssn
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
                IF p_ssn[i] = ANY (granted_ssn) THEN
                    -- Two live claims for one person: the service decides the batch one by one.
                    -- The one_live_claim index would refuse the batch too, but its error would
                    -- write the person's ID number into PostgreSQL's log; this one names none.
                    RAISE EXCEPTION 'claim_persons: one person claimed twice in a batch';
                END IF;
                granted := granted || i;
                granted_ssn := granted_ssn || p_ssn[i];
            END IF;
        END LOOP;
        numbers := allocate_card_numbers(p_prefix, cardinality(granted));
        FOR j IN 1 .. cardinality(granted) LOOP
            IF j <= cardinality(numbers) THEN
                placed[granted[j]] := numbers[j];
            ELSE
                answers[granted[j]] := claim_exhausted(p_prefix);
            END IF;
        END LOOP;

        -- The claims, in the batch's order.
        IF cardinality(numbers) > 0 THEN
            FOR r IN
                INSERT INTO claims (ssn, station, card_number, reissue_of, state, expires_at)
                    SELECT ssn, station, number, reissue_of, 'live', now() + make_interval(secs => lease)
                    FROM unnest(p_ssn, p_station, placed, p_reissue_of, p_lease)
                         AS u(ssn, station, number, reissue_of, lease)
                    WHERE number IS NOT NULL
                    RETURNING ssn, claim_answer(claims) AS answer
            LOOP
                answers[fresh[array_position(fresh_ssn, r.ssn)]] := r.answer;
            END LOOP;
        END IF;

        INSERT INTO requests (station, request_id, op, body_hash, answer)
            SELECT station, request_id, 'claim', hash, answer
            FROM unnest(p_station, p_request_id, p_hash, answers, said) AS u(station, request_id, hash, answer, seen)
            WHERE seen IS NULL;
    END IF;

    INSERT INTO audit (station, op, request_id, request, outcome)
        SELECT station, 'claim', request_id, request,
               coalesce(seen, claim_outcome(answer))
        FROM unnest(p_station, p_request_id, p_request, answers, said) AS u(station, request_id, request, answer, seen);
    RETURN answers;
END
$$;

-- One claim, as claim_persons decides it, statement by statement: the stored answer to a
-- request seen before; else the person entered or locked, the refusal or a number, and the
-- claim, with the request's and the audit's rows.
CREATE OR REPLACE FUNCTION claim_person(
    p_station text, p_request_id text, p_hash text, p_request jsonb,
    p_ssn text, p_name text, p_reissue_of text, p_lease double precision, p_prefix text
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    seen requests;
    replay record;
    person text;
    stored jsonb;
    number text;
BEGIN
    SELECT * INTO seen FROM requests WHERE station = p_station AND request_id = p_request_id;
    IF FOUND THEN
        replay := claim_replay(seen, p_request_id, p_hash);
        INSERT INTO audit (station, op, request_id, request, outcome)
            VALUES (p_station, 'claim', p_request_id, p_request, replay.said);
        RETURN replay.answer;
    END IF;
    person := person_state(p_ssn, p_name);
    IF person <> 'entered' THEN
        stored := claim_refusal(p_ssn, p_reissue_of, person = 'deceased');
    END IF;
    IF stored IS NULL THEN
        number := allocate_card_number(p_prefix);
        IF number IS NULL THEN
            stored := claim_exhausted(p_prefix);
        ELSE
            INSERT INTO claims (ssn, station, card_number, reissue_of, state, expires_at)
                VALUES (p_ssn, p_station, number, p_reissue_of, 'live', now() + make_interval(secs => p_lease))
                RETURNING claim_answer(claims) INTO stored;
        END IF;
    END IF;
    INSERT INTO requests (station, request_id, op, body_hash, answer)
        VALUES (p_station, p_request_id, 'claim', p_hash, stored);
    INSERT INTO audit (station, op, request_id, request, outcome)
        VALUES (p_station, 'claim', p_request_id, p_request, claim_outcome(stored));
    RETURN stored;
END
$$;
