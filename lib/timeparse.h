/*
 * timeparse.h: durations and sizes as people type them.
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

/*
 * "4096", "512K", "256M", "1.5G", "2T" (powers of 1024; "KiB"/"MiB"/"GiB"/"TiB"
 * and a trailing "B" accepted) into bytes. 0, or -EINVAL.
 */
int tt_parse_size(const char *s, uint64_t *bytes);

#endif /* TT_TIMEPARSE_H */
