/* cmd_cache.c — `i2kit cache`: list, pull, remove, clean, verify, export and
 * import cached images. Options may appear before or after the verb. */
#include "cli/cmd_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/registry/fetch.h"
#include "builder/registry/manifest.h"
#include "builder/registry/ref.h"
#include "builder/registry/sigverify.h"
#include "builder/store/store.h"
#include "builder/store/unpacked.h"
#include "cli/common.h"
#include "initrd/blockmemo.h"
#include "pipeline/build.h"
#include "provision/ovmf.h"
#include "provision/pvh.h"

static void help(void)
{
	printf(
	    "Usage: i2kit cache [OPTIONS] VERB [ARGS]\n\n"
	    "Verbs:\n"
	    "  ls                      list cached images (ref, manifest digest, size)\n"
	    "  pull REF...             fetch images into the cache\n"
	    "  rm REF...               forget images, then delete unreferenced blobs\n"
	    "  clean                   remove every image and blob\n"
	    "  verify [--repair]       check every blob's digest, every image's blobs, no\n"
	    "                          stray partial downloads; --repair removes what is broken\n"
	    "  export FILE REF...      write the images as an OCI archive (tar; FILE - is\n"
	    "                          stdout)\n"
	    "  import FILE             add the images of an OCI archive (FILE - is stdin)\n\n"
	    "Options:\n"
	    "  --cache DIR             image cache (default $I2KIT_CACHE or ~/.cache/i2kit)\n"
	    "  --arch amd64|arm64      platform to pull (default amd64)\n"
	    "  --platform OS/ARCH[/V]  full platform to pull\n"
	    "  --offline               never use the network\n"
	    "  --pull                  re-resolve tags even when cached\n"
	    "  --insecure-registry H   allow plain HTTP for host H (repeatable)\n"
	    "  --ca-file PEM           extra CA certificates for registries\n"
	    "  --mirror REG=URL        try the mirror URL before registry REG, e.g.\n"
	    "                          docker.io=https://mirror.lan (repeatable)\n"
	    "  --mirrors-file F        REG=URL lines (default $I2KIT_MIRRORS_FILE)\n"
	    "  --verify-key KEY.pub    pull: require a cosign signature verifying with KEY\n"
	    "  --json                  machine-readable output on stdout (ls, pull)\n\n"
	    "'i2kit cache VERB --help' describes one verb.\n");
}

struct verb_help {
	const char *verb, *usage, *text;
};
static const struct verb_help verb_helps[] = {
    {"ls", "ls [--json]",
     "Lists the cached images: ref, manifest digest and size (--json: an array of\n"
     "objects).\n"},
    {"pull", "pull [--arch A | --platform P] [--pull] [--json] REF...",
     "Fetches images into the cache (a tag already cached is not re-resolved\n"
     "unless --pull).\n"},
    {"rm", "rm REF...", "Forgets images, then deletes the blobs nothing references.\n"},
    {"clean", "clean", "Removes every image and blob from the cache.\n"},
    {"verify", "verify [--repair]",
     "Checks every blob's digest, every image's blobs and that no partial\n"
     "download is left; --repair removes what is broken.\n"},
    {"export", "export FILE|- REF...",
     "Writes the images as one OCI archive (tar) to FILE, or to stdout with -\n"
     "(refused when stdout is a terminal).\n"},
    {"import", "import FILE|-",
     "Adds the images of an OCI archive (written by export, or by skopeo's\n"
     "oci-archive:) read from FILE, or from stdin with -. Every blob is verified\n"
     "first; prints the refs imported.\n"},
};

/* Help for one verb; false when the verb is unknown. */
static bool verb_help(const char *verb)
{
	for (size_t i = 0; i < I2K_ARRAY_SIZE(verb_helps); i++) {
		if (strcmp(verb, verb_helps[i].verb) != 0)
			continue;
		printf(
		    "Usage: i2kit cache [OPTIONS] %s\n\n%s\nOptions: see 'i2kit cache --help'.\n",
		    verb_helps[i].usage, verb_helps[i].text);
		return true;
	}
	return false;
}

/* A private temporary directory for an archive on stdin/stdout (caller
 * removes it and the file in it). */
