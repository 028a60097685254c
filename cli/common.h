/* common.h — what every subcommand shares: printing the one error line,
 * signal handling, and the options that configure image fetching.
 *
 * Subcommands are `int i2k_cmd_NAME(int argc, char **argv)` (argv[0] is the
 * subcommand name) returning the process exit status.
 */
#ifndef I2K_CLI_COMMON_H
#define I2K_CLI_COMMON_H

#include <stdbool.h>

#include "builder/base/error.h"
#include "builder/registry/fetch.h"

/* Prints "i2kit: error: MSG" once to stderr, frees err, returns the exit
 * status for its category. With i2k_cli_json_errors (set by main for a
 * command line with --json) the error is one line of JSON instead:
 * {"error":{"category":"notfound","message":"MSG","exit_code":1}}
 * (i2k_cli_usage likewise, category "usage", exit code 2). */
int i2k_cli_fail(struct i2k_error *err);
extern bool i2k_cli_json_errors;
/* "usage", "config", "notfound", ... for an enum i2k_errc value. */
const char *i2k_cli_errc_name(int code);
/* Usage error: prints "i2kit: error: MSG" and "Try 'i2kit CMD --help'.",
 * returns 2. */
int i2k_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Matches argv[*i] against names[0..n) given as "--opt VALUE" or
 * "--opt=VALUE". Returns the index of the matching name with *val set
 * (*i moves past a separate value), -1 when no name matches, -2 with
 * I2K_ERR_USAGE "NAME needs a value" when the value is missing. */
int i2k_cli_match_opt(const char *const *names, size_t n, int argc, char **argv, int *i,
		      const char **val, struct i2k_error **err);

/* Installs SIGINT/SIGTERM handlers that set i2k_interrupted (a second
 * signal exits immediately with status 130), and the library's warning
 * handler ("i2kit: warning: MSG" on stderr, above the progress area). */
void i2k_cli_signals(void);

/* Options shared by build and cache: --cache DIR, --offline, --pull,
 * --insecure-registry HOST (repeatable), --arch A, --platform OS/ARCH[/V],
 * --ca-file F, --mirror REGISTRY=URL (repeatable), --mirrors-file F,
 * --verify-key KEY.pub (repeatable; the caller uses it). i2k_cli_fetch_opt tries to
 * consume argv[*i] (and its value); returns 1 if it did, 0 if the option is not one of these, -1
 * (with a usage message printed) on a bad value. */
struct i2k_cli_fetch {
	char *cache_dir; /* NULL → i2k_store_default_dir() */
	struct i2k_fetch_opts fetch;
	const char **insecure; /* storage behind fetch.registry.insecure_hosts */
	size_t n_insecure;
	struct i2k_mirror_list mirrors; /* storage behind fetch.registry.mirrors */
	char *platform_buf;
	bool json;
	const char **verify_keys; /* --verify-key KEY.pub (repeatable), from argv */
	size_t n_verify_keys;
};
void i2k_cli_fetch_init(struct i2k_cli_fetch *c);
int i2k_cli_fetch_opt(struct i2k_cli_fetch *c, const char *cmd, int argc, char **argv, int *i);
void i2k_cli_fetch_clear(struct i2k_cli_fetch *c);
/* Progress on stderr (thread-safe), drawn by cli/progress.h: on a TTY (and
 * TERM not dumb) a live area with one line per step under way (image
 * pulled: MiB done/total, speed, ETA; unpack, compress, make, write with
 * their sizes), finished steps as lines above it; not on a TTY a line per
 * finished step and at most one progress line per 5 s. -v adds a line per
 * blob; -q (i2k_cli_verbosity < 0) prints nothing. Nothing with --json
 * (the caller passes no callback).
 *
 * i2k_cli_stage is a struct i2k_stage_cb function (a build request's
 * progress); i2k_cli_progress the registry's callback for pulls;
 * i2k_cli_note prints a permanent line (a build's notes) above the area. */
void i2k_cli_stage(const struct i2k_stage_event *ev, void *ctx);
void i2k_cli_progress(const struct i2k_progress *p, void *ctx);
void i2k_cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Erases the live area for good (before an error message; Ctrl-C erases
 * it at once by itself). */
void i2k_cli_progress_clear(void);
/* Stops the display's thread and erases the area: call when the work is
 * over, before printing the results. A later event starts a new display. */
void i2k_cli_progress_end(void);
/* -q: -1, default 0, -v: 1 (set by i2k_cli_fetch_opt). */
extern int i2k_cli_verbosity;

#endif
