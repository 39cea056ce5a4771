-- 0001_init.sql: the first schema of a store's index.db (docs/SCHEMA.md).
--
-- lib/store.c runs it, and every later NNNN_*.sql, in one transaction that
-- ends with PRAGMA user_version = NNNN. Never edit a released migration: add
-- the next one.
--
-- Units: times are INTEGER nanoseconds since the Unix epoch (UTC), sizes are
-- bytes, rates bytes/s (REAL), RTTs microseconds. Addresses are TEXT as `ss`
-- prints them ('10.0.0.1', '::1', '*' for the wildcard).

CREATE TABLE recordings (
	id INTEGER PRIMARY KEY,
	host TEXT NOT NULL,                      -- uname nodename
	kernel TEXT NOT NULL,                    -- uname release
	boot_id TEXT NOT NULL,                   -- /proc/sys/kernel/random/boot_id
	start_ns INTEGER NOT NULL,
	end_ns INTEGER,                          -- NULL while recording, or if it died
	clean_stop INTEGER NOT NULL DEFAULT 0,   -- 1: stopped cleanly
	options TEXT NOT NULL DEFAULT '',        -- the recorder's command line
	tool_version TEXT NOT NULL DEFAULT '',
	mono_to_wall_ns INTEGER NOT NULL,        -- CLOCK_MONOTONIC + this = Unix ns
	bucket_ns INTEGER NOT NULL DEFAULT 10000000000 -- length of its buckets
);

CREATE TABLE segments (
	id INTEGER PRIMARY KEY,
	recording_id INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
	seq INTEGER NOT NULL,                    -- from 0 within the recording
	file TEXT NOT NULL UNIQUE,               -- name inside the store directory
	created_ns INTEGER NOT NULL,
	t_start_ns INTEGER,                      -- first block's start; NULL before one
	t_end_ns INTEGER,                        -- last block's end
	bytes INTEGER NOT NULL DEFAULT 0,        -- end of the last block in the file
	blocks INTEGER NOT NULL DEFAULT 0,
	sealed INTEGER NOT NULL DEFAULT 0,       -- 1: complete, no more blocks
	UNIQUE (recording_id, seq)
);
CREATE INDEX segments_time ON segments(t_start_ns);

CREATE TABLE blocks (
	id INTEGER PRIMARY KEY,
	segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
	offset INTEGER NOT NULL,                 -- of the frame in the segment file
	length INTEGER NOT NULL,                 -- of the frame on disk
	raw_length INTEGER NOT NULL,             -- events before compression
	t_start_ns INTEGER NOT NULL,             -- first event
	t_end_ns INTEGER NOT NULL,               -- last event
	events INTEGER NOT NULL,
	checksum INTEGER NOT NULL,               -- as in the frame (docs/FORMAT.md)
	ring_drops INTEGER NOT NULL DEFAULT 0,   -- cumulative since the recording started
	socks_full INTEGER NOT NULL DEFAULT 0,   -- cumulative
	peers_full INTEGER NOT NULL DEFAULT 0,   -- cumulative
	UNIQUE (segment_id, offset)
);
CREATE INDEX blocks_time ON blocks(t_start_ns, t_end_ns);

CREATE TABLE connections (
	id INTEGER PRIMARY KEY,
	recording_id INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
	conn_id INTEGER NOT NULL,                -- socket cookie; UDP peer flows < 0 (bit 63)
	family INTEGER NOT NULL,                 -- 4 or 6
	proto TEXT NOT NULL,                     -- 'tcp' or 'udp'
	laddr TEXT NOT NULL,
	lport INTEGER NOT NULL,
	raddr TEXT NOT NULL,
	rport INTEGER NOT NULL,
	pid INTEGER NOT NULL,                    -- process (tgid); 0 if never known
	tid INTEGER NOT NULL,                    -- thread last seen doing I/O
	comm TEXT NOT NULL,
	cgroup INTEGER NOT NULL,                 -- cgroup v2 id
	netns INTEGER NOT NULL,                  -- network namespace inode
	partial INTEGER NOT NULL,                -- 1: existed before the recording
	udp_peer INTEGER NOT NULL,               -- 1: one peer of an unconnected UDP socket
	open_ns INTEGER NOT NULL,                -- opened (partial: first seen)
	close_ns INTEGER,                        -- NULL while open
	first_seen_ns INTEGER NOT NULL,          -- first tick it was in
	last_seen_ns INTEGER NOT NULL,           -- last tick it was in
	state TEXT NOT NULL,                     -- last TCP state ('ESTAB'...), UDP 'UNCONN'
	close_reason TEXT,                       -- normal, failed, reset, idle; NULL while open
	close_errno INTEGER,                     -- e.g. 111 ECONNREFUSED; NULL while open
	bytes_in INTEGER NOT NULL,
	bytes_out INTEGER NOT NULL,
	packets_in INTEGER NOT NULL,             -- TCP segments or UDP datagrams
	packets_out INTEGER NOT NULL,
	peak_rate_in REAL NOT NULL,              -- bytes/s, highest over one tick
	peak_rate_out REAL NOT NULL,
	rtt_min_us INTEGER,                      -- smoothed RTT over ticks; NULL without a sample
	rtt_avg_us INTEGER,
	rtt_max_us INTEGER,
	rtt_samples INTEGER NOT NULL,            -- ticks with an RTT
	retrans INTEGER NOT NULL,                -- retransmitted segments
	resets_sent INTEGER NOT NULL,
	resets_recv INTEGER NOT NULL,
	reset_events INTEGER NOT NULL,           -- reset events seen while recording
	UNIQUE (recording_id, conn_id, open_ns)
);
CREATE INDEX connections_open ON connections(open_ns);
CREATE INDEX connections_last ON connections(last_seen_ns);
CREATE INDEX connections_raddr ON connections(raddr);
CREATE INDEX connections_pid ON connections(pid, comm);