static char *tmp_archive(struct i2k_error **err)
{
	const char *t = getenv("TMPDIR");
	char *dir = i2k_xasprintf("%s/i2kit-archive-XXXXXX", t && *t ? t : "/var/tmp");
	if (mkdtemp(dir) == NULL) {
		i2k_error_errno(err, errno, I2K_ERR_IO, "%s", dir);
		free(dir);
		return NULL;
	}
	return dir;
}

static void tmp_archive_remove(char *dir)
{
	if (dir == NULL)
		return;
	_cleanup_free_ char *f = i2k_xasprintf("%s/archive.tar", dir);
	unlink(f);
	rmdir(dir);
	free(dir);
}

/* Copies from fd in to fd out until EOF. */
static int copy_fd(int in, int out, const char *what, struct i2k_error **err)
{
	char buf[65536];
	for (;;) {
		if (i2k_check_interrupt(err) < 0)
			return -1;
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return i2k_error_errno(err, errno, I2K_ERR_IO, "reading %s", what);
		if (n == 0)
			return 0;
		if (i2k_write_all(out, buf, (size_t)n, err) < 0)
			return i2k_error_wrap(err, "writing %s", what);
	}
}

/* The index.json name for what the user typed: the name itself when it is
 * stored as such (e.g. a ref imported from another tool), else the canonical
 * form. Caller frees. NULL with *err on a malformed reference. */
static char *stored_name(struct i2k_store *s, const char *arg, struct i2k_error **err)
{
	struct i2k_store_ref sr = {0};
	struct i2k_error *e = NULL;
	if (i2k_store_ref_get(s, arg, &sr, &e) > 0) {
		i2k_store_ref_clear(&sr);
		return i2k_xstrdup(arg);
	}
	i2k_error_free(e);
	struct i2k_ref ref;
	if (i2k_ref_parse(arg, &ref, err) < 0)
		return NULL;
	char *name = i2k_ref_string(&ref);
	i2k_ref_clear(&ref);
	return name;
}

static void human_size(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u + 1 < I2K_ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
}

static int cmd_ls(struct i2k_store *s, bool json, struct i2k_error **err)
{
	struct i2k_store_ref *refs = NULL;
	size_t n = 0;
	if (i2k_store_ref_list(s, &refs, &n, err) < 0)
		return -1;
	json_t *arr = json ? json_array() : NULL;
	size_t w = 3;
	for (size_t i = 0; i < n; i++)
		if (strlen(refs[i].name) > w)
			w = strlen(refs[i].name);
	if (!json)
		printf("%-*s  %-12s  %s\n", (int)w, "REF", "DIGEST", "SIZE");
	for (size_t i = 0; i < n; i++) {
		uint64_t total = 0;
		bool complete = false;
		struct i2k_error *e = NULL;
		bool ok = i2k_manifest_stored_size(s, &refs[i].desc, &total, &complete, &e) == 0;
		if (!ok) {
			i2k_warn("%s: %s", refs[i].name, e->msg);
			i2k_error_free(e);
		}
		const char *hex = strchr(refs[i].desc.digest, ':');
		hex = hex ? hex + 1 : refs[i].desc.digest;
		if (json) {
			json_array_append_new(
			    arr, json_pack("{s:s, s:s, s:s, s:I, s:b}", "ref", refs[i].name,
					   "digest", refs[i].desc.digest, "media_type",
					   refs[i].desc.media_type ? refs[i].desc.media_type : "",
					   "size", (json_int_t)total, "complete", ok && complete));
		} else {
			char hs[32];
			if (ok)
				human_size(total, hs, sizeof(hs));
			else
				snprintf(hs, sizeof(hs), "?");
			printf("%-*s  %.12s  %s%s\n", (int)w, refs[i].name, hex, hs,
			       ok && !complete ? " (incomplete)" : "");
		}
	}
	if (json) {
		char *out = json_dumps(arr, JSON_INDENT(2));
		printf("%s\n", out ? out : "[]");
		free(out);
		json_decref(arr);
	} else {
		size_t entries;
		uint64_t bytes;
		i2k_unpacked_usage(s, &entries, &bytes);
		if (entries) {
			char hs[32];
			human_size(bytes, hs, sizeof(hs));
			printf("unpacked: %zu layer%s kept decompressed, %s (dropped with their "
			       "images by rm, and by clean)\n",
			       entries, entries == 1 ? "" : "s", hs);
		}
		_cleanup_free_ char *bd =
		    i2k_xasprintf("%s/" I2K_BUILD_BLOCK_DIR, i2k_store_dir(s));
		i2k_blockmemo_usage(bd, &entries, &bytes);
		if (entries) {
			char hs[32];
			human_size(bytes, hs, sizeof(hs));
			printf(
			    "compressed: %zu initrd block%s kept for rebuilds, %s (least recently "
			    "used dropped past 1 GiB; all by clean)\n",
			    entries, entries == 1 ? "" : "s", hs);
		}
		i2k_pvh_usage(i2k_store_dir(s), &entries, &bytes);
		if (bytes) {
			char hs[32];
			human_size(bytes, hs, sizeof(hs));
			printf(
			    "pvh: %zu kernel%s extracted for `run qemu`, %s (dropped by clean)\n",
			    entries, entries == 1 ? "" : "s", hs);
		}
		size_t stores = 0;
		i2k_ovmf_usage(i2k_store_dir(s), &entries, &stores, &bytes);
		if (bytes) {
			char hs[32], st[64] = "";
			human_size(bytes, hs, sizeof(hs));
			if (stores)
				snprintf(st, sizeof(st), ", %zu variable store%s", stores,
					 stores == 1 ? "" : "s");
			printf("ovmf: %zu UEFI firmware cop%s trimmed for `run qemu`%s, %s "
			       "(dropped by clean)\n",
			       entries, entries == 1 ? "y" : "ies", st, hs);
		}
	}
	i2k_store_refs_free(refs, n);
	return 0;
}

