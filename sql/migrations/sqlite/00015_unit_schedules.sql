-- Daily recurring suppression windows of monitored units (a frost-free
-- fridge's defrost cycle at 02:00, 08:00, 14:00 and 20:00; a nightly
-- maintenance). Keep it in step with ../postgres/00015_unit_schedules.sql.
--
-- times: the local start times of day (the hospital's http.time_zone),
-- ascending "HH:MM" separated by commas, 1 to 12 of them. duration:
-- nanoseconds, whole minutes, shorter than the gap between two starts
-- (checked by alerts.Schedule.Validate). created_at: unix microseconds UTC.

-- +goose Up
CREATE TABLE unit_schedules (
    id         INTEGER PRIMARY KEY,
    unit_id    INTEGER NOT NULL REFERENCES monitored_units (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL CHECK (kind IN ('defrost', 'maintenance')),
    times      TEXT    NOT NULL CHECK (length(times) BETWEEN 5 AND 71),
    duration   INTEGER NOT NULL CHECK (duration >= 60000000000 AND duration < 86400000000000),
    reason     TEXT    NOT NULL,
    set_by     TEXT    NOT NULL CHECK (set_by <> ''),
    created_at INTEGER NOT NULL,
    UNIQUE (unit_id, kind, times)
) STRICT;

-- +goose Down
DROP TABLE unit_schedules;
