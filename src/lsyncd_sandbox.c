#include "lsyncd_sandbox.h"
#include "util.h"

#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* Bounds of one evaluation. A configuration needs kilobytes and thousands
 * of instructions; these are far above that and far below harm. */
#define MEMORY_LIMIT ((size_t)256 << 20)
/* Granted on top of what the file left allocated, for reading its record:
 * a memory error there would jump over the reader's C frees. */
#define READ_HEADROOM ((size_t)64 << 20)
#define HOOK_EVERY 1000
#define STEP_LIMIT 50000000ULL
#define CPU_LIMIT_S 10 /* a C function (a string pattern) the hook cannot stop */
#define FILE_MAX_BYTES (4 * 1024 * 1024)

struct sandbox {
	const char *path;
	char *chunkname; /* "@" + path: how Lua names the file */
	char *dir;       /* the file's directory: dofile and require look there */
	char *text;
	size_t text_len;
	size_t mem_used;
	size_t mem_limit;
	unsigned long long steps;
	lsyncd_reader read;
	void *arg;
};

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct sandbox *sb = ud;
	size_t old = ptr ? osize : 0;
	if (nsize == 0) {
		free(ptr);
		sb->mem_used -= old;
		return NULL;
	}
	if (nsize > old && sb->mem_used - old + nsize > sb->mem_limit)
		return NULL; /* Lua raises "not enough memory" */
	void *p = realloc(ptr, nsize);
	if (p)
		sb->mem_used = sb->mem_used - old + nsize;
	return p;
}

/* Past the limit the hook fires on every instruction, so a pcall in the
 * file cannot swallow the error and loop on. */
static void count_hook(lua_State *L, lua_Debug *ar)
{
	void *ud;
	lua_getallocf(L, &ud);
	struct sandbox *sb = ud;
	sb->steps += HOOK_EVERY;
	if (sb->steps > STEP_LIMIT) {
		lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
		lua_getinfo(L, "Sl", ar);
		luaL_error(L, "%s:%d: still running after %d million Lua instructions (an endless loop?)",
			   ar->short_src, ar->currentline, (int)(STEP_LIMIT / 1000000));
	}
}

static char cpu_limit_msg[512];

static void on_cpu_limit(int sig)
{
	(void)sig;
	if (write(2, cpu_limit_msg, strlen(cpu_limit_msg)) < 0) {
		/* nothing left to tell */
	}
	_exit(2);
}

static void cpu_limit_arm(const char *path, bool on)
{
	struct itimerval t = {{0, 0}, {on ? CPU_LIMIT_S : 0, 0}};
	if (on) {
		snprintf(cpu_limit_msg, sizeof(cpu_limit_msg),
			 "lifeboat: error: %s: still evaluating after %d s of CPU time (an endless "
			 "loop in a string function?)\n",
			 path, CPU_LIMIT_S);
		signal(SIGPROF, on_cpu_limit);
	}
	setitimer(ITIMER_PROF, &t, NULL);
	if (!on)
		signal(SIGPROF, SIG_DFL);
}

/* isreg(path): the only files the sandbox opens are regular files (a fifo
 * or a terminal would block the import). */
static int l_isreg(lua_State *L)
{
	const char *p = luaL_checkstring(L, 1);
	struct stat st;
	lua_pushboolean(L, stat(p, &st) == 0 && S_ISREG(st.st_mode));
	return 1;
}

static void run_file(struct sandbox *sb, lua_State *L, int internals)
{
	if (luaL_loadbufferx(L, sb->text, sb->text_len, sb->chunkname, "t") != LUA_OK)
		lua_error(L);
	lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
	if (lua_pcall(L, 0, 0, 0) == LUA_OK)
		return;
	/* terminate() and os.exit() end the file early: not an error */
	lua_getfield(L, internals, "stop");
	bool stopped = lua_rawequal(L, -1, -2);
	lua_pop(L, 1);
	if (!stopped)
		lua_error(L);
	lua_pop(L, 1);
}

