-- Migration 0012: a claim in one round trip (issue #26). Until now the service sent a claim's
-- statements one by one, thirteen round trips with BEGIN and COMMIT, with the person's row and
-- the card-number counter locked across the round trips that followed; now it calls
-- claim_person once and PostgreSQL runs the whole decision and its writes in the call's
-- transaction. Every function here is plpgsql: its statements are planned once per connection
-- (an SQL-language function would be planned again at every call).
--
-- On PostgreSQL claim_person IS the claim's rule (the service's Store::claim only checks the
-- request's shape, caps the lease and calls it); the SQLite archive's claim
-- (archive::sqlite_provincial) is its twin, and the conformance suite (archive::conformance,
-- run on both) is what proves they decide alike. A change to one is a change to the other.
-- Its steps that other changes share (locking the person, ending lapsed claims, allocating a
-- number) are functions here too, and the service calls them (Store::lock_person,
-- Store::expire_lapsed_claims, Store::allocate): one statement of each, wherever it runs.

-- The card number for counter value n under prefix (one capital letter): the letter, seven
-- digits, the check character; NULL past 9 999 999. The same as archive::card_number (rule:
-- applicant::CardNumber, a letter counts 10 + its place, weights 3 7 9 10 5 8 4 2, check
-- 11 - sum mod 11, 'X' for 10, '0' for 11); the service's tests compare the two.
CREATE OR REPLACE FUNCTION card_number_of(prefix text, n bigint) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    body text;
    weights constant integer[] := ARRAY[3, 7, 9, 10, 5, 8, 4, 2];
    c integer;
    s integer := 0;
BEGIN
    IF prefix !~ '^[A-Z]$' OR n < 0 OR n > 9999999 THEN
        RETURN NULL;
    END IF;
    body := prefix || lpad(n::text, 7, '0');
    FOR i IN 1..8 LOOP
        c := ascii(substr(body, i, 1));
        s := s + (CASE WHEN c < 65 THEN c - 48 ELSE c - 55 END) * weights[i];
    END LOOP;
    RETURN body || CASE 11 - s % 11 WHEN 10 THEN 'X' WHEN 11 THEN '0' ELSE (11 - s % 11)::text END;
END
$$;

-- Locks person p_ssn's row, entering them (named p_name) if new; whether they are deceased.
-- A row just entered is this transaction's alone until it ends (another entering the same
-- person waits for it), so only a person already known is locked FOR UPDATE.
CREATE OR REPLACE FUNCTION lock_person(p_ssn text, p_name text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    is_deceased boolean;
BEGIN
    INSERT INTO persons (ssn, name) VALUES (p_ssn, p_name) ON CONFLICT (ssn) DO NOTHING;
    IF FOUND THEN
        RETURN false;
    END IF;
    SELECT deceased_at IS NOT NULL INTO is_deceased FROM persons WHERE ssn = p_ssn FOR UPDATE;
    RETURN is_deceased;
END
$$;

-- Ends person p_ssn's claims whose lease has lapsed. Their numbers are held out of
-- circulation: the station may have made a card with one, and says where it is with a late
-- release (a kit's number comes back at its check-in).
CREATE OR REPLACE FUNCTION expire_lapsed_claims(p_ssn text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    WITH lapsed AS (
        UPDATE claims SET state = 'expired' WHERE ssn = p_ssn AND state = 'live' AND expires_at <= now()
        RETURNING card_number, station, claim_id)
    INSERT INTO held_card_numbers (card_number, station, claim_id)
        SELECT card_number, station, claim_id FROM lapsed
        WHERE claim_id NOT IN (SELECT claim_id FROM kit_claims)
        ON CONFLICT DO NOTHING;
END
$$;

-- A card number for a new claim: a free one first (numbers of released, expired or cancelled
-- claims, lowest first), else the prefix's counter moved on; NULL when the prefix's numbers
-- are exhausted.
CREATE OR REPLACE FUNCTION allocate_card_number(p_prefix text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    number text;
    counted bigint;
BEGIN
    DELETE FROM free_card_numbers WHERE card_number =
        (SELECT card_number FROM free_card_numbers ORDER BY card_number LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING card_number INTO number;
    IF number IS NOT NULL THEN
        RETURN number;
    END IF;
    -- The prefix's counter, made at its first number, moved on in the same statement.
    INSERT INTO card_number_counter (prefix, next) VALUES (p_prefix, 2)
        ON CONFLICT (prefix) DO UPDATE SET next = card_number_counter.next + 1
        RETURNING next - 1 INTO counted;
    RETURN card_number_of(p_prefix, counted);
END
$$;

-- Station p_station's claim request p_request_id (p_hash: the request's SM3, p_request: the
-- request as sent, for the audit) for person p_ssn: the stored answer, {"ok": claim} or
-- {"refused": refusal} as the service's JSON has them. Idempotent as every change: the first
-- call decides and stores its answer; a retry with the same id and body gets that answer, the
-- id with another request a request-id-reused refusal; every call leaves an audit row.
-- The decision, in order (the person's row locked first, then claims, cards and the counter,
-- as every change takes them): a deceased person is refused; the person's lapsed claims end
-- (their numbers held out of circulation unless a kit's); a live claim refuses (whoever holds
-- it); a live card refuses unless this is its re-issue; then a number (a free one first, else
-- the prefix's counter moved on) and the claim for p_lease seconds.
CREATE OR REPLACE FUNCTION claim_person(
    p_station text, p_request_id text, p_hash text, p_request jsonb,
    p_ssn text, p_name text, p_reissue_of text, p_lease double precision, p_prefix text
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    first_op text;
    first_hash text;
    first_answer jsonb;
    stored jsonb;
    said text;
    held record;
    live text;
    number text;
    made record;
BEGIN
    INSERT INTO requests (station, request_id, op, body_hash)
        VALUES (p_station, p_request_id, 'claim', p_hash) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        SELECT op, body_hash, answer INTO first_op, first_hash, first_answer
            FROM requests WHERE station = p_station AND request_id = p_request_id;
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
    END IF;

    IF lock_person(p_ssn, p_name) THEN
        stored := '{"refused": {"refusal": "deceased"}}';
    ELSE
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
            ELSE
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
    END IF;

    UPDATE requests SET answer = stored WHERE station = p_station AND request_id = p_request_id;
    INSERT INTO audit (station, op, request_id, request, outcome)
        VALUES (p_station, 'claim', p_request_id, p_request,
                CASE WHEN stored ? 'ok' THEN 'ok' ELSE 'refused:' || (stored -> 'refused' ->> 'refusal') END);
    RETURN stored;
END
$$;
