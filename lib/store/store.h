/*
 * store.h: a store directory and its SQLite index.
 *
 *   DIR/index.db                 SQLite, WAL; schema in schema/NNNN_*.sql (docs/SCHEMA.md)
 *   DIR/LOCK                     flock()ed by the one writer; released by the kernel
 *                                when the writer dies
 *   DIR/rNNNNNN-sNNNNNN.tts      segments (lib/segment.h), recording and sequence number
 *
 * The index says where things are and summarises them (recordings, segments,
 * blocks, connection lifetimes, time buckets, losses); the segments hold the
 * event stream itself. Everything in the index can be rebuilt from the
 * segments (reindex).
 *
 * Workload: one writer (the recorder) writes a transaction per flushed block
 * (every few seconds); readers (the analyzer) run short queries. All times in
 * the index are Unix nanoseconds (wall clock), converted by the caller.
 *
 * Errors are 0 or a negative errno, with tt_store_errmsg describing the last
 * one in a line. Nothing here prints or exits.
 */
#ifndef TT_STORE_H
#define TT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "indexer.h"
#include "segment.h"

struct tt_store;

enum tt_store_mode {
	TT_STORE_READ = 0, /* read-only; the store must exist */
	TT_STORE_WRITE = 1, /* create if missing; take the writer lock */
	TT_STORE_REBUILD = 2, /* the store must exist; take the writer lock and write a
			       * new, empty index beside the old one (index.db.rebuild),
			       * which tt_store_rebuild_commit puts in its place */
	TT_STORE_EXPORT = 3, /* READ, and write the export cursors meanwhile
			      * (tt_store_set_cursor); no writer lock: a recorder may
			      * hold the store */
};

/*
 * Open DIR. WRITE: create DIR (dir_mode, e.g. 0700) if missing, take DIR/LOCK
 * without waiting (-EBUSY and a message naming the holder's pid if another
 * writer has it), create or migrate index.db (file_mode, e.g. 0600). READ: the
 * index must exist and its schema must not be newer than this build knows
 * (-EPROTO otherwise); an older one is read as it is, never migrated (readers
 * check for what later versions added, see tt_store_schema_version); -ENOENT /
 * -ENOTDIR with a message for a directory that is not a store. EXPORT: as READ, plus a
 * second, read-write connection to index.db for the export cursors, which commit while
 * the first one reads (a scan's statements stay open across them); the two need WAL
 * mode, so an index in rollback mode (a recorder stopped cleanly) goes to WAL and back
 * to rollback mode at tt_store_close if no one else is connected then. The -wal and
 * -shm this creates get index.db's mode (and group), as a writer's do. On failure *out
 * is NULL and why holds the message.
 */
int tt_store_open(const char *dir, enum tt_store_mode mode, int dir_mode, int file_mode,
		  struct tt_store **out, char *why, size_t why_len);

/*
 * Share a store with a group instead of keeping it to its owner: DIR (created
 * if missing) gets the group and mode 02750, so every file created in it later
 * inherits the group; open the store with dir_mode 02750 and file_mode 0640
 * then. Files that already exist keep their group. 0, or a negative errno
 * with why (-ENOENT: no such group).
 */
int tt_store_share_with_group(const char *dir, const char *group, char *why, size_t why_len);

/* ---- segment file names ---------------------------------------------------- */

/*
 * The one place segment files are named: recording rec (>= 0), sequence seq
 * gives "r%06d-s%06u.tts" (more digits when the numbers need them). The store
 * accepts no other name for a segment: retention removes, readers open and
 * reindex indexes only the names tt_store_segment_name_parse accepts, so an
 * index row or a file named "../victim" is never followed.
 */
#define TT_SEG_NAME_MAX 48 /* bytes, with the NUL, of the longest name */

/* name[len] = the name; 0, or -ENAMETOOLONG / -EINVAL (rec < 0). */
int tt_store_segment_name(char *name, size_t len, int64_t rec, uint32_t seq);