static int cmd_pull(struct i2k_store *s, struct i2k_cli_fetch *c, char **refs, int n,
		    struct i2k_error **err)
{
	_cleanup_(i2k_fetcher_freep) struct i2k_fetcher *f = NULL;
	if (c->json)
		c->fetch.registry.progress = NULL;
	_cleanup_(i2k_sig_policy_freep) struct i2k_sig_policy *policy = NULL;
	struct i2k_fetch_opts fo = c->fetch; /* in scope as long as f */
	if (c->n_verify_keys > 0) {
		i2k_sig_policy_new(&policy);
		for (size_t i = 0; i < c->n_verify_keys; i++)
			if (i2k_sig_policy_add_default(policy, c->verify_keys[i], err) < 0)
				return i2k_error_wrap(err, "--verify-key");
		fo.verify = policy;
	}
	if (i2k_fetcher_new(s, &fo, &f, err) < 0)
		return -1;
	char(*digests)[I2K_DIGEST_LEN + 1] = i2k_xcalloc((size_t)n, sizeof(*digests));
	int rc = i2k_fetch_images(f, (const char *const *)refs, (size_t)n, digests, err);
	if (rc == 0)
		i2k_cli_progress_end();
	if (rc == 0) {
		json_t *arr = c->json ? json_array() : NULL;
		for (int i = 0; i < n; i++) {
			struct i2k_ref r;
			char *name = NULL;
			if (i2k_ref_parse(refs[i], &r, NULL) == 0) {
				name = i2k_ref_string(&r);
				i2k_ref_clear(&r);
			}
			if (arr)
				json_array_append_new(
				    arr, json_pack("{s:s, s:s, s:s}", "image", refs[i], "ref",
						   name ? name : refs[i], "digest", digests[i]));
			else
				printf("%s %s\n", name ? name : refs[i], digests[i]);
			free(name);
		}
		if (arr) {
			char *out = json_dumps(arr, JSON_INDENT(2));
			printf("%s\n", out ? out : "[]");
			free(out);
			json_decref(arr);
		}
	}
	free(digests);
	return rc;
}

static int cmd_rm(struct i2k_store *s, char **refs, int n, struct i2k_error **err)
{
	int missing = 0;
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *name = stored_name(s, refs[i], err);
		if (name == NULL)
			return -1;
		bool removed = false;
		if (i2k_store_ref_remove(s, name, &removed, err) < 0)
			return -1;
		if (removed) {
			fprintf(stderr, "removed %s\n", name);
		} else {
			i2k_warn("%s: not in the cache", refs[i]);
			missing++;
		}
	}
	uint64_t freed = 0;
	if (i2k_store_gc(s, &freed, err) < 0)
		return -1;
	char hs[32];
	human_size(freed, hs, sizeof(hs));
	fprintf(stderr, "freed %s\n", hs);
	if (missing)
		return i2k_error_set(err, I2K_ERR_NOTFOUND, "%d of %d image%s not in the cache",
				     missing, n, n == 1 ? " was" : "s were");
	return 0;
}

