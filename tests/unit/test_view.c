/*
 * Unit tests of lib/view.c without a terminal: screens rendered into a buffer
 * at 80x24 and 200x50 keep bytes and rates whole and never exceed the width;
 * keys (sort, filter, group, pause, help, scroll, the g prompt, quit) change
 * what the next screen shows; the service port; names with control bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "format.h"
#include "report.h"
#include "view.h"

#define NROWS 30

static struct tt_row rows[NROWS];
static struct tt_table table;

static void v4(uint8_t a[16], uint8_t x, uint8_t y)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	a[12] = 10;
	a[13] = 1;
	a[14] = x;
	a[15] = y;
}

/* Row i: bytes and rates the test knows, a few v6, closed, partial, retransmitting. */
static void make_table(void)
{
	int i;

	memset(rows, 0, sizeof(rows));
	for (i = 0; i < NROWS; i++) {
		struct tt_row *r = &rows[i];

		r->conn.id = (uint64_t)i + 1;
		r->conn.proto = IPPROTO_TCP;
		r->conn.tgid = r->conn.pid = 1000u + (uint32_t)i;
		snprintf(r->conn.comm, sizeof(r->conn.comm), i % 3 ? "server%d" : "client%d",
			 i % 3);
		if (i % 5 == 4) {
			static const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34,
							0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
							0x12, 0x34, 0x56, 0x78 };

			r->conn.family = 6;
			memcpy(r->conn.laddr, a6, 16);
			memcpy(r->conn.raddr, a6, 16);
			r->conn.raddr[15] = (uint8_t)i;
		} else {
			r->conn.family = 4;
			v4(r->conn.laddr, 0, 1);
			v4(r->conn.raddr, 2, (uint8_t)i);
		}
		r->conn.lport = i % 2 ? 80 : (uint16_t)(40000 + i);
		r->conn.rport = i % 2 ? (uint16_t)(50000 + i) : 443;
		r->tot.state = 1;
		r->tot.bytes_in = 1000000ull * (uint64_t)(i + 1); /* 0.95 MiB .. 28.6 MiB */
		r->tot.bytes_out = 3000ull * (uint64_t)(i + 1);
		r->rate_in = 2048.0 * (i + 1);
		r->rate_out = 10.0 * (i + 1);
		r->tot.srtt_us = 1500;
		if (i == 3) {
			r->flags |= TT_ROW_CLOSED;
			r->conn.flags |= TT_CF_PARTIAL;
			r->d_retrans = 2;
			r->tot.retrans = 7;
		}
	}
	memcpy(rows[7].conn.comm, "ev\001il\033[2J", 10); /* control bytes in a name */
	table.rows = rows;
	table.n = NROWS;
	table.start_ns = 1000000000ull;
	table.ts_ns = 2000000000ull;
	table.seq = 2;
}

/* The screen a draw left: lines by the cursor moves, escapes dropped. */
#define SROWS 64
static char screen[SROWS][512];

static void parse_screen(const char *p, size_t n)
{
	size_t i = 0, row = 0;

	memset(screen, 0, sizeof(screen));
	while (i < n) {
		if (p[i] == '\033' && i + 1 < n && p[i + 1] == '[') {
			size_t j = i + 2;
			unsigned y = 0;

			while (j < n && !(p[j] >= 0x40 && p[j] <= 0x7e))
				j++;
			if (j < n && p[j] == 'H') {
				y = (unsigned)atoi(p + i + 2);
				row = y ? y - 1 : 0;
			}
			i = j + 1;
			continue;
		}
		assert_true((unsigned char)p[i] >= 0x20 && (unsigned char)p[i] != 0x7f);
		assert_true(row < SROWS);
		{
			size_t l = strlen(screen[row]);

			assert_true(l + 1 < sizeof(screen[row]));
			screen[row][l] = p[i];
		}
		i++;
	}
}

static struct tt_view *new_view(int replay)
{
	struct tt_view_ui_opts o = {
		.title = "tcptop-record",
		.where = "recording into /var/lib/tcptop, keeping at most 1.00 GiB",
		.sort = TT_SORT_RATE,
		.utc = 1,
		.replay = replay,
		.color = 1
	};
	struct tt_view *v = tt_view_new(&o);

	assert_non_null(v);
	assert_int_equal(tt_view_set_table(v, &table, 0), 0);
	return v;
}