/*
 * 1 if name is exactly what tt_store_segment_name makes for some rec and seq
 * (returned through rec and seq, which may be NULL), 0 otherwise.
 */
int tt_store_segment_name_parse(const char *name, int64_t *rec, uint32_t *seq);

/*
 * path[len] = DIR/file for a segment file named in the index, after checking
 * file is a segment name (-EINVAL and tt_store_errmsg naming it otherwise).
 * Open the result with O_NOFOLLOW (tt_segr_open does).
 */
int tt_store_segment_path(struct tt_store *s, const char *file, char *path, size_t len);

/*
 * out[len] = "file:" + path percent-encoded, as SQLite's URI file names want,
 * with "?immutable=1" if immutable. 0 or -ENAMETOOLONG.
 */
int tt_store_sqlite_uri(char *out, size_t len, const char *path, int immutable);

/* Last failure, one line, never NULL. */
const char *tt_store_errmsg(const struct tt_store *s);

/*
 * The mode a writer gives the files it creates in the store: file_mode as
 * given to tt_store_open, widened to the group read bit of an existing
 * index.db (a store once shared with --group stays readable by its group),
 * and for REBUILD exactly index.db's mode.
 */
int tt_store_file_mode(const struct tt_store *s);

/* The store's directory, as opened. */
const char *tt_store_dir(const struct tt_store *s);

/* Schema version of index.db (PRAGMA user_version). */
int tt_store_schema_version(const struct tt_store *s);

/*
 * 1 if index.db has blocks.keyframe (schema 2 on), 0 for an older index read
 * as it is: every block of it opens with a keyframe.
 */
int tt_store_has_keyframe_column(const struct tt_store *s);

/*
 * REBUILD: close the new index and atomically put it in place of index.db
 * (the old one's WAL and shared memory removed first). The lock is kept until
 * tt_store_close, which must still be called. 0, or a negative errno and
 * tt_store_errmsg; on failure the old index is still in place.
 */
int tt_store_rebuild_commit(struct tt_store *s);

/* Close; NULL is a no-op. A writer's lock is released. */
void tt_store_close(struct tt_store *s);

/* ---- writer side ---------------------------------------------------------- */

struct tt_recording_info {
	int64_t id; /* 0: the next free id; > 0: this one (reindex keeps the ids) */
	const char *host; /* uname nodename */
	const char *kernel; /* uname release */
	const char *boot_id; /* /proc/sys/kernel/random/boot_id */
	const char *options; /* the recorder's command line, for the record */
	const char *tool_version;
	uint64_t start_ns; /* Unix ns */
	int64_t mono_to_wall_ns;
};

/* A new recordings row; its id in *rec_id. */
int tt_store_recording_begin(struct tt_store *s, const struct tt_recording_info *ri,
			     int64_t *rec_id);

/* Set the recording's end time and whether it stopped cleanly. */
int tt_store_recording_end(struct tt_store *s, int64_t rec_id, uint64_t end_ns, int clean);

/* A new segments row for file (a name inside the store directory). */
int tt_store_segment_begin(struct tt_store *s, int64_t rec_id, uint32_t seq, const char *file,
			   uint64_t created_ns, int64_t *seg_id);

/*
 * Every segment not sealed (left so by a crash): fn(ctx, seg_id, file) for each,
 * after the query is done, so fn may seal it. Stops at fn's first non-zero and
 * returns it; 0, or a negative errno.
 */
int tt_store_each_unsealed(struct tt_store *s,
			   int (*fn)(void *ctx, int64_t seg_id, const char *file), void *ctx);

/* Mark a segment complete (rolled or recording stopped): no more blocks. */
int tt_store_segment_seal(struct tt_store *s, int64_t seg_id);

