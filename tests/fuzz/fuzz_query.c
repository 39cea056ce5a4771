/*
 * fuzz_query: the SQL guard of `tcptop-analyze sql` (lib/query.c). The input
 * is the statement, run on a copy of the golden store's index.db
 * (TT_FUZZ_STORE) with short limits. Besides sanitizer findings, it aborts if
 * a statement changed the file or made one beside it: the guard's promise.
 */
#include <dirent.h>
#include <sys/stat.h>

#include "fuzz_support.h"
#include "query.h"

static char db_path[512];
static struct stat db_st;

static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		abort();
	while ((e = readdir(d)))
		n++;
	closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tt_query_limits lim = { .timeout_ns = 200000000ull,
				       .max_memory = 32u << 20,
				       .max_rows = 1000 };
	struct tt_query *q = NULL;
	struct stat now;
	char why[256], *sql;

	if (!db_path[0]) {
		char cmd[1024];

		snprintf(db_path, sizeof(db_path), "%s/index.db", fz_tmpdir());
		snprintf(cmd, sizeof(cmd), "cp '%s/index.db' '%s'", TT_FUZZ_STORE, db_path);
		if (system(cmd) || stat(db_path, &db_st))
			abort();
	}
	sql = malloc(size + 1);
	if (!sql)
		return 0;
	memcpy(sql, data, size);
	sql[size] = '\0';
	if (tt_query_run(db_path, sql, &lim, &q, why, sizeof(why)) == 0)
		tt_query_free(q);
	free(sql);
	if (stat(db_path, &now) || now.st_size != db_st.st_size ||
	    now.st_mtim.tv_sec != db_st.st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != db_st.st_mtim.tv_nsec || entries(fz_tmpdir()) != 3)
		abort(); /* written, or a file made beside it (ATTACH, VACUUM INTO, -wal) */
	return 0;
}
