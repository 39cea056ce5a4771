/*
 * version.h: tcptop-record --version.
 */
#ifndef TT_RECORD_VERSION_H
#define TT_RECORD_VERSION_H

#include <stdio.h>

/* Version, git commit, libbpf's version, and which hooks this kernel offers, to f. */
void rec_print_version(FILE *f, const char *prog);

#endif /* TT_RECORD_VERSION_H */