/*
 * In one transaction: the block (times converted to Unix ns with m2w), the
 * losses seen in it (cumulative counters at its end; NULL: unchanged since the
 * last block), the segment's span and size, and what the indexer accumulated
 * since the last block (connection lifetimes and time buckets, upserted; ix may
 * be NULL). The recording's bucket length is set from ix. If the transaction
 * fails, nothing of it is stored and ix reports the same data again next time.
 */
int tt_store_block(struct tt_store *s, int64_t seg_id, const struct tt_block_info *bi, int64_t m2w,
		   const struct tt_ev_loss *loss, struct tt_indexer *ix);

/* ---- reader side ---------------------------------------------------------- */

/*
 * What the index says, as it says it: the values come unchecked (an index can
 * be damaged or hostile), each caller keeps its own range checks (TT_TIME_MAX,
 * tt_wall_ns...). Strings are NULL where the column is, and valid only during
 * the callback that receives them. The read functions return 0, fn's first
 * non-zero (which stops them), or a negative errno with SQLite's own message in
 * tt_store_errmsg (what follows "DIR: index: " in the caller's message).
 */

/* A recordings row. */
struct tt_store_rec {
	int64_t id;
	const char *host;
	const char *kernel;
	const char *boot_id;
	const char *options;
	const char *tool_version;
	int64_t start_ns;
	int64_t end_ns; /* 0 with has_end 0: NULL, still recording or died */
	int has_end;
	int clean_stop;
	int64_t mono_to_wall_ns;
	int64_t rollup_ns; /* 0 in an index older than rollups (schema 1) */
	int64_t bucket_ns; /* the recording's bucket length (schema 1's buckets) */
	unsigned ints; /* TT_REC_INT_*: which of the columns are SQL integers */
	/* TT_REC_SEG_END: the last t_end_ns of its segments (0: none) */
	int64_t seg_end_ns;
	/*
	 * TT_REC_BELIEF: what readers believe of it, from its blocks (only those
	 * that can be placed: lib/replay.h). span_end_ns: the later of its end_ns
	 * and its last block's end (only times after its start count; an end_ns
	 * before its blocks or more than a day after them is not believed), its
	 * last block's end for one that died, its start for one without blocks.
	 * start_ok: start_ns is a time in (0, TT_TIME_MAX], no more than a day
	 * before its first block and not more than a minute after it (a start
	 * decades early would stretch every window over them).
	 */
	int64_t span_end_ns;
	int start_ok;
	/* TT_REC_BLOCKS_END: the last t_end_ns of its blocks, checked or not (has_ 0: none) */
	int64_t blocks_end_ns;
	int has_blocks_end;
};

#define TT_REC_INT_START  1u /* start_ns */
#define TT_REC_INT_M2W	  2u /* mono_to_wall_ns */
#define TT_REC_INT_ROLLUP 4u /* rollup_ns */

/* What tt_store_each_recording reads beyond the row itself, and its order. */
#define TT_REC_BY_START	  1u /* start_ns, then id (else id) */
#define TT_REC_SEG_END	  2u /* seg_end_ns: reads the segments */
#define TT_REC_BELIEF	  4u /* span_end_ns and start_ok: reads the blocks */
#define TT_REC_BLOCKS_END 8u /* blocks_end_ns: reads the blocks */

/*
 * fn for every recording. Only the row itself unless flags ask for more: a
 * damaged segments or blocks table does not keep it from being read.
 */
int tt_store_each_recording(struct tt_store *s, unsigned flags,
			    int (*fn)(void *ctx, const struct tt_store_rec *r), void *ctx);

/* The same for recording id alone: -ENOENT if there is none. */
int tt_store_recording(struct tt_store *s, int64_t id, unsigned flags,
		       int (*fn)(void *ctx, const struct tt_store_rec *r), void *ctx);

/*
 * Over every recording: the first start_ns and the last span_end_ns (has_start
 * 0: no recordings, or no start in them), and whether any start_ns is not
 * start_ok (start_bad).
 */
