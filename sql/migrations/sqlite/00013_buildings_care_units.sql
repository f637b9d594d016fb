-- Buildings, care units and users scoped to care units (issue 9).
-- floors.building: "" is the site's only (default) building.
-- zones.care_unit: the nursing/care unit (ward) a zone belongs to; "" none.
-- users.units: JSON array of the care units a user is scoped to; [] the
-- whole site.

-- +goose Up
ALTER TABLE floors ADD COLUMN building TEXT NOT NULL DEFAULT '' CHECK (length(building) <= 100);
ALTER TABLE zones ADD COLUMN care_unit TEXT NOT NULL DEFAULT '' CHECK (length(care_unit) <= 64);
CREATE INDEX zones_care_unit ON zones (care_unit);
ALTER TABLE users ADD COLUMN units TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE users DROP COLUMN units;
DROP INDEX zones_care_unit;
ALTER TABLE zones DROP COLUMN care_unit;
ALTER TABLE floors DROP COLUMN building;
