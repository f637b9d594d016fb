-- Positions keep the engine's tag state (moving, stationary, stale, missing).

-- +goose Up
ALTER TABLE positions ADD COLUMN state TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE positions DROP COLUMN state;