CREATE TABLE buckets (
	connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
	t_start_ns INTEGER NOT NULL,             -- multiple of the recording's bucket_ns
	bytes_in INTEGER NOT NULL,               -- during the bucket
	bytes_out INTEGER NOT NULL,
	packets_in INTEGER NOT NULL,
	packets_out INTEGER NOT NULL,
	retrans INTEGER NOT NULL,
	rtt_avg_us INTEGER,                      -- NULL without a sample
	rtt_samples INTEGER NOT NULL,
	PRIMARY KEY (connection_id, t_start_ns)
) WITHOUT ROWID;
CREATE INDEX buckets_time ON buckets(t_start_ns);

-- ---- views for people writing SQL by hand ---------------------------------
-- Times as UTC text with milliseconds, addresses with ports as ss prints them.

CREATE VIEW v_recordings AS
SELECT r.id, r.host, r.kernel, r.boot_id,
	strftime('%Y-%m-%d %H:%M:%f', r.start_ns / 1e9, 'unixepoch') AS started,
	strftime('%Y-%m-%d %H:%M:%f', r.end_ns / 1e9, 'unixepoch') AS ended,
	(coalesce(r.end_ns, (SELECT max(s.t_end_ns) FROM segments s WHERE s.recording_id = r.id),
		  r.start_ns) - r.start_ns) / 1e9 AS duration_s,
	r.clean_stop, r.options, r.tool_version, r.bucket_ns / 1e9 AS bucket_s,
	(SELECT count(*) FROM segments s WHERE s.recording_id = r.id) AS segments,
	(SELECT coalesce(sum(s.bytes), 0) FROM segments s WHERE s.recording_id = r.id) AS bytes,
	(SELECT count(*) FROM connections c WHERE c.recording_id = r.id) AS connections,
	r.start_ns, r.end_ns
FROM recordings r;

CREATE VIEW v_connections AS
SELECT c.id, c.recording_id, c.conn_id, c.proto, c.family,
	CASE WHEN c.family = 6 AND c.laddr <> '*' THEN '[' || c.laddr || ']' ELSE c.laddr END
		|| ':' || c.lport AS local,
	CASE WHEN c.family = 6 AND c.raddr <> '*' THEN '[' || c.raddr || ']' ELSE c.raddr END
		|| ':' || c.rport AS remote,
	c.laddr, c.lport, c.raddr, c.rport, c.pid, c.tid, c.comm, c.cgroup, c.netns,
	strftime('%Y-%m-%d %H:%M:%f', c.open_ns / 1e9, 'unixepoch') AS opened,
	strftime('%Y-%m-%d %H:%M:%f', c.close_ns / 1e9, 'unixepoch') AS closed,
	strftime('%Y-%m-%d %H:%M:%f', c.last_seen_ns / 1e9, 'unixepoch') AS last_seen,
	(coalesce(c.close_ns, c.last_seen_ns) - c.open_ns) / 1e9 AS duration_s,
	c.state, c.close_reason, c.close_errno,
	CASE c.close_errno
		WHEN 0 THEN NULL WHEN 32 THEN 'EPIPE' WHEN 101 THEN 'ENETUNREACH'
		WHEN 103 THEN 'ECONNABORTED' WHEN 104 THEN 'ECONNRESET'
		WHEN 110 THEN 'ETIMEDOUT' WHEN 111 THEN 'ECONNREFUSED'
		WHEN 113 THEN 'EHOSTUNREACH' ELSE CAST(c.close_errno AS TEXT)
	END AS close_error,
	c.bytes_in, c.bytes_out, c.bytes_in + c.bytes_out AS bytes,
	c.packets_in, c.packets_out, c.peak_rate_in, c.peak_rate_out,
	c.rtt_min_us, c.rtt_avg_us, c.rtt_max_us, c.retrans,
	c.resets_sent, c.resets_recv, c.partial, c.udp_peer,
	c.open_ns, c.close_ns, c.first_seen_ns, c.last_seen_ns
