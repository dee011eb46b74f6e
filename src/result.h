/* result: what library functions return when their caller must tell bad
 * input from a failed operation. Zero or negative, like the -1 of every
 * other module, so "if (rc)" and "rc < 0" keep meaning failure. Only the
 * commands (cmd_*.c) turn a result into a process exit status, through
 * cli_exit_status() (commands.h): LB_FAILED exits 1, LB_USAGE exits 2. */
#ifndef LIFEBOAT_RESULT_H
#define LIFEBOAT_RESULT_H

enum lb_result {
	LB_OK = 0,
	LB_FAILED = -1, /* the operation failed; *err says what and in what state */
	LB_USAGE = -2,  /* bad configuration or request: refused, nothing changed */
};

#endif
