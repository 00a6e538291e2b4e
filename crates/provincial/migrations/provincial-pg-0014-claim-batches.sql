-- Migration 0014: claims that arrive together are decided together (issue #26).
--
-- Each claim was its own call and its own transaction: PostgreSQL woke, planned nothing new,
-- ran the function, committed and slept again, claim by claim. claim_persons decides the
-- claims waiting for a connection in one call and one transaction (the service's batch, see
-- Store::claim): under pgbench, 4 to 8 claims a call gave 1.1x to 1.4x the claims a second of
-- one claim a call, and the service itself wakes and waits less. Each claim is decided exactly as claim_person decides it alone; the two
-- share its steps, defined here once:
--   claim_replay  the stored answer to a request id already seen (NULL for a new one);
--   claim_decide  the decision for a new request, its person already locked, and its rows.
-- A batch takes its locks in one order, so two batches at once cannot wait for each other
-- over persons: first every new request's person, in the order of their numbers, then
-- numbers (the connection's block, the counter) as claim by claim needs them. Anything that
-- fails the call (a request sent twice in the batch, a deadlock with another change) rolls
-- the whole batch back; the service then decides those claims one by one (claim_person).

-- The stored answer when station p_station has sent request p_request_id before (the first
-- answer, or a request-id-reused refusal for another operation or body), with its audit row;
-- NULL for a request not seen yet.
CREATE OR REPLACE FUNCTION claim_replay(
    p_station text, p_request_id text, p_hash text, p_request jsonb
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    first_op text;
    first_hash text;
    first_answer jsonb;
    stored jsonb;
    said text;
BEGIN
    SELECT op, body_hash, answer INTO first_op, first_hash, first_answer
        FROM requests WHERE station = p_station AND request_id = p_request_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF first_op <> 'claim' OR (first_hash <> '' AND first_hash <> p_hash) THEN
        stored := jsonb_build_object('refused', jsonb_build_object(
            'refusal', 'request-id-reused', 'request_id', p_request_id, 'op', first_op));
        said := 'refused:request-id-reused';
    ELSE
        stored := first_answer;
        said := 'replayed';
    END IF;
    INSERT INTO audit (station, op, request_id, request, outcome)
        VALUES (p_station, 'claim', p_request_id, p_request, said);
    RETURN stored;
END
$$;

-- The answer to station p_station's new claim request for person p_ssn, whose row the caller
-- has locked (p_person: person_state's word for them), with its request and audit rows. In
-- order: a deceased person is refused; the person's lapsed claims end (their numbers held out
-- of circulation unless a kit's); a live claim refuses (whoever holds it); a live card
-- refuses unless this is its re-issue; then a number (a free one first, else the connection's
-- block, else the counter) and the claim for p_lease seconds.
CREATE OR REPLACE FUNCTION claim_decide(
    p_station text, p_request_id text, p_hash text, p_request jsonb,
    p_ssn text, p_reissue_of text, p_lease double precision, p_prefix text, p_person text
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    stored jsonb;
    held record;
    live text;
    number text;
    made record;
BEGIN
    IF p_person = 'deceased' THEN
        stored := '{"refused": {"refusal": "deceased"}}';
    ELSE
        -- A person just entered has no claims and no cards yet (both refer to the person).
        IF p_person = 'known' THEN
            PERFORM expire_lapsed_claims(p_ssn);
            SELECT station, extract(epoch FROM expires_at)::bigint AS expires_unix INTO held
                FROM claims WHERE ssn = p_ssn AND state = 'live';
            IF FOUND THEN
                stored := jsonb_build_object('refused', jsonb_build_object(
                    'refusal', 'already-claimed', 'station', held.station, 'expires_at', held.expires_unix));
            ELSE
                SELECT card_number INTO live FROM cards
                    WHERE ssn = p_ssn AND status IN ('made', 'issued', 'active');
                IF live IS NOT NULL AND p_reissue_of IS DISTINCT FROM live THEN
                    stored := jsonb_build_object('refused', jsonb_build_object(
                        'refusal', 'live-card', 'card_number', live));
                END IF;
            END IF;
        END IF;
        IF stored IS NULL THEN
            number := allocate_card_number(p_prefix);
            IF number IS NULL THEN
                stored := jsonb_build_object('refused', jsonb_build_object(
                    'refusal', 'numbers-exhausted', 'prefix', p_prefix));
            ELSE
                INSERT INTO claims (ssn, station, card_number, reissue_of, state, expires_at)
                    VALUES (p_ssn, p_station, number, p_reissue_of, 'live', now() + make_interval(secs => p_lease))
                    RETURNING claim_id, ssn, station, card_number, reissue_of,
                              extract(epoch FROM expires_at)::bigint AS expires_unix INTO made;
                stored := jsonb_build_object('ok', jsonb_build_object(
                    'claim_id', made.claim_id, 'ssn', made.ssn, 'station', made.station,
                    'card_number', made.card_number, 'reissue_of', made.reissue_of,
                    'expires_at', made.expires_unix));
            END IF;
        END IF;
    END IF;

    INSERT INTO requests (station, request_id, op, body_hash, answer)
        VALUES (p_station, p_request_id, 'claim', p_hash, stored);
    INSERT INTO audit (station, op, request_id, request, outcome)
        VALUES (p_station, 'claim', p_request_id, p_request,
                CASE WHEN stored ? 'ok' THEN 'ok' ELSE 'refused:' || (stored -> 'refused' ->> 'refusal') END);
    RETURN stored;
END
$$;

-- Station p_station's claim request p_request_id (p_hash: the request's SM3, p_request: the
-- request as sent, for the audit) for person p_ssn: the stored answer, {"ok": claim} or
-- {"refused": refusal} as the service's JSON has them. Idempotent as every change: the first
-- call decides and stores its answer; a retry with the same id and body gets that answer, the
-- id with another request a request-id-reused refusal; every call leaves an audit row. A
-- request retried while its first try is still running meets that row's key at the end: the
-- unique violation rolls the retry back and the service retries it, to find the stored answer.
CREATE OR REPLACE FUNCTION claim_person(
    p_station text, p_request_id text, p_hash text, p_request jsonb,
    p_ssn text, p_name text, p_reissue_of text, p_lease double precision, p_prefix text
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    stored jsonb := claim_replay(p_station, p_request_id, p_hash, p_request);
BEGIN
    IF stored IS NOT NULL THEN
        RETURN stored;
    END IF;
    RETURN claim_decide(p_station, p_request_id, p_hash, p_request, p_ssn, p_reissue_of, p_lease, p_prefix,
                        person_state(p_ssn, p_name));
END
$$;

-- Claims decided together, in one transaction: claim i is (p_station[i], p_request_id[i],
-- ...) as claim_person takes it, and answer i is claim_person's answer to it. The requests
-- seen before get their stored answers; then the persons of the new ones are locked (entered
-- if new) in the order of their numbers; then each new claim is decided in the batch's order.
-- The same person twice is decided as two claims one after the other (the second is refused:
-- already claimed).
CREATE OR REPLACE FUNCTION claim_persons(
    p_station text[], p_request_id text[], p_hash text[], p_request jsonb[],
    p_ssn text[], p_name text[], p_reissue_of text[], p_lease double precision[], p_prefix text
) RETURNS jsonb[]
LANGUAGE plpgsql AS $$
DECLARE
    n constant integer := coalesce(array_length(p_ssn, 1), 0);
    answers jsonb[] := array_fill(NULL::jsonb, ARRAY[n]);
    states text[] := array_fill(NULL::text, ARRAY[n]);            -- person_state's words
    i integer;
BEGIN
    IF array_length(p_station, 1) IS DISTINCT FROM n OR array_length(p_request_id, 1) IS DISTINCT FROM n
       OR array_length(p_hash, 1) IS DISTINCT FROM n OR array_length(p_request, 1) IS DISTINCT FROM n
       OR array_length(p_name, 1) IS DISTINCT FROM n OR array_length(p_reissue_of, 1) IS DISTINCT FROM n
       OR array_length(p_lease, 1) IS DISTINCT FROM n THEN
        RAISE EXCEPTION 'claim_persons: arrays of different lengths';
    END IF;
    FOR i IN 1..n LOOP
        answers[i] := claim_replay(p_station[i], p_request_id[i], p_hash[i], p_request[i]);
    END LOOP;
    FOR i IN SELECT k FROM generate_subscripts(p_ssn, 1) AS k ORDER BY p_ssn[k], k LOOP
        IF answers[i] IS NULL THEN
            states[i] := person_state(p_ssn[i], p_name[i]);
        END IF;
    END LOOP;
    FOR i IN 1..n LOOP
        IF answers[i] IS NULL THEN
            answers[i] := claim_decide(p_station[i], p_request_id[i], p_hash[i], p_request[i], p_ssn[i],
                                       p_reissue_of[i], p_lease[i], p_prefix, states[i]);
        END IF;
    END LOOP;
    RETURN answers;
END
$$;