FROM connections c;

CREATE VIEW v_top_talkers AS
SELECT id, recording_id, proto, local, remote, pid, comm, opened, duration_s,
	bytes, bytes_in, bytes_out, peak_rate_in, peak_rate_out, rtt_avg_us, retrans
FROM v_connections
ORDER BY bytes DESC;

CREATE VIEW v_buckets AS
SELECT b.connection_id, c.recording_id,
	strftime('%Y-%m-%d %H:%M:%S', b.t_start_ns / 1e9, 'unixepoch') AS time,
	c.proto, c.laddr, c.lport, c.raddr, c.rport, c.pid, c.comm,
	b.bytes_in, b.bytes_out, b.bytes_in + b.bytes_out AS bytes,
	b.packets_in, b.packets_out, b.retrans, b.rtt_avg_us, b.t_start_ns
FROM buckets b JOIN connections c ON c.id = b.connection_id;

CREATE VIEW v_process_totals AS
SELECT recording_id, pid, comm, count(*) AS connections,
	sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out,
	sum(bytes_in + bytes_out) AS bytes,
	sum(packets_in) AS packets_in, sum(packets_out) AS packets_out,
	sum(retrans) AS retrans, sum(resets_sent) AS resets_sent,
	sum(resets_recv) AS resets_recv,
	sum(close_reason IS 'failed') AS failed_connects,
	strftime('%Y-%m-%d %H:%M:%f', min(open_ns) / 1e9, 'unixepoch') AS first_open,
	strftime('%Y-%m-%d %H:%M:%f', max(last_seen_ns) / 1e9, 'unixepoch') AS last_seen
FROM connections
GROUP BY recording_id, pid, comm;

CREATE VIEW v_remote_hosts AS
SELECT recording_id, raddr, count(*) AS connections,
	count(DISTINCT pid) AS processes, count(DISTINCT rport) AS ports,
	sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out,
	sum(bytes_in + bytes_out) AS bytes, sum(retrans) AS retrans,
	sum(close_reason IS 'failed') AS failed_connects,
	CAST(sum(rtt_avg_us * rtt_samples) / nullif(sum(rtt_samples), 0) AS INTEGER)
		AS rtt_avg_us,
	strftime('%Y-%m-%d %H:%M:%f', min(open_ns) / 1e9, 'unixepoch') AS first_open,
	strftime('%Y-%m-%d %H:%M:%f', max(last_seen_ns) / 1e9, 'unixepoch') AS last_seen
FROM connections
GROUP BY recording_id, raddr;

CREATE VIEW v_losses AS
SELECT b.id AS block_id, s.recording_id, b.segment_id,
	strftime('%Y-%m-%d %H:%M:%f', b.t_start_ns / 1e9, 'unixepoch') AS start,
	strftime('%Y-%m-%d %H:%M:%f', b.t_end_ns / 1e9, 'unixepoch') AS end,
	b.ring_drops - lag(b.ring_drops, 1, 0) OVER w AS ring_drops,
	b.socks_full - lag(b.socks_full, 1, 0) OVER w AS socks_full,
	b.peers_full - lag(b.peers_full, 1, 0) OVER w AS peers_full,
	b.ring_drops AS ring_drops_total, b.socks_full AS socks_full_total,
	b.peers_full AS peers_full_total, b.t_start_ns, b.t_end_ns
FROM blocks b JOIN segments s ON s.id = b.segment_id
WINDOW w AS (PARTITION BY s.recording_id ORDER BY b.t_start_ns, b.id);

CREATE VIEW v_timeline AS
SELECT c.recording_id,
	strftime('%Y-%m-%d %H:%M:%S', b.t_start_ns / 1e9, 'unixepoch') AS time,
	count(*) AS connections,
	sum(b.bytes_in) AS bytes_in, sum(b.bytes_out) AS bytes_out,
	sum(b.bytes_in) * 1e9 / r.bucket_ns AS rate_in,
	sum(b.bytes_out) * 1e9 / r.bucket_ns AS rate_out,
	sum(b.packets_in) AS packets_in, sum(b.packets_out) AS packets_out,
	sum(b.retrans) AS retrans, b.t_start_ns
FROM buckets b
JOIN connections c ON c.id = b.connection_id
JOIN recordings r ON r.id = c.recording_id
GROUP BY c.recording_id, b.t_start_ns;