static int run(lua_State *L)
{
	struct sandbox *sb = lua_touserdata(L, 1);
	luaL_openlibs(L);
	if (luaL_loadbufferx(L, lsyncd_prelude, strlen(lsyncd_prelude), "=lsyncd-prelude", "t") !=
	    LUA_OK)
		return lua_error(L);
	lua_pushstring(L, sb->path);
	lua_pushstring(L, sb->dir);
	lua_pushcfunction(L, l_isreg);
	lua_call(L, 3, 1);
	int internals = lua_gettop(L);
	run_file(sb, L, internals);
	sb->mem_limit = sb->mem_used + READ_HEADROOM;
	lua_getfield(L, internals, "finish");
	lua_call(L, 0, 4);
	int base = lua_gettop(L) - 3;
	sb->read(L, base, base + 1, base + 2, base + 3, sb->arg);
	return 0;
}

/* Lua's message, on one line, naming the file. */
static char *lua_message(const struct sandbox *sb, lua_State *L, int status)
{
	if (status == LUA_ERRMEM)
		return xasprintf("%s: evaluating it needs more than %zu MiB of memory", sb->path,
				 MEMORY_LIMIT >> 20);
	const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
	if (!msg)
		return xasprintf("%s: error with a %s value instead of a message", sb->path,
				 luaL_typename(L, -1));
	struct buf b;
	buf_init(&b);
	if (strncmp(msg, sb->path, strlen(sb->path)) != 0)
		buf_addf(&b, "%s: ", sb->path);
	for (const char *p = msg; *p && b.len < 400; p++)
		buf_addc(&b, (unsigned char)*p < 0x20 ? ' ' : *p);
	if (strstr(msg, "not enough memory"))
		buf_addf(&b, " (an evaluation may use %zu MiB)", MEMORY_LIMIT >> 20);
	return buf_steal(&b);
}

static int read_lsyncd_file(struct sandbox *sb, char **err)
{
	struct stat st;
	if (stat(sb->path, &st) < 0) {
		*err = xasprintf("%s: %s", sb->path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > FILE_MAX_BYTES) {
		*err = xasprintf("%s: not an lsyncd configuration file (%s)", sb->path,
				 S_ISREG(st.st_mode) ? "larger than 4 MiB" : "not a regular file");
		return -1;
	}
	sb->text = read_file(sb->path, &sb->text_len);
	if (!sb->text) {
		*err = xasprintf("%s: %s", sb->path, strerror(errno));
		return -1;
	}
	return 0;
}

static int evaluate(struct sandbox *sb, char **err)
{
	lua_State *L = lua_newstate(capped_alloc, sb);
	if (!L) {
		*err = xasprintf("%s: cannot start the Lua interpreter", sb->path);
		return -1;
	}
	cpu_limit_arm(sb->path, true);
	lua_pushcfunction(L, run);
	lua_pushlightuserdata(L, sb);
	int status = lua_pcall(L, 1, 0, 0);
	if (status != LUA_OK)
		*err = lua_message(sb, L, status);
	lua_close(L);
	cpu_limit_arm(sb->path, false);
	return status == LUA_OK ? 0 : -1;
}

int lsyncd_sandbox_run(const char *path, lsyncd_reader read, void *arg, char **err)
{
	struct sandbox sb = {.path = path, .mem_limit = MEMORY_LIMIT, .read = read, .arg = arg};
	sb.chunkname = xasprintf("@%s", path);
	const char *slash = strrchr(path, '/');
	char *cwd = getcwd(NULL, 0);
	if (!slash)
		sb.dir = xstrdup(cwd ? cwd : "/");
	else if (path[0] == '/')
		sb.dir = slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
	else
		sb.dir = xasprintf("%s/%.*s", cwd ? cwd : "", (int)(slash - path), path);
	free(cwd);
	*err = NULL;
	int rc = read_lsyncd_file(&sb, err);
	if (rc == 0)
		rc = evaluate(&sb, err);
	free(sb.chunkname);
	free(sb.dir);
	free(sb.text);
	return rc;
}
