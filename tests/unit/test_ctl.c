/* Unit tests for ctl: the socket's name per daemon, one request and one
 * reply over a real unix socket served by a real loop (in a child
 * process), also when STATE_DIR is too deep for sun_path; a socket nobody
 * serves is "not running"; a second server for the same path is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "loop.h"
#include "util.h"

static void test_socket_names(void **state)
{
	(void)state;
	struct strv names;
	strv_init(&names);
	char *p = ctl_socket_path("/var/lib/lifeboat", &names);
	assert_string_equal(p, "/var/lib/lifeboat/sync.sock");
	free(p);
	strv_push(&names, "www");
	strv_push(&names, "uploads");
	p = ctl_socket_path("/var/lib/lifeboat", &names);
	assert_string_equal(p, "/var/lib/lifeboat/sync-www,uploads.sock");
	free(p);
	strv_free(&names);
}

static void on_request(struct ctl_conn *c, json_object *req, void *arg)
{
	struct loop *loop = arg;
	json_object *r = json_object_new_object();
	json_object_object_add(r, "ok", json_object_new_boolean(1));
	json_object_object_add(r, "echo", json_object_get(json_object_object_get(req, "request")));
	ctl_reply(c, r);
	if (strcmp(json_object_get_string(json_object_object_get(req, "request")), "bye") == 0)
		loop_stop(loop);
}

/* Serve path in a child process until a "bye" request. */
static pid_t serve(const char *path)
{
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		struct loop *loop = loop_new();
		char *err = NULL;
		struct ctl_server *s = ctl_server_new(loop, path, on_request, loop, &err);
		if (!s)
			_exit(3);
		(void)!write(ready[1], "x", 1);
		loop_run(loop);
		ctl_server_free(s);
		loop_free(loop);
		_exit(0);
	}
	close(ready[1]);
	char x;
	assert_int_equal(read(ready[0], &x, 1), 1);
	close(ready[0]);
	return pid;
}

static json_object *call(const char *path, const char *what, char **err)
{
	json_object *req = json_object_new_object();
	json_object_object_add(req, "request", json_object_new_string(what));
	json_object *r = ctl_call(path, req, 5000, err);
	json_object_put(req);
	return r;
}

static void round_trip(const char *dir)
{
	char *path = xasprintf("%s/sync.sock", dir), *err = NULL;
	pid_t pid = serve(path);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A second daemon for the same syncs is refused. */
	struct loop *loop = loop_new();
	assert_null(ctl_server_new(loop, path, on_request, loop, &err));
	assert_non_null(strstr(err, "already serves"));
	free(err);
	err = NULL;
	loop_free(loop);
	json_object *r = call(path, "status", &err);
	assert_non_null(r);
	assert_string_equal(json_object_get_string(json_object_object_get(r, "echo")), "status");
	json_object_put(r);
	r = call(path, "bye", &err);
	assert_non_null(r);
	json_object_put(r);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Gone: its socket is removed, and a call says not running. */
	assert_int_not_equal(stat(path, &st), 0);
	assert_null(call(path, "status", &err));
	assert_true(ctl_not_running(errno));
	assert_non_null(strstr(err, "not running"));
	free(err);
	free(path);
}

static void test_round_trip(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/lb-ctl-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	round_trip(tmpl);
	rmdir(tmpl);
}

/* sun_path holds 108 bytes; a deeper state directory still works. */
static void test_deep_state_dir(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/lb-ctl-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	char *deep = xasprintf("%s/%0120d", tmpl, 0);
	assert_int_equal(mkdir(deep, 0700), 0);
	round_trip(deep);
	rmdir(deep);
	rmdir(tmpl);
	free(deep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_names),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_deep_state_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
