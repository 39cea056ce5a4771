/*
 * Unit tests of lib's support modules: idmap against an array model, duration
 * parsing, human units, addresses, JSON escaping, filters.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "bucket.h"
#include "cgroup.h"
#include "escape.h"
#include "filter.h"
#include "format.h"
#include "grid.h"
#include "idmap.h"
#include "report.h"
#include "timeparse.h"

#define MODEL 5000

static void test_idmap_matches_array_model(void **state)
{
	static int64_t model[MODEL]; /* -1: absent */
	struct tt_idmap *m = tt_idmap_new();
	uint64_t s = 88172645463325252ull;
	size_t present = 0;
	int i;

	(void)state;
	for (i = 0; i < MODEL; i++)
		model[i] = -1;
	for (i = 0; i < 200000; i++) {
		uint64_t id, op;
		uint32_t v;

		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		id = s % MODEL; /* id 0 included: stored out of band */
		op = (s >> 20) % 3;
		if (op == 0) {
			assert_int_equal(tt_idmap_put(m, id, (uint32_t)i), 0);
			present += model[id] < 0;
			model[id] = i;
		} else if (op == 1) {
			assert_int_equal(tt_idmap_del(m, id), model[id] >= 0);
			present -= model[id] >= 0;
			model[id] = -1;
		} else {
			int found = tt_idmap_get(m, id, &v);

			assert_int_equal(found, model[id] >= 0);
			if (found)
				assert_int_equal(v, (uint32_t)model[id]);
		}
		assert_int_equal(tt_idmap_count(m), present);
	}
	for (i = 0; i < MODEL; i++) {
		uint32_t v;

		assert_int_equal(tt_idmap_get(m, (uint64_t)i, &v), model[i] >= 0);
	}
	tt_idmap_free(m);
	tt_idmap_free(NULL);
}

static void test_parse_duration(void **state)
{
	uint64_t ns;

	(void)state;
	assert_int_equal(tt_parse_duration("1", &ns), 0);
	assert_int_equal(ns, 1000000000ull);
	assert_int_equal(tt_parse_duration("250ms", &ns), 0);
	assert_int_equal(ns, 250000000ull);
	assert_int_equal(tt_parse_duration("1.5s", &ns), 0);
	assert_int_equal(ns, 1500000000ull);
	assert_int_equal(tt_parse_duration("2m", &ns), 0);
	assert_int_equal(ns, 120000000000ull);
	assert_int_equal(tt_parse_duration("1h", &ns), 0);
	assert_int_equal(ns, 3600000000000ull);
	assert_int_equal(tt_parse_duration("", &ns), -EINVAL);
	assert_int_equal(tt_parse_duration("-1", &ns), -EINVAL);
	assert_int_equal(tt_parse_duration("abc", &ns), -EINVAL);
	assert_int_equal(tt_parse_duration("5 s", &ns), -EINVAL);
	assert_int_equal(tt_parse_duration("5sec", &ns), -EINVAL);
	assert_int_equal(tt_parse_duration("1e30", &ns), -EINVAL);
	assert_int_equal(tt_parse_duration("nan", &ns), -EINVAL);
}

static void test_parse_size(void **state)
{
	uint64_t b;

	(void)state;
	assert_int_equal(tt_parse_size("4096", &b), 0);
	assert_int_equal(b, 4096);
	assert_int_equal(tt_parse_size("512K", &b), 0);
	assert_int_equal(b, 524288);
	assert_int_equal(tt_parse_size("256MiB", &b), 0);
	assert_int_equal(b, 268435456ull);
	assert_int_equal(tt_parse_size("1.5G", &b), 0);
	assert_int_equal(b, 1610612736ull);
	assert_int_equal(tt_parse_size("", &b), -EINVAL);
	assert_int_equal(tt_parse_size("-1M", &b), -EINVAL);
	assert_int_equal(tt_parse_size("12X", &b), -EINVAL);
	assert_int_equal(tt_parse_size("99999999T", &b), -EINVAL);
}

static void test_units(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(tt_fmt_bytes(b, sizeof(b), 0), "0 B");
	assert_string_equal(tt_fmt_bytes(b, sizeof(b), 1023), "1023 B");
	assert_string_equal(tt_fmt_bytes(b, sizeof(b), 1024), "1.00 KiB");
	assert_string_equal(tt_fmt_bytes(b, sizeof(b), 1258291), "1.20 MiB");
	assert_string_equal(tt_fmt_bytes(b, sizeof(b), 348160), "340 KiB");
	assert_string_equal(tt_fmt_rate(b, sizeof(b), 348160.0), "340 KiB/s");
	assert_string_equal(tt_fmt_duration(b, sizeof(b), 850000000ull), "850ms");
	assert_string_equal(tt_fmt_duration(b, sizeof(b), 245000000000ull), "4m05s");
}

