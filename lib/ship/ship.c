/*
 * ship.c: see ship.h.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bucket.h"
#include "buf.h"
#include "clock.h"
#include "format.h"
#include "idmap.h"
#include "scan.h"
#include "ship.h"
#include "store.h"

struct tt_migration {
	int version;
	const char *name;
	const char *sql;
};
#include "clickhouse_sql.h"

struct tt_ch {
	CURL *curl;
	char *url; /* as given */
	char *dest; /* without the password */
	int retries;
	unsigned backoff_ms;
	long timeout_ms; /* one request's longest */
	uint64_t abort_at; /* CLOCK_MONOTONIC ns after which requests stop (0: never); atomic */
	char *all; /* "_all" when the Distributed tables exist, else "" (queries) */
	char err[512];
};

/* The message into buf, err back: every failure of this file. */
static int fail_to(char *buf, size_t len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail_to(char *buf, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return err;
}

#define ch_fail(c, e, ...) fail_to((c)->err, sizeof((c)->err), e, __VA_ARGS__)

const char *tt_ch_errmsg(const struct tt_ch *ch)
{
	return ch->err;
}

const char *tt_ch_dest(const struct tt_ch *ch)
{
	return ch->dest;
}

/* http://user:pw@host/... -> http://user@host/... */
static char *strip_password(const char *url)
{
	const char *s = strstr(url, "://"), *at, *colon, *slash;
	char *d;

	if (!s)
		return strdup(url);
	s += 3;
	slash = strchr(s, '/');
	at = strchr(s, '@');
	if (!at || (slash && at > slash))
		return strdup(url);
	colon = memchr(s, ':', (size_t)(at - s));
	if (!colon)
		return strdup(url);
	if (asprintf(&d, "%.*s%s", (int)(colon - url), url, at) < 0)
		return NULL;
	return d;
}

/*
 * libcurl is loaded when a URL is first used, not linked: its 30-odd libraries
 * would otherwise cost every start of both tools (about 70 ms under the
 * sanitizers), fleet or not.
 */
static struct {
	void *h;
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *c);
	CURLcode (*easy_setopt)(CURL *c, CURLoption o, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO i, ...);
	void (*easy_reset)(CURL *c);
	char *(*easy_escape)(CURL *c, const char *s, int n);
	void (*free)(void *p);
	const char *(*easy_strerror)(CURLcode e);
} cu;

static int curl_load(char *why, size_t why_len)
{
	static const char *const names[] = {
		"curl_global_init",  "curl_easy_init",	   "curl_easy_cleanup", "curl_easy_setopt",
		"curl_easy_perform", "curl_easy_getinfo",  "curl_easy_reset",	"curl_easy_escape",
		"curl_free",	     "curl_easy_strerror",
	};
	void **slots[] = {
		(void **)&cu.global_init,   (void **)&cu.easy_init,    (void **)&cu.easy_cleanup,
		(void **)&cu.easy_setopt,   (void **)&cu.easy_perform, (void **)&cu.easy_getinfo,
		(void **)&cu.easy_reset,    (void **)&cu.easy_escape,  (void **)&cu.free,
		(void **)&cu.easy_strerror,
	};
	size_t i;
	void *h;

	if (cu.h)
		return 0;
	h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(why, why_len,
			 "libcurl is needed for ClickHouse (apt-get install libcurl4): %s",
			 dlerror());
		return -ENOENT;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		*slots[i] = dlsym(h, names[i]);
		if (!*slots[i]) {
			snprintf(why, why_len, "libcurl.so.4 has no %s", names[i]);
			dlclose(h);
			return -ENOENT;
		}
	}
	/* once, before any thread: the recorder calls this from main */
	cu.global_init(CURL_GLOBAL_DEFAULT);
	cu.h = h;
	return 0;
}

struct tt_ch *tt_ch_new(const char *url, int retries, unsigned backoff_ms, char *why,
			size_t why_len)
{
	struct tt_ch *ch;

	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		snprintf(why, why_len, "'%s' is not an http:// or https:// URL", url);
		return NULL;
	}
	if (curl_load(why, why_len))
		return NULL;
	ch = calloc(1, sizeof(*ch));
	if (!ch || !(ch->url = strdup(url)) || !(ch->dest = strip_password(url)) ||
	    !(ch->curl = cu.easy_init())) {
		tt_ch_free(ch);
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	ch->retries = retries;
	ch->backoff_ms = backoff_ms ? backoff_ms : 200;
	ch->timeout_ms = 600000;
	return ch;
}

void tt_ch_free(struct tt_ch *ch)
{
	if (!ch)
		return;
	if (ch->curl)
		cu.easy_cleanup(ch->curl);
	free(ch->url);
	free(ch->dest);
	free(ch->all);
	free(ch);
}