static void draw(struct tt_view *v, unsigned cols, unsigned nrows)
{
	struct tt_buf b = { 0 };
	int r;

	assert_int_equal(tt_view_draw(v, &b, cols, nrows), 0);
	parse_screen(b.p, b.len);
	for (r = 0; r < SROWS; r++)
		assert_true(strlen(screen[r]) <= cols); /* never wraps (all ASCII here) */
	for (r = (int)nrows; r < SROWS; r++)
		assert_true(!screen[r][0]); /* never scrolls */
	tt_buf_free(&b);
}

static int find_line(const char *needle)
{
	int r;

	for (r = 0; r < SROWS; r++)
		if (strstr(screen[r], needle))
			return r;
	return -1;
}

static const char *k_press(struct tt_view *v, const char *keys, int *last)
{
	size_t at = 0, n = strlen(keys), used;

	while (at < n) {
		*last = tt_view_key(v, (const unsigned char *)keys + at, n - at, &used);
		assert_true(used >= 1);
		at += used;
	}
	return keys;
}

/* A row of row r's connection: it shows its bytes and rates, whole. */
static void check_row_numbers(int line, const struct tt_row *r)
{
	char rx[32], tx[32], rxs[32], txs[32];

	tt_fmt_bytes(rx, sizeof(rx), r->tot.bytes_in);
	tt_fmt_bytes(tx, sizeof(tx), r->tot.bytes_out);
	tt_fmt_bytes(rxs, sizeof(rxs), (uint64_t)r->rate_in);
	tt_fmt_bytes(txs, sizeof(txs), (uint64_t)r->rate_out);
	assert_non_null(strstr(screen[line], rx));
	assert_non_null(strstr(screen[line], tx));
	assert_non_null(strstr(screen[line], rxs));
	assert_non_null(strstr(screen[line], txs));
}

static void test_widths(void **state)
{
	struct tt_view *v;
	int head, i;

	(void)state;
	make_table();
	v = new_view(0);

	/* 80x24: the header says where, the columns keep bytes and rates */
	draw(v, 80, 24);
	assert_true(find_line("recording into /var/lib/tcptop") == 1);
	assert_true(find_line("losses: none") >= 0);
	head = find_line("RX/s");
	assert_true(head > 0);
	assert_non_null(strstr(screen[head], "TX/s"));
	assert_non_null(strstr(screen[head], " RX "));
	assert_non_null(strstr(screen[head], " TX"));
	/* sorted by rate: the last row first; rows fill the screen down to the footer */
	for (i = 0; head + 1 + i < 23; i++)
		check_row_numbers(head + 1 + i, &rows[NROWS - 1 - i]);
	assert_true(head + 1 + i == 23);
	assert_non_null(strstr(screen[23], "? help"));
	assert_non_null(strstr(screen[2], "rows 1-"));

	/* 200x50: every column, every cell whole: nothing abbreviated, nothing cut */
	draw(v, 200, 50);
	head = find_line("RX/s");
	assert_non_null(strstr(screen[head], "LOCAL"));
	assert_non_null(strstr(screen[head], "STATE"));
	assert_non_null(strstr(screen[head], "AGE"));
	for (i = 0; i < NROWS; i++) {
		const char *l = screen[head + 1 + i];

		assert_null(strchr(l, '~'));
		check_row_numbers(head + 1 + i, &rows[NROWS - 1 - i]);
	}
	i = find_line("[2001:db8:1234:5678:9abc:def0:1234:5618]:443"); /* row 24's remote, whole */
	assert_true(i > head);
	for (i = head + 1; i < SROWS && strncmp(screen[i], "1003 ", 5); i++)
		;
	assert_true(i < SROWS);
	assert_non_null(strstr(screen[i], "closed,retrans,partial")); /* the flags in words */
	/* a long store path is shortened, what is kept stays whole */
	{
		struct tt_view_ui_opts o = {
			.title = "tcptop-record",
			.where = "recording into /srv/a/very/long/path/to/where/the/store/is/kept/"
				 "tcptop-data, keeping at most 1.00 GiB, nothing older than 7d"
		};
		struct tt_view *w = tt_view_new(&o);

		assert_non_null(w);
		assert_int_equal(tt_view_set_table(w, &table, 0), 0);
		draw(w, 80, 24);
		assert_non_null(strstr(screen[1], "recording into "));
		assert_non_null(strstr(screen[1],
				       "/tcptop-data, keeping at most 1.00 GiB, nothing older "
				       "than 7d"));
		tt_view_free(w);
	}
	/* tiny terminals: still nothing wider or longer than the screen */
	draw(v, 20, 5);
	draw(v, 1, 1);
	draw(v, 79, 3);
	draw(v, 200, 50);
	/* the control bytes of a name are drawn escaped (escape.h), never sent */
	assert_true(find_line("ev\\x01il\\x1b[2J") > head);
	tt_view_free(v);
}

