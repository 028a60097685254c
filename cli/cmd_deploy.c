/* cmd_deploy.c — see cmd_deploy.h. */
#include "cli/cmd_deploy.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "cli/aws_deploy.h"
#include "cli/cmd_aws.h"
#include "cli/cmd_ps.h"
#include "cli/cmd_template.h"
#include "cli/common.h"
#include "provision/provider.h"
#include "provision/qemu.h"
#include "provision/local/deploy.h"
#include "provision/local/state.h"
#include "provision/local/supervisor.h"

#define DEFAULT_WAIT_S 600

static void help(void)
{
	printf("Usage: i2kit deploy -s SERVICE.yml [-e ENVIRONMENT.yml] [OPTIONS]\n\n"
	       "Builds the service's VM image (only when the manifest or an image changed)\n"
	       "and runs `replicas` VMs behind a load balancer on 127.0.0.1 per declared\n"
	       "port, with health checks, restarts and rolling updates. Foreground by\n"
	       "default (Ctrl-C stops everything); deploying a service that is already\n"
	       "running replaces its replicas one at a time with the new version.\n\n"
	       "Options:\n"
	       "  --detach                leave a supervisor running in the background\n"
	       "                          (returns once every replica is healthy)\n"
	       "  --provider local|aws    the provider (default: the environment's\n"
	       "                          provider.type, else local). aws: AMI + CloudFormation\n"
	       "                          stacks ENV and SERVICE-ENV (needs -e ENV.yml), stack\n"
	       "                          events as they happen, the endpoint URL at the end;\n"
	       "                          --region, --profile, --endpoint-url, --debug, --json\n"
	       "  --publish LISTEN:PORT   balance the manifest's PORT on 127.0.0.1:LISTEN\n"
	       "                          (0 = any free port; repeatable)\n"
	       "  --mem MB, --cpus N      VM size (default: instance_type, else %u MB, 1)\n"
	       "  --accel auto|kvm|tcg    accelerator (default auto)\n"
	       "  --wait S                how long --detach and a redeploy wait for health\n"
	       "                          (aws: for `replicas` healthy targets; default %u)\n"
	       "  --cache DIR, --offline, --pull, --insecure-registry HOST, --ca-file F,\n"
	       "  --mirror REG=URL, --mirrors-file F, --verify-key KEY.pub\n"
	       "                          as for `i2kit build`\n\n"
	       "State: $XDG_STATE_HOME/i2kit/local/SERVICE (else ~/.local/state/...).\n"
	       "See also: i2kit ps, i2kit logs SERVICE, i2kit destroy -s SERVICE.yml.\n",
	       I2K_LOCAL_DEFAULT_MEM, DEFAULT_WAIT_S);
}

static void on_hup(int sig)
{
	(void)sig;
	i2k_local_reload = 1;
}

struct out {
	FILE *f;
	bool tty;
	int table_lines;
	json_t *last;
};

static void erase_table(struct out *o)
{
	if (o->tty && o->table_lines > 0)
		fprintf(o->f, "\033[%dA\033[J", o->table_lines);
	o->table_lines = 0;
}

static void print_event(void *ctx, const char *msg)
{
	struct out *o = ctx;
	erase_table(o);
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	fprintf(o->f, "%02d:%02d:%02d %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec, msg);
	if (o->last && o->tty)
		o->table_lines = i2k_cli_print_status(o->f, o->last, true);
	fflush(o->f);
}

static void print_status(void *ctx, const json_t *st)
{
	struct out *o = ctx;
	json_decref(o->last);
	o->last = json_deep_copy(st);
	if (!o->tty)
		return; /* the events say it all in a log */
	erase_table(o);
	o->table_lines = i2k_cli_print_status(o->f, st, true);
	fflush(o->f);
}

static char *self_exe(void)
{
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return i2k_xstrdup(buf);
}

/* Every wanted slot has a current, healthy replica of `hash`. */
static bool settled(const json_t *st, const char *hash, pid_t sup)
{
	if (!st || json_integer_value(json_object_get(st, "pid")) != sup)
		return false;
	if (strcmp(json_string_value(json_object_get(st, "hash")) ?: "", hash) != 0)
		return false;
	if (strcmp(json_string_value(json_object_get(st, "state")) ?: "", "running") != 0)
		return false;
	json_int_t want = json_integer_value(json_object_get(st, "replicas_wanted"));
	json_int_t ok = 0;
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(st, "replicas"), i, r)
	{
		if (json_is_true(json_object_get(r, "current")) &&
		    json_is_true(json_object_get(r, "healthy")) &&
		    strcmp(json_string_value(json_object_get(r, "hash")) ?: "", hash) == 0 &&
		    strcmp(json_string_value(json_object_get(r, "state")) ?: "", "up") == 0)
			ok++;
		else
			return false; /* an old or starting replica is still around */
	}
	return ok == want;
}

