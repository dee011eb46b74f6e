/* lsyncd_import: `lifeboat import-lsyncd`. An lsyncd configuration is a Lua
 * program (variables, loops, dofile), so it is run by the real interpreter
 * in lsyncd_sandbox, where sync{} and settings only record what they are
 * given. This module turns the record into a lifeboat configuration: lsyncd's
 * options to lifeboat keys, what has no equivalent to a `;` comment naming
 * its line, and each section judged by lifeboat's own loader. */
#ifndef LIFEBOAT_LSYNCD_IMPORT_H
#define LIFEBOAT_LSYNCD_IMPORT_H

/* Evaluate the lsyncd file at path. Returns 0 with *out the lifeboat
 * configuration (caller frees), or -1 with *err one line naming the file and,
 * where Lua knows it, the line (caller frees). A generated configuration that
 * lifeboat's own loader refuses is an internal error (-1 too). */
int lsyncd_import(const char *path, char **out, char **err);

#endif
