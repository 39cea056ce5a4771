/*
 * progress.h: a progress bar on stderr for queries that run longer than a
 * second, only when stderr is a terminal; erased when done.
 */
#ifndef TT_ANALYZE_PROGRESS_H
#define TT_ANALYZE_PROGRESS_H

#include <stdint.h>

struct progress {
	uint64_t start_ns;
	uint64_t last_ns;
	int tty;
	int shown;
};

void progress_init(struct progress *p);
void progress_update(struct progress *p, uint64_t done, uint64_t total);
void progress_done(struct progress *p);

#endif /* TT_ANALYZE_PROGRESS_H */