/* curl's progress callback: non-zero stops the transfer once abort_at has passed */
static int on_xfer(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct tt_ch *ch = ctx;
	uint64_t at = __atomic_load_n(&ch->abort_at, __ATOMIC_RELAXED);

	(void)dt, (void)dn, (void)ut, (void)un;
	return at && tt_clock_ns(CLOCK_MONOTONIC) >= at;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct tt_buf *b = ctx;

	tt_buf_add(b, p, size * n);
	return b->err ? 0 : size * n;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The first line of a ClickHouse error, without its stack or e.what() tail. */
static void first_line(const char *s, char *out, size_t len)
{
	const char *e = strchr(s, '\n'), *w = strstr(s, ", e.what()");
	size_t n = e ? (size_t)(e - s) : strlen(s);

	if (w && (size_t)(w - s) < n)
		n = (size_t)(w - s);
	if (n >= len)
		n = len - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

/*
 * POST body to the URL with query in the query string (NULL: body is the
 * statement). The response into out (may be NULL).
 */
static int ch_post(struct tt_ch *ch, const char *query, const char *body, size_t len,
		   struct tt_buf *out)
{
	struct tt_buf resp = { 0 };
	char *url = NULL, *q = NULL;
	unsigned wait = ch->backoff_ms;
	int attempt, err = 0;

	if (query) {
		q = cu.easy_escape(ch->curl, query, 0);
		if (!q || asprintf(&url, "%s%squery=%s", ch->url, strchr(ch->url, '?') ? "&" : "?",
				   q) < 0) {
			cu.free(q);
			return ch_fail(ch, -ENOMEM, "out of memory");
		}
		cu.free(q);
	}
	for (attempt = 0;; attempt++) {
		char ebuf[CURL_ERROR_SIZE] = "";
		long code = 0;
		CURLcode rc;

		tt_buf_reset(&resp);
		cu.easy_reset(ch->curl);
		cu.easy_setopt(ch->curl, CURLOPT_URL, url ? url : ch->url);
		cu.easy_setopt(ch->curl, CURLOPT_POST, 1L);
		cu.easy_setopt(ch->curl, CURLOPT_POSTFIELDS, body);
		cu.easy_setopt(ch->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		cu.easy_setopt(ch->curl, CURLOPT_WRITEFUNCTION, on_body);
		cu.easy_setopt(ch->curl, CURLOPT_WRITEDATA, &resp);
		cu.easy_setopt(ch->curl, CURLOPT_ERRORBUFFER, ebuf);
		cu.easy_setopt(ch->curl, CURLOPT_NOSIGNAL, 1L);
		cu.easy_setopt(ch->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
		cu.easy_setopt(ch->curl, CURLOPT_TIMEOUT_MS, ch->timeout_ms);
		cu.easy_setopt(ch->curl, CURLOPT_XFERINFOFUNCTION, on_xfer);
		cu.easy_setopt(ch->curl, CURLOPT_XFERINFODATA, ch);
		cu.easy_setopt(ch->curl, CURLOPT_NOPROGRESS, 0L);
		rc = cu.easy_perform(ch->curl);
		if (rc == CURLE_OK)
			cu.easy_getinfo(ch->curl, CURLINFO_RESPONSE_CODE, &code);
		if (rc == CURLE_OK && code == 200) {
			err = 0;
			break;
		}
		if (resp.err == -E2BIG) {
			err = ch_fail(ch, -E2BIG,
				      "%s: the answer passed %u MiB: ask for less (a shorter"
				      " window)",
				      ch->dest, TT_BUF_MAX >> 20);
			break;
		}
		if (resp.err) {
			err = ch_fail(ch, -ENOMEM, "out of memory reading the response");
			break;
		}
		if (rc == CURLE_OK && code < 500) {
			char line[400];

			tt_buf_add(&resp, "", 1);
			first_line(resp.p ? resp.p : "", line, sizeof(line));
			err = ch_fail(ch, -EACCES, "%s refused (HTTP %ld): %s", ch->dest, code,
				      line);
			break;
		}
		if (rc == CURLE_OK) {
			char line[400];

			tt_buf_add(&resp, "", 1);
			first_line(resp.p ? resp.p : "", line, sizeof(line));
			err = ch_fail(ch, -EIO, "%s failed (HTTP %ld): %s", ch->dest, code, line);
		} else {
			err = ch_fail(ch, -ECONNREFUSED, "cannot reach %s: %s", ch->dest,
				      ebuf[0] ? ebuf : cu.easy_strerror(rc));
		}
		if (attempt >= ch->retries || rc == CURLE_ABORTED_BY_CALLBACK)
			break;
		sleep_ms(wait);
		wait = wait * 2 > 10000 ? 10000 : wait * 2;
	}
	free(url);
	if (!err && out) {
		tt_buf_add(out, resp.p ? resp.p : "", resp.len);
		tt_buf_add(out, "", 1); /* NUL, not counted */
		if (out->err)
			err = ch_fail(ch, -ENOMEM, "out of memory");
		else
			out->len--;
	}
	tt_buf_free(&resp);
	return err;
}

int tt_ch_exec(struct tt_ch *ch, const char *sql, struct tt_buf *out)
{
	return ch_post(ch, NULL, sql, strlen(sql), out);
}

int tt_ch_migrate(struct tt_ch *ch)
{
	struct tt_buf out = { 0 };
	size_t i;
	long have = 0;
	int err;

	/* the first migration creates tt_schema: see what is there before it */
	err = tt_ch_exec(ch, "EXISTS TABLE tt_schema", &out);
	if (!err && out.p && atoi(out.p) == 1) {
		tt_buf_reset(&out);
		err = tt_ch_exec(ch, "SELECT max(version) FROM tt_schema", &out);
		if (!err)
			have = out.p ? atol(out.p) : 0;
	}
	tt_buf_free(&out);
	if (err)
		return err;
	for (i = 0; i < sizeof(tt_migrations) / sizeof(tt_migrations[0]); i++) {
		const struct tt_migration *m = &tt_migrations[i];
		char *sql, *p, *stmt, ins[200];

		if (m->version <= have)
			continue;
		if (!(sql = strdup(m->sql)))
			return ch_fail(ch, -ENOMEM, "out of memory");
		/* statements end with ';' at the end of a line */
		for (stmt = sql; !err && stmt && *stmt; stmt = p) {
			const char *c;
			int empty = 1;

			p = strstr(stmt, ";\n");
			if (p) {
				*p = '\0';
				p += 2;
			}
			/* skip what is only comments and blanks */
			for (c = stmt; *c && empty;) {
				if (*c == '-' && c[1] == '-') {
					c = strchr(c, '\n');
					if (!c)
						break;
				} else if (*c != ' ' && *c != '\t' && *c != '\n') {
					empty = 0;
				} else {
					c++;
				}
			}
			if (!empty)
				err = tt_ch_exec(ch, stmt, NULL);
		}
		free(sql);
		if (err)
			return err;
		snprintf(ins, sizeof(ins), "INSERT INTO tt_schema VALUES (%d, '%s')", m->version,
			 m->name);
		if ((err = tt_ch_exec(ch, ins, NULL)))
			return err;
	}
	return 0;
}

/* ---- JSON ---------------------------------------------------------------- */

static void json_str(struct tt_buf *b, const char *s, size_t max)
{
	size_t i;

	tt_buf_add(b, "\"", 1);
	for (i = 0; s && i < max && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		/* other bytes go as they are: ClickHouse keeps a String's bytes, and a
		 * \u escape of a byte >= 0x80 would come back as two (UTF-8) */
		if (c == '"' || c == '\\')
			tt_buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			tt_buf_printf(b, "\\u%04x", c);
		else
			tt_buf_add(b, (const char *)&c, 1);
	}
	tt_buf_add(b, "\"", 1);
}

/* ---- export -------------------------------------------------------------- */

struct rec_state {
	int64_t id;
	uint64_t key;
	char host[65];
	uint64_t ticks_ns; /* cursor: ticks ending at or before are out */
	uint64_t meta_ns;
	uint64_t sent_ns; /* the last tick in a batch sent */
	uint64_t pending_ns; /* the last tick in the batch being built */
};

struct exporter {
	struct tt_ch *ch;
	struct tt_store *s; /* the store, open for export (it writes the cursors) */
	const struct tt_ship_opts *o;
	struct tt_ship_stats *st;
	struct rec_state *recs;
	size_t nrecs;
	struct rec_state *cur;
	struct tt_buf ticks, events;
	size_t nticks, nevents;
	uint64_t ev_ts; /* seq: an event's place among the recording's events at ev_ts */
	unsigned ev_seq;
	struct tt_ev_loss loss; /* the last losses seen in the recording being scanned */
	int fn_failed; /* a callback of a store read failed, and said why */
	char why[512];
};

#define ex_fail(p, e, ...) fail_to((p)->why, sizeof((p)->why), e, __VA_ARGS__)

static int insert(struct exporter *x, const char *table, struct tt_buf *rows)
{
	char q[128];
	int err;

	if (!rows->len)
		return 0;
	if (rows->err)
		return ex_fail(x, -ENOMEM, "out of memory building a batch");
	snprintf(q, sizeof(q), "INSERT INTO %s FORMAT JSONEachRow", table);
	err = ch_post(x->ch, q, rows->p, rows->len, NULL);
	if (err)
		return ex_fail(x, err, "%s", x->ch->err);
	x->st->batches++;
	tt_buf_reset(rows);
	return 0;
}

static int save_cursor(struct exporter *x, const struct rec_state *r)
{
	int err = tt_store_set_cursor(x->s, x->ch->dest, r->id, r->ticks_ns, r->meta_ns);

	return err ? ex_fail(x, err, "%s", tt_store_errmsg(x->s)) : 0;
}

/* Send the ticks and events built so far; then their recordings' cursors move. */
static int flush(struct exporter *x)
{
	size_t i;
	int err;

	if ((err = insert(x, "tt_ticks", &x->ticks)) || (err = insert(x, "tt_events", &x->events)))
		return err;
	x->nticks = x->nevents = 0;
	for (i = 0; i < x->nrecs; i++) {
		struct rec_state *r = &x->recs[i];

		if (r->pending_ns > r->ticks_ns) {
			r->ticks_ns = r->pending_ns;
			if ((err = save_cursor(x, r)))
				return err;
		}
	}
	return 0;
}

static int on_recording(void *ctx, const struct tt_scan_rec *rec)
{
	struct exporter *x = ctx;
	size_t i;

	x->cur = NULL;
	memset(&x->loss, 0, sizeof(x->loss));
	x->ev_ts = 0;
	for (i = 0; i < x->nrecs; i++)
		if (x->recs[i].id == rec->id)
			x->cur = &x->recs[i];
	return 0;
}

static void addr_json(struct tt_buf *b, const char *name, const uint8_t a[16], int family)
{
	char s[64];

	tt_buf_printf(b, ",\"%s\":\"%s\"", name, tt_fmt_addr(s, sizeof(s), a, family));
}

static uint64_t dbits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static int on_table(void *ctx, const struct tt_scan_rec *rec, const struct tt_table *t,
		    const struct tt_agg *agg)
{
	struct exporter *x = ctx;
	struct rec_state *r = x->cur;
	uint64_t ts = (uint64_t)((int64_t)t->ts_ns + rec->mono_to_wall_ns);
	uint64_t start = (uint64_t)((int64_t)t->start_ns + rec->mono_to_wall_ns);
	size_t i;

	(void)agg;
	if (!r || ts <= r->ticks_ns)
		return 0;
	for (i = 0; i < t->n; i++) {
		const struct tt_row *w = &t->rows[i];
		const struct tt_ev_conn *c = &w->conn;
		struct tt_buf *b = &x->ticks;

		if (!tt_row_active(w))
			continue;
		tt_buf_add(b, "{\"host\":", 8);
		json_str(b, r->host, sizeof(r->host));
		tt_buf_printf(b,
			      ",\"rec\":%" PRIu64 ",\"ts\":%" PRIu64 ",\"tick_start\":%" PRIu64
			      ",\"conn_id\":%" PRIu64 ",\"open_mono\":%" PRIu64
			      ",\"family\":%u,\"proto\":%u",
			      r->key, ts, start, c->id, w->open_ns, c->family, c->proto);
		addr_json(b, "laddr", c->laddr, c->family);
		tt_buf_printf(b, ",\"lport\":%u", c->lport);
		addr_json(b, "raddr", c->raddr, c->family);
		tt_buf_printf(b, ",\"rport\":%u,\"pid\":%u,\"tgid\":%u,\"comm\":", c->rport, c->pid,
			      c->tgid);
		json_str(b, c->comm, TT_COMM_MAX);
		tt_buf_printf(b,
			      ",\"cgroup\":%" PRIu64 ",\"netns\":%u,\"conn_flags\":%u,\"new\":%u"
			      ",\"closed\":%u,\"state\":%u,\"close_reason\":%u,\"close_errno\":%u"
			      ",\"age_ns\":%" PRIu64 ",\"bytes_in\":%" PRIu64
			      ",\"bytes_out\":%" PRIu64 ",\"packets_in\":%" PRIu64
			      ",\"packets_out\":%" PRIu64
			      ",\"retrans\":%u,\"retrans_total\":%u,\"resets\":%u"
			      ",\"rate_in\":%.17g,\"rate_out\":%.17g"
			      ",\"rate_in_bits\":%" PRIu64 ",\"rate_out_bits\":%" PRIu64
			      ",\"srtt_us\":%u,\"row\":%zu}\n",
			      c->cgroup, c->netns, c->flags, !!(w->flags & TT_ROW_NEW),
			      !!(w->flags & TT_ROW_CLOSED), w->tot.state,
			      w->flags & TT_ROW_CLOSED ? w->close_reason : 0,
			      w->flags & TT_ROW_CLOSED ? w->err : 0, tt_row_age_ns(w, t->ts_ns),
			      w->d_bytes_in, w->d_bytes_out, w->d_packets_in, w->d_packets_out,
			      w->d_retrans, w->tot.retrans, w->d_resets, w->rate_in, w->rate_out,
			      dbits(w->rate_in), dbits(w->rate_out), w->tot.srtt_us, i);
		x->nticks++;
		x->st->ticks++;
	}
	r->pending_ns = ts;
	if (x->nticks + x->nevents >= x->o->batch_rows)
		return flush(x);
	return 0;
}

/* The identity columns of a connection, as JSON members (",\"known\":0" without one). */
static void conn_json(struct tt_buf *b, const struct tt_ev_conn *c)
{
	if (!c) {
		tt_buf_add(b, ",\"known\":0", 10);
		return;
	}
	tt_buf_printf(b, ",\"known\":1,\"open_mono\":%" PRIu64 ",\"family\":%u,\"proto\":%u",
		      c->open_ns, c->family, c->proto);
	addr_json(b, "laddr", c->laddr, c->family);
	tt_buf_printf(b, ",\"lport\":%u", c->lport);
	addr_json(b, "raddr", c->raddr, c->family);
	tt_buf_printf(b, ",\"rport\":%u,\"pid\":%u,\"tgid\":%u,\"comm\":", c->rport, c->pid,
		      c->tgid);
	json_str(b, c->comm, TT_COMM_MAX);
	tt_buf_printf(b, ",\"cgroup\":%" PRIu64 ",\"netns\":%u,\"conn_flags\":%u", c->cgroup,
		      c->netns, c->flags);
}

static int on_event(void *ctx, const struct tt_scan_rec *rec, const struct tt_event *ev,
		    const struct tt_agg *agg)
{
	struct exporter *x = ctx;
	struct rec_state *r = x->cur;
	uint64_t ts = (uint64_t)((int64_t)ev->ts_ns + rec->mono_to_wall_ns), id = 0;
	struct tt_buf *b = &x->events;
	struct tt_ev_loss d = { 0 };
	const char *type;

	if (!r)
		return 0;
	if (ev->type == TT_EV_LOSS) {
		/* a keyframe restates the losses so far: a baseline, as events shows it */
		int changed = memcmp(&ev->loss, &x->loss, sizeof(x->loss)) != 0;

		d.ring_drops = ev->loss.ring_drops - x->loss.ring_drops;
		d.socks_full = ev->loss.socks_full - x->loss.socks_full;
		d.peers_full = ev->loss.peers_full - x->loss.peers_full;
		x->loss = ev->loss;
		if ((ev->flags & TT_EVF_KEYFRAME) || !changed)
			return 0;
	} else if (ev->flags & TT_EVF_KEYFRAME) {
		return 0;
	}
	switch (ev->type) {
	case TT_EV_STATE:
		type = "state";
		id = ev->state.id;
		break;
	case TT_EV_RESET:
		type = "reset";
		id = ev->reset.id;
		break;
	case TT_EV_CLOSE:
		type = "close";
		id = ev->close.id;
		break;
	case TT_EV_LOSS:
		type = "loss";
		break;
	default:
		return 0;
	}
	/* its place in a run of the recording's events with this time stamp */
	if (ts == x->ev_ts) {
		x->ev_seq++;
	} else {
		x->ev_ts = ts;
		x->ev_seq = 0;
	}
	/*
	 * No cut at the cursor: an event can come after a tick in the stream with
	 * a time stamp before it (the ring buffer is late), so an event at or
	 * before the cursor may be new. The scan's blocks start at the one that
	 * holds the cursor's tick: what went before goes again, with its key.
	 */
	tt_buf_add(b, "{\"host\":", 8);
	json_str(b, r->host, sizeof(r->host));
	tt_buf_printf(b,
		      ",\"rec\":%" PRIu64 ",\"ts\":%" PRIu64 ",\"conn_id\":%" PRIu64
		      ",\"type\":\"%s\",\"seq\":%u,\"old_state\":%u,\"new_state\":%u"
		      ",\"received\":%u,\"close_reason\":%u,\"close_errno\":%u"
		      ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64 ",\"ring_drops\":%" PRIu64
		      ",\"socks_full\":%" PRIu64 ",\"peers_full\":%" PRIu64,
		      r->key, ts, id, type, x->ev_seq,
		      ev->type == TT_EV_STATE ? ev->state.old_state : 0,
		      ev->type == TT_EV_STATE ? ev->state.new_state : 0,
		      ev->type == TT_EV_RESET ? ev->reset.received : 0,
		      ev->type == TT_EV_CLOSE ? ev->close.reason : 0,
		      ev->type == TT_EV_CLOSE	? ev->close.err
		      : ev->type == TT_EV_STATE ? ev->state.err
						: 0,
		      ev->type == TT_EV_CLOSE ? ev->close.c.bytes_in : 0,
		      ev->type == TT_EV_CLOSE ? ev->close.c.bytes_out : 0, d.ring_drops,
		      d.socks_full, d.peers_full);
	conn_json(b, ev->type == TT_EV_LOSS ? NULL : tt_agg_conn(agg, id));
	tt_buf_add(b, "}\n", 2);
	x->nevents++;
	x->st->events++;
	return 0;
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct exporter *x = ctx;

	if (x->o->on_progress)
		x->o->on_progress(x->o->ctx, done, total);
}

/* A read of the index failed (fn did not): why, as the store says it. */
static int index_fail(struct exporter *x, int err)
{
	if (x->fn_failed)
		return err;
	return ex_fail(x, err, "%s/index.db: %s", tt_store_dir(x->s), tt_store_errmsg(x->s));
}

static int add_recording(void *ctx, const struct tt_store_cursor *c)
{
	struct exporter *x = ctx;
	struct rec_state *r, *n = realloc(x->recs, (x->nrecs + 1) * sizeof(*n));
	char k[256];

	if (!n) {
		x->fn_failed = 1;
		return ex_fail(x, -ENOMEM, "out of memory");
	}
	x->recs = n;
	r = &x->recs[x->nrecs++];
	memset(r, 0, sizeof(*r));
	r->id = c->rec;
	snprintf(r->host, sizeof(r->host), "%s", c->host ? c->host : "");
	snprintf(k, sizeof(k), "%s %s %" PRId64, r->host, c->boot_id ? c->boot_id : "",
		 c->start_ns);
	r->key = tt_fnv1a(k, strlen(k), TT_FNV1A_INIT);
	r->ticks_ns = (uint64_t)c->ticks_ns;
	r->meta_ns = (uint64_t)c->meta_ns;
	return 0;
}

/* The recordings, their keys and cursors. */
static int load_recordings(struct exporter *x)
{
	int err;

	x->fn_failed = 0;
	err = tt_store_each_cursor(x->s, x->ch->dest, add_recording, x);

	return err ? index_fail(x, err) : 0;
}

/* What ship_meta's callbacks build: the rows of one table, sent in batches. */
struct meta_rows {
	struct exporter *x;
	struct rec_state *r;
	struct tt_buf b;
	size_t n;
};

static int recording_row(void *ctx, const struct tt_store_rec *rec)
{
	struct meta_rows *m = ctx;
	struct tt_buf *b = &m->b;
	/* what the fleet believes of its end: end_ns, else its last block's end, else its start */
	int64_t end = rec->has_end	    ? rec->end_ns
		      : rec->has_blocks_end ? rec->blocks_end_ns
					    : rec->start_ns;

	tt_buf_add(b, "{\"host\":", 8);
	json_str(b, m->r->host, sizeof(m->r->host));
	tt_buf_printf(b, ",\"rec\":%" PRIu64 ",\"kernel\":", m->r->key);
	json_str(b, rec->kernel, 256);
	tt_buf_add(b, ",\"boot_id\":", 11);
	json_str(b, rec->boot_id, 256);
	tt_buf_printf(b,
		      ",\"start_ns\":%" PRId64 ",\"end_ns\":%" PRId64
		      ",\"clean_stop\":%d,\"options\":",
		      rec->start_ns, end, rec->clean_stop);
	json_str(b, rec->options, 4096);
	tt_buf_add(b, ",\"tool_version\":", 16);
	json_str(b, rec->tool_version, 256);
	tt_buf_printf(b,
		      ",\"mono_to_wall_ns\":%" PRId64 ",\"bucket_ns\":%" PRId64 ",\"ver\":%" PRId64
		      "}\n",
		      rec->mono_to_wall_ns, rec->bucket_ns,
		      end * 2 + (rec->has_end && rec->end_ns != 0));
	return 0;
}

/* The rows built so far into table once there are batch_rows of them (force: any). */
static int meta_flush(struct meta_rows *m, const char *table, int force)
{
	int err;

	if (!force && m->n < m->x->o->batch_rows)
		return 0;
	m->n = 0;
	if ((err = insert(m->x, table, &m->b)))
		m->x->fn_failed = 1;
	return err;
}

static int lifetime_row(void *ctx, const struct tt_store_lifetime *l)
{
	struct meta_rows *m = ctx;
	struct tt_buf *b = &m->b;

	tt_buf_add(b, "{\"host\":", 8);
	json_str(b, m->r->host, sizeof(m->r->host));
	tt_buf_printf(b,
		      ",\"rec\":%" PRIu64 ",\"conn_id\":%" PRIu64 ",\"open_ns\":%" PRId64
		      ",\"proto\":",
		      m->r->key, l->conn_id, l->open_ns);
	json_str(b, l->proto, 8);
	tt_buf_printf(b, ",\"family\":%d,\"laddr\":", l->family);
	json_str(b, l->laddr, 64);
	tt_buf_printf(b, ",\"lport\":%d,\"raddr\":", l->lport);
	json_str(b, l->raddr, 64);
	tt_buf_printf(b, ",\"rport\":%d,\"pid\":%d,\"comm\":", l->rport, l->pid);
	json_str(b, l->comm, 64);
	tt_buf_printf(b,
		      ",\"cgroup\":%" PRIu64 ",\"netns\":%" PRId64 ",\"partial\":%d"
		      ",\"udp_peer\":%d,\"close_ns\":%" PRId64 ",\"first_seen_ns\":%" PRId64
		      ",\"last_seen_ns\":%" PRId64 ",\"state\":",
		      l->cgroup, l->netns, l->partial, l->udp_peer, l->close_ns, l->first_seen_ns,
		      l->last_seen_ns);
	json_str(b, l->state, 32);
	tt_buf_add(b, ",\"close_reason\":", 16);
	json_str(b, l->close_reason, 32);
	tt_buf_printf(b,
		      ",\"close_errno\":%d,\"bytes_in\":%" PRId64 ",\"bytes_out\":%" PRId64
		      ",\"packets_in\":%" PRId64 ",\"packets_out\":%" PRId64
		      ",\"rtt_min_us\":%d,\"rtt_avg_us\":%d,\"rtt_max_us\":%d"
		      ",\"rtt_samples\":%d,\"retrans\":%" PRId64 ",\"resets_sent\":%" PRId64
		      ",\"resets_recv\":%" PRId64 ",\"ver\":%" PRId64 "}\n",
		      l->close_errno, l->bytes_in, l->bytes_out, l->packets_in, l->packets_out,
		      l->rtt_min_us, l->rtt_avg_us, l->rtt_max_us, l->rtt_samples, l->retrans,
		      l->resets_sent, l->resets_recv,
		      /* a close after the last activity still wins */
		      (l->close_ns > l->last_seen_ns ? l->close_ns : l->last_seen_ns) * 2 +
			      (l->close_ns != 0));
	m->x->st->conns++;
	m->n++;
	return meta_flush(m, "tt_conns", 0);
}

static int loss_row(void *ctx, const struct tt_store_loss *l)
{
	struct meta_rows *m = ctx;
	struct tt_buf *b = &m->b;

	tt_buf_add(b, "{\"host\":", 8);
	json_str(b, m->r->host, sizeof(m->r->host));
	tt_buf_printf(b,
		      ",\"rec\":%" PRIu64 ",\"t_start_ns\":%" PRId64 ",\"t_end_ns\":%" PRId64
		      ",\"ring_drops\":%" PRId64 ",\"socks_full\":%" PRId64
		      ",\"peers_full\":%" PRId64 "}\n",
		      m->r->key, l->t_start_ns, l->t_end_ns, l->ring_drops, l->socks_full,
		      l->peers_full);
	m->x->st->losses++;
	return 0;
}

/*
 * The recording's row, its lifetimes touched after meta_ns and its losses
 * after meta_ns, then meta_ns moves to hw (taken before the scan: whatever
 * changed since goes again next time, harmlessly).
 */
static int ship_meta(struct exporter *x, struct rec_state *r, uint64_t hw)
{
	struct meta_rows m = { .x = x, .r = r };
	int64_t since = (int64_t)r->meta_ns;
	int err = 0;

	x->fn_failed = 0;
	if (since >= 0) { /* a cursor below 0 (no intact index holds one) sends no row */
		err = tt_store_recording(x->s, r->id, TT_REC_BLOCKS_END, recording_row, &m);
		if (err == -ENOENT)
			err = 0; /* a recording retention removed meanwhile has no row to send */
	}
	if (err)
		err = index_fail(x, err);
	else if (!(err = insert(x, "tt_recordings", &m.b)) &&
		 (err = tt_store_each_lifetime_since(x->s, r->id, since, lifetime_row, &m)))
		err = index_fail(x, err);
	if (!err && !(err = meta_flush(&m, "tt_conns", 1)) &&
	    (err = tt_store_each_loss_since(x->s, r->id, since, loss_row, &m)))
		err = index_fail(x, err);
	if (!err)
		err = insert(x, "tt_losses", &m.b);
	if (!err && hw > r->meta_ns) {
		r->meta_ns = hw;
		err = save_cursor(x, r);
	}
	tt_buf_free(&m.b);
	return err;
}

int tt_ship_store(struct tt_ch *ch, const char *dir, const struct tt_ship_opts *o,
		  struct tt_ship_stats *st, char *why, size_t why_len)
{
	struct tt_ship_opts dflt = { 0 };
	struct tt_ship_stats local = { 0 };
	struct exporter x;
	struct tt_scan_cb cb = { .on_recording = on_recording,
				 .on_table = on_table,
				 .on_event = on_event,
				 .on_progress = on_progress };
	char warn[256] = "";
	uint64_t from = UINT64_MAX, hw = 0;
	int err;
	size_t i;

	memset(&x, 0, sizeof(x));
	if (!o)
		o = &dflt;
	dflt = *o;
	if (!dflt.batch_rows)
		dflt.batch_rows = 20000;
	x.ch = ch;
	x.o = &dflt;
	x.st = st ? st : &local;
	why[0] = '\0';
	/* the cursors are written while the scan reads: see TT_STORE_EXPORT */
	if ((err = tt_store_open(dir, TT_STORE_EXPORT, 0, 0, &x.s, why, why_len)))
		goto out;
	if (tt_store_schema_version(x.s) < 3) {
		snprintf(why, why_len,
			 "%s/index.db has schema %d, without export cursors (3): open it for writing"
			 " once with this tcptop (tcptop-record, or export when no recorder holds it)",
			 dir, tt_store_schema_version(x.s));
		err = -EPROTO;
		goto out;
	}
	/* the time up to which the index is complete now (0 if it cannot say) */
	tt_store_blocks_end(x.s, &hw);
	if ((err = load_recordings(&x))) {
		snprintf(why, why_len, "%s", x.why);
		goto out;
	}
	for (i = 0; i < x.nrecs; i++)
		if (x.recs[i].ticks_ns < from)
			from = x.recs[i].ticks_ns;
	if (dflt.only_if_new) {
		int behind = 0;

		for (i = 0; i < x.nrecs; i++)
			behind |= x.recs[i].meta_ns < hw;
		if (!behind)
			goto out; /* nothing sealed since the last pass */
	}
	if (x.nrecs) {
		/* the scan's window starts after the least advanced recording's cursor */
		err = tt_scan(x.s, from, 0, &cb, &x, NULL, warn, sizeof(warn), x.why,
			      sizeof(x.why));
		if (!err)
			err = flush(&x);
	}
	for (i = 0; !err && i < x.nrecs; i++)
		err = ship_meta(&x, &x.recs[i], hw);
	x.st->recordings += x.nrecs;
	if (err)
		snprintf(why, why_len, "%s", x.why);
out:
	tt_buf_free(&x.ticks);
	tt_buf_free(&x.events);
	free(x.recs);
	/* an index found in rollback mode goes back to it, if no one else is connected */
	tt_store_close(x.s);
	return err;
}

/* ---- live shipping ------------------------------------------------------ */

struct tt_shipper {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct tt_ch *ch;
	char *dir;
	uint64_t period_ns;
	int stopping, migrated;
	uint64_t drain_until; /* CLOCK_MONOTONIC ns: the last pass's deadline */
	uint64_t failures, failing; /* in all; in a row */
	int noted_failing; /* the failure was noted */
	int last_ok; /* the last pass shipped everything */
	char note[768];
	int has_note;
	char err[600];
};

/* One pass; 0 or the error (s->err). Called without the lock. */
static int ship_pass(struct tt_shipper *s, int last)
{
	struct tt_ship_opts o = { .batch_rows = 20000, .only_if_new = !last };
	char why[512];
	int err = 0;

	if (!s->migrated) {
		err = tt_ch_migrate(s->ch);
		if (!err)
			s->migrated = 1;
		else
			snprintf(why, sizeof(why), "%s", tt_ch_errmsg(s->ch));
	}
	if (!err)
		err = tt_ship_store(s->ch, s->dir, &o, NULL, why, sizeof(why));
	pthread_mutex_lock(&s->mu);
	if (err) {
		s->failures++;
		s->failing++;
		snprintf(s->err, sizeof(s->err), "%s", why);
		if (!s->noted_failing) {
			snprintf(s->note, sizeof(s->note),
				 "shipping to %s failed (recording goes on; the store keeps what is not "
				 "shipped): %s",
				 tt_ch_dest(s->ch), why);
			s->has_note = 1;
			s->noted_failing = 1;
		}
	} else {
		if (s->noted_failing) {
			snprintf(s->note, sizeof(s->note),
				 "shipping to %s caught up after %" PRIu64 " failed passes",
				 tt_ch_dest(s->ch), s->failing);
			s->has_note = 1;
		}
		s->noted_failing = 0;
		s->failing = 0;
	}
	s->last_ok = !err;
	pthread_mutex_unlock(&s->mu);
	return err;
}

static void *ship_thread(void *arg)
{
	struct tt_shipper *s = arg;
	uint64_t wait_ns = s->period_ns;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		/* pthread_cond_timedwait's deadline is on CLOCK_REALTIME */
		uint64_t t = tt_clock_ns(CLOCK_REALTIME) + wait_ns;
		struct timespec until = { .tv_sec = (time_t)(t / 1000000000ull),
					  .tv_nsec = (long)(t % 1000000000ull) };
		int err;

		while (!s->stopping)
			if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT)
				break;
		if (s->stopping)
			break;
		pthread_mutex_unlock(&s->mu);
		err = ship_pass(s, 0);
		pthread_mutex_lock(&s->mu);
		/* a failing server is asked again less and less often, up to 30 s */
		if (err)
			wait_ns = wait_ns * 2 > 30000000000ull ? 30000000000ull : wait_ns * 2;
		else
			wait_ns = s->period_ns;
	}
	pthread_mutex_unlock(&s->mu);
	/* the last pass: what the recorder stored last, until the deadline (none: none) */
	while (s->drain_until) {
		uint64_t now = tt_clock_ns(CLOCK_MONOTONIC);

		if (now >= s->drain_until)
			break;
		/* no request outlives the deadline by more than a second */
		s->ch->timeout_ms = (long)((s->drain_until - now) / 1000000u) + 1000;
		if (!ship_pass(s, 1))
			break;
		{
			struct timespec ts = { 0, 200000000L };

			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

int tt_shipper_start(const char *url, const char *dir, uint64_t period_ns, struct tt_shipper **out,
		     char *why, size_t why_len)
{
	struct tt_shipper *s = calloc(1, sizeof(*s));
	sigset_t all, old;
	int rc;

	*out = NULL;
	if (!s || !(s->dir = strdup(dir))) {
		free(s);
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	/* no retries inside a pass: the thread's own backoff retries whole passes */
	s->ch = tt_ch_new(url, 0, 200, why, why_len);
	if (!s->ch) {
		free(s->dir);
		free(s);
		return -EINVAL;
	}
	s->period_ns = period_ns ? period_ns : 1000000000ull;
	s->ch->timeout_ms = 60000; /* a server that hangs is a failed pass, retried */
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	/* signals stay the recorder's main thread's: the thread starts with all blocked */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->thread, NULL, ship_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		snprintf(why, why_len, "cannot start the shipping thread");
		tt_ch_free(s->ch);
		free(s->dir);
		free(s);
		return -EAGAIN;
	}
	*out = s;
	return 0;
}

int tt_shipper_take_note(struct tt_shipper *s, char *msg, size_t len)
{
	int has;

	pthread_mutex_lock(&s->mu);
	has = s->has_note;
	if (has)
		snprintf(msg, len, "%s", s->note);
	s->has_note = 0;
	pthread_mutex_unlock(&s->mu);
	return has;
}

uint64_t tt_shipper_failures(struct tt_shipper *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->mu);
	n = s->failures;
	pthread_mutex_unlock(&s->mu);
	return n;
}

int tt_shipper_stop(struct tt_shipper *s, uint64_t drain_ns, char *why, size_t why_len)
{
	int err;

	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	s->drain_until = drain_ns ? tt_clock_ns(CLOCK_MONOTONIC) + drain_ns : 0;
	/* a request in flight, to a server that hangs, ends by the deadline too */
	__atomic_store_n(&s->ch->abort_at, drain_ns ? s->drain_until : tt_clock_ns(CLOCK_MONOTONIC),
			 __ATOMIC_RELAXED);
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	err = s->last_ok ? 0 : -EIO;
	if (err)
		snprintf(why, why_len, "%s", s->err);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	tt_ch_free(s->ch);
	free(s->dir);
	free(s);
	return err;
}

/* ---- queries ------------------------------------------------------------- */

/* Which tables queries read: tt_X_all when the Distributed tables exist. */
static const char *all(struct tt_ch *ch)
{
	struct tt_buf out = { 0 };

	if (!ch->all) {
		int err = tt_ch_exec(ch, "EXISTS TABLE tt_ticks_all", &out);

		if (err) {
			tt_buf_free(&out);
			return NULL;
		}
		ch->all = strdup(out.p && atoi(out.p) == 1 ? "_all" : "");
		tt_buf_free(&out);
	}
	return ch->all;
}

/* " AND host IN ('a','b')" for a comma-separated list, quoted safely. */
static int host_clause(struct tt_ch *ch, const char *hostnames, struct tt_buf *b)
{
	const char *p = hostnames;

	if (!hostnames || !*hostnames)
		return 0;
	tt_buf_add(b, " AND host IN (", 14);
	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p), i;

		tt_buf_add(b, "'", 1);
		for (i = 0; i < n; i++) {
			if (p[i] == '\'' || p[i] == '\\')
				tt_buf_add(b, "\\", 1);
			tt_buf_add(b, p + i, 1);
		}
		tt_buf_add(b, e ? "'," : "'", e ? 2 : 1);
		p += n + (e ? 1 : 0);
	}
	tt_buf_add(b, ")", 1);
	return b->err ? ch_fail(ch, -ENOMEM, "out of memory") : 0;
}

/* sql, then the hosts' clause and tail, run: the answer into out. 0 or as tt_ch_exec. */
static int fleet_query(struct tt_ch *ch, struct tt_buf *sql, const char *hostnames,
		       const char *tail, struct tt_buf *out)
{
	int err = host_clause(ch, hostnames, sql);

	if (err)
		return err;
	tt_buf_add(sql, tail, strlen(tail));
	if (sql->err)
		return ch_fail(ch, -ENOMEM, "out of memory");
	return tt_ch_exec(ch, sql->p, out);
}

int tt_fleet_span(struct tt_ch *ch, const char *hostnames, uint64_t *start_ns, uint64_t *end_ns,
		  char *hosts, size_t hosts_len, int *nhosts)
{
	struct tt_buf sql = { 0 }, out = { 0 };
	const char *a = all(ch);
	char *line, *save = NULL;
	int err, n = 0;

	if (!a)
		return -ECONNREFUSED;
	*start_ns = *end_ns = 0;
	hosts[0] = '\0';
	tt_buf_printf(&sql,
		      "SELECT host, min(start_ns), max(end_ns) FROM (SELECT host, rec, start_ns,"
		      " end_ns, ver FROM tt_recordings%s FINAL WHERE 1",
		      a);
	if ((err = fleet_query(ch, &sql, hostnames, ") GROUP BY host ORDER BY host", &out)))
		goto out;
	for (line = out.p ? strtok_r(out.p, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		uint64_t s, e;
		size_t l = strlen(hosts);

		if (!t2)
			continue;
		*t1 = '\0';
		s = strtoull(t1 + 1, NULL, 10);
		e = strtoull(t2 + 1, NULL, 10);
		if (!*start_ns || s < *start_ns)
			*start_ns = s;
		if (e > *end_ns)
			*end_ns = e;
		if (l + strlen(line) + 3 < hosts_len)
			snprintf(hosts + l, hosts_len - l, "%s%s", l ? ", " : "", line);
		n++;
	}
	*nhosts = n;
	err = n ? 0 : -ENODATA;
out:
	tt_buf_free(&sql);
	tt_buf_free(&out);
	return err;
}

/* "1.2.3.4", "::1", "*" back into the 16 bytes tt_fmt_addr printed them from. */
static void parse_addr(const char *s, int family, uint8_t a[16])
{
	memset(a, 0, 16);
	if (family == 4) {
		a[10] = a[11] = 0xff;
		if (strcmp(s, "*"))
			inet_pton(AF_INET, s, a + 12);
	} else if (strcmp(s, "*")) {
		inet_pton(AF_INET6, s, a);
	}
}

/* TabSeparated unescaping in place (\t \n \\ \' and the like). */
static void tsv_unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			switch (*s) {
			case 't':
				*d++ = '\t';
				break;
			case 'n':
				*d++ = '\n';
				break;
			case 'r':
				*d++ = '\r';
				break;
			case 'b':
				*d++ = '\b';
				break;
			case 'f':
				*d++ = '\f';
				break;
			case 'a':
				*d++ = '\a';
				break;
			case 'v':
				*d++ = '\v';
				break;
			case '0':
				*d++ = '\0';
				break;
			default:
				*d++ = *s;
				break;
			}
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

/* Split one TabSeparated line into at most max fields, unescaped; their number. */
static int tsv_fields(char *line, char **f, int max)
{
	int n = 0, i;

	f[n++] = line;
	for (char *c = line; *c && n < max; c++)
		if (*c == '\t') {
			*c = '\0';
			f[n++] = c + 1;
		}
	for (i = 0; i < n; i++)
		tsv_unescape(f[i]);
	return n;
}

int tt_fleet_pieces(struct tt_ch *ch, const char *hostnames, uint64_t from_ns, uint64_t to_ns,
		    int per_tick, int (*fn)(void *ctx, const char *host, const struct tt_piece *p),
		    void *ctx)
{
	struct tt_buf sql = { 0 }, out = { 0 };
	const char *a = all(ch);
	char *line, *next;
	int err;

	if (!a)
		return -ECONNREFUSED;
	/*
	 * One piece per connection lifetime and owner in the window (and per
	 * tick with per_tick): sums, maxima, and the values of its last tick.
	 * FINAL collapses rows sent twice; it needs the sorting key's columns
	 * selected in 18.16, hence the inner SELECT.
	 */
	tt_buf_printf(&sql,
		      "SELECT host, rec, conn_id, open_mono, tgid, comm, cgroup,"
		      " argMax(family, ts), argMax(proto, ts), argMax(laddr, ts), argMax(lport, ts),"
		      " argMax(raddr, ts), argMax(rport, ts), argMax(pid, ts), argMax(netns, ts),"
		      " argMax(conn_flags, ts), count(), min(ts), max(ts), max(age_ns),"
		      " argMax(state, ts), max(closed), maxIf(close_reason, closed = 1),"
		      " maxIf(close_errno, closed = 1), sum(bytes_in), sum(bytes_out),"
		      " sum(packets_in), sum(packets_out), sum(retrans), sum(resets),"
		      " max(rate_in_bits), max(rate_out_bits), sum(srtt_us), countIf(srtt_us > 0),"
		      " min(srtt_us), max(srtt_us)%s"
		      " FROM (SELECT * FROM tt_ticks%s FINAL WHERE ts > %" PRIu64
		      " AND ts <= %" PRIu64,
		      per_tick ? ", ts" : "", a, from_ns, to_ns);
	if ((err = fleet_query(
		     ch, &sql, hostnames,
		     per_tick ? ") GROUP BY host, rec, conn_id, open_mono, tgid, comm, cgroup, ts"
				" ORDER BY host, max(ts), min(ts), rec, conn_id, open_mono,"
				" tgid, comm, cgroup"
			      : ") GROUP BY host, rec, conn_id, open_mono, tgid, comm, cgroup"
				" ORDER BY host, max(ts), min(ts), rec, conn_id, open_mono,"
				" tgid, comm, cgroup",
		     &out)))
		goto out;
	for (line = out.len ? out.p : NULL; line && *line; line = next) {
		char *f[40];
		struct tt_piece p;
		uint64_t u;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (tsv_fields(line, f, 40) < 36) {
			err = ch_fail(ch, -EPROTO, "%s: unexpected answer to the fleet query",
				      ch->dest);
			goto out;
		}
		memset(&p, 0, sizeof(p));
		p.conn.id = strtoull(f[2], NULL, 10);
		p.conn.open_ns = strtoull(f[3], NULL, 10);
		p.conn.tgid = (uint32_t)strtoul(f[4], NULL, 10);
		memcpy(p.conn.comm, f[5], strnlen(f[5], TT_COMM_MAX)); /* NUL-padded, as stored */
		p.conn.cgroup = strtoull(f[6], NULL, 10);
		p.conn.family = (uint8_t)atoi(f[7]);
		p.conn.proto = (uint8_t)atoi(f[8]);
		parse_addr(f[9], p.conn.family, p.conn.laddr);
		p.conn.lport = (uint16_t)atoi(f[10]);
		parse_addr(f[11], p.conn.family, p.conn.raddr);
		p.conn.rport = (uint16_t)atoi(f[12]);
		p.conn.pid = (uint32_t)strtoul(f[13], NULL, 10);
		p.conn.netns = (uint32_t)strtoul(f[14], NULL, 10);
		p.conn.flags = (uint8_t)atoi(f[15]);
		p.sum.ticks = (uint32_t)strtoul(f[16], NULL, 10);
		p.sum.first_ns = strtoull(f[17], NULL, 10);
		p.sum.last_ns = strtoull(f[18], NULL, 10);
		p.sum.age_ns = strtoull(f[19], NULL, 10);
		p.sum.state = (uint8_t)atoi(f[20]);
		p.sum.closed = (uint8_t)atoi(f[21]);
		p.close_reason = (uint8_t)atoi(f[22]);
		p.err = (uint16_t)atoi(f[23]);
		p.sum.bytes_in = strtoull(f[24], NULL, 10);
		p.sum.bytes_out = strtoull(f[25], NULL, 10);
		p.sum.packets_in = strtoull(f[26], NULL, 10);
		p.sum.packets_out = strtoull(f[27], NULL, 10);
		p.sum.retrans = (uint32_t)strtoul(f[28], NULL, 10);
		p.sum.resets = (uint32_t)strtoul(f[29], NULL, 10);
		u = strtoull(f[30], NULL, 10);
		memcpy(&p.sum.peak_rate_in, &u, sizeof(u));
		u = strtoull(f[31], NULL, 10);
		memcpy(&p.sum.peak_rate_out, &u, sizeof(u));
		p.sum.rtt_sum_us = strtoull(f[32], NULL, 10);
		p.sum.rtt_n = (uint32_t)strtoul(f[33], NULL, 10);
		p.sum.rtt_min_us = (uint32_t)strtoul(f[34], NULL, 10);
		p.sum.rtt_max_us = (uint32_t)strtoul(f[35], NULL, 10);
		p.sum.tgid = p.conn.tgid;
		memcpy(p.sum.comm, p.conn.comm, TT_COMM_MAX);
		p.sum.cgroup = p.conn.cgroup;
		if ((err = fn(ctx, f[0], &p)))
			goto out;
	}
out:
	tt_buf_free(&sql);
	tt_buf_free(&out);
	return err;
}

/* A fleet event with what orders it. */
struct fev {
	struct tt_fleet_event e;
	char host[65];
	uint64_t rec_start, rec;
	uint32_t ord;
};

static int cmp_fev(const void *pa, const void *pb)
{
	const struct fev *a = pa, *b = pb;
	int c;

	if (a->e.ts != b->e.ts)
		return a->e.ts < b->e.ts ? -1 : 1;
	if ((c = strcmp(a->host, b->host)))
		return c;
	if (a->rec_start != b->rec_start)
		return a->rec_start < b->rec_start ? -1 : 1;
	if (a->rec != b->rec)
		return a->rec < b->rec ? -1 : 1;
	if (a->e.retransmit != b->e.retransmit)
		return a->e.retransmit - b->e.retransmit;
	if (a->ord != b->ord)
		return a->ord < b->ord ? -1 : 1;
	/* a run of one time stamp split by a late event: a fixed order at least */
	if (a->e.conn.id != b->e.conn.id)
		return a->e.conn.id < b->e.conn.id ? -1 : 1;
	return (int)a->e.ev.type - (int)b->e.ev.type;
}

/* Identity columns f[0..13] (known, open_mono, family, proto, laddr, lport, raddr,
 * rport, pid, tgid, comm, cgroup, netns, conn_flags) into c. */
static int conn_from(char **f, struct tt_ev_conn *c, uint64_t id)
{
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->open_ns = strtoull(f[1], NULL, 10);
	c->family = (uint8_t)atoi(f[2]);
	c->proto = (uint8_t)atoi(f[3]);
	parse_addr(f[4], c->family, c->laddr);
	c->lport = (uint16_t)atoi(f[5]);
	parse_addr(f[6], c->family, c->raddr);
	c->rport = (uint16_t)atoi(f[7]);
	c->pid = (uint32_t)strtoul(f[8], NULL, 10);
	c->tgid = (uint32_t)strtoul(f[9], NULL, 10);
	memcpy(c->comm, f[10], strnlen(f[10], TT_COMM_MAX));
	c->cgroup = strtoull(f[11], NULL, 10);
	c->netns = (uint32_t)strtoul(f[12], NULL, 10);
	c->flags = (uint8_t)atoi(f[13]);
	return atoi(f[0]);
}

#define IDENTITY_COLS                                                                              \
	"open_mono, family, proto, laddr, lport, raddr, rport, pid, tgid, comm, cgroup, netns,"    \
	" conn_flags"

int tt_fleet_events(struct tt_ch *ch, const char *hostnames, uint64_t from_ns, uint64_t to_ns,
		    int (*fn)(void *ctx, const struct tt_fleet_event *e), void *ctx)
{
	struct tt_buf sql = { 0 }, out = { 0 }, recs = { 0 };
	const char *a = all(ch);
	struct fev *v = NULL;
	size_t n = 0, cap = 0, i;
	char *line, *next;
	int err, pass;

	if (!a)
		return -ECONNREFUSED;
	/* recordings' starts: the order of a store's recordings */
	tt_buf_printf(&sql,
		      "SELECT rec, start_ns FROM (SELECT host, rec, start_ns, ver FROM"
		      " tt_recordings%s FINAL WHERE 1",
		      a);
	if ((err = fleet_query(ch, &sql, hostnames, ")", &recs)))
		goto out;
	for (pass = 0; pass < 2; pass++) {
		tt_buf_reset(&sql);
		tt_buf_reset(&out);
		if (pass == 0)
			tt_buf_printf(&sql,
				      "SELECT host, rec, ts, seq, conn_id, type, old_state, new_state,"
				      " received, close_reason, close_errno, bytes_in, bytes_out,"
				      " ring_drops, socks_full, peers_full, known, " IDENTITY_COLS
				      " FROM tt_events%s FINAL WHERE ts >= %" PRIu64
				      " AND ts <= %" PRIu64,
				      a, from_ns, to_ns);
		else
			tt_buf_printf(&sql,
				      "SELECT host, rec, ts, row, conn_id, retrans, retrans_total, 1, " IDENTITY_COLS
				      " FROM tt_ticks%s FINAL WHERE retrans > 0 AND"
				      " ts >= %" PRIu64 " AND ts <= %" PRIu64,
				      a, from_ns, to_ns);
		if ((err = fleet_query(ch, &sql, hostnames, "", &out)))
			goto out;
		for (line = out.len ? out.p : NULL; line && *line; line = next) {
			char *f[40];
			struct fev *e;
			int nf;

			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			nf = tsv_fields(line, f, 40);
			if (nf < (pass ? 21 : 30)) {
				err = ch_fail(ch, -EPROTO,
					      "%s: unexpected answer to the fleet query", ch->dest);
				goto out;
			}
			if (n == cap) {
				struct fev *nv =
					realloc(v, (cap = cap ? cap * 2 : 256) * sizeof(*v));

				if (!nv) {
					err = ch_fail(ch, -ENOMEM, "out of memory");
					goto out;
				}
				v = nv;
			}
			e = &v[n++];
			memset(e, 0, sizeof(*e));
			snprintf(e->host, sizeof(e->host), "%s", f[0]);
			e->rec = strtoull(f[1], NULL, 10);
			e->e.ts = strtoull(f[2], NULL, 10);
			e->ord = (uint32_t)strtoul(f[3], NULL, 10);
			if (pass) {
				e->e.retransmit = 1;
				e->e.d_retrans = (uint32_t)strtoul(f[5], NULL, 10);
				e->e.tot_retrans = (uint32_t)strtoul(f[6], NULL, 10);
				e->e.known = conn_from(f + 7, &e->e.conn, strtoull(f[4], NULL, 10));
				continue;
			}
			uint64_t id = strtoull(f[4], NULL, 10);
			struct tt_event *ev = &e->e.ev;

			if (!strcmp(f[5], "state")) {
				ev->type = TT_EV_STATE;
				ev->state.id = id;
				ev->state.old_state = (uint8_t)atoi(f[6]);
				ev->state.new_state = (uint8_t)atoi(f[7]);
				ev->state.err = (uint16_t)atoi(f[10]);
			} else if (!strcmp(f[5], "reset")) {
				ev->type = TT_EV_RESET;
				ev->reset.id = id;
				ev->reset.received = (uint8_t)atoi(f[8]);
			} else if (!strcmp(f[5], "close")) {
				ev->type = TT_EV_CLOSE;
				ev->close.id = id;
				ev->close.reason = (uint8_t)atoi(f[9]);
				ev->close.err = (uint16_t)atoi(f[10]);
				ev->close.c.bytes_in = strtoull(f[11], NULL, 10);
				ev->close.c.bytes_out = strtoull(f[12], NULL, 10);
			} else {
				ev->type = TT_EV_LOSS;
				ev->loss.ring_drops = strtoull(f[13], NULL, 10);
				ev->loss.socks_full = strtoull(f[14], NULL, 10);
				ev->loss.peers_full = strtoull(f[15], NULL, 10);
			}
			e->e.known = conn_from(f + 16, &e->e.conn, id);
		}
	}
	/* each recording's start, for the order */
	for (line = recs.len ? recs.p : NULL; line && *line; line = next) {
		char *tab;
		uint64_t rec, start;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!(tab = strchr(line, '\t')))
			continue;
		rec = strtoull(line, NULL, 10);
		start = strtoull(tab + 1, NULL, 10);
		for (i = 0; i < n; i++)
			if (v[i].rec == rec)
				v[i].rec_start = start;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_fev);
	for (i = 0; i < n && !err; i++) {
		v[i].e.host = v[i].host;
		err = fn(ctx, &v[i].e);
	}
out:
	free(v);
	tt_buf_free(&sql);
	tt_buf_free(&out);
	tt_buf_free(&recs);
	return err;
}

/* ---- timeline's tables ------------------------------------------------- */

/*
 * Rebuilding a recording's tables from tt_ticks, which holds only the active
 * rows: a connection is in its recording's table from the tick it was first
 * seen in (an active row: new) to the tick it closed in (an active row:
 * closed), or to the recording's end; in between, when idle, it is its last
 * active row with the deltas and flags cleared. The ticks in which no
 * connection was active have no row at all: each active row names the tick
 * before its own (tick_start), the recording's end is its last tick, and the
 * ticks between two known ones are placed evenly, as the recorder ticks
 * (every second). The table is the same in all of them, so one per bucket is
 * enough to give the bucket its count.
 */
struct tl_member {
	struct tt_row row;
	int active; /* has a row of tt_ticks in the tick being built */
};

struct tl_rebuild {
	struct tt_ch *ch;
	const struct tt_buckets *grid;
	uint64_t from_ns, to_ns;
	int (*fn)(void *ctx, const char *host, const struct tt_table *t);
	void *ctx;
	struct tl_member *m; /* the recording's table, as of its last tick */
	size_t n, cap;
	struct tt_row *rows; /* the table handed to fn */
	size_t rows_cap;
	struct tt_idmap *ids; /* conn_id -> index in m */
	size_t idle_k; /* the bucket of the last idle table since the last active tick */
};

/* Columns of the member and row queries: host, rec, ts, conn_id, then conn_from's
 * fourteen, then the state, flags and deltas, then tick_start. */
#define TL_COLS 28
/* Rows per page of a recording's window (about 150 bytes each), and the most a
 * page grows to when one tick fills it. */
#define TL_PAGE	    ((size_t)100000)
#define TL_PAGE_MAX ((size_t)400000)

static int tl_parse(char *line, char **f, struct tt_row *w)
{
	if (tsv_fields(line, f, TL_COLS) < TL_COLS)
		return -EPROTO;
	memset(w, 0, sizeof(*w));
	conn_from(f + 4, &w->conn, strtoull(f[3], NULL, 10));
	w->open_ns = w->conn.open_ns;
	w->tot.state = (uint8_t)atoi(f[18]);
	w->flags = (atoi(f[19]) ? TT_ROW_NEW : 0) | (atoi(f[20]) ? TT_ROW_CLOSED : 0);
	w->d_bytes_in = strtoull(f[21], NULL, 10);
	w->d_bytes_out = strtoull(f[22], NULL, 10);
	w->d_packets_in = strtoull(f[23], NULL, 10);
	w->d_packets_out = strtoull(f[24], NULL, 10);
	w->d_retrans = (uint32_t)strtoul(f[25], NULL, 10);
	w->d_resets = (uint32_t)strtoul(f[26], NULL, 10);
	return 0;
}

/* The member for w's connection (a new one if it has none yet); w replaces its row. */
static int tl_put(struct tl_rebuild *b, const struct tt_row *w, int active)
{
	uint32_t k;

	if (!tt_idmap_get(b->ids, w->conn.id, &k) || b->m[k].row.conn.open_ns != w->conn.open_ns) {
		if (b->n == b->cap) {
			size_t cap = b->cap ? b->cap * 2 : 256;
			struct tl_member *m;

			if (cap > UINT32_MAX || !(m = realloc(b->m, cap * sizeof(*m))))
				return -ENOMEM;
			b->m = m;
			b->cap = cap;
		}
		k = (uint32_t)b->n++;
		if (tt_idmap_put(b->ids, w->conn.id, k)) {
			b->n--;
			return -ENOMEM;
		}
	}
	b->m[k].row = *w;
	b->m[k].active = active;
	return 0;
}

/* The table of every member at ts_ns to fn; then closed members leave, the rest go idle. */
static int tl_emit(struct tl_rebuild *b, const char *host, uint64_t ts_ns)
{
	struct tt_table t;
	size_t i;
	int err;

	if (b->n > b->rows_cap) {
		struct tt_row *r = realloc(b->rows, b->n * sizeof(*r));

		if (!r)
			return -ENOMEM;
		b->rows = r;
		b->rows_cap = b->n;
	}
	memset(&t, 0, sizeof(t));
	t.ts_ns = ts_ns;
	t.n = b->n;
	t.rows = b->rows;
	for (i = 0; i < b->n; i++) {
		struct tt_row *w = &b->rows[i];

		*w = b->m[i].row;
		if (!b->m[i].active) {
			w->d_bytes_in = w->d_bytes_out = w->d_packets_in = w->d_packets_out = 0;
			w->d_retrans = w->d_resets = 0;
			w->flags = 0;
		}
		t.bytes_in += w->d_bytes_in;
		t.bytes_out += w->d_bytes_out;
		t.opened += !!(w->flags & TT_ROW_NEW);
		t.closed += !!(w->flags & TT_ROW_CLOSED);
	}
	if ((err = b->fn(b->ctx, host, &t)))
		return err;
	for (i = b->n; i-- > 0;) {
		struct tl_member *m = &b->m[i];

		if (!m->active)
			continue;
		m->active = 0;
		if (!(m->row.flags & TT_ROW_CLOSED))
			continue;
		tt_idmap_del(b->ids, m->row.conn.id);
		if (i != b->n - 1) {
			*m = b->m[b->n - 1];
			if (tt_idmap_put(b->ids, m->row.conn.id, (uint32_t)i))
				return -ENOMEM; /* cannot happen: the id was there */
		}
		b->n--;
	}
	return 0;
}

/* An idle tick at ts_ns: the members' table, once per bucket, if it is in the window. */
static int tl_idle(struct tl_rebuild *b, const char *host, uint64_t ts_ns)
{
	size_t k;

	if (!b->n || ts_ns <= b->from_ns || ts_ns > b->to_ns)
		return 0;
	k = tt_bucket_of(b->grid, ts_ns);
	if (k == SIZE_MAX || k == b->idle_k)
		return 0;
	b->idle_k = k;
	return tl_emit(b, host, ts_ns);
}

/*
 * The idle ticks after the known tick p up to the known tick q (q too if
 * with_q), spaced evenly at about len_ns. Only those in the window count.
 */
static int tl_gap(struct tl_rebuild *b, const char *host, uint64_t p, uint64_t q, uint64_t len_ns,
		  int with_q)
{
	uint64_t m, i;
	int err;

	if (!b->n || q <= p || q <= b->from_ns || p >= b->to_ns)
		return 0;
	len_ns = len_ns ? len_ns : 1000000000ull;
	m = (q - p + len_ns / 2) / len_ns;
	for (i = 1; i < m; i++) {
		uint64_t t = p + (uint64_t)((double)(q - p) * (double)i / (double)m);

		if (t > b->to_ns)
			break;
		if ((err = tl_idle(b, host, t)))
			return err;
	}
	return with_q ? tl_idle(b, host, q) : 0;
}

/* The next line of a TabSeparated answer (in place), NULL at its end. */
static char *tl_line(char **cur)
{
	char *l = *cur, *e;

	if (!l || !*l)
		return NULL;
	e = strchr(l, '\n');
	if (e)
		*e++ = '\0';
	*cur = e;
	return l;
}

/* The third column (ts) of a line of the row queries, before it is cut up. */
static uint64_t tl_ts(const char *l)
{
	const char *t = strchr(l, '\t');

	t = t ? strchr(t + 1, '\t') : NULL;
	return t ? strtoull(t + 1, NULL, 10) : 0;
}

/* Whether the line l (host, rec first, as sent: escaped) is of the recording of
 * host (as sent too, n bytes) and rec. */
static int tl_of(const char *l, const char *host, size_t n, uint64_t rec)
{
	return l && !strncmp(l, host, n) && l[n] == '\t' && strtoull(l + n + 1, NULL, 10) == rec;
}

int tt_fleet_tables(struct tt_ch *ch, const char *hostnames, uint64_t from_ns, uint64_t to_ns,
		    const struct tt_buckets *grid,
		    int (*fn)(void *ctx, const char *host, const struct tt_table *t), void *ctx)
{
	struct tt_buf sql = { 0 }, recs = { 0 }, carry = { 0 }, anchors = { 0 }, rows = { 0 };
	struct tl_rebuild b = { .ch = ch,
				.grid = grid,
				.from_ns = from_ns,
				.to_ns = to_ns,
				.fn = fn,
				.ctx = ctx };
	const char *a = all(ch);
	char *rcur, *ccur, *acur, *rl, *cl, *al, *f[TL_COLS];
	int err;

	if (!a)
		return -ECONNREFUSED;
	/* the recordings, in the order of the rows below */
	tt_buf_printf(&sql,
		      "SELECT host, rec, start_ns, end_ns FROM (SELECT host, rec, start_ns,"
		      " end_ns, ver FROM tt_recordings%s FINAL WHERE 1",
		      a);
	if ((err = fleet_query(ch, &sql, hostnames, ") ORDER BY host, rec", &recs)))
		goto out;
	/* the connections in the tables at the window's start (seen, not closed, by
	 * then), each as of its last active tick */
	tt_buf_reset(&sql);
	tt_buf_printf(&sql,
		      "SELECT host, rec, max(ts), conn_id, 1, argMax(open_mono, ts),"
		      " argMax(family, ts), argMax(proto, ts), argMax(laddr, ts),"
		      " argMax(lport, ts), argMax(raddr, ts), argMax(rport, ts), argMax(pid, ts),"
		      " argMax(tgid, ts), argMax(comm, ts), argMax(cgroup, ts), argMax(netns, ts),"
		      " argMax(conn_flags, ts), argMax(state, ts), 0, 0, 0, 0, 0, 0, 0, 0,"
		      " argMax(tick_start, ts)"
		      " FROM (SELECT * FROM tt_ticks%s FINAL WHERE ts <= %" PRIu64,
		      a, from_ns);
	if ((err = fleet_query(ch, &sql, hostnames,
			       ") GROUP BY host, rec, conn_id, open_mono HAVING max(closed) = 0"
			       " ORDER BY host, rec",
			       &carry)))
		goto out;
	/* each recording's last tick by then (a row sent twice changes no maximum) */
	tt_buf_reset(&sql);
	tt_buf_printf(&sql,
		      "SELECT host, rec, max(ts), argMax(tick_start, ts) FROM (SELECT host, rec, ts,"
		      " tick_start FROM tt_ticks%s WHERE ts <= %" PRIu64,
		      a, from_ns);
	if ((err = fleet_query(ch, &sql, hostnames, ") GROUP BY host, rec ORDER BY host, rec",
			       &anchors)))
		goto out;
	rcur = recs.len ? recs.p : NULL;
	ccur = carry.len ? carry.p : NULL;
	acur = anchors.len ? anchors.p : NULL;
	cl = tl_line(&ccur);
	al = tl_line(&acur);
	while ((rl = tl_line(&rcur))) {
		char *rf[4], raw[272];
		uint64_t rec, end, known = 0, len = 0, tick = 0, cursor;
		size_t hn = strcspn(rl, "\t"), limit;
		struct tt_row w;

		if (hn >= sizeof(raw)) {
			err = -EPROTO;
			goto fail;
		}
		memcpy(raw, rl, hn);
		raw[hn] = '\0';
		if (tsv_fields(rl, rf, 4) < 4) {
			err = -EPROTO;
			goto fail;
		}
		rec = strtoull(rf[1], NULL, 10);
		end = strtoull(rf[3], NULL, 10);
		b.n = 0;
		b.idle_k = SIZE_MAX;
		tt_idmap_free(b.ids);
		if (!(b.ids = tt_idmap_new())) {
			err = -ENOMEM;
			goto fail;
		}
		/* the members at the window's start, and the last tick before it */
		for (; tl_of(cl, raw, hn, rec); cl = tl_line(&ccur))
			if ((err = tl_parse(cl, f, &w)) || (err = tl_put(&b, &w, 0)))
				goto fail;
		for (; tl_of(al, raw, hn, rec); al = tl_line(&acur)) {
			if (tsv_fields(al, f, 4) < 4) {
				err = -EPROTO;
				goto fail;
			}
			known = strtoull(f[2], NULL, 10);
			len = known - strtoull(f[3], NULL, 10);
		}
		/*
		 * The window's active rows, tick by tick, a page at a time (the whole
		 * window may not fit in memory): a full page stops before its last
		 * tick, which may go on in the next one.
		 */
		for (cursor = from_ns, limit = TL_PAGE;;) {
			size_t nl = 0;
			uint64_t first = 0, last = 0;
			char *wcur, *wl;
			int full;

			tt_buf_reset(&sql);
			tt_buf_reset(&rows);
			tt_buf_printf(&sql,
				      "SELECT host, rec, ts, conn_id, 1, " IDENTITY_COLS
				      ", state, new,"
				      " closed, bytes_in, bytes_out, packets_in, packets_out, retrans,"
				      " resets, tick_start FROM (SELECT * FROM tt_ticks%s FINAL"
				      " WHERE host = '%s' AND rec = %" PRIu64 " AND ts > %" PRIu64
				      " AND ts <= %" PRIu64 ") ORDER BY ts LIMIT %zu",
				      a, raw, rec, cursor, to_ns, limit);
			if (sql.err) {
				err = -ENOMEM;
				goto fail;
			}
			if ((err = tt_ch_exec(ch, sql.p, &rows)))
				goto out;
			for (wcur = rows.len ? rows.p : NULL; wcur && *wcur; nl++) {
				last = tl_ts(wcur);
				first = nl ? first : last;
				wcur = strchr(wcur, '\n');
				wcur = wcur ? wcur + 1 : NULL;
			}
			full = nl >= limit;
			if (full && first == last) {
				/* one tick fills the page: a larger one */
				if (limit >= TL_PAGE_MAX) {
					err = ch_fail(ch, -E2BIG,
						      "%s: a tick of more than %zu connections",
						      ch->dest, limit);
					goto out;
				}
				limit *= 4;
				continue;
			}
			wcur = rows.len ? rows.p : NULL;
			while ((wl = tl_line(&wcur))) {
				uint64_t ts = tl_ts(wl), start;

				if (full && ts == last)
					break;
				if ((err = tl_parse(wl, f, &w)))
					goto fail;
				if (ts != tick) {
					/* the last tick's table; the idle ticks up to this one's
					 * start */
					if (tick && (err = tl_emit(&b, rf[0], tick)))
						goto fail;
					start = strtoull(f[27], NULL, 10);
					if (known &&
					    (err = tl_gap(&b, rf[0], known, start, len, 1)))
						goto fail;
					b.idle_k = SIZE_MAX;
					known = tick = ts;
					len = ts - start;
				}
				if ((err = tl_put(&b, &w, 1)))
					goto fail;
			}
			if (!full)
				break;
			cursor = tick;
		}
		if (tick && (err = tl_emit(&b, rf[0], tick)))
			goto fail;
		/* the idle ticks to the recording's end, its last tick */
		if (known && (err = tl_gap(&b, rf[0], known, end, len, 1)))
			goto fail;
	}
	err = 0;
	goto out;
fail:
	if (err == -ENOMEM)
		err = ch_fail(ch, -ENOMEM, "out of memory");
	else if (err == -EPROTO)
		err = ch_fail(ch, -EPROTO, "%s: unexpected answer to the fleet query", ch->dest);
out:
	tt_idmap_free(b.ids);
	free(b.m);
	free(b.rows);
	tt_buf_free(&sql);
	tt_buf_free(&recs);
	tt_buf_free(&carry);
	tt_buf_free(&anchors);
	tt_buf_free(&rows);
	return err;
}