/* Waits until the supervisor has settled on hash; prints the status. */
static int wait_settled(const char *dir, const char *hash, pid_t sup, bool own_child,
			unsigned wait_s, const char *log)
{
	long long end = (long long)time(NULL) + wait_s;
	while (!i2k_interrupted) {
		json_t *st = i2k_local_status_load(dir);
		bool done = settled(st, hash, sup);
		if (done) {
			i2k_cli_print_status(stdout, st, false);
			json_decref(st);
			return 0;
		}
		json_decref(st);
		int wst;
		if (own_child ? waitpid(sup, &wst, WNOHANG) != 0 : kill(sup, 0) < 0) {
			_cleanup_free_ char *text = NULL;
			const char *why = "";
			if (log && i2k_read_file(log, 1u << 20, &text, NULL, NULL) == 0) {
				char *e = text + strlen(text);
				while (e > text && e[-1] == '\n')
					*--e = '\0';
				char *nl = strrchr(text, '\n');
				why = nl ? nl + 1 : text;
				if (strncmp(why, "i2kit: error: ", 14) == 0)
					why += 14;
			}
			fprintf(stderr, "i2kit: error: the supervisor ended%s%s (log: %s)\n",
				*why ? ": " : "", why, log ? log : "none");
			return 1;
		}
		if ((long long)time(NULL) > end) {
			fprintf(stderr,
				"i2kit: error: the replicas were not all healthy after %u s "
				"(the supervisor goes on; see i2kit ps / i2kit logs)\n",
				wait_s);
			return 1;
		}
		struct timespec ts = {.tv_nsec = 200 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return 130;
}

struct dargs {
	const char *svc, *envf, *accel, *provider;
	bool detach;
	unsigned mem, cpus, wait_s;
	struct i2k_local_publish pub[16];
	size_t npub;
	const char **bargs;
	size_t nbargs;
	struct i2k_cli_fetch cf;
	struct i2k_aws_opts ao; /* --provider aws: --region, --profile, ... */
	bool aws_debug;
};

static int parse_uint(const char *opt, const char *v, unsigned long max, unsigned *out)
{
	char *end = NULL;
	unsigned long x = *v >= '0' && *v <= '9' ? strtoul(v, &end, 10) : 0;
	if (!end || *end || x < 1 || x > max)
		return i2k_cli_usage("deploy", "%s: \"%s\" is not a number in 1..%lu", opt, v, max),
		       -1;
	*out = (unsigned)x;
	return 0;
}

static int parse_publish(const char *v, struct dargs *d)
{
	char *c = NULL, *end = NULL;
	unsigned long l = *v >= '0' && *v <= '9' ? strtoul(v, &c, 10) : 99999;
	unsigned long p =
	    c && *c == ':' && c[1] >= '0' && c[1] <= '9' ? strtoul(c + 1, &end, 10) : 0;
	if (l > 65535 || !end || *end || p < 1 || p > 65535 || d->npub == I2K_ARRAY_SIZE(d->pub))
		return i2k_cli_usage("deploy", "--publish \"%s\": expected LISTEN:PORT", v), -1;
	d->pub[d->npub++] = (struct i2k_local_publish){.listen = (uint16_t)l, .port = (uint16_t)p};
	return 0;
}

/* 0 parsed, 1 help shown, -1 usage error printed. */
static int parse(int argc, char **argv, struct dargs *d)
{
	static const char *const names[] = {"-s",	  "--service", "-e",	 "--environment",
					    "--publish",  "--mem",     "--cpus", "--accel",
					    "--provider", "--wait"};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			help();
			return 1;
		}
		if (strcmp(a, "--detach") == 0 || strcmp(a, "-d") == 0) {
			d->detach = true;
			continue;
		}
		struct i2k_error *ae = NULL;
		int ar = i2k_cli_aws_opt(&d->ao, &d->aws_debug, argc, argv, &i, &ae);
		if (ar < 0) {
			i2k_cli_usage("deploy", "%s", ae->msg);
			i2k_error_free(ae);
			return -1;
		}
		if (ar > 0)
			continue;
		int first = i;
		int f = i2k_cli_fetch_opt(&d->cf, "deploy", argc, argv, &i);
		if (f < 0)
			return -1;
		if (f > 0) {
			for (int k = first; k <= i; k++)
				if (strcmp(argv[k], "--json") != 0)
					d->bargs[d->nbargs++] = argv[k];
			continue;
		}
		const char *v = NULL;
		struct i2k_error *e = NULL;
		int w = i2k_cli_match_opt(names, I2K_ARRAY_SIZE(names), argc, argv, &i, &v, &e);
		if (w == -2) {
			i2k_cli_usage("deploy", "%s", e->msg);
			i2k_error_free(e);
			return -1;
		}
		int r = 0;
		switch (w) {
		case 0:
		case 1:
			d->svc = v;
			break;
		case 2:
		case 3:
			d->envf = v;
			break;
		case 4:
			r = parse_publish(v, d);
			break;
		case 5:
			r = parse_uint(a, v, 1u << 20, &d->mem);
			break;
		case 6:
			r = parse_uint(a, v, 256, &d->cpus);
			break;
		case 7:
			if (strcmp(v, "auto") && strcmp(v, "kvm") && strcmp(v, "tcg")) {
				i2k_cli_usage("deploy", "--accel: \"%s\" is not auto, kvm or tcg",
					      v);
				r = -1;
			}
			d->accel = v;
			break;
		case 8:
			d->provider = v;
			break;
		case 9:
			r = parse_uint(a, v, 86400, &d->wait_s);
			break;
		default:
			i2k_cli_usage("deploy", "unknown argument %s", a);
			return -1;
		}
		if (r < 0)
			return -1;
	}
	if (!d->svc) {
		i2k_cli_usage("deploy", "no service manifest given (-s SERVICE.yml)");
		return -1;
	}
	return 0;
}

