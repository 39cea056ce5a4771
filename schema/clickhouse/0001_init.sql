-- tcptop fleet schema for ClickHouse, version 1 (docs/FLEET.md).
-- For ClickHouse 18.16 and later. Applied by tcptop-analyze export and
-- tcptop-record --ship: every statement is idempotent (IF NOT EXISTS), and
-- tt_schema records the versions applied.
--
-- Every table is a ReplacingMergeTree on a key that names a row for good
-- (the host, the recording's key, a time, the connection), so a row sent
-- twice (a batch resent after a kill or a timeout) is one row once merged,
-- and is one row at once for queries that read FINAL, as tcptop's do.
-- rec: the recording's key, FNV-1a 64 of "host boot_id start_ns", the same
-- on every export of it. Times are Unix ns (UInt64) unless named *_mono.

CREATE TABLE IF NOT EXISTS tt_schema (
	version UInt32,
	name String
) ENGINE = ReplacingMergeTree ORDER BY version;

-- one row per recording; ver: its end as of the export, so the latest wins
CREATE TABLE IF NOT EXISTS tt_recordings (
	host String,
	rec UInt64,
	kernel String,
	boot_id String,
	start_ns UInt64,
	end_ns UInt64,            -- end, or its last block's end while recording
	clean_stop UInt8,
	options String,
	tool_version String,
	mono_to_wall_ns Int64,    -- CLOCK_MONOTONIC + this = Unix ns
	bucket_ns UInt64,
	ver UInt64
) ENGINE = ReplacingMergeTree(ver) ORDER BY (host, rec);

-- one row per connection active in a tick (moved data, was retransmitted or
-- reset, opened or closed): what tcptop-analyze top adds up, so any window
-- of whole ticks is answered exactly as the local store answers it
CREATE TABLE IF NOT EXISTS tt_ticks (
	host String,
	rec UInt64,
	ts UInt64,                -- the tick's end; it covers (tick_start, ts]
	tick_start UInt64,
	conn_id UInt64,           -- socket cookie; UDP peer flows have bit 63 set
	open_mono UInt64,         -- CLOCK_MONOTONIC of its open: with conn_id, the lifetime
	family UInt8,
	proto UInt8,              -- 6 TCP, 17 UDP
	laddr String,
	lport UInt16,
	raddr String,
	rport UInt16,
	pid UInt32,
	tgid UInt32,
	comm String,
	cgroup UInt64,
	netns UInt32,
	conn_flags UInt8,         -- 1 partial, 2 UDP peer of an unconnected socket
	new UInt8,                -- first seen in this tick
	closed UInt8,             -- ended in this tick
	state UInt8,              -- TCP state at the tick, Linux numbering; 0 UDP
	close_reason UInt8,       -- when closed: 0 normal, 1 failed, 2 reset, 3 idle
	close_errno UInt16,
	age_ns UInt64,            -- the connection's age at the tick
	bytes_in UInt64,          -- during the tick
	bytes_out UInt64,
	packets_in UInt64,
	packets_out UInt64,
	retrans UInt32,
	retrans_total UInt32,     -- retransmitted segments since first seen
	resets UInt32,
	rate_in Float64,          -- bytes/s over the tick: for people (see rate_in_bits)
	rate_out Float64,
	rate_in_bits UInt64,      -- the same double's IEEE bits, exact: 18.16 parses
	rate_out_bits UInt64,     -- decimal doubles to within an ulp only
	srtt_us UInt32,           -- smoothed RTT, 0 without a sample
	row UInt32                -- its place in the tick's table (events' order)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(toDateTime(intDiv(ts, 1000000000)))
ORDER BY (host, ts, rec, conn_id, open_mono);

-- one row per connection lifetime, as the index's connections view has it;
-- ver: its last change, so the latest export wins
CREATE TABLE IF NOT EXISTS tt_conns (
	host String,
	rec UInt64,
	conn_id UInt64,
	open_ns UInt64,
	proto String,
	family UInt8,
	laddr String,
	lport UInt16,
	raddr String,
	rport UInt16,
	pid UInt32,
	comm String,
	cgroup UInt64,
	netns UInt32,
	partial UInt8,
	udp_peer UInt8,
	close_ns UInt64,          -- 0 while open
	first_seen_ns UInt64,
	last_seen_ns UInt64,
	state String,
	close_reason String,      -- '' while open
	close_errno UInt16,
	bytes_in UInt64,
	bytes_out UInt64,
	packets_in UInt64,
	packets_out UInt64,
	rtt_min_us UInt32,        -- 0 without a sample
	rtt_avg_us UInt32,
	rtt_max_us UInt32,
	rtt_samples UInt32,
	retrans UInt64,
	resets_sent UInt64,
	resets_recv UInt64,
	ver UInt64
) ENGINE = ReplacingMergeTree(ver)
PARTITION BY toYYYYMM(toDateTime(intDiv(open_ns, 1000000000)))
ORDER BY (host, rec, conn_id, open_ns);

-- lifecycle events: state changes, resets, closes, and the recorder's
-- losses (type 'loss', conn_id 0, the increase since the last one);
-- retransmits are counted per tick in tt_ticks. The connection as the
-- recorder knew it at the event (known = 0: it did not). seq: the event's
-- place in its run of the recording's events with the same time stamp.
CREATE TABLE IF NOT EXISTS tt_events (
	host String,
	rec UInt64,
	ts UInt64,
	conn_id UInt64,
	type String,              -- 'state', 'reset', 'close', 'loss'
	seq UInt32,
	old_state UInt8,
	new_state UInt8,
	received UInt8,           -- reset: 1 received, 0 sent
	close_reason UInt8,
	close_errno UInt16,       -- close, or state: sk_err at the change
	bytes_in UInt64,          -- close: the connection's totals
	bytes_out UInt64,
	ring_drops UInt64,        -- loss: increases
	socks_full UInt64,
	peers_full UInt64,
	known UInt8,
	open_mono UInt64,
	family UInt8,
	proto UInt8,
	laddr String,
	lport UInt16,
	raddr String,
	rport UInt16,
	pid UInt32,
	tgid UInt32,
	comm String,
	cgroup UInt64,
	netns UInt32,
	conn_flags UInt8
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(toDateTime(intDiv(ts, 1000000000)))
ORDER BY (host, ts, rec, conn_id, type, seq);

-- the recorder's losses, per stored block that had any (deltas)
CREATE TABLE IF NOT EXISTS tt_losses (
	host String,
	rec UInt64,
	t_start_ns UInt64,
	t_end_ns UInt64,
	ring_drops UInt64,
	socks_full UInt64,
	peers_full UInt64
) ENGINE = ReplacingMergeTree ORDER BY (host, rec, t_start_ns);
