/* lsyncd_sandbox: an lsyncd configuration file run by Debian's Lua 5.3 (the
 * interpreter lsyncd links), with lsyncd's globals from lsyncd_prelude and
 * nothing that can harm: no program run (os.execute, io.popen and spawn are
 * recorded as notes), no file written, only regular files read (dofile and
 * require beside the file), text chunks only, memory, Lua instructions and
 * CPU time bounded. Owns the Lua state for the length of one call. */
#ifndef LIFEBOAT_LSYNCD_SANDBOX_H
#define LIFEBOAT_LSYNCD_SANDBOX_H

#include <lua.h>

/* Reads what the file recorded: Lua tables at these stack indexes of L:
 * settings (name -> value), lines (name -> {src, line} of the call that set
 * it), syncs (a list of {src, line, kind, own, delay, delete}: kind is
 * "rsync", "rsyncssh", "direct" or "custom", own what the file set itself)
 * and notes (a list of {src, line, text}: calls that were not run). Runs in
 * protected mode with memory to spare: a Lua error it raises becomes the
 * run's error. */
typedef void (*lsyncd_reader)(lua_State *L, int settings, int lines, int syncs, int notes,
			      void *arg);

/* Run the file at path, then read. 0, or -1 with *err one line naming the
 * file (and the line, where Lua knows it); caller frees. */
int lsyncd_sandbox_run(const char *path, lsyncd_reader read, void *arg, char **err);

/* The Lua run before the file (lsyncd_prelude.c). */
extern const char lsyncd_prelude[];

#endif
