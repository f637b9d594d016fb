-- +goose Up
-- When the calibration certificate of a device's probes runs out (unix
-- milliseconds, UTC); NULL: not tracked.
ALTER TABLE modbus_devices ADD COLUMN calibration_due BIGINT NULL;

-- +goose Down
ALTER TABLE modbus_devices DROP COLUMN calibration_due;
