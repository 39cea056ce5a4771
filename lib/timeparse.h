/*
 * timeparse.h: durations as people type them.
 */
#ifndef TT_TIMEPARSE_H
#define TT_TIMEPARSE_H

#include <stdint.h>

/*
 * "1.5", "250ms", "10s", "5m", "2h", "1d" (a bare number is seconds) into
 * nanoseconds. 0, or -EINVAL for anything else (empty, negative, junk after
 * the unit, overflow).
 */
int tt_parse_duration(const char *s, uint64_t *ns);

#endif /* TT_TIMEPARSE_H */
