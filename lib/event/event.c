/*
 * event.c: names for the event vocabulary, shared by every printer and parser.
 */
#include <strings.h>

#include "event.h"

const char *tt_event_type_name(unsigned type)
{
	static const char *const names[TT_EV_TYPE_MAX] = {
		[TT_EV_CONN] = "conn",	 [TT_EV_SAMPLE] = "sample", [TT_EV_STATE] = "state",
		[TT_EV_RESET] = "reset", [TT_EV_CLOSE] = "close",   [TT_EV_TICK] = "tick",
		[TT_EV_LOSS] = "loss",
	};

	return type < TT_EV_TYPE_MAX && names[type] ? names[type] : "?";
}

/* Index = kernel TCP state number; ss's spellings. */
static const char *const tcp_states[] = {
	[0] = "UNCONN",	       [1] = "ESTAB",	   [2] = "SYN-SENT",  [3] = "SYN-RECV",
	[4] = "FIN-WAIT-1",    [5] = "FIN-WAIT-2", [6] = "TIME-WAIT", [7] = "CLOSE",
	[8] = "CLOSE-WAIT",    [9] = "LAST-ACK",   [10] = "LISTEN",   [11] = "CLOSING",
	[12] = "NEW-SYN-RECV",
};

const char *tt_tcp_state_name(unsigned state)
{
	if (state < sizeof(tcp_states) / sizeof(tcp_states[0]))
		return tcp_states[state];
	return "?";
}

int tt_tcp_state_parse(const char *name)
{
	static const struct {
		const char *alias;
		int state;
	} aliases[] = {
		{ "ESTABLISHED", 1 }, { "SYN_SENT", 2 },  { "SYN_RECV", 3 },   { "FIN_WAIT1", 4 },
		{ "FIN_WAIT2", 5 },   { "TIME_WAIT", 6 }, { "CLOSE_WAIT", 8 }, { "LAST_ACK", 9 },
	};
	unsigned i;

	for (i = 0; i < sizeof(tcp_states) / sizeof(tcp_states[0]); i++)
		if (!strcasecmp(name, tcp_states[i]))
			return (int)i;
	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (!strcasecmp(name, aliases[i].alias))
			return aliases[i].state;
	return -1;
}