static void test_addresses(void **state)
{
	uint8_t v4[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7 };
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	uint8_t zero[16] = { 0 };
	char b[64];

	(void)state;
	assert_string_equal(tt_fmt_addr(b, sizeof(b), v4, 4), "192.0.2.7");
	assert_string_equal(tt_fmt_addr(b, sizeof(b), v6, 6), "2001:db8::1");
	assert_string_equal(tt_fmt_addr(b, sizeof(b), zero, 6), "*");
}

static void test_json_escaping(void **state)
{
	struct tt_buf b = { 0 };

	(void)state;
	tt_json_str(&b, "a\"b\\c\n\x01\xff");
	/* the control bytes as the real characters, the lone 0xff as the documented \xff */
	assert_string_equal(b.p, "\"a\\\"b\\\\c\\u000a\\u0001\\\\xff\"");
	tt_buf_reset(&b);
	/* UTF-8 is carried as it is: one character, not one escape per byte */
	tt_json_str(&b, "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac");
	assert_string_equal(b.p, "\"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\"");
	tt_buf_reset(&b);
	/* C1 (U+009B, CSI) and DEL are controls; an overlong form and a surrogate are not text */
	tt_json_str(&b, "\xc2\x9b\x7f\xc0\xaf\xed\xa0\x80");
	assert_string_equal(b.p, "\"\\u009b\\u007f\\\\xc0\\\\xaf\\\\xed\\\\xa0\\\\x80\"");
	tt_buf_free(&b);
}

static void test_escape_text(void **state)
{
	static const char evil[] = "\x1b]0;PWNED\x07\x1b[2J";
	struct tt_buf b = { 0 };
	char out[32];

	(void)state;
	tt_esc_text(&b, evil, strlen(evil));
	assert_string_equal(b.p, "\\x1b]0;PWNED\\x07\\x1b[2J");
	tt_buf_reset(&b);
	tt_esc_text(&b, "caf\xc3\xa9\xff\xc2\x9b", 8);
	assert_string_equal(b.p, "caf\xc3\xa9\\xff\\xc2\\x9b");
	tt_buf_reset(&b);
	tt_esc_html(&b, "<a href='x'>&\x1b", 14);
	assert_string_equal(b.p, "&lt;a href=&#39;x&#39;&gt;&amp;\\x1b");
	tt_buf_reset(&b);
	tt_esc_csv(&b, "a,\"b\"\n", 6);
	assert_string_equal(b.p, "\"a,\"\"b\"\"\\x0a\"");
	/* a fixed buffer is cut before a character or an escape that does not fit */
	assert_string_equal(tt_esc_cstr(out, 6, "ab\x1b", 3), "ab");
	assert_string_equal(tt_esc_cstr(out, 7, "ab\x1b", 3), "ab\\x1b");
	assert_string_equal(tt_esc_cstr(out, 4, "a\xe6\x97\xa5", 4), "a");
	assert_string_equal(tt_esc_cstr(out, 5, "a\xe6\x97\xa5", 4), "a\xe6\x97\xa5");
	/* columns: CJK takes two, an escape four */
	assert_int_equal(tt_esc_width("\xe6\x97\xa5\xe6\x9c\xac", 6), 4);
	assert_int_equal(tt_esc_width("caf\xc3\xa9", 5), 4);
	assert_int_equal(tt_esc_width("a\xff", 2), 5);
	tt_buf_free(&b);
}