static int fail(struct i2k_error *e)
{
	return i2k_cli_fail(e);
}

static int deploy(struct dargs *d)
{
	struct i2k_error *err = NULL;
	_cleanup_(i2k_service_freep) struct i2k_service *m = NULL;
	_cleanup_(i2k_environment_freep) struct i2k_environment *env = NULL;
	if (i2k_cli_load_service(d->svc, d->envf, &m, &env, &err) < 0)
		return fail(err);
	const char *provider = d->provider ? d->provider : env ? env->provider.type : "local";
	const struct i2k_provider *prov;
	i2k_provider_op deploy_op;
	if (i2k_provider_get(provider, I2K_PROVIDER_DEPLOY, &prov, &deploy_op, &err) < 0)
		return fail(err);
	_cleanup_free_ char *exe = self_exe();
	if (!exe) {
		i2k_error_errno(&err, errno, I2K_ERR_INTERNAL, "/proc/self/exe");
		return fail(err);
	}
	if (strcmp(prov->name, "aws") == 0) {
		if (d->detach || d->npub || d->mem || d->cpus)
			return i2k_cli_usage("deploy", "--detach, --publish, --mem and --cpus are "
						       "for the local provider");
		struct i2k_local_deploy_opts b = {.exe = exe,
						  .build_args = d->bargs,
						  .nbuild_args = d->nbargs,
						  .fetch = &d->cf.fetch,
						  .cache_dir = d->cf.cache_dir};
		return i2k_cli_deploy_aws(m, env, &d->ao, d->aws_debug, &b, d->wait_s, d->cf.json);
	}
	const char *accel = d->accel;
	if (strcmp(accel, "auto") == 0) {
		char why[256] = "";
		enum i2k_qemu_accel chosen;
		if (i2k_qemu_choose_accel(I2K_QEMU_ACCEL_AUTO, &chosen, why, sizeof(why), &err) < 0)
			return fail(err);
		accel = chosen == I2K_QEMU_ACCEL_KVM ? "kvm" : "tcg";
		if (chosen != I2K_QEMU_ACCEL_KVM)
			fprintf(stderr, "i2kit: deploy: using tcg (kvm unusable: %s)\n", why);
	}
	struct out o = {.f = stderr, .tty = isatty(2)};
	struct i2k_local_deploy_opts dopts = {.exe = exe,
					      .build_args = d->bargs,
					      .nbuild_args = d->nbargs,
					      .fetch = &d->cf.fetch,
					      .cache_dir = d->cf.cache_dir,
					      .mem_mb = d->mem,
					      .cpus = d->cpus,
					      .accel = accel,
					      .publish = d->pub,
					      .npublish = d->npub,
					      .on_event = print_event,
					      .ctx = &o};
	_cleanup_free_ char *dir = NULL;
	struct i2k_local_spec spec;
	long long t0 = time(NULL);
	int prc = i2k_local_prepare(m, env, &dopts, &dir, &spec, &err);
	i2k_cli_progress_end(); /* the pulls' display, before deploy's own lines */
	if (prc < 0)
		return fail(err);
	_cleanup_free_ char *hash = i2k_xstrdup(spec.hash);
	i2k_local_spec_clear(&spec);
	pid_t sup = i2k_local_supervisor_pid(dir);
	if (sup > 0) {
		/* already running: its supervisor does the rolling update */
		fprintf(stderr, "i2kit: deploy: %s is running (supervisor pid %d): updating\n",
			m->name, (int)sup);
		if (kill(sup, SIGHUP) < 0) {
			i2k_error_errno(&err, errno, I2K_ERR_IO, "signalling pid %d", (int)sup);
			return fail(err);
		}
		int rc = wait_settled(dir, hash, sup, false, d->wait_s, NULL);
		if (rc == 0)
			fprintf(stderr, "i2kit: deploy: %s updated in %lld s\n", m->name,
				(long long)time(NULL) - t0);
		return rc;
	}
	struct sigaction sa = {.sa_handler = on_hup};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	struct i2k_local_sup_opts so = {
	    .dir = dir, .exe = exe, .on_event = print_event, .on_status = print_status, .ctx = &o};
	if (!d->detach) {
		int rc = deploy_op(&so, NULL, &err) < 0 ? fail(err) : 0;
		json_decref(o.last);
		return rc;
	}
	_cleanup_free_ char *log = i2k_xasprintf("%s/supervisor.log", dir);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		i2k_error_errno(&err, errno, I2K_ERR_IO, "fork");
		return fail(err);
	}
	if (pid == 0) {
		setsid();
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
		int lf = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (nul >= 0)
			dup2(nul, 0);
		if (lf >= 0) {
			dup2(lf, 1);
			dup2(lf, 2);
		}
		struct out lo = {.f = stdout, .tty = false};
		so.ctx = &lo;
		int r = deploy_op(&so, NULL, &err) < 0 ? fail(err) : 0;
		json_decref(lo.last);
		fflush(NULL);
		_exit(r);
	}
	int rc = wait_settled(dir, hash, pid, true, d->wait_s, log);
	if (rc == 0)
		fprintf(stderr, "i2kit: deploy: %s ready in %lld s (supervisor pid %d, log %s)\n",
			m->name, (long long)time(NULL) - t0, (int)pid, log);
	return rc;
}

int i2k_cmd_deploy(int argc, char **argv)
{
	struct dargs d = {.accel = "auto", .wait_s = DEFAULT_WAIT_S};
	d.bargs = i2k_xcalloc((size_t)argc + 1, sizeof(char *));
	i2k_cli_fetch_init(&d.cf);
	int r = parse(argc, argv, &d);
	int rc = r < 0 ? 2 : r > 0 ? 0 : deploy(&d);
	i2k_cli_fetch_clear(&d.cf);
	free(d.bargs);
	return rc;
}