struct tt_store_span {
	int has_start;
	int64_t start_ns;
	int64_t end_ns;
	int start_bad;
};

int tt_store_recordings_span(struct tt_store *s, struct tt_store_span *sp);

/*
 * A row that no recording reaches: a segments row of a recording that is not
 * there, or a blocks row of a segment that is not there (1, with *table
 * "segments" or "blocks", its id and the id it names); 0: none.
 */
int tt_store_find_orphan(struct tt_store *s, const char **table, int64_t *id, int64_t *names);

/* The whole index at a glance (info). */
struct tt_store_totals {
	int64_t segments;
	int64_t sealed; /* segments sealed */
	int64_t blocks;
	int64_t connections; /* lifetimes */
	int64_t t_start_ns; /* the first block's start, the last block's end */
	int64_t t_end_ns;
	uint64_t raw_bytes; /* events before compression, in every block */
	uint64_t bytes; /* the blocks on disk */
	int64_t ring_drops; /* the recorder's losses, summed over recordings */
	int64_t socks_full;
	int64_t peers_full;
};

int tt_store_totals(struct tt_store *s, struct tt_store_totals *t);

/* fn for every segment's file name as the index holds it (unchecked: see tt_store_segment_path). */
int tt_store_each_segment_file(struct tt_store *s, int (*fn)(void *ctx, const char *file),
			       void *ctx);

/* A blocks row, with its segment's seq (file order is seq, offset). */
struct tt_store_block {
	int64_t seg_id, seq, offset;
	int64_t t_start_ns, t_end_ns;
	int keyframe; /* 1 for every block of an index without blocks.keyframe */
	int64_t id, events, length, checksum;
};

/* Recording rec's blocks: all, and those that cannot be placed (below; the first: first_bad). */
struct tt_store_block_count {
	uint64_t total;
	uint64_t bad;
	int64_t first_bad;
};

int tt_store_count_blocks(struct tt_store *s, int64_t rec, struct tt_store_block_count *c);

/*
 * The blocks below are those of recording rec that can be placed (an integer
 * offset and seq, times in (0, TT_TIME_MAX] in order, a span of at most a day:
 * TT_REPLAY_BLOCK_OK in lib/store_int.h). One of them, into *out: 1 found, 0
 * none, or a negative errno.
 */
enum tt_store_block_pick {
	TT_BLOCK_FIRST_ENDING, /* the first, in file order, ending at or after a (Unix ns) */
	TT_BLOCK_KEYFRAME_AT, /* the last keyframe block at or before (seq a, offset b) */
	TT_BLOCK_NEXT, /* the first after (seq a, offset b) */
};

int tt_store_find_block(struct tt_store *s, int64_t rec, enum tt_store_block_pick pick, int64_t a,
			int64_t b, struct tt_store_block *out);

/*
 * fn for each block in file order from (seq, offset) on: up to before
 * (end_seq, end_offset) if has_end, else those starting at or before
 * t_start_max (Unix ns).
 */
struct tt_store_block_run {
	int64_t seq, offset;
	int has_end;
	int64_t end_seq, end_offset;
	int64_t t_start_max;
};

int tt_store_each_block(struct tt_store *s, int64_t rec, const struct tt_store_block_run *run,
			int (*fn)(void *ctx, const struct tt_store_block *b), void *ctx);

/*
 * path[len] = where segment seg_id's file is: 0; -ENOENT without such a row
 * (or with a file that is not text); -EIO when the index cannot be read; else
 * tt_store_segment_path's failure (-EINVAL: not a segment name), with its
 * message in tt_store_errmsg.
 */
int tt_store_segment_file_path(struct tt_store *s, int64_t seg_id, char *path, size_t len);

/* The recorder's cumulative losses at rec's last block ending at or before ts (zeros: none). */
int tt_store_losses_at(struct tt_store *s, int64_t rec, uint64_t ts, struct tt_ev_loss *l);

