-- Migration 6: the stations the province has seen (a station's first connection enters it;
-- an outreach kit is not a station). A delivery goes only to one of them, so a mistyped id on
-- a delivery order cannot leave a card in nobody's stock.
-- The same as the provincial service's provincial-pg-0006-known-stations.sql.
CREATE TABLE IF NOT EXISTS stations (
    station     TEXT PRIMARY KEY,
    first_seen  INTEGER NOT NULL                         -- unix time
);
INSERT OR IGNORE INTO stations (station, first_seen)
    SELECT station, min(at) FROM audit WHERE station NOT IN (SELECT kit FROM kit_leases) GROUP BY station;
