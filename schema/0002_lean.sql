-- 0002_lean.sql: a lean index (docs/SCHEMA.md, "Schema 2").
--
-- What changed from 0001, and why (tests/bench/bench_store.sh measured it):
--   - connection lifetimes move to `conns`, with addresses, protocol, state and
--     close reason as integers and the process in `processes`; `connections`
--     becomes a view with the columns and values of the old table, so SQL
--     written against it keeps working. Only one index: by recording and last
--     activity (retention, and "what was active in this window").
--   - the 10 s `buckets` table (60 % of an index, never read by the analyzer)
--     makes way for `rollups`: per connection, per minute and per hour, what
--     the aggregator saw in the ticks in which the connection was active. A
--     query over whole minutes or hours reads them instead of replaying ticks.
--     `buckets` becomes a view over the minute rollups (over the migrated 10 s
--     buckets for recordings made before).
--   - blocks.keyframe: a block may start without restating the connection
--     table; a reader starts at the last keyframe at or before its window.
--   - recordings.rollup_ns: the minute rollup length, 0 when a recording has
--     none (it was made before schema 2): queries replay its ticks.
--
-- Addresses: IPv4 as an INTEGER (host order, 10.0.0.1 = 167772161), IPv6 as
-- TEXT as ss prints it, NULL for the wildcard ('*'). tt_addr_code() is
-- registered by lib/store.c for this migration only.

ALTER TABLE blocks ADD COLUMN keyframe INTEGER NOT NULL DEFAULT 1;
ALTER TABLE recordings ADD COLUMN rollup_ns INTEGER NOT NULL DEFAULT 0;

CREATE TABLE processes (
	id INTEGER PRIMARY KEY,
	pid INTEGER NOT NULL,                    -- tgid; 0 if never known
	comm TEXT NOT NULL,
	UNIQUE (pid, comm)
);

CREATE TABLE conns (
	id INTEGER PRIMARY KEY,
	recording_id INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
	conn_id INTEGER NOT NULL,                -- socket cookie; UDP peer flows < 0 (bit 63)
	family INTEGER NOT NULL,                 -- 4 or 6
	proto INTEGER NOT NULL,                  -- 6 TCP, 17 UDP
	laddr,                                   -- see above
	lport INTEGER NOT NULL,
	raddr,
	rport INTEGER NOT NULL,
	process_id INTEGER NOT NULL REFERENCES processes(id),
	tid INTEGER NOT NULL,                    -- thread last seen doing I/O
	cgroup INTEGER NOT NULL,
	netns INTEGER NOT NULL,
	flags INTEGER NOT NULL,                  -- 1 partial, 2 UDP peer of an unconnected socket
	open_ns INTEGER NOT NULL,                -- opened (partial: first seen)
	close_ns INTEGER,                        -- NULL while open
	first_seen_ns INTEGER NOT NULL,          -- first tick it was in
	last_seen_ns INTEGER NOT NULL,           -- last tick in which it was active
	state INTEGER NOT NULL,                  -- last TCP state, Linux numbering; 0 UDP
	close_reason INTEGER,                    -- 0 normal, 1 failed, 2 reset, 3 idle; NULL open
	close_errno INTEGER,
	bytes_in INTEGER NOT NULL,
	bytes_out INTEGER NOT NULL,
	packets_in INTEGER NOT NULL,
	packets_out INTEGER NOT NULL,
	peak_rate_in REAL NOT NULL,
	peak_rate_out REAL NOT NULL,
	rtt_min_us INTEGER,
	rtt_avg_us INTEGER,
	rtt_max_us INTEGER,
	rtt_samples INTEGER NOT NULL,
	retrans INTEGER NOT NULL,
	resets_sent INTEGER NOT NULL,
	resets_recv INTEGER NOT NULL,
	reset_events INTEGER NOT NULL
);
CREATE INDEX conns_last ON conns(recording_id, last_seen_ns);

