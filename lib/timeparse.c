/*
 * timeparse.c: see timeparse.h.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "timeparse.h"

int tt_parse_duration(const char *s, uint64_t *ns)
{
	static const struct {
		const char *unit;
		double mult;
	} units[] = {
		{ "", 1e9 },	 { "s", 1e9 },	   { "ms", 1e6 },     { "us", 1e3 },
		{ "m", 60e9 },	 { "min", 60e9 },  { "h", 3600e9 },   { "d", 86400e9 },
	};
	char *end;
	double v;
	size_t i;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		v *= units[i].mult;
		if (v >= 1.8e19)
			return -EINVAL;
		*ns = (uint64_t)(v + 0.5);
		return 0;
	}
	return -EINVAL;
}

int tt_parse_size(const char *s, uint64_t *bytes)
{
	static const struct {
		const char *unit;
		double mult;
	} units[] = {
		{ "", 1 },	       { "B", 1 },		{ "K", 1024.0 },	 { "KB", 1024.0 },
		{ "KiB", 1024.0 },     { "M", 1048576.0 },	{ "MB", 1048576.0 },	 { "MiB", 1048576.0 },
		{ "G", 1073741824.0 }, { "GB", 1073741824.0 }, { "GiB", 1073741824.0 }, { "T", 1099511627776.0 },
		{ "TB", 1099511627776.0 }, { "TiB", 1099511627776.0 },
	};
	char *end;
	double v;
	size_t i;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		v *= units[i].mult;
		if (v >= 1.8e19)
			return -EINVAL;
		*bytes = (uint64_t)(v + 0.5);
		return 0;
	}
	return -EINVAL;
}
