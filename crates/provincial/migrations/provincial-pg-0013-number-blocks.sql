-- Migration 0013: claims that do not queue behind each other (issue #26).
--
-- Every claim moved the prefix's one counter row, and a row lock is held until the
-- transaction ends: each claim waited for the one before it to commit, ~80 % of a claim's time
-- at 16 stations. Numbers now come from blocks, one per connection at a time: a connection
-- takes a slot (the lowest whose session advisory lock is free: its own while it lives, free
-- again when it ends, crash or not), and the slot's block is a run of the counter's numbers
-- (card_number_blocks: the next one to hand out and the last). A claim moves its own slot's
-- block on, a row no other connection touches, so claims at once never wait for each other;
-- only when its block is used up does a claim wait for the counter, to take its next number
-- and a new block of the numbers after it. (The slot only spreads the claims: should two
-- connections ever use one block, the row's lock keeps them apart, one after the other.) When
-- the counter has run out, a claim takes the numbers left in other slots' blocks before it is
-- refused. Still no gaps: every number below the counter is
-- on a claim, held, free or in a block, and all of it moves inside the claims' transactions (a
-- claim rolled back puts its number back); a slot whose connection ended keeps its block for
-- the next connection to take the slot. One connection alone takes 1, 2, 3 ...; numbers are
-- handed out in blocks, not in order, across connections. The SQLite archive, one writer at a
-- time, needs no blocks.
-- Tried first: a queue of single numbers taken with FOR UPDATE SKIP LOCKED (each claim walked
-- the index past the numbers deleted before it, a quarter of PostgreSQL's CPU), and blocks
-- shared by all, the lowest not in use taken with SKIP LOCKED (the scan went through every
-- version of the few busy rows, slower still).
--
-- Also: a claim's request row is written once, with its answer, at the end (it was entered
-- first and updated with the answer: two row versions a claim). A request retried while its
-- first try is still running meets that row's key at the end: the unique violation rolls the
-- retry back and the service retries it, to find the stored answer. And a person the claim
-- has just entered has no claims and no cards yet (both refer to the person): those look-ups
-- are skipped.

CREATE TABLE IF NOT EXISTS card_number_blocks (
    prefix  text NOT NULL,
    slot    integer NOT NULL,                               -- held by a connection's advisory lock
    next    bigint NOT NULL,                                -- the next to hand out
    last    bigint NOT NULL CHECK (last <= 9999999),        -- used up when next > last
    PRIMARY KEY (prefix, slot)
) WITH (fillfactor = 50);

-- This connection's slot: the lowest slot whose advisory lock (5420, slot) it holds or can
-- take. The lock is the session's (a transaction rolled back keeps it; the slot's block is
-- only moved inside transactions), released when the connection ends.
CREATE OR REPLACE FUNCTION card_number_slot() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    mine text := current_setting('provincial.card_number_slot', true);
BEGIN
    IF mine IS NOT NULL AND mine <> '' THEN
        RETURN mine::integer;
    END IF;
    FOR s IN 0..1000000 LOOP
        IF pg_try_advisory_lock(5420, s) THEN
            -- Not transaction-local, but undone with a rolled-back transaction: the next
            -- call then finds the same lowest slot, its lock already the session's.
            PERFORM set_config('provincial.card_number_slot', s::text, false);
            RETURN s;
        END IF;
    END LOOP;
END
$$;

-- Numbers below a prefix's counter that are on no claim, in no block and not free or held:
-- what "no gaps" forbids. Empty, or the archive lost a number. (Claims only: a card that was
-- never claimed, as the bench's generated ones, has no number of the counter's.)
CREATE OR REPLACE FUNCTION card_number_gaps(p_prefix text) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    SELECT card_number_of(p_prefix, g)
    FROM card_number_counter c, generate_series(1, c.next - 1) AS g
    WHERE c.prefix = p_prefix
      AND NOT EXISTS (SELECT 1 FROM card_number_blocks b
                      WHERE b.prefix = p_prefix AND g BETWEEN b.next AND b.last)
      AND card_number_of(p_prefix, g) NOT IN (
          SELECT card_number FROM claims
          UNION ALL SELECT card_number FROM free_card_numbers
          UNION ALL SELECT card_number FROM held_card_numbers)