-- One connection's active ticks in one period: res = 60 (minute) or 3600
-- (hour) seconds, t its start in Unix seconds; a tick belongs to the period
-- that holds its end, so period t covers ticks ending in (t, t + res]. A new
-- part starts when the owner (process, cgroup) changes within the period.
CREATE TABLE rollups (
	res INTEGER NOT NULL,
	t INTEGER NOT NULL,
	conn INTEGER NOT NULL,                   -- conns.id; deleted by time (see below)
	part INTEGER NOT NULL,
	process_id INTEGER NOT NULL REFERENCES processes(id),
	cgroup INTEGER NOT NULL,
	ticks INTEGER NOT NULL,                  -- active ticks
	first_ns INTEGER,                        -- first active tick's end - t * 1e9 (NULL: migrated)
	last_ns INTEGER,                         -- last active tick's end - t * 1e9
	age_ns INTEGER,                          -- the connection's greatest age at an active tick
	state INTEGER NOT NULL,                  -- at the last active tick
	closed INTEGER NOT NULL,                 -- 1: closed in this part
	bytes_in INTEGER NOT NULL,
	bytes_out INTEGER NOT NULL,
	packets_in INTEGER NOT NULL,
	packets_out INTEGER NOT NULL,
	retrans INTEGER NOT NULL,
	resets INTEGER NOT NULL,
	peak_rate_in REAL,                       -- highest per-tick rate (NULL: migrated)
	peak_rate_out REAL,
	rtt_sum_us INTEGER NOT NULL,             -- over active ticks with an RTT sample
	rtt_n INTEGER NOT NULL,
	rtt_min_us INTEGER,
	rtt_max_us INTEGER,
	PRIMARY KEY (res, t, conn, part)
) WITHOUT ROWID;
-- No foreign key and no index on conn: an index would cost a sixth of the
-- table, and rows leave by time (retention deletes the periods before the
-- oldest segment, a whole recording's rows with it), never one connection's.

-- ---- the old tables' rows, moved --------------------------------------------

INSERT INTO processes (pid, comm) SELECT DISTINCT pid, comm FROM connections;

INSERT INTO conns (id, recording_id, conn_id, family, proto, laddr, lport, raddr, rport,
	process_id, tid, cgroup, netns, flags, open_ns, close_ns, first_seen_ns, last_seen_ns,
	state, close_reason, close_errno, bytes_in, bytes_out, packets_in, packets_out,
	peak_rate_in, peak_rate_out, rtt_min_us, rtt_avg_us, rtt_max_us, rtt_samples, retrans,
	resets_sent, resets_recv, reset_events)
SELECT c.id, c.recording_id, c.conn_id, c.family, CASE c.proto WHEN 'udp' THEN 17 ELSE 6 END,
	tt_addr_code(c.laddr), c.lport, tt_addr_code(c.raddr), c.rport,
	(SELECT p.id FROM processes p WHERE p.pid = c.pid AND p.comm = c.comm), c.tid, c.cgroup,
	c.netns, c.partial | (c.udp_peer << 1), c.open_ns, c.close_ns, c.first_seen_ns,
	c.last_seen_ns,
	CASE c.state WHEN 'ESTAB' THEN 1 WHEN 'SYN-SENT' THEN 2 WHEN 'SYN-RECV' THEN 3
		WHEN 'FIN-WAIT-1' THEN 4 WHEN 'FIN-WAIT-2' THEN 5 WHEN 'TIME-WAIT' THEN 6
		WHEN 'UNCONN' THEN 0 WHEN 'CLOSE' THEN 7 WHEN 'CLOSE-WAIT' THEN 8
		WHEN 'LAST-ACK' THEN 9 WHEN 'LISTEN' THEN 10 WHEN 'CLOSING' THEN 11
		WHEN 'NEW-SYN-RECV' THEN 12 ELSE 0 END,
	CASE c.close_reason WHEN 'normal' THEN 0 WHEN 'failed' THEN 1 WHEN 'reset' THEN 2
		WHEN 'idle' THEN 3 END,
	c.close_errno, c.bytes_in, c.bytes_out, c.packets_in, c.packets_out, c.peak_rate_in,
	c.peak_rate_out, c.rtt_min_us, c.rtt_avg_us, c.rtt_max_us, c.rtt_samples, c.retrans,
	c.resets_sent, c.resets_recv, c.reset_events
FROM connections c;

-- the 10 s buckets become rollups of their own length, so v_buckets and
-- v_timeline answer as before for these recordings
INSERT INTO rollups (res, t, conn, part, process_id, cgroup, ticks, state, closed, bytes_in,
	bytes_out, packets_in, packets_out, retrans, resets, rtt_sum_us, rtt_n)
SELECT r.bucket_ns / 1000000000, b.t_start_ns / 1000000000, b.connection_id, 0, k.process_id,
	k.cgroup, 0, k.state, 0, b.bytes_in, b.bytes_out, b.packets_in, b.packets_out, b.retrans,
	0, coalesce(b.rtt_avg_us, 0) * b.rtt_samples, b.rtt_samples
FROM buckets b JOIN conns k ON k.id = b.connection_id JOIN recordings r ON r.id = k.recording_id;

DROP VIEW v_recordings;
DROP VIEW v_top_talkers;
DROP VIEW v_connections;
DROP VIEW v_buckets;
DROP VIEW v_process_totals;
DROP VIEW v_remote_hosts;
DROP VIEW v_timeline;
DROP TABLE buckets;
DROP TABLE connections;

-- ---- the old tables as views: same columns, same values ---------------------

CREATE VIEW connections AS
SELECT c.id, c.recording_id, c.conn_id, c.family,
	CASE c.proto WHEN 17 THEN 'udp' ELSE 'tcp' END AS proto,
	CASE typeof(c.laddr) WHEN 'integer' THEN (c.laddr >> 24) || '.' || ((c.laddr >> 16) & 255)
		|| '.' || ((c.laddr >> 8) & 255) || '.' || (c.laddr & 255)
		WHEN 'null' THEN '*' ELSE c.laddr END AS laddr,
	c.lport,
	CASE typeof(c.raddr) WHEN 'integer' THEN (c.raddr >> 24) || '.' || ((c.raddr >> 16) & 255)
		|| '.' || ((c.raddr >> 8) & 255) || '.' || (c.raddr & 255)
		WHEN 'null' THEN '*' ELSE c.raddr END AS raddr,
	c.rport, p.pid, c.tid, p.comm, c.cgroup, c.netns, c.flags & 1 AS partial,
	(c.flags >> 1) & 1 AS udp_peer, c.open_ns, c.close_ns, c.first_seen_ns, c.last_seen_ns,
	CASE c.state WHEN 0 THEN 'UNCONN' WHEN 1 THEN 'ESTAB' WHEN 2 THEN 'SYN-SENT'
		WHEN 3 THEN 'SYN-RECV' WHEN 4 THEN 'FIN-WAIT-1' WHEN 5 THEN 'FIN-WAIT-2'
		WHEN 6 THEN 'TIME-WAIT' WHEN 7 THEN 'CLOSE' WHEN 8 THEN 'CLOSE-WAIT'
		WHEN 9 THEN 'LAST-ACK' WHEN 10 THEN 'LISTEN' WHEN 11 THEN 'CLOSING'
		WHEN 12 THEN 'NEW-SYN-RECV' ELSE 'UNKNOWN' END AS state,
	CASE c.close_reason WHEN 0 THEN 'normal' WHEN 1 THEN 'failed' WHEN 2 THEN 'reset'
		WHEN 3 THEN 'idle' END AS close_reason,
	c.close_errno, c.bytes_in, c.bytes_out, c.packets_in, c.packets_out, c.peak_rate_in,
	c.peak_rate_out, c.rtt_min_us, c.rtt_avg_us, c.rtt_max_us, c.rtt_samples, c.retrans,
	c.resets_sent, c.resets_recv, c.reset_events
FROM conns c JOIN processes p ON p.id = c.process_id;

-- one row per part: a connection whose owner changed within a period has
-- a row per owner there (sums are right either way); no GROUP BY, so that
-- SQLite reads it as a join, in one pass over the rollups
CREATE VIEW buckets AS
SELECT o.conn AS connection_id, o.t * 1000000000 AS t_start_ns,
	o.bytes_in, o.bytes_out, o.packets_in, o.packets_out, o.retrans,
	CAST(o.rtt_sum_us / nullif(o.rtt_n, 0) AS INTEGER) AS rtt_avg_us,
	o.rtt_n AS rtt_samples
FROM rollups o JOIN conns c ON c.id = o.conn JOIN recordings r ON r.id = c.recording_id
WHERE o.res * 1000000000 = r.bucket_ns;

-- ---- views for people writing SQL by hand, as in 0001 -----------------------

CREATE VIEW v_recordings AS
SELECT r.id, r.host, r.kernel, r.boot_id,
	strftime('%Y-%m-%d %H:%M:%f', r.start_ns / 1e9, 'unixepoch') AS started,
	strftime('%Y-%m-%d %H:%M:%f', r.end_ns / 1e9, 'unixepoch') AS ended,
	(coalesce(r.end_ns, (SELECT max(s.t_end_ns) FROM segments s WHERE s.recording_id = r.id),
		  r.start_ns) - r.start_ns) / 1e9 AS duration_s,
	r.clean_stop, r.options, r.tool_version, r.bucket_ns / 1e9 AS bucket_s,
	(SELECT count(*) FROM segments s WHERE s.recording_id = r.id) AS segments,
	(SELECT coalesce(sum(s.bytes), 0) FROM segments s WHERE s.recording_id = r.id) AS bytes,
	(SELECT count(*) FROM conns c WHERE c.recording_id = r.id) AS connections,
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
JOIN conns c ON c.id = b.connection_id
JOIN recordings r ON r.id = c.recording_id
GROUP BY c.recording_id, b.t_start_ns;