static void test_keys(void **state)
{
	struct tt_view *v;
	int a, i, head, n;

	(void)state;
	make_table();
	v = new_view(0);

	/* s cycles the sort; b sorts by bytes */
	k_press(v, "s", &a);
	draw(v, 80, 24);
	assert_true(find_line("sort: bytes") >= 0);
	k_press(v, "x", &a);
	draw(v, 80, 24);
	assert_true(find_line("sort: retrans") >= 0);
	head = find_line("RX/s");
	check_row_numbers(head + 1, &rows[3]); /* the one that retransmitted */

	/* / filters by port; the prompt opens empty; an empty line clears */
	k_press(v, "/80\r", &a);
	draw(v, 200, 50);
	head = find_line("RX/s");
	for (n = 0, i = head + 1; screen[i][0] && !strstr(screen[i], "? help"); i++, n++)
		assert_non_null(strstr(screen[i], ":80 "));
	assert_int_equal(n, NROWS / 2);
	k_press(v, "/", &a);
	draw(v, 80, 24);
	assert_true(find_line("filter (name") == 23);
	assert_null(strstr(screen[23], "80_"));
	k_press(v, "\r", &a);
	draw(v, 80, 24);
	assert_true(find_line("filter: none") >= 0);
	/* a UTF-8 name can be typed; backspace takes a whole character */
	k_press(v, "/caf\xc3\xa9\xc3\xa9\x7f", &a);
	draw(v, 80, 24);
	assert_non_null(strstr(screen[23], ": caf\xc3\xa9_"));
	k_press(v, "\033", &a);
	/* by address (CIDR) and by name */
	k_press(v, "/2001:db8::/32\r", &a);
	draw(v, 200, 50);
	head = find_line("RX/s");
	for (n = 0, i = head + 1; screen[i][0] && !strstr(screen[i], "? help"); i++, n++)
		assert_non_null(strstr(screen[i], "[2001:db8"));
	assert_int_equal(n, NROWS / 5);
	k_press(v, "/client\r", &a);
	draw(v, 200, 50);
	head = find_line("RX/s");
	for (n = 0, i = head + 1; screen[i][0] && !strstr(screen[i], "? help"); i++, n++)
		assert_non_null(strstr(screen[i], "client0"));
	assert_int_equal(n, NROWS / 3);
	k_press(v, "/\r", &a);

	/* v groups: by process, the sums of the group's connections */
	k_press(v, "bv", &a);
	draw(v, 80, 24);
	head = find_line("PROCESS");
	assert_true(head > 0);
	assert_non_null(strstr(screen[head], "CONNS"));
	{
		uint64_t in = 0;
		char want[32];

		for (i = 0; i < NROWS; i++)
			if (!(i % 3))
				in += rows[i].tot.bytes_in;
		tt_fmt_bytes(want, sizeof(want), in);
		i = find_line("client0");
		assert_true(i > head);
		assert_non_null(strstr(screen[i], want));
		assert_non_null(strstr(screen[i], " 10 "));
	}
	k_press(v, "v", &a);
	draw(v, 80, 24);
	assert_true(find_line("REMOTE HOST") > 0);
	k_press(v, "v", &a);
	draw(v, 80, 24);
	assert_true(find_line("SERVICE") > 0);
	assert_true(find_line("tcp/80 ") > 0);
	assert_true(find_line("tcp/443 ") > 0);
	i = find_line("tcp/80 ");
	assert_non_null(strstr(screen[i], " 15 "));
	k_press(v, "v", &a);
	draw(v, 80, 24);
	assert_true(find_line("REMOTE ") > 0);

	/* scrolling: down moves a row, PgDn a page, End to the last */
	k_press(v, "\033[B", &a);
	draw(v, 80, 24);
	assert_true(find_line("rows 2-") >= 0);
	k_press(v, "\033[6~", &a);
	draw(v, 80, 24);
	assert_true(find_line("rows 14-30 of 30") >= 0); /* 17 rows a screen: the last page */
	k_press(v, "\033[F", &a);
	draw(v, 80, 24);
	assert_true(find_line("of 30") >= 0);
	assert_true(find_line("-30 of 30") >= 0);
	k_press(v, "\033[H", &a);
	draw(v, 80, 24);
	assert_true(find_line("rows 1-") >= 0);

	/* pause, help, replay keys in a live view, quit */
	k_press(v, " ", &a);
	assert_int_equal(a, TT_VIEW_PAUSE);
	assert_true(tt_view_paused(v));
	draw(v, 80, 24);
	assert_true(find_line("PAUSED (still recording)") == 0);
	k_press(v, "p", &a);
	assert_false(tt_view_paused(v));
	k_press(v, "?", &a);
	draw(v, 80, 24);
	assert_true(find_line("group rows") > 0);
	k_press(v, "q", &a); /* closes the help first */
	assert_int_equal(a, TT_VIEW_NONE);
	draw(v, 80, 24);
	assert_true(find_line("group rows") < 0);
	k_press(v, "\033[C", &a);
	assert_int_equal(a, TT_VIEW_NONE);
	k_press(v, "g", &a);
	assert_int_equal(a, TT_VIEW_NONE);
	k_press(v, "q", &a);
	assert_int_equal(a, TT_VIEW_QUIT);
	tt_view_free(v);

	/* the replay's keys; the g prompt opens empty every time */
	v = new_view(1);
	k_press(v, "\033[C", &a);
	assert_int_equal(a, TT_VIEW_STEP_FWD);
	k_press(v, "\033[D", &a);
	assert_int_equal(a, TT_VIEW_STEP_BACK);
	k_press(v, "+", &a);
	assert_int_equal(a, TT_VIEW_FASTER);
	k_press(v, "]", &a);
	assert_int_equal(a, TT_VIEW_MIN_FWD);
	k_press(v, "gend\r", &a);
	assert_int_equal(a, TT_VIEW_GOTO);
	assert_string_equal(tt_view_goto_text(v), "end");
	k_press(v, "g", &a);
	draw(v, 80, 24);
	assert_true(find_line("go to (") == 23);
	assert_null(strstr(screen[23], "end_"));
	k_press(v, "\033", &a); /* escape cancels */
	draw(v, 80, 24);
	assert_true(find_line("go to (") < 0);
	tt_view_free(v);
}

