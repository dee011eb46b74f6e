/* journal: the failover journal STATE_DIR/failover.journal, one record per
 * line, appended and fsync'ed before the step it announces runs. A failover
 * killed at any point is run again from it: steps recorded done are skipped,
 * facts recorded by the first run (start time, lag, positions) are kept, so
 * the report covers the whole failover, not only the last run. Owns the file
 * and what was read from it.
 *
 *   begin WALL PID          a failover (or switchover) started
 *   start STEP WALL         a step started
 *   done STEP WALL NOTE     it finished; NOTE (rest of line) says how
 *   fact KEY VALUE          something measured (rest of line is the value)
 *   end WALL                every step done */
#ifndef LIFEBOAT_JOURNAL_H
#define LIFEBOAT_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>

struct journal_step {
	char *name;
	double started, ended; /* 0: not yet */
	char *note;
};

struct journal_fact {
	char *key, *value;
};

struct journal {
	char *path;
	int fd;
	double begun, finished; /* 0: not yet */
	struct journal_step *steps;
	size_t n_steps;
	struct journal_fact *facts;
	size_t n_facts;
	long long torn_at; /* a torn last record starts here; -1: none */
};

/* Open STATE_DIR/NAME (created if missing) and read what it holds. 0, or -1
 * with *err. */
int journal_open(struct journal *j, const char *state_dir, const char *name, char **err);
void journal_close(struct journal *j);
/* Move a finished journal aside (NAME.TIMESTAMP) and start an empty one. */
int journal_archive(struct journal *j, char **err);

int journal_begin(struct journal *j, char **err);
int journal_start(struct journal *j, const char *step, char **err);
int journal_done(struct journal *j, const char *step, const char *note, char **err);
int journal_fact(struct journal *j, const char *key, const char *value, char **err);
int journal_end(struct journal *j, char **err);

const struct journal_step *journal_step(const struct journal *j, const char *step);
bool journal_step_done(const struct journal *j, const char *step);
const char *journal_get(const struct journal *j, const char *key);
double journal_get_num(const struct journal *j, const char *key, double dflt);

#endif
