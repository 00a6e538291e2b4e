-- The provincial archive on PostgreSQL. The rules that keep a person to one live card are
-- constraints here (unique partial indexes), whatever a client does.
CREATE TABLE IF NOT EXISTS persons (
    ssn          text PRIMARY KEY CHECK (length(ssn) = 18),   -- resident ID number
    name         text NOT NULL DEFAULT '',
    deceased_at  timestamptz                                  -- set: no claims, no live cards
);

CREATE TABLE IF NOT EXISTS claims (
    claim_id     bigserial PRIMARY KEY,
    ssn          text NOT NULL REFERENCES persons (ssn),
    station      text NOT NULL,                               -- client certificate CN
    card_number  text NOT NULL,
    reissue_of   text,
    state        text NOT NULL CHECK (state IN ('live', 'committed', 'released', 'expired', 'cancelled')),
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS one_live_claim ON claims (ssn) WHERE state = 'live';

CREATE TABLE IF NOT EXISTS cards (
    card_number  text PRIMARY KEY,
    ssn          text NOT NULL REFERENCES persons (ssn),
    card_id      text,
    atr          text,
    status       text NOT NULL CHECK (status IN ('made', 'issued', 'active', 'stopped', 'recalled', 'cancelled', 'failed')),
    station      text NOT NULL,
    claim_id     bigint REFERENCES claims (claim_id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS one_live_card ON cards (ssn) WHERE status IN ('made', 'issued', 'active');
CREATE INDEX IF NOT EXISTS cards_by_person ON cards (ssn);

-- Card numbers: a counter per prefix; numbers of released, expired or cancelled claims are
-- handed out again first, so the sequence has no gaps.
CREATE TABLE IF NOT EXISTS card_number_counter (prefix text PRIMARY KEY, next bigint NOT NULL);
CREATE TABLE IF NOT EXISTS free_card_numbers (card_number text PRIMARY KEY);

-- Idempotency: the first answer to every request id.
CREATE TABLE IF NOT EXISTS requests (
    request_id   text PRIMARY KEY,
    station      text NOT NULL,
    op           text NOT NULL,
    answer       jsonb,                                       -- {"ok": ...} or {"refused": ...}
    created_at   timestamptz NOT NULL DEFAULT now()
);