static int cmd_export(struct i2k_store *s, const char *file, char **refs, int n,
		      struct i2k_error **err)
{
	bool to_stdout = strcmp(file, "-") == 0;
	if (to_stdout && isatty(STDOUT_FILENO))
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "export -: refusing to write an archive to a terminal "
				     "(redirect stdout)");
	char **names = i2k_xcalloc((size_t)n, sizeof(char *));
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		names[i] = stored_name(s, refs[i], err);
		if (names[i] == NULL) {
			rc = -1;
			break;
		}
		struct i2k_store_ref sr = {0};
		int found = i2k_store_ref_get(s, names[i], &sr, err);
		i2k_store_ref_clear(&sr);
		if (found < 0)
			rc = -1;
		else if (found == 0)
			rc = i2k_error_set(err, I2K_ERR_NOTFOUND, "%s: not in the cache", refs[i]);
	}
	char *tmpdir = NULL;
	_cleanup_free_ char *tmpfile = NULL;
	if (rc == 0 && to_stdout) {
		if ((tmpdir = tmp_archive(err)) == NULL)
			rc = -1;
		else
			tmpfile = i2k_xasprintf("%s/archive.tar", tmpdir);
	}
	if (rc == 0)
		rc = i2k_store_export(s, to_stdout ? tmpfile : file, (const char *const *)names,
				      (size_t)n, err);
	if (rc == 0 && to_stdout) {
		int fd = open(tmpfile, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			rc = i2k_error_errno(err, errno, I2K_ERR_IO, "%s", tmpfile);
		else {
			rc = copy_fd(fd, STDOUT_FILENO, "stdout", err);
			close(fd);
		}
	}
	tmp_archive_remove(tmpdir);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (rc == 0)
		fprintf(stderr, "exported %d image%s to %s\n", n, n == 1 ? "" : "s",
			to_stdout ? "stdout" : file);
	return rc;
}

static int cmd_import(struct i2k_store *s, const char *file, struct i2k_error **err)
{
	char **names = NULL;
	size_t n = 0;
	bool from_stdin = strcmp(file, "-") == 0;
	char *tmpdir = NULL;
	_cleanup_free_ char *tmpfile = NULL;
	if (from_stdin) {
		if (isatty(STDIN_FILENO))
			return i2k_error_set(err, I2K_ERR_USAGE,
					     "import -: stdin is a terminal (pipe an archive in)");
		if ((tmpdir = tmp_archive(err)) == NULL)
			return -1;
		tmpfile = i2k_xasprintf("%s/archive.tar", tmpdir);
		int fd = open(tmpfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		int r = fd < 0 ? i2k_error_errno(err, errno, I2K_ERR_IO, "%s", tmpfile)
			       : copy_fd(STDIN_FILENO, fd, tmpfile, err);
		if (fd >= 0)
			close(fd);
		if (r < 0) {
			tmp_archive_remove(tmpdir);
			return -1;
		}
	}
	int r = i2k_store_import(s, from_stdin ? tmpfile : file, &names, &n, err);
	tmp_archive_remove(tmpdir);
	if (r < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		printf("%s\n", names[i]);
		free(names[i]);
	}
	free(names);
	fprintf(stderr, "imported %zu image%s from %s\n", n, n == 1 ? "" : "s",
		from_stdin ? "stdin" : file);
	return 0;
}

static int cmd_verify(struct i2k_store *s, bool repair, struct i2k_error **err)
{
	struct i2k_store_verify_report r;
	if (i2k_store_verify(s, repair, &r, err) < 0)
		return -1;
	for (size_t i = 0; i < r.n_problems; i++)
		printf("%s\n", r.problems[i]);
	char hs[32];
	human_size(r.bytes, hs, sizeof(hs));
	fprintf(stderr, "checked %zu blob%s (%s) and %zu image%s: %zu problem%s", r.blobs,
		r.blobs == 1 ? "" : "s", hs, r.refs, r.refs == 1 ? "" : "s", r.n_problems,
		r.n_problems == 1 ? "" : "s");
	if (repair)
		fprintf(stderr, ", %zu repaired", r.repaired);
	if (r.partials)
		fprintf(stderr, "; %zu resumable partial download%s kept", r.partials,
			r.partials == 1 ? "" : "s");
	fputc('\n', stderr);
	size_t left = r.n_problems - r.repaired;
	i2k_store_verify_report_clear(&r);
	if (left)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "cache %s: %zu problem%s (run `i2kit cache verify --repair`)",
				     i2k_store_dir(s), left, left == 1 ? "" : "s");
	return 0;
}

