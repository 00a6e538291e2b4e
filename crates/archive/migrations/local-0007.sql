-- Version 7: an application taken for an agent site (代办网点) names the site (its id in
-- station.toml's [[sites]]): its card is delivered there, within 15 working days of the
-- application (`station sites overdue`), and the holder is told by SMS when it arrives.
ALTER TABLE applications ADD COLUMN site TEXT;
CREATE INDEX applications_by_site ON applications (site) WHERE site IS NOT NULL;