$$;

-- Whether person p_ssn is new ('entered', named p_name), 'known' or 'deceased', with their
-- row locked. A row just entered is this transaction's alone until it ends (another entering
-- the same person waits for it), so only a person already known is locked FOR UPDATE.
CREATE OR REPLACE FUNCTION person_state(p_ssn text, p_name text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    is_deceased boolean;
BEGIN
    INSERT INTO persons (ssn, name) VALUES (p_ssn, p_name) ON CONFLICT (ssn) DO NOTHING;
    IF FOUND THEN
        RETURN 'entered';
    END IF;
    SELECT deceased_at IS NOT NULL INTO is_deceased FROM persons WHERE ssn = p_ssn FOR UPDATE;
    RETURN CASE WHEN is_deceased THEN 'deceased' ELSE 'known' END;
END
$$;

-- Locks person p_ssn's row, entering them if new; whether they are deceased.
CREATE OR REPLACE FUNCTION lock_person(p_ssn text, p_name text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    RETURN person_state(p_ssn, p_name) = 'deceased';
END
$$;

-- A card number for a new claim: a free one first (numbers of released, expired or cancelled
-- claims, lowest first), else the next of this connection's block, else the counter's next;
-- NULL when the prefix's numbers are exhausted.
CREATE OR REPLACE FUNCTION allocate_card_number(p_prefix text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    -- Numbers in a block.
    size constant bigint := 128;
    slot_no constant integer := card_number_slot();
    number text;
    taken bigint;
BEGIN
    DELETE FROM free_card_numbers WHERE card_number =
        (SELECT card_number FROM free_card_numbers ORDER BY card_number LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING card_number INTO number;
    IF number IS NOT NULL THEN
        RETURN number;
    END IF;

    UPDATE card_number_blocks SET next = next + 1 WHERE prefix = p_prefix AND slot = slot_no AND next <= last
        RETURNING next - 1 INTO taken;
    IF FOUND THEN
        RETURN card_number_of(p_prefix, taken);
    END IF;

    -- The block is used up (or the slot has none yet): the counter's next, and a new block of
    -- the numbers after it.
    INSERT INTO card_number_counter (prefix, next) VALUES (p_prefix, 1) ON CONFLICT DO NOTHING;
    SELECT next INTO taken FROM card_number_counter WHERE prefix = p_prefix FOR UPDATE;
    IF taken > 9999999 THEN
        -- The prefix's last numbers are in other slots' blocks, if anywhere.
        UPDATE card_number_blocks SET next = next + 1 WHERE prefix = p_prefix AND slot =
            (SELECT slot FROM card_number_blocks WHERE prefix = p_prefix AND next <= last
             ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING next - 1 INTO taken;
        RETURN card_number_of(p_prefix, taken);
    END IF;
    INSERT INTO card_number_blocks (prefix, slot, next, last)
        VALUES (p_prefix, slot_no, taken + 1, least(taken + size - 1, 9999999))
        ON CONFLICT (prefix, slot) DO UPDATE SET next = excluded.next, last = excluded.last;
    UPDATE card_number_counter SET next = least(taken + size, 10000000) WHERE prefix = p_prefix;
    RETURN card_number_of(p_prefix, taken);
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
-- the connection's block, else the counter) and the claim for p_lease seconds.
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
    person text;
    held record;
    live text;
    number text;
    made record;
BEGIN
    SELECT op, body_hash, answer INTO first_op, first_hash, first_answer
        FROM requests WHERE station = p_station AND request_id = p_request_id;
    IF FOUND THEN
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

    person := person_state(p_ssn, p_name);
    IF person = 'deceased' THEN
        stored := '{"refused": {"refusal": "deceased"}}';
    ELSE
        IF person = 'known' THEN
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