static void test_filter(void **state)
{
	struct tt_filter f;
	struct tt_ev_conn c;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.proto = IPPROTO_TCP;
	c.tgid = 100;
	c.pid = 101;
	c.lport = 5555;
	c.rport = 80;
	memcpy(c.comm, "nginx-worker", 13);
	tt_filter_init(&f);
	assert_true(tt_filter_match(&f, &c));
	f.port = 80;
	assert_true(tt_filter_match(&f, &c));
	f.port = 81;
	assert_false(tt_filter_match(&f, &c));
	tt_filter_init(&f);
	memcpy(f.comm, "nginx*", 7);
	f.pid = 101;
	assert_true(tt_filter_match(&f, &c));
	assert_int_equal(tt_filter_parse_proto("udp", &f.proto), 0);
	assert_false(tt_filter_match(&f, &c));
	assert_int_equal(tt_filter_parse_proto("sctp", &f.proto), -EINVAL);

	/* hosts and nets match either end; IPv4 masks apply to the v4 part */
	tt_filter_init(&f);
	c.laddr[10] = c.laddr[11] = 0xff;
	c.laddr[12] = 10, c.laddr[13] = 1, c.laddr[14] = 2, c.laddr[15] = 3;
	c.raddr[10] = c.raddr[11] = 0xff;
	c.raddr[12] = 192, c.raddr[13] = 0, c.raddr[14] = 2, c.raddr[15] = 9;
	assert_int_equal(tt_filter_parse_host("192.0.2.0/24", &f), 0);
	assert_true(tt_filter_match(&f, &c));
	assert_int_equal(tt_filter_parse_host("10.0.0.0/8", &f), 0);
	assert_true(tt_filter_match(&f, &c));
	assert_int_equal(tt_filter_parse_host("192.0.3.0/24", &f), 0);
	assert_false(tt_filter_match(&f, &c));
	assert_int_equal(tt_filter_parse_host("192.0.2.9", &f), 0);
	assert_true(tt_filter_match(&f, &c));
	assert_int_equal(tt_filter_parse_host("2001:db8::/32", &f), 0);
	assert_false(tt_filter_match(&f, &c));
	assert_int_equal(tt_filter_parse_host("10.0.0.0/33", &f), -EINVAL);
	assert_int_equal(tt_filter_parse_host("nope", &f), -EINVAL);
	assert_int_equal(tt_filter_parse_host("10.0.0.0/", &f), -EINVAL);
}

