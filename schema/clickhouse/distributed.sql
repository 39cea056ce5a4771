-- A sharded fleet: run on every server of the cluster, with CLUSTER replaced
-- by the cluster's name in <remote_servers> (docs/FLEET.md). Each host ships
-- into the local tables (tt_*) of one server, always the same one; these
-- tt_*_all tables read all the shards at once, and tcptop-analyze's fleet
-- queries use them when they exist. A host's rows then live on one shard,
-- which is what makes FINAL's de-duplication complete: ClickHouse merges
-- duplicates within a shard, never across two.
CREATE TABLE IF NOT EXISTS tt_recordings_all AS tt_recordings ENGINE = Distributed(CLUSTER, currentDatabase(), tt_recordings, cityHash64(host));
CREATE TABLE IF NOT EXISTS tt_ticks_all AS tt_ticks ENGINE = Distributed(CLUSTER, currentDatabase(), tt_ticks, cityHash64(host));
CREATE TABLE IF NOT EXISTS tt_conns_all AS tt_conns ENGINE = Distributed(CLUSTER, currentDatabase(), tt_conns, cityHash64(host));
CREATE TABLE IF NOT EXISTS tt_events_all AS tt_events ENGINE = Distributed(CLUSTER, currentDatabase(), tt_events, cityHash64(host));
CREATE TABLE IF NOT EXISTS tt_losses_all AS tt_losses ENGINE = Distributed(CLUSTER, currentDatabase(), tt_losses, cityHash64(host));
