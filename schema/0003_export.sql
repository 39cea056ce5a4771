-- tcptop index schema, migration 3: export cursors (docs/FLEET.md).
--
-- What each destination (a ClickHouse URL without its password) has received
-- of each recording, so that tcptop-analyze export and tcptop-record --ship
-- send only what is new, and resume after a kill where the last acknowledged
-- batch ended. Rows sent again after a kill are harmless: ClickHouse's
-- tables collapse them (schema/clickhouse).

CREATE TABLE export_cursors (
	dest TEXT NOT NULL,                      -- the URL, password removed
	recording_id INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
	ticks_ns INTEGER NOT NULL DEFAULT 0,     -- Unix ns: every tick ending at or before
	                                         -- it, and the events up to it, were acknowledged
	meta_ns INTEGER NOT NULL DEFAULT 0,      -- Unix ns: the recording's row, lifetimes and
	                                         -- losses as of this time were acknowledged
	PRIMARY KEY (dest, recording_id)
) WITHOUT ROWID;
