/*
 * progress.c: see progress.h.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "progress.h"

void progress_init(struct progress *p)
{
	p->start_ns = tt_clock_ns(CLOCK_MONOTONIC);
	p->last_ns = 0;
	p->tty = isatty(STDERR_FILENO);
	p->shown = 0;
}

void progress_update(struct progress *p, uint64_t done, uint64_t total)
{
	uint64_t now;
	int i, fill;

	if (!p->tty || !total)
		return;
	now = tt_clock_ns(CLOCK_MONOTONIC);
	/* quiet for the first second, then at most 10 redraws a second */
	if (now - p->start_ns < 1000000000ull || now - p->last_ns < 100000000ull)
		return;
	p->last_ns = now;
	fill = (int)(done * 30 / total);
	fputs("\r[", stderr);
	for (i = 0; i < 30; i++)
		fputc(i < fill ? '=' : ' ', stderr);
	fprintf(stderr, "] %3d%%  blocks %llu/%llu", (int)(done * 100 / total),
		(unsigned long long)done, (unsigned long long)total);
	fflush(stderr);
	p->shown = 1;
}

void progress_done(struct progress *p)
{
	if (p->shown)
		fputs("\r\033[K", stderr);
	p->shown = 0;
}
