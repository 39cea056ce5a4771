# No SQL outside the store module (docs/architecture.md, "Store"): the SQLite
# API, its header and the store's private one (store_int.h: the raw handle)
# appear in lib/, analyze/ and record/ only in lib/store/ and in lib/out/query.c
# (and query.h, which documents it), the sql command's guarded connection.
# cmake -DROOT=<source dir> -P no_sql_outside_store.cmake: exit 0, or a line per
# file that breaks the rule and a failure.
if(NOT ROOT)
	message(FATAL_ERROR "usage: cmake -DROOT=<source dir> -P ${CMAKE_CURRENT_LIST_FILE}")
endif()
file(GLOB_RECURSE files RELATIVE "${ROOT}" "${ROOT}/lib/*.c" "${ROOT}/lib/*.h"
	"${ROOT}/analyze/*.c" "${ROOT}/analyze/*.h" "${ROOT}/record/*.c" "${ROOT}/record/*.h")
if(NOT files)
	message(FATAL_ERROR "${ROOT}: no sources under lib/, analyze/, record/")
endif()
set(bad "")
foreach(f IN LISTS files)
	if(f MATCHES "^lib/store/" OR f STREQUAL "lib/out/query.c" OR f STREQUAL "lib/out/query.h")
		continue()
	endif()
	file(STRINGS "${ROOT}/${f}" hits REGEX "sqlite3_|sqlite3\\.h|store_int\\.h")
	if(hits)
		list(GET hits 0 first)
		string(STRIP "${first}" first)
		list(APPEND bad "${f}: ${first}")
	endif()
endforeach()
if(bad)
	list(JOIN bad "\n  " lines)
	message(FATAL_ERROR "SQL outside lib/store/ (move it behind a function of "
		"lib/store/store.h):\n  ${lines}")
endif()
list(LENGTH files n)
message(STATUS "no SQL outside lib/store/ and lib/out/query.c (${n} files)")
