-- Alerts (issue 8), SQLite flavour: every alert, open and closed, with
-- the append-only audit of its transitions and the log of its
-- notifications; excursion records; daily log sign-offs; and the alert
-- configuration admins edit (unit rule sets, escalation policies,
-- maintenance windows, contacts, PAR levels). Keep it in step with
-- ../postgres/00010_alerts.sql.
--
-- Times in these tables are unix MICROseconds UTC (not milliseconds as in
-- the older tables), so alert and excursion times round-trip to the
-- microsecond; NULL is the zero time. Durations are nanoseconds. NaN values
-- are NULL. Alert, excursion and review rows carry no foreign key to their
-- unit: compliance records outlive a deleted unit.

-- +goose Up
CREATE TABLE alerts (
    id                     INTEGER PRIMARY KEY CHECK (id > 0),
    rule_id                TEXT    NOT NULL CHECK (rule_id <> ''),
    subject_kind           TEXT    NOT NULL CHECK (subject_kind <> ''),
    subject_id             TEXT    NOT NULL CHECK (subject_id <> ''),
    rule                   TEXT    NOT NULL,
    priority               TEXT    NOT NULL,
    team                   TEXT    NOT NULL,
    unit_id                INTEGER NOT NULL,
    subject_name           TEXT    NOT NULL,
    state                  TEXT    NOT NULL,
    active                 INTEGER NOT NULL CHECK (active IN (0, 1)),
    value                  REAL    NULL,
    peak                   REAL    NULL,
    trough                 REAL    NULL,
    message                TEXT    NOT NULL,
    opened_at              INTEGER NULL,
    raised_at              INTEGER NULL,
    cleared_at             INTEGER NULL,
    condition_since        INTEGER NULL,
    retriggers             INTEGER NOT NULL,
    acked_by               TEXT    NOT NULL,
    acked_at               INTEGER NULL,
    shelf_by               TEXT    NOT NULL,
    shelf_reason           TEXT    NOT NULL,
    shelf_at               INTEGER NULL,
    shelf_until            INTEGER NULL,
    suppression_kind       TEXT    NOT NULL,
    suppression_reason     TEXT    NOT NULL,
    suppression_by         TEXT    NOT NULL,
    suppression_until      INTEGER NULL,
    resolution_cause       TEXT    NOT NULL,
    resolution_action      TEXT    NOT NULL,
    resolution_disposition TEXT    NOT NULL,
    resolution_by          TEXT    NOT NULL,
    resolution_at          INTEGER NULL,
    closed_at              INTEGER NULL,
    annunciated_at         INTEGER NULL,
    escalation             TEXT    NOT NULL
) STRICT;
CREATE INDEX alerts_open ON alerts (id) WHERE closed_at IS NULL;
CREATE INDEX alerts_opened ON alerts (opened_at, id);
CREATE INDEX alerts_unit_opened ON alerts (unit_id, opened_at, id);

CREATE TABLE alert_audit (
    id           INTEGER PRIMARY KEY,
    alert_id     INTEGER NOT NULL REFERENCES alerts (id),
    rule_id      TEXT    NOT NULL,
    subject_kind TEXT    NOT NULL,
    subject_id   TEXT    NOT NULL,
    action       TEXT    NOT NULL CHECK (action <> ''),
    from_state   TEXT    NOT NULL,
    to_state     TEXT    NOT NULL,
    username     TEXT    NOT NULL,
    at           INTEGER NOT NULL,
    reason       TEXT    NOT NULL
) STRICT;
CREATE INDEX alert_audit_alert ON alert_audit (alert_id, id);
CREATE INDEX alert_audit_at ON alert_audit (at, id);

CREATE TABLE alert_notifications (
    id              INTEGER PRIMARY KEY,
    notification_id TEXT    NOT NULL,
    alert_id        INTEGER NOT NULL,
    rule_id         TEXT    NOT NULL,
    subject_kind    TEXT    NOT NULL,
    subject_id      TEXT    NOT NULL,
    tier            INTEGER NOT NULL,
    reminder        INTEGER NOT NULL CHECK (reminder IN (0, 1)),
    channel         TEXT    NOT NULL,
    group_name      TEXT    NOT NULL,
    address         TEXT    NOT NULL,
    team            TEXT    NOT NULL,
    unit_id         INTEGER NOT NULL,
    priority        TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    due             INTEGER NULL,
    title           TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    at              INTEGER NOT NULL,
    error           TEXT    NOT NULL
) STRICT;
CREATE INDEX alert_notifications_alert ON alert_notifications (alert_id, id);