/*
 * fn for each rollup piece of length res_s of recording rec with t in [t0,
 * t1) (Unix s), in time order (t, conn, part); m2w turns conns.open_ns back to
 * CLOCK_MONOTONIC, as the tables carry it. A row out of range (a count below
 * 0, an offset outside the period, a time that is not one) stops it: -EBADMSG,
 * naming the row.
 */
int tt_store_each_piece(struct tt_store *s, int64_t rec, int64_t m2w, uint64_t res_s, uint64_t t0,
			uint64_t t1, int (*fn)(void *ctx, const struct tt_piece *p), void *ctx);

/* ---- for verify, reindex and adoption (lib/repair.h) ------------------------ */

/* A segments row, with its recording's mono_to_wall_ns (rec_found 0: no such recording). */
struct tt_store_seg {
	int64_t id, rec, seq;
	const char *file;
	int64_t bytes, blocks;
	int64_t t_start_ns, t_end_ns; /* INT64_MIN where NULL (no block yet) */
	int64_t m2w;
	int rec_found;
};

/* fn for every segments row, in id order. */
int tt_store_each_segment(struct tt_store *s, int (*fn)(void *ctx, const struct tt_store_seg *sg),
			  void *ctx);

/* A blocks row as it is (keyframe 1 for every block of an index without the column). */
struct tt_store_blockrow {
	int64_t id, offset, length, raw_length, t_start_ns, t_end_ns, events, checksum, keyframe;
};

/* fn for every blocks row of segment seg_id, in offset order. */
int tt_store_each_segment_block(struct tt_store *s, int64_t seg_id,
				int (*fn)(void *ctx, const struct tt_store_blockrow *b), void *ctx);

/*
 * Every segment not sealed, with its bytes and the offset of its last indexed
 * block (has_last 0: none), in id order: where a crash may have left frames
 * the index does not name.
 */
int tt_store_each_open_segment(struct tt_store *s,
			       int (*fn)(void *ctx, const char *file, int64_t bytes, int has_last,
					 int64_t last_off),
			       void *ctx);

/* created_ns of the segments row naming file: 1 found, 0 none, or a negative errno. */
int tt_store_segment_created(struct tt_store *s, const char *file, int64_t *created_ns);

/*
 * The summaries of recording rec (schema 2: conns and rollups) that its
 * blocks contradict, last_end being where its last block ends as the frames
 * say: a connection seen after it or last seen before first, a rollup outside
 * its period or after it, a connection whose minor rollups do not add up to
 * its hour ones or those to its totals.
 * fn(ctx, table, row, message) for each (row: its key as text); a query that
 * fails gives row NULL and SQLite's message, and the next one runs.
 */
typedef void (*tt_store_problem_fn)(void *ctx, const char *table, const char *row, const char *msg);

void tt_store_check_summaries(struct tt_store *s, int64_t rec, int64_t last_end,
			      tt_store_problem_fn fn, void *ctx);

/*
 * The index file itself: SQLite's integrity_check, and every value of the index's
 * tables of its column's type (INTEGER, REAL, TEXT, or NULL), reported as
 * tt_store_check_summaries does.
 */
void tt_store_check_file(struct tt_store *s, tt_store_problem_fn fn, void *ctx);

/* A conns row as verify compares it with the CONN events (addresses as conns stores them). */
struct tt_store_conn_id {
	int64_t row; /* conns.id */
	uint64_t conn_id; /* the events' connection id */
	int family, proto, lport, rport;
	uint8_t laddr[16], raddr[16]; /* as events carry them: IPv4 v4-mapped, none all 0 */
	int whole; /* its recording's segment 0 is there: nothing of it was removed */
	int rec_found; /* recording_id names a recording */
	int has_owner; /* process_id names a processes row: */
	int64_t pid; /* its pid (the tgid) */
	const char *comm; /* and name */
};

