/* log: the one place messages leave the program. Owns the log destination
 * (stderr, a file, syslog or the systemd journal via stderr) and the level. */
#ifndef LIFEBOAT_LOG_H
#define LIFEBOAT_LOG_H

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Where messages go: "stderr", "syslog" or a file path. Returns 0, or -1 with
 * errno when the file cannot be opened (messages then stay on stderr). */
int log_open(const char *dest);
/* Reopen the file after logrotate moved it (SIGHUP). */
int log_reopen(void);
void log_close(void);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
