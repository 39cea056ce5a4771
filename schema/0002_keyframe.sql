-- 0002_keyframe.sql: which blocks open with a keyframe (docs/SCHEMA.md, docs/FORMAT.md).
-- A reader starts at the last keyframe block at or before its window; every block of a
-- schema 1 store is one, hence the default.
ALTER TABLE blocks ADD COLUMN keyframe INTEGER NOT NULL DEFAULT 1;