/* fn for every conns row; fn's non-zero return stops and is returned; -EIO with errmsg. */
int tt_store_each_conn_id(struct tt_store *s,
			  int (*fn)(void *ctx, const struct tt_store_conn_id *c), void *ctx);

/* A rollup part's owner, with its connection's id. */
struct tt_store_rollup_owner {
	const char *key; /* "res,t,conn,part" */
	uint64_t conn_id;
	int has_owner; /* process_id names a processes row: */
	int64_t pid;
	const char *comm;
	int whole; /* its recording's segment 0 is there: nothing of it was removed */
};

/* fn for every rollups row, as tt_store_each_conn_id. */
int tt_store_each_rollup_owner(struct tt_store *s,
			       int (*fn)(void *ctx, const struct tt_store_rollup_owner *o),
			       void *ctx);

/* The conns rows of no recording, as tt_store_check_summaries reports them. */
void tt_store_check_orphan_conns(struct tt_store *s, tt_store_problem_fn fn, void *ctx);

/* ---- export (lib/ship: export_cursors, schema 3) ----------------------------- */

/*
 * A recording and what destination dest (a URL without its password) has
 * received of it: every tick ending at or before ticks_ns, and its recording
 * row, lifetimes and losses as of meta_ns (Unix ns; 0 and 0 without a cursor).
 */
struct tt_store_cursor {
	int64_t rec; /* recordings.id */
	const char *host; /* the recording's, as its key is made of them */
	const char *boot_id;
	int64_t start_ns;
	int64_t ticks_ns;
	int64_t meta_ns;
};

/* fn for every recording, in id order, with dest's cursor (read functions' contract). */
int tt_store_each_cursor(struct tt_store *s, const char *dest,
			 int (*fn)(void *ctx, const struct tt_store_cursor *c), void *ctx);

/*
 * EXPORT: dest's cursor of recording rec is now (ticks_ns, meta_ns), committed
 * at once (a kill after it keeps it), also while a read of s is in progress.
 * 0, or a negative errno with tt_store_errmsg (-EBADF: s is not open for export).
 */
int tt_store_set_cursor(struct tt_store *s, const char *dest, int64_t rec, uint64_t ticks_ns,
			uint64_t meta_ns);

/*
 * The least ticks_ns of every cursor of every destination (0: none, or an
 * index older than schema 3): what some destination has not received after.
 */
int tt_store_unshipped_from(struct tt_store *s, uint64_t *ns);

/* The last t_end_ns of every block (0: none): the time up to which the index is complete. */
int tt_store_blocks_end(struct tt_store *s, uint64_t *ns);

/*
 * A connections row (the view of docs/SCHEMA.md: protocol, addresses, state
 * and close reason as its text), as export sends it.
 */
struct tt_store_lifetime {
	uint64_t conn_id;
	int64_t open_ns;
	const char *proto; /* "tcp", "udp" */
	int family;
	const char *laddr; /* "*": none */
	int lport;
	const char *raddr;
	int rport;
	int pid;
	const char *comm;
	uint64_t cgroup;
	int64_t netns;
	int partial, udp_peer;
	int64_t close_ns; /* 0: not closed */
	int64_t first_seen_ns, last_seen_ns;
	const char *state; /* "ESTAB"... */
	const char *close_reason; /* "normal", "failed", "reset", "idle"; NULL: not closed */
	int close_errno; /* 0: none */
	int64_t bytes_in, bytes_out, packets_in, packets_out;
	int rtt_min_us, rtt_avg_us, rtt_max_us; /* 0: no sample */
	int rtt_samples;
	int64_t retrans, resets_sent, resets_recv;
};

/* fn for every lifetime of recording rec last seen or closed after since_ns (Unix ns). */
int tt_store_each_lifetime_since(struct tt_store *s, int64_t rec, int64_t since_ns,
				 int (*fn)(void *ctx, const struct tt_store_lifetime *l),
				 void *ctx);