CREATE TABLE excursions (
    id                    INTEGER PRIMARY KEY,
    unit_id               INTEGER NOT NULL,
    unit_name             TEXT    NOT NULL,
    team                  TEXT    NOT NULL,
    sensor_id             TEXT    NOT NULL CHECK (sensor_id <> ''),
    metric                TEXT    NOT NULL CHECK (metric <> ''),
    low                   REAL    NULL,
    high                  REAL    NULL,
    start_at              INTEGER NOT NULL,
    end_at                INTEGER NULL,
    peak                  REAL    NULL,
    trough                REAL    NULL,
    peak_at               INTEGER NULL,
    trough_at             INTEGER NULL,
    above_ns              INTEGER NOT NULL,
    below_ns              INTEGER NOT NULL,
    degree_minutes_above  REAL    NULL,
    degree_minutes_below  REAL    NULL,
    samples               INTEGER NOT NULL,
    alarmed               INTEGER NOT NULL CHECK (alarmed IN (0, 1)),
    alarm_rule            TEXT    NOT NULL,
    quarantine            INTEGER NOT NULL CHECK (quarantine IN (0, 1)),
    quarantine_cleared_by TEXT    NOT NULL,
    quarantine_cleared_at INTEGER NULL,
    disposition           TEXT    NOT NULL,
    troubleshooting       TEXT    NOT NULL,
    UNIQUE (sensor_id, metric, start_at)
) STRICT;
CREATE INDEX excursions_start ON excursions (start_at, id);
CREATE INDEX excursions_unit_start ON excursions (unit_id, start_at, id);
CREATE INDEX excursions_quarantined ON excursions (start_at, id) WHERE quarantine = 1 AND quarantine_cleared_at IS NULL;

CREATE TABLE alert_reviews (
    unit_id     INTEGER NOT NULL,
    day         TEXT    NOT NULL CHECK (length(day) = 10),
    reviewed_by TEXT    NOT NULL CHECK (reviewed_by <> ''),
    at          INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    PRIMARY KEY (unit_id, day)
) STRICT;
CREATE INDEX alert_reviews_day ON alert_reviews (day, unit_id);

CREATE TABLE unit_rules (
    unit_id INTEGER PRIMARY KEY REFERENCES monitored_units (id) ON DELETE CASCADE,
    rules   TEXT    NOT NULL
) STRICT;

CREATE TABLE alert_policies (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    document TEXT    NOT NULL
) STRICT;

CREATE TABLE alert_windows (
    id       INTEGER PRIMARY KEY,
    unit_id  INTEGER NOT NULL REFERENCES monitored_units (id) ON DELETE CASCADE,
    kind     TEXT    NOT NULL CHECK (kind IN ('defrost', 'maintenance', 'out_of_service')),
    start_at INTEGER NOT NULL,
    end_at   INTEGER NOT NULL CHECK (end_at > start_at),
    set_by   TEXT    NOT NULL CHECK (set_by <> ''),
    reason   TEXT    NOT NULL
) STRICT;
CREATE INDEX alert_windows_unit ON alert_windows (unit_id);
CREATE INDEX alert_windows_end ON alert_windows (end_at);

CREATE TABLE alert_contacts (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL CHECK (name <> ''),
    group_name TEXT    NOT NULL CHECK (group_name IN ('team', 'supervisor', 'on_call')),
    team       TEXT    NOT NULL CHECK (team <> ''),
    unit_id    INTEGER NULL REFERENCES monitored_units (id) ON DELETE CASCADE,
    email      TEXT    NOT NULL,
    webhook    TEXT    NOT NULL,
    enabled    INTEGER NOT NULL CHECK (enabled IN (0, 1))
) STRICT;
CREATE INDEX alert_contacts_unit ON alert_contacts (unit_id);

CREATE TABLE par_levels (
    id           TEXT    PRIMARY KEY CHECK (id <> ''),
    name         TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind <> ''),
    clean_zones  TEXT    NOT NULL,
    soiled_zones TEXT    NOT NULL,
    clean_min    INTEGER NOT NULL CHECK (clean_min >= 0),
    soiled_max   INTEGER NULL CHECK (soiled_max >= 0)
) STRICT;

-- +goose Down
DROP TABLE par_levels;
DROP TABLE alert_contacts;
DROP TABLE alert_windows;
DROP TABLE alert_policies;
DROP TABLE unit_rules;
DROP TABLE alert_reviews;
DROP TABLE excursions;
DROP TABLE alert_notifications;
DROP TABLE alert_audit;
DROP TABLE alerts;
