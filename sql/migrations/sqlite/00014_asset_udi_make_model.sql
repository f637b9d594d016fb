-- Assets get their Unique Device Identifier (the human-readable form as
-- printed on the label, checked by wardwatch.ParseUDI), manufacturer and
-- model (issue 10: FHIR Device.udiCarrier, CMMS integrations). "" is not
-- known, as for asset_tag and serial.

-- +goose Up
ALTER TABLE assets ADD COLUMN udi TEXT NOT NULL DEFAULT '' CHECK (length(udi) <= 200);
ALTER TABLE assets ADD COLUMN manufacturer TEXT NOT NULL DEFAULT '' CHECK (length(manufacturer) <= 100);
ALTER TABLE assets ADD COLUMN model TEXT NOT NULL DEFAULT '' CHECK (length(model) <= 100);

-- +goose Down
ALTER TABLE assets DROP COLUMN model;
ALTER TABLE assets DROP COLUMN manufacturer;
ALTER TABLE assets DROP COLUMN udi;