/* The recorder's losses in one block (v_losses: what it added to the counters). */
struct tt_store_loss {
	int64_t t_start_ns, t_end_ns;
	int64_t ring_drops, socks_full, peers_full;
};

/* fn for every block of recording rec ending after since_ns (Unix ns) that lost something. */
int tt_store_each_loss_since(struct tt_store *s, int64_t rec, int64_t since_ns,
			     int (*fn)(void *ctx, const struct tt_store_loss *l), void *ctx);

/* ---- retention ------------------------------------------------------------ */

struct tt_retain_opts {
	uint64_t now_ns; /* Unix ns */
	uint64_t max_age_ns; /* remove segments whose last block ended longer ago (0: none) */
	uint64_t max_bytes; /* bring the whole directory (tt_store_dir_bytes) to at most this
			     * (0: no size limit) */
	int64_t keep_seg_id; /* the segment being written: never removed */
	int force; /* remove at least the oldest sealed segment, limits or not (a full disk) */
};

struct tt_retain_result {
	unsigned removed; /* segments removed */
	unsigned orphans; /* segment files removed that the index no longer named */
	unsigned sealed_left; /* sealed segments still there (other than keep_seg_id) */
	uint64_t dir_bytes; /* the directory after the pass */
	uint64_t peak_bytes; /* the most the directory held at any step of the pass */
	unsigned unshipped; /* of the removed, segments an export destination had not
			     * received all of (export_cursors): lost to it */
	uint64_t unshipped_end_ns; /* the last of them ended then (Unix ns) */
};

/*
 * One retention pass. Removes the oldest sealed segments, never keep_seg_id,
 * while one is older than max_age_ns or the directory is larger than
 * max_bytes. For each, oldest first: its rows in one transaction (the
 * segment, its blocks, and the summaries of its recording that describe only
 * removed time: closed connections that closed and were last seen before the
 * recording's oldest remaining segment starts, time buckets that end before
 * it, a recording left without segments with everything of it), then the
 * file. A crash between the two leaves a file the index no longer names
 * (verify: a warning); the first pass of a store handle removes such files
 * where they are older than everything the index keeps of their recording.
 * Then the freed pages go back to the file system (incremental vacuum) and
 * the WAL is cut to nothing (checkpoint TRUNCATE, skipped while a reader
 * holds it). With max_bytes, the WAL is cut first, before the directory is
 * measured. A segment removed before every destination of export_cursors
 * received it counts in r->unshipped: retention does not wait for shipping
 * (a full disk would stop the recording), it says so. 0 or a negative errno;
 * r is filled either way.
 */
int tt_store_retain(struct tt_store *s, const struct tt_retain_opts *o, struct tt_retain_result *r);

/*
 * Bytes of every regular file in the store directory (segments, index.db and
 * its -wal and -shm, LOCK, anything else): for each, the larger of its size
 * and the space allocated to it. 0 or a negative errno.
 */
int tt_store_dir_bytes(struct tt_store *s, uint64_t *bytes);

/* Total bytes of segment files the index knows about. */
int tt_store_segment_bytes(struct tt_store *s, uint64_t *bytes);

/*
 * A warning from tt_store_open, or NULL. A writer: the index could not be
 * converted to incremental vacuum (not enough room for its copy), so space
 * freed by retention is reused by the index but not given back. A reader: the
 * -wal a killed recorder left could not be read without write access to the
 * store, so the index was read without it.
 */
const char *tt_store_warning(const struct tt_store *s);

/* ---- tests only ----------------------------------------------------------- */

/*
 * Make the stores opened from now on in this process see a different schema
 * history: only the first max_embedded embedded migrations (0: all), followed by
 * extra_sql as one more migration if it is not NULL. Lets tests build an index
 * as an older build would and migrate it; never called by the tools.
 * tt_store_test_schema(0, NULL) restores the real history.
 */
void tt_store_test_schema(int max_embedded, const char *extra_sql);

#endif /* TT_STORE_H */
