/*
 * record_opts.c: see record_opts.h.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "indexer.h"
#include "record_opts.h"
#include "suggest.h"
#include "timeparse.h"

enum {
	OPT_PID = 0x100,
	OPT_COMM,
	OPT_PORT,
	OPT_PROTO,
	OPT_UDP_IDLE,
	OPT_MAX_SOCKETS,
	OPT_MAX_PEERS,
	OPT_UTC,
	OPT_EVENTS,
	OPT_NO_STORE,
	OPT_FLUSH,
	OPT_KEYFRAME,
	OPT_SEG_DURATION,
	OPT_SEG_SIZE,
	OPT_RETAIN_AGE,
	OPT_RETAIN_SIZE,
	OPT_RING_SIZE,
	OPT_BUCKET,
	OPT_GROUP,
	OPT_USER,
	OPT_METRICS,
	OPT_SHIP,
};

static const struct option long_opts[] = {
	{ "interval", required_argument, NULL, 'i' },
	{ "duration", required_argument, NULL, 'd' },
	{ "live", no_argument, NULL, 'l' },
	{ "format", required_argument, NULL, 'f' },
	{ "sort", required_argument, NULL, 's' },
	{ "top", required_argument, NULL, 'n' },
	{ "pid", required_argument, NULL, OPT_PID },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "proto", required_argument, NULL, OPT_PROTO },
	{ "udp-idle", required_argument, NULL, OPT_UDP_IDLE },
	{ "max-sockets", required_argument, NULL, OPT_MAX_SOCKETS },
	{ "max-peers", required_argument, NULL, OPT_MAX_PEERS },
	{ "utc", no_argument, NULL, OPT_UTC },
	{ "events", no_argument, NULL, OPT_EVENTS },
	{ "output", required_argument, NULL, 'o' },
	{ "no-store", no_argument, NULL, OPT_NO_STORE },
	{ "flush", required_argument, NULL, OPT_FLUSH },
	{ "keyframe", required_argument, NULL, OPT_KEYFRAME },
	{ "segment-duration", required_argument, NULL, OPT_SEG_DURATION },
	{ "segment-size", required_argument, NULL, OPT_SEG_SIZE },
	{ "retain-age", required_argument, NULL, OPT_RETAIN_AGE },
	{ "retain-size", required_argument, NULL, OPT_RETAIN_SIZE },
	{ "ring-size", required_argument, NULL, OPT_RING_SIZE },
	{ "bucket", required_argument, NULL, OPT_BUCKET },
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "user", required_argument, NULL, OPT_USER },
	{ "metrics-file", required_argument, NULL, OPT_METRICS },
	{ "ship", required_argument, NULL, OPT_SHIP },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

const char *rec_opts_usage(void)
{
	return "Usage: tcptop-record [OPTIONS]\n"
	       "Record every TCP and UDP connection on this host with eBPF.\n"
	       "\n"
	       "Output:\n"
	       "  -l, --live             top-like screen with keys, ? lists them (default when\n"
	       "                         stdout is a terminal)\n"
	       "  -f, --format FMT       text (a table per tick), json (one object per\n"
	       "                         connection per tick, one per line), or none (record\n"
	       "                         only, e.g. as a service: the cheapest)\n"
	       "  -q, --quiet            the same as --format none\n"
	       "  -s, --sort KEY         rate (default), bytes, packets, rtt, retrans, duration\n"
	       "  -n, --top N            show at most N rows (live and text)\n"
	       "      --events           with --format json: also a line per state change,\n"
	       "                         reset and close, with its time (\"event\" key)\n"
	       "      --utc              print times in UTC\n"
	       "Timing:\n"
	       "  -i, --interval DUR     tick length (default 1s); DUR is 500ms, 2s, 1m ...\n"
	       "  -d, --duration DUR     stop after DUR (default: until SIGINT/SIGTERM)\n"
	       "      --udp-idle DUR     close a UDP flow idle this long (default 5s)\n"
	       "Store (what tcptop-analyze reads):\n"
	       "  -o, --output DIR       record into the store DIR (default ./tcptop-data);\n"
	       "                         an existing store gets a new recording appended\n"
	       "      --no-store         show or stream only, write nothing\n"
	       "      --flush DUR        block length: at most this much is lost on a crash (5s)\n"
	       "      --keyframe DUR     restate every connection at the start of a block this\n"
	       "                         often, a multiple of --flush (60s); a query reads\n"
	       "                         from the last keyframe before its window: shorter\n"
	       "                         reads less, longer stores less\n"
	       "      --segment-duration DUR  roll segment files after DUR (1h)\n"
	       "      --segment-size SIZE     or after SIZE bytes (256M)\n"
	       "      --retain-age DUR   delete segments older than DUR while recording\n"
	       "                         (and the index rows of their time)\n"
	       "      --retain-size SIZE keep the whole directory (segments, index.db and\n"
	       "                         its WAL) under SIZE, deleting the oldest segments;\n"
	       "                         caps --segment-size at SIZE/4; warns once if SIZE\n"
	       "                         cannot hold the index and the current segment\n"
	       "                         (default 1G, 0 = no limit)\n"
	       "      --bucket DUR       per-connection rollups in the index (5m; divides 1h)\n"
	       "      --group NAME       let group NAME read the store (0750/0640); it is\n"
	       "                         private (0700/0600) otherwise\n"
	       "      --user NAME        once attached, run as user NAME with no capability\n"
	       "                         but those the per-tick work needs (see the man page)\n"
	       "      --metrics-file PATH  the recorder's health in OpenMetrics, replaced each\n"
	       "                         tick (node_exporter's textfile collector)\n"
	       "      --ship URL         send the store to ClickHouse as blocks are sealed\n"
	       "                         (docs/FLEET.md); the store is the buffer while the\n"
	       "                         server is down\n"
	       "Filters (combine; they apply to what is shown, the store gets everything):\n"
	       "      --pid PID          process or thread id\n"
	       "      --comm GLOB        process name, shell glob (e.g. 'nginx*')\n"
	       "      --port PORT        local or remote port\n"
	       "      --proto tcp|udp\n"
	       "Limits:\n"
	       "      --max-sockets N    in-kernel socket table size (default 65536)\n"
	       "      --max-peers N      in-kernel UDP peer table size (default 16384)\n"
	       "      --ring-size SIZE   lifecycle ring buffer, a power of two from 4K (default 32M)\n"
	       "  -v, --verbose          libbpf and feature messages on stderr\n"
	       "  -h, --help             this text\n"
	       "  -V, --version          version\n"
	       "\n"
	       "Needs root or CAP_BPF+CAP_PERFMON (exit 77 without). Exit 0 on a clean stop,\n"
	       "1 on a runtime error, 2 on bad usage.\n";
}

static const char *opt_name(int ch)
{
	const struct option *o;

	for (o = long_opts; o->name; o++)
		if (o->val == ch)
			return o->name;
	return "?";
}

/* "unknown option", with the long option it was most likely meant to be */
static void unknown_option(const char *typed, char *msg, size_t msg_len)
{
	const char *names[sizeof(long_opts) / sizeof(long_opts[0])];
	const char *sug = NULL;
	char name[64];
	size_t n = 0, len = strcspn(typed, "=");
	const struct option *o;

	if (typed[0] == '-' && typed[1] == '-' && len < sizeof(name)) {
		for (o = long_opts; o->name; o++)
			names[n++] = o->name;
		memcpy(name, typed + 2, len - 2);
		name[len - 2] = '\0';
		sug = tt_suggest(name, names, n);
	}
	if (sug)
		snprintf(msg, msg_len, "unknown option '%s' (did you mean --%s?)", typed, sug);
	else
		snprintf(msg, msg_len, "unknown option '%s' (see --help)", typed);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int rec_opts_parse(int argc, char **argv, struct rec_opts *o, char *msg, size_t msg_len)
{
	unsigned long v;
	int ch, k, no_store = 0;

	memset(o, 0, sizeof(*o));
	o->interval_ns = 1000000000ull;
	o->udp_idle_ns = 5000000000ull;
	o->socks_max = 65536;
	o->peers_max = 16384;
	o->ring_bytes = 32u << 20;
	o->sort = TT_SORT_RATE;
	o->flush_ns = 5000000000ull;
	o->segment_ns = 3600000000000ull;
	o->segment_bytes = 256ull << 20;
	o->bucket_ns = (uint64_t)TT_IX_RES_MINOR * 1000000000ull;
	o->retain_bytes = REC_DEFAULT_RETAIN_BYTES;
	tt_filter_init(&o->filter);

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":i:d:lf:s:n:o:qvhV", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'i':
			if (tt_parse_duration(optarg, &o->interval_ns) ||
			    o->interval_ns < 10000000ull) {
				snprintf(msg, msg_len,
					 "--interval: '%s' is not a duration of at least 10ms",
					 optarg);
				return 2;
			}
			break;
		case 'd':
			if (tt_parse_duration(optarg, &o->duration_ns) || !o->duration_ns) {
				snprintf(msg, msg_len,
					 "--duration: '%s' is not a positive duration (e.g. 30s, 5m)",
					 optarg);
				return 2;
			}
			break;
		case OPT_UDP_IDLE:
			if (tt_parse_duration(optarg, &o->udp_idle_ns) || !o->udp_idle_ns) {
				snprintf(msg, msg_len,
					 "--udp-idle: '%s' is not a positive duration", optarg);
				return 2;
			}
			break;
		case 'l':
			o->output = REC_OUT_LIVE;
			break;
		case 'f':
			if (!strcmp(optarg, "json"))
				o->output = REC_OUT_JSON;
			else if (!strcmp(optarg, "text"))
				o->output = REC_OUT_TEXT;
			else if (!strcmp(optarg, "none"))
				o->output = REC_OUT_NONE;
			else {
				snprintf(msg, msg_len, "--format: '%s' is not text, json or none",
					 optarg);
				return 2;
			}
			break;
		case 's':
			k = tt_sort_key_parse(optarg);
			if (k < 0) {
				snprintf(msg, msg_len,
					 "--sort: '%s' is not one of rate, bytes, packets, rtt, retrans, duration",
					 optarg);
				return 2;
			}
			o->sort = (enum tt_sort_key)k;
			break;
		case 'n':
			if (parse_uint(optarg, 1000000, &v) || !v) {
				snprintf(msg, msg_len, "--top: '%s' is not a positive number",
					 optarg);
				return 2;
			}
			o->top = (unsigned)v;
			break;
		case OPT_PID:
			if (parse_uint(optarg, 0xffffffffu, &v) || !v) {
				snprintf(msg, msg_len, "--pid: '%s' is not a process id", optarg);
				return 2;
			}
			o->filter.pid = (uint32_t)v;
			break;
		case OPT_COMM:
			if (strlen(optarg) >= sizeof(o->filter.comm) || !*optarg) {
				snprintf(msg, msg_len,
					 "--comm: pattern empty or longer than %zu characters",
					 sizeof(o->filter.comm) - 1);
				return 2;
			}
			memcpy(o->filter.comm, optarg, strlen(optarg) + 1);
			break;
		case OPT_PORT:
			if (parse_uint(optarg, 65535, &v)) {
				snprintf(msg, msg_len, "--port: '%s' is not a port (0-65535)",
					 optarg);
				return 2;
			}
			o->filter.port = (int)v;
			break;
		case OPT_PROTO:
			if (tt_filter_parse_proto(optarg, &o->filter.proto)) {
				snprintf(msg, msg_len, "--proto: '%s' is not tcp or udp", optarg);
				return 2;
			}
			break;
		case OPT_MAX_SOCKETS:
		case OPT_MAX_PEERS:
			if (parse_uint(optarg, 1u << 24, &v) || v < 64) {
				snprintf(msg, msg_len, "%s: '%s' is not a number from 64 to %u",
					 ch == OPT_MAX_SOCKETS ? "--max-sockets" : "--max-peers",
					 optarg, 1u << 24);
				return 2;
			}
			if (ch == OPT_MAX_SOCKETS)
				o->socks_max = (uint32_t)v;
			else
				o->peers_max = (uint32_t)v;
			break;
		case OPT_UTC:
			o->utc = 1;
			break;
		case OPT_EVENTS:
			o->events = 1;
			break;
		case 'o':
			if (!*optarg) {
				snprintf(msg, msg_len, "--output: empty directory name");
				return 2;
			}
			o->store_dir = optarg;
			break;
		case OPT_NO_STORE:
			no_store = 1;
			break;
		case OPT_GROUP:
			if (!*optarg) {
				snprintf(msg, msg_len, "--group: empty group name");
				return 2;
			}
			o->group = optarg;
			break;
		case OPT_KEYFRAME:
			if (tt_parse_duration(optarg, &o->keyframe_ns) || !o->keyframe_ns) {
				snprintf(msg, msg_len,
					 "--keyframe: '%s' is not a positive duration (e.g. 60s)",
					 optarg);
				return 2;
			}
			break;
		case OPT_METRICS:
			if (!*optarg) {
				snprintf(msg, msg_len, "--metrics-file: empty path");
				return 2;
			}
			o->metrics_file = optarg;
			break;
		case OPT_SHIP:
			if (strncmp(optarg, "http://", 7) && strncmp(optarg, "https://", 8)) {
				snprintf(msg, msg_len,
					 "--ship: '%s' is not an http:// or https:// URL", optarg);
				return 2;
			}
			o->ship_url = optarg;
			break;
		case OPT_USER:
			if (!*optarg) {
				snprintf(msg, msg_len, "--user: empty user name");
				return 2;
			}
			o->user = optarg;
			break;
		case OPT_FLUSH:
		case OPT_SEG_DURATION:
		case OPT_RETAIN_AGE:
		case OPT_BUCKET: {
			uint64_t *dst = ch == OPT_FLUSH		 ? &o->flush_ns
					: ch == OPT_SEG_DURATION ? &o->segment_ns
					: ch == OPT_RETAIN_AGE	 ? &o->retain_ns
								 : &o->bucket_ns;

			if (tt_parse_duration(optarg, dst) || *dst < 100000000ull) {
				snprintf(msg, msg_len,
					 "--%s: '%s' is not a duration of at least 100ms",
					 opt_name(ch), optarg);
				return 2;
			}
			if (ch == OPT_BUCKET && !tt_indexer_minor_ok(*dst)) {
				snprintf(msg, msg_len,
					 "--bucket: '%s' is not a whole number of seconds "
					 "that divides an hour (1s, 10s, 1m, 5m ...)",
					 optarg);
				return 2;
			}
			break;
		}
		case OPT_RING_SIZE: {
			uint64_t ring;

			/* the kernel wants a power of two and a whole number of pages */
			if (tt_parse_size(optarg, &ring) || ring < 4096 || ring > (1ull << 30) ||
			    (ring & (ring - 1))) {
				snprintf(msg, msg_len,
					 "--ring-size: '%s' is not a power of two from 4K to 1G (e.g. 64K, 4M)",
					 optarg);
				return 2;
			}
			o->ring_bytes = (uint32_t)ring;
			break;
		}
		case OPT_RETAIN_SIZE:
			if (!strcmp(optarg, "0")) { /* the one way to say "no limit" */
				o->retain_bytes = 0;
				break;
			}
			/* fall through */
		case OPT_SEG_SIZE: {
			uint64_t *dst = ch == OPT_SEG_SIZE ? &o->segment_bytes : &o->retain_bytes;

			if (tt_parse_size(optarg, dst) || *dst < 4096) {
				snprintf(msg, msg_len,
					 "--%s: '%s' is not a size of at least 4K (e.g. 64M, 2G)",
					 opt_name(ch), optarg);
				return 2;
			}
			break;
		}
		case 'v':
			o->verbose++;
			break;
		case 'q':
			o->output = REC_OUT_NONE;
			break;
		case 'h':
			o->help = 1;
			return 0;
		case 'V':
			o->version = 1;
			return 0;
		case ':':
			snprintf(msg, msg_len, "option '%s' needs a value", argv[optind - 1]);
			return 2;
		default:
			unknown_option(argv[optind - 1], msg, msg_len);
			return 2;
		}
	}
	if (o->output == REC_OUT_NONE && no_store) {
		snprintf(msg, msg_len,
			 "--format none with --no-store would record nothing and show nothing");
		return 2;
	}
	if (no_store && o->store_dir) {
		snprintf(msg, msg_len, "--no-store and --output exclude each other");
		return 2;
	}
	if (no_store && o->ship_url) {
		snprintf(msg, msg_len, "--ship sends the store: it needs one (not --no-store)");
		return 2;
	}
	if (!no_store && !o->store_dir)
		o->store_dir = "tcptop-data";
	if (o->events && o->output != REC_OUT_JSON) {
		snprintf(msg, msg_len, "--events needs --format json");
		return 2;
	}
	if (optind < argc) {
		snprintf(msg, msg_len, "unexpected argument '%s' (see --help)", argv[optind]);
		return 2;
	}
	if (!o->keyframe_ns) {
		/* 60 s, or the first multiple of --flush after it */
		o->keyframe_ns = (60000000000ull + o->flush_ns - 1) / o->flush_ns * o->flush_ns;
	} else if (o->keyframe_ns % o->flush_ns) {
		char kf[32], fl[32];

		tt_fmt_duration(kf, sizeof(kf), o->keyframe_ns);
		tt_fmt_duration(fl, sizeof(fl), o->flush_ns);
		snprintf(msg, msg_len, "--keyframe: %s is not a multiple of --flush (%s)", kf, fl);
		return 2;
	}
	return 0;
}