static void test_grid_three_printings(void **state)
{
	static const struct tt_col cols[] = {
		{ "comm", "COMM", TT_COL_STR },	    { "bytes_in", "RX", TT_COL_BYTES },
		{ "rate_in", "RX/s", TT_COL_RATE }, { "ts", "TIME", TT_COL_TIME },
		{ "rtt_us", "RTT", TT_COL_USEC },
	};
	struct tt_grid *g = tt_grid_new(cols, 5);
	struct tt_grid_opts o = { .fmt = TT_GRID_TABLE, .utc = 1, .header = 1 };
	struct tt_buf b = { 0 };

	(void)state;
	assert_int_equal(tt_grid_add_row(g), 0);
	tt_grid_str(g, 0, "nginx");
	tt_grid_uint(g, 1, 1258291);
	tt_grid_real(g, 2, 348160.0);
	tt_grid_uint(g, 3, 1764252300123456789ull);
	tt_grid_uint(g, 4, 1250);
	assert_int_equal(tt_grid_add_row(g), 0);
	tt_grid_str(g, 0, "a \"b\", c");
	tt_grid_uint(g, 1, 5);
	/* rate, time and rtt stay null */

	assert_int_equal(tt_grid_render(g, &o, &b), 0);
	assert_string_equal(b.p,
			    "COMM            RX       RX/s  TIME                            RTT\n"
			    "nginx     1.20 MiB  340 KiB/s  2025-11-27 14:05:00.123 UTC  1.25ms\n"
			    "a \"b\", c       5 B          -  -                                 -\n");
	tt_buf_reset(&b);
	o.fmt = TT_GRID_CSV;
	assert_int_equal(tt_grid_render(g, &o, &b), 0);
	assert_string_equal(b.p, "comm,bytes_in,rate_in,ts,rtt_us\n"
				 "nginx,1258291,348160.0,1764252300.123,1250\n"
				 "\"a \"\"b\"\", c\",5,,,\n");
	tt_buf_reset(&b);
	o.fmt = TT_GRID_JSON;
	assert_int_equal(tt_grid_render(g, &o, &b), 0);
	assert_string_equal(b.p, "{\"comm\":\"nginx\",\"bytes_in\":1258291,\"rate_in\":348160.0,"
				 "\"ts\":1764252300.123,\"rtt_us\":1250}\n"
				 "{\"comm\":\"a \\\"b\\\", c\",\"bytes_in\":5,\"rate_in\":null,"
				 "\"ts\":null,\"rtt_us\":null}\n");
	tt_buf_reset(&b);

	/* --fields: a choice and an order, in every format; an unknown key lists the valid ones */
	char why[256];

	assert_int_equal(tt_grid_fields(g, "bytes_in,comm", why, sizeof(why)), 0);
	assert_int_equal(tt_grid_render(g, &o, &b), 0);
	assert_string_equal(b.p, "{\"bytes_in\":1258291,\"comm\":\"nginx\"}\n"
				 "{\"bytes_in\":5,\"comm\":\"a \\\"b\\\", c\"}\n");
	tt_buf_reset(&b);
	o.fmt = TT_GRID_CSV;
	assert_int_equal(tt_grid_render(g, &o, &b), 0);
	assert_string_equal(b.p, "bytes_in,comm\n1258291,nginx\n5,\"a \"\"b\"\", c\"\n");
	assert_int_equal(tt_grid_fields(g, "comm,nope", why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "--fields: 'nope' is not a field here; the fields: "
				 "comm,bytes_in,rate_in,ts,rtt_us");
	tt_buf_free(&b);
	tt_grid_free(g);
}

/* Wide characters and escapes are padded by the columns they take, not their bytes. */
static void test_grid_aligns_text(void **state)
{
	static const struct tt_col cols[] = {
		{ "comm", "COMM", TT_COL_STR },
		{ "pid", "PID", TT_COL_UINT },
	};
	struct tt_grid *g = tt_grid_new(cols, 2);
	struct tt_grid_opts o = { .fmt = TT_GRID_TABLE, .header = 1 };
	struct tt_buf b = { 0 };

	(void)state;
	assert_int_equal(tt_grid_add_row(g), 0);
	tt_grid_str(g, 0, "\xe6\x97\xa5\xe6\x9c\xac");
	tt_grid_uint(g, 1, 1);
	assert_int_equal(tt_grid_add_row(g), 0);
	tt_grid_str(g, 0, "x\x1b");
	tt_grid_uint(g, 1, 22);
	assert_int_equal(tt_grid_render(g, &o, &b), 0);
	assert_string_equal(b.p, "COMM   PID\n"
				 "\xe6\x97\xa5\xe6\x9c\xac     1\n"
				 "x\\x1b   22\n");
	tt_buf_free(&b);
	tt_grid_free(g);
}

/* remote-net/N names a v6 prefix as v6: ::1 under a /64 is ::/64, never "*" */
static void test_prefixes(void **state)
{
	struct tt_groupby g;
	uint8_t a[16] = { 0 };
	char buf[64], why[128];

	(void)state;
	assert_int_equal(tt_groupby_parse("remote-net/24", &g, why, sizeof(why)), 0);
	a[15] = 1;
	tt_addr_mask(a, 64);
	assert_string_equal(tt_groupby_fmt_net(buf, sizeof(buf), &g, a, 6), "::/64");
	memset(a, 0, sizeof(a));
	a[10] = a[11] = 0xff;
	a[12] = 10, a[13] = 1, a[14] = 2, a[15] = 3;
	tt_addr_mask(a, 96 + 24);
	assert_string_equal(tt_groupby_fmt_net(buf, sizeof(buf), &g, a, 4), "10.1.2.0/24");
	assert_int_equal(tt_groupby_parse("remote-net/48", &g, why, sizeof(why)), 0);
	memset(a, 0, sizeof(a));
	a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8;
	assert_string_equal(tt_groupby_fmt_net(buf, sizeof(buf), &g, a, 6), "2001:db8::/48");
}

/* The listening side's port: known from the opening, else the port rule. */
static void test_service_port(void **state)
{
	struct tt_ev_conn c = { .lport = 50000, .rport = 40000 };

	(void)state;
	c.flags = TT_CF_PASSIVE; /* accepted on 50000 */
	assert_int_equal(tt_service_port(&c), 50000);
	c.flags = TT_CF_ACTIVE; /* connected to 40000 */
	assert_int_equal(tt_service_port(&c), 40000);
	c.flags = TT_CF_PARTIAL; /* unknown: both ephemeral, the lower */
	assert_int_equal(tt_service_port(&c), 40000);
	c.lport = 443, c.rport = 1024; /* both below 32768: the lower */
	assert_int_equal(tt_service_port(&c), 443);
	c.lport = 51234, c.rport = 8080; /* only one below 32768 */
	assert_int_equal(tt_service_port(&c), 8080);
}

static void test_container_ids(void **state)
{
	static const char id[] = "3d54921bd88f2f45a192146139ca3bd13d54921bd88f2f45a192146139ca3bd1";
	char buf[16], path[256];

	(void)state;
	snprintf(path, sizeof(path), "/system.slice/docker-%s.scope", id);
	assert_string_equal(tt_cgroup_container(path, buf, sizeof(buf)), "3d54921bd88f");
	snprintf(path, sizeof(path), "/kubepods/burstable/pod1/cri-containerd-%s.scope", id);
	assert_string_equal(tt_cgroup_container(path, buf, sizeof(buf)), "3d54921bd88f");
	snprintf(path, sizeof(path), "/docker/%s", id);
	assert_string_equal(tt_cgroup_container(path, buf, sizeof(buf)), "3d54921bd88f");
	assert_null(tt_cgroup_container("/user.slice/user-1000.slice/session-2.scope", buf,
					sizeof(buf)));
	/* 32 hex digits (a systemd machine id) are not a container */
	assert_null(tt_cgroup_container("/process_api/3d54921bd88f2f45a192146139ca3bd1", buf,
					sizeof(buf)));
	assert_null(tt_cgroup_container(NULL, buf, sizeof(buf)));
}

/* A tick goes whole into the bucket its end falls in: (start, start + width]. */
static void test_buckets(void **state)
{
	struct tt_buckets b;
	const uint64_t s = 1000000000000ull, w = 10000000000ull;

	(void)state;
	assert_int_equal(tt_buckets_init(&b, s, s, s, 0), -EINVAL);
	assert_int_equal(tt_buckets_init(&b, s, s, s - 1, w), -EINVAL);
	assert_int_equal(tt_buckets_init(&b, s + 1, s, s + w, w), -EINVAL); /* origin after from */
	assert_int_equal(tt_buckets_init(&b, s, s, s, w), 0);
	assert_int_equal(b.n, 1); /* an empty window still has one bucket */
	assert_int_equal(tt_buckets_init(&b, s, s, s + 3 * w, w), 0);
	assert_int_equal(b.n, 3);
	assert_int_equal(tt_buckets_init(&b, s, s, s + 3 * w + 1, w), 0);
	assert_int_equal(b.n, 4); /* the last one ends past the window */
	assert_true(tt_bucket_of(&b, s) == SIZE_MAX); /* a tick ending at the start is before */
	assert_int_equal(tt_bucket_of(&b, s + 1), 0);
	assert_int_equal(tt_bucket_of(&b, s + w), 0); /* on the edge: the bucket it ends */
	assert_int_equal(tt_bucket_of(&b, s + w + 1), 1);
	assert_int_equal(tt_bucket_of(&b, s + 4 * w), 3);
	assert_true(tt_bucket_of(&b, s + 4 * w + 1) == SIZE_MAX);
	assert_true(tt_bucket_start(&b, 2) == s + 2 * w);
	/* on the clock: the grid starts at the boundary before the window */
	assert_int_equal(tt_buckets_init(&b, s - w / 2, s, s + 2 * w, w), 0);
	assert_int_equal(b.n, 3); /* half, whole, half */
	assert_int_equal(tt_bucket_of(&b, s + 1), 0);
	assert_int_equal(tt_bucket_of(&b, s + w / 2), 0);
	assert_int_equal(tt_bucket_of(&b, s + w / 2 + 1), 1);
	assert_int_equal(tt_bucket_of(&b, s + 2 * w), 2);
	assert_true(tt_bucket_start(&b, 1) == s + w / 2);
}

/* Without the opening side: the same port for both ends of a connection. */
static void test_service_port_rules(void **state)
{
	static const struct {
		uint16_t lport, rport;
		uint8_t flags;
		uint16_t want;
	} c[] = {
		{ 51234, 443, 0, 443 }, /* an active open to a service */
		{ 443, 51234, 0, 443 }, /* its server end */
		{ 40000, 45000, 0, 40000 }, /* both ephemeral: the lower */
		{ 45000, 40000, 0, 40000 },
		{ 22, 8080, 0, 22 }, /* neither: the lower */
		{ 53, 40000, TT_CF_UDP_PEER, 53 },
		{ 40001, 40000, TT_CF_UDP_PEER, 40001 }, /* an unconnected socket serves */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct tt_ev_conn k = { .lport = c[i].lport,
					.rport = c[i].rport,
					.flags = c[i].flags };

		assert_int_equal(tt_service_port(&k), c[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idmap_matches_array_model),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_escape_text),
		cmocka_unit_test(test_grid_aligns_text),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_service_port),
		cmocka_unit_test(test_container_ids),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_grid_three_printings),
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_service_port_rules),
	};

	return cmocka_run_group_tests_name("support", tests, NULL, NULL);
}