static void test_service_port(void **state)
{
	struct tt_ev_conn c = { 0 };

	(void)state;
	c.lport = 80, c.rport = 51000; /* accepted by a server on 80 */
	assert_int_equal(tt_service_port(&c), 80);
	c.lport = 45000, c.rport = 443; /* connected to 443 */
	assert_int_equal(tt_service_port(&c), 443);
	c.lport = 5432, c.rport = 8080; /* neither ephemeral: the lower */
	assert_int_equal(tt_service_port(&c), 5432);
	/* the side that connected, when the capture saw it, beats any guess */
	c.lport = 40000, c.rport = 45000, c.flags = TT_CF_PASSIVE; /* a server on 40000 */
	assert_int_equal(tt_service_port(&c), 40000);
	c.flags = TT_CF_ACTIVE; /* a client of 45000 */
	assert_int_equal(tt_service_port(&c), 45000);
}

static void test_plain_text(void **state)
{
	struct tt_view_opts o = { .sort = TT_SORT_BYTES, .utc = 1, .title = "t" };
	struct tt_buf b = { 0 };
	struct tt_row *scratch = NULL;
	size_t cap = 0, i;

	(void)state;
	make_table();
	assert_int_equal(tt_view_render(&b, &table, &o, &scratch, &cap), 0);
	for (i = 0; i < b.len; i++)
		assert_true(b.p[i] == '\n' || ((unsigned char)b.p[i] >= 0x20 && b.p[i] != 0x7f));
	assert_non_null(strstr(b.p, "closed,retrans,partial"));
	assert_non_null(strstr(b.p, "RX/s"));
	tt_buf_free(&b);
	free(scratch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_widths),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_service_port),
		cmocka_unit_test(test_plain_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
