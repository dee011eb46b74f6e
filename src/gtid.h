/* gtid: MariaDB GTID positions as values (pure logic, no I/O). A position is
 * a list "D-S-N,..." with at most one GTID per replication domain D. Used by
 * rejoin to find errant transactions: those an old primary wrote after the
 * point the new primary forked from it. */
#ifndef LIFEBOAT_GTID_H
#define LIFEBOAT_GTID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gtid {
	uint32_t domain;
	uint32_t server;
	uint64_t seq;
};

struct gtid_pos {
	struct gtid *items;
	size_t len;
};

/* Parse "0-1-105,1-2-7" (blanks allowed around commas; "" is empty). Returns
 * 0, or -1 on junk or a domain listed twice; *pos is then empty. */
int gtid_pos_parse(const char *text, struct gtid_pos *pos);
void gtid_pos_free(struct gtid_pos *pos);
const struct gtid *gtid_pos_find(const struct gtid_pos *pos, uint32_t domain);
/* "D-S-N,..." in domain order; caller frees. */
char *gtid_pos_format(const struct gtid_pos *pos);

/* One errant range: in domain, seq first..last were written on the old
 * primary after the fork point (fork_seq, 0 when the domain is unknown to
 * the new primary). */
struct gtid_errant {
	uint32_t domain;
	uint64_t first, last;
	struct gtid old_last; /* the old primary's last GTID in that domain */
	bool diverged; /* same seq but another server: histories differ */
};

/* Compare the old primary's binlog position with the fork point (what the new
 * primary had applied from it when promoted). Fills out (malloc'd, caller
 * frees) and returns the count, 0 when the old primary can simply follow. */
size_t gtid_find_errant(const struct gtid_pos *old_binlog, const struct gtid_pos *fork,
			struct gtid_errant **out);

/* How many transactions position "ahead" has that "behind" lacks, summed
 * over domains (sequence differences); -1 when either does not parse. */
double gtid_transactions_behind(const char *ahead, const char *behind);

#endif