static int run_verb(struct i2k_cli_fetch *c, const char *verb, char **ops, int nops, bool repair)
{
	struct i2k_error *err = NULL;
	_cleanup_free_ char *dir =
	    c->cache_dir ? i2k_xstrdup(c->cache_dir) : i2k_store_default_dir();
	_cleanup_(i2k_store_freep) struct i2k_store *s = NULL;
	if (i2k_store_open(dir, &s, &err) < 0)
		return i2k_cli_fail(err);
	int rc;
	if (strcmp(verb, "ls") == 0)
		rc = cmd_ls(s, c->json, &err);
	else if (strcmp(verb, "pull") == 0)
		rc = cmd_pull(s, c, ops, nops, &err);
	else if (strcmp(verb, "rm") == 0)
		rc = cmd_rm(s, ops, nops, &err);
	else if (strcmp(verb, "clean") == 0)
		rc = i2k_store_clean(s, &err);
	else if (strcmp(verb, "export") == 0)
		rc = cmd_export(s, ops[0], ops + 1, nops - 1, &err);
	else if (strcmp(verb, "verify") == 0)
		rc = cmd_verify(s, repair, &err);
	else
		rc = cmd_import(s, ops[0], &err);
	return rc < 0 ? i2k_cli_fail(err) : 0;
}

int i2k_cmd_cache(int argc, char **argv)
{
	static const char cmd[] = "cache";
	struct i2k_cli_fetch c;
	i2k_cli_fetch_init(&c);
	char **args = i2k_xcalloc((size_t)argc + 1, sizeof(char *));
	int nargs = 0, status = 0;
	bool dashdash = false, repair = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!dashdash && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
			/* after a verb: that verb's help */
			if (nargs == 0 || !verb_help(args[0]))
				help();
			goto out;
		}
		if (!dashdash && strcmp(a, "--") == 0) {
			dashdash = true;
			continue;
		}
		if (!dashdash && strcmp(a, "--repair") == 0) {
			repair = true;
			continue;
		}
		if (!dashdash && a[0] == '-' && a[1] != '\0') {
			int r = i2k_cli_fetch_opt(&c, cmd, argc, argv, &i);
			if (r < 0) {
				status = 2;
				goto out;
			}
			if (r == 0) {
				status = i2k_cli_usage(cmd, "unknown option \"%s\"", a);
				goto out;
			}
			continue;
		}
		args[nargs++] = argv[i];
	}
	if (nargs == 0) {
		status = i2k_cli_usage(
		    cmd, "missing verb (ls, pull, rm, clean, verify, export, import)");
		goto out;
	}
	const char *verb = args[0];
	char **ops = args + 1;
	int nops = nargs - 1;
	int want_min = -1, want_max = -1;
	if (strcmp(verb, "ls") == 0 || strcmp(verb, "clean") == 0 || strcmp(verb, "verify") == 0)
		want_min = want_max = 0;
	else if (strcmp(verb, "pull") == 0 || strcmp(verb, "rm") == 0)
		want_min = 1, want_max = 1 << 30;
	else if (strcmp(verb, "export") == 0)
		want_min = 2, want_max = 1 << 30;
	else if (strcmp(verb, "import") == 0)
		want_min = want_max = 1;
	if (want_min < 0) {
		status = i2k_cli_usage(cmd, "unknown verb \"%s\"", verb);
		goto out;
	}
	if (nops < want_min) {
		status = i2k_cli_usage(cmd, "%s needs %s", verb,
				       strcmp(verb, "export") == 0   ? "a FILE and at least one REF"
				       : strcmp(verb, "import") == 0 ? "a FILE"
								     : "at least one REF");
		goto out;
	}
	if (nops > want_max) {
		status = i2k_cli_usage(cmd, "unexpected argument \"%s\"", ops[want_max]);
		goto out;
	}

	if (repair && strcmp(verb, "verify") != 0) {
		status = i2k_cli_usage(cmd, "--repair is an option of verify");
		goto out;
	}
	status = run_verb(&c, verb, ops, nops, repair);
out:
	free(args);
	i2k_cli_fetch_clear(&c);
	return status;
}
