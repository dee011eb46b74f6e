/* lsyncd_import: `lifeboat import-lsyncd`. An lsyncd configuration is a Lua
 * program (variables, loops, dofile), so it is run by Debian's Lua 5.3, the
 * interpreter lsyncd itself links, inside a sandbox: lsyncd's globals come
 * from lsyncd_prelude (sync{} and settings only record what they are given),
 * no program is run, files are only read, memory, Lua instructions and CPU
 * time are bounded. What was recorded becomes a lifeboat configuration; what
 * has no equivalent becomes a `;` comment naming its line. Owns the Lua state
 * for the length of one call. */
#ifndef LIFEBOAT_LSYNCD_IMPORT_H
#define LIFEBOAT_LSYNCD_IMPORT_H

/* Evaluate the lsyncd file at path. Returns 0 with *out the lifeboat
 * configuration (caller frees), or -1 with *err one line naming the file and,
 * where Lua knows it, the line (caller frees). A generated configuration that
 * lifeboat's own loader refuses is an internal error (-1 too). */
int lsyncd_import(const char *path, char **out, char **err);

/* The Lua run before the file (lsyncd_prelude.c). */
extern const char lsyncd_prelude[];

#endif
