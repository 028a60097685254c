/* cmd_build.c — `i2kit build` / `i2kit-build`: parses the options, reads
 * the boot loader paths from the environment once, runs the library
 * pipeline (pipeline/build.h) and prints what it wrote. */
#include "cli/cmd_build.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/config/config.h"
#include "builder/config/emit.h"
#include "cli/cmd_aws.h"
#include "cli/cmd_template.h"
#include "cli/common.h"
#include "formats/disk/isohybrid.h"
#include "formats/format.h"
#include "kernel/uki.h"
#include "pipeline/build.h"
#include "provision/aws/push.h"
#include "provision/provider.h"
#include "provision/template.h"

static void help(void)
{
	size_t n;
	const struct i2k_format *f = i2k_formats(&n);
	printf("Usage: i2kit build [OPTIONS] FILE.yml...\n"
	       "       i2kit build [OPTIONS] -s SERVICE.yml [-e ENVIRONMENT.yml]\n\n"
	       "Builds LinuxKit-style YAML files (merged in order) into images, or the\n"
	       "image of an i2kit service manifest (the YAML `i2kit template` prints; by\n"
	       "default in the format its provider boots, named after the service).\n\n"
	       "Options:\n"
	       "  -s, --service FILE      build an i2kit service manifest\n"
	       "  -e, --environment FILE  its environment (provider, kernel/init defaults)\n"
	       "  -f, --format F[,F...]   output formats (repeatable; default kernel+initrd)\n"
	       "  --dir DIR               output directory (default .)\n"
	       "  -o, --output FILE|-     the one file of a one-file format (e.g. -f tar) to\n"
	       "                          FILE, or to stdout with -\n"
	       "  --name N                base name of the outputs (default: first file's name)\n"
	       "  --compress gzip|zstd|none   initrd compression (default gzip)\n"
	       "  --arch amd64|arm64      image architecture (default amd64)\n"
	       "  --platform OS/ARCH[/V]  full platform\n"
	       "  --size SIZE             disk size for disk formats (bytes, or with K, M, G;\n"
	       "                          default: as small as fits)\n"
	       "  --max-root-size SIZE    refuse images that unpack to more (default 4G)\n"
	       "  --push aws              with --format aws: stream the disk into an EBS\n"
	       "                          snapshot and register an AMI named NAME (no\n"
	       "                          local NAME.raw); --replace, --region, --profile,\n"
	       "                          --endpoint-url, --debug as for `i2kit push aws`\n"
	       "  --root initramfs|squashfs|ext4\n"
	       "                          disk formats: root in the initrd (default), on a\n"
	       "                          read-only squashfs or a writable ext4 partition\n"
	       "  --offline               never use the network; fail if an image is not cached\n"
	       "  --pull                  re-resolve tags even when cached\n"
	       "  --keep-init             keep linuxkit/init, runc, containerd in init:\n"
	       "                          (default: replaced by i2kit's own init)\n"
	       "  --no-sbom               no SPDX SBOM (default: /sbom.spdx.json in the root\n"
	       "                          and NAME.spdx.json beside the outputs)\n"
	       "  --cache DIR             image cache (default $I2KIT_CACHE or ~/.cache/i2kit)\n"
	       "  --insecure-registry H   allow plain HTTP for host H (repeatable)\n"
	       "  --ca-file PEM           extra CA certificates for registries\n"
	       "  --mirror REG=URL        try the mirror URL before registry REG, e.g.\n"
	       "                          docker.io=https://mirror.lan (repeatable)\n"
	       "  --mirrors-file F        REG=URL lines (default $I2KIT_MIRRORS_FILE)\n"
	       "  --verify-key KEY.pub    require every image's cosign signature to verify\n"
	       "                          with this key (repeatable: any key; the YAML's\n"
	       "                          i2kit-verify: names keys per image)\n"
	       "  --json                  print the files written and the images used (with\n"
	       "                          their digests) as JSON on stdout; errors as JSON\n"
	       "                          on stderr\n"
	       "  -q, --quiet             no progress or summary (errors only)\n"
	       "  -v, --verbose           progress adds a line per blob pulled\n"
	       "  --dry-run               print the merged YAML and stop (nothing is fetched\n"
	       "                          or written)\n\n"
	       "Progress goes to stderr. On a terminal: one live area with a line per step\n"
	       "under way (each image pulled with MiB done/total, speed and ETA; then\n"
	       "unpack, compress, make disk, write with their sizes), finished steps\n"
	       "printed above it, the area erased at the end, on Ctrl-C and before an\n"
	       "error. Otherwise: a line per finished step and, during a long step, at\n"
	       "most one progress line per 5 s. Nothing with --json or -q.\n\n"
	       "Formats:\n");
	for (size_t i = 0; i < n; i++)
		printf("  %-18s %s\n", f[i].name, f[i].help);
	printf("\nEnvironment:\n"
	       "  I2KIT_CACHE             image cache directory\n"
	       "  I2KIT_EFI_STUB          systemd EFI stub for UEFI formats (default %s)\n"
	       "  I2KIT_ISOLINUX_DIR      isolinux.bin and isohdpfx.bin for BIOS formats\n"
	       "                          (default %s)\n"
	       "  I2KIT_LDLINUX_C32       syslinux's ldlinux.c32 (default %s)\n"
	       "  I2KIT_CA_FILE           extra CA certificates for registries\n"
	       "  SOURCE_DATE_EPOCH       timestamps in the outputs\n",
	       I2K_UKI_DEFAULT_STUB, I2K_ISOLINUX_DIR_DEFAULT, I2K_LDLINUX_C32_DEFAULT);
}

static json_t *push_json(const struct i2k_ebs_result *r)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:f}", "ami", r->ami, "snapshot",
			 r->snapshot, "region", r->region, "digest", r->digest, "size",
			 (json_int_t)r->size, "blocks_sent", (json_int_t)r->blocks_sent,
			 "blocks_skipped", (json_int_t)r->blocks_skipped, "bytes_sent",
			 (json_int_t)r->bytes_sent, "seconds", r->seconds);
}

static void print_json(const struct i2k_output_result *res, const struct i2k_build_result *br,
		       const struct i2k_push_dest *pushed)
{
	json_t *files = json_array();
	for (size_t i = 0; i < res->nfiles; i++)
		json_array_append_new(
		    files, json_pack("{s:s, s:s, s:I, s:s}", "path", res->files[i].path, "format",
				     res->files[i].format, "size", (json_int_t)res->files[i].size,
				     "sha256", res->files[i].sha256));
	json_t *images = json_array();
	for (size_t i = 0; i < br->nimages; i++)
		json_array_append_new(
		    images, json_pack("{s:s, s:o}", "ref", br->images[i].ref, "digest",
				      br->images[i].digest[0] ? json_string(br->images[i].digest)
							      : json_null()));
	json_t *o = json_pack("{s:o, s:o}", "files", files, "images", images);
	if (res->kernel_release)
		json_object_set_new(o, "kernel_release", json_string(res->kernel_release));
	if (pushed && pushed->pushed)
		json_object_set_new(o, "aws", push_json(&pushed->result));
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(o);
}

struct build_args {
	struct i2k_cli_fetch fetch;
	const char **formats;
	size_t n_formats;
	const char **files;
	size_t n_files;
	const char *dir, *name;
	const char *service, *environment; /* -s / -e */
	const char *push;		   /* --push aws */
	bool replace;			   /* --replace (the AMI) */
	struct i2k_aws_opts aws;	   /* --region, --profile, --endpoint-url */
	bool aws_debug;
	uint64_t size, max_root;
	bool root_given;
	enum i2k_root_mode root;
	enum i2k_compression compression;
	bool dry_run;
	const char *output; /* -o FILE|-: the one file of a one-file format */
	bool keep_init;
	bool no_sbom;
};

static void args_clear(struct build_args *a)
{
	i2k_cli_fetch_clear(&a->fetch);
	free(a->formats);
	free(a->files);
}

/* "1073741824", "512M", "2G" → bytes; a multiple of 512. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	unsigned shift = 0;
	if (*end) {
		const char *units = "KMGT";
		const char *u = strchr(units, *end == 'k' ? 'K' : *end);
		if (u == NULL || *u == '\0' ||
		    (end[1] != '\0' && strcmp(end + 1, "iB") != 0 && strcmp(end + 1, "B") != 0))
			return -1;
		shift = 10u * (unsigned)(u - units + 1);
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	v <<= shift;
	if (v == 0 || v % 512)
		return -1;
	*out = v;
	return 0;
}

/* --format F[,F...]: each name checked against the format table; the
 * names point into val (argv), split in place. */
static int add_formats(struct build_args *a, const char *val)
{
	char *v = (char *)val;
	for (char *save = NULL, *f = strtok_r(v, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		if (i2k_format_find(f) == NULL) {
			i2k_cli_usage("build", "unknown output format \"%s\"", f);
			return -1;
		}
		a->formats = i2k_xrealloc(a->formats, (a->n_formats + 1) * sizeof(*a->formats));
		a->formats[a->n_formats++] = f;
	}
	return 0;
}

/* -o FILE|-: the one file built in tmpdir goes to FILE (renamed, or
 * copied across file systems) or to stdout. */
static int deliver_output(const char *built, const char *to, struct i2k_error **err)
{
	if (strcmp(to, "-") != 0 && rename(built, to) == 0)
		return 0;
	if (strcmp(to, "-") != 0 && errno != EXDEV)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "%s", to);
	_cleanup_close_ int in = open(built, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "%s", built);
	_cleanup_close_ int out = strcmp(to, "-") == 0
				      ? dup(STDOUT_FILENO)
				      : open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "%s", to);
	char buf[1 << 16];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return i2k_error_errno(err, errno, I2K_ERR_IO, "%s", built);
		if (n == 0)
			break;
		if (i2k_write_all(out, buf, (size_t)n, err) < 0)
			return i2k_error_wrap(err, "%s", strcmp(to, "-") == 0 ? "stdout" : to);
	}
	return 0;
}

/* --dry-run: the merged configuration as YAML on stdout. */
static int dry_run(const struct build_args *a)
{
	struct i2k_error *err = NULL;
	_cleanup_(i2k_config_freep) struct i2k_config *c = NULL;
	_cleanup_free_ char *yaml = NULL;
	if (i2k_config_load(a->files, a->n_files, &c, &err) < 0 ||
	    i2k_config_emit(c, &yaml, NULL, &err) < 0)
		return i2k_cli_fail(err);
	fputs(yaml, stdout);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int parse_args(struct build_args *a, int argc, char **argv, bool *help_only)
{
	*help_only = false;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		int r = i2k_cli_fetch_opt(&a->fetch, "build", argc, argv, &i);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (strcmp(arg, "--keep-init") == 0 || strcmp(arg, "--no-sbom") == 0) {
			*(arg[2] == 'k' ? &a->keep_init : &a->no_sbom) = true;
			continue;
		}
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			*help_only = true;
			return 0;
		}
		if (strcmp(arg, "--dry-run") == 0) {
			a->dry_run = true;
			continue;
		}
		if (strcmp(arg, "--replace") == 0) {
			a->replace = true;
			continue;
		}
		struct i2k_error *aerr = NULL;
		int ar = i2k_cli_aws_opt(&a->aws, &a->aws_debug, argc, argv, &i, &aerr);
		if (ar < 0) {
			i2k_cli_usage("build", "%s", aerr->msg);
			i2k_error_free(aerr);
			return -1;
		}
		if (ar == 1)
			continue;
		static const char *const names[] = {
		    "--format",	       "--dir",	 "--name",    "--size", "--compress",
		    "--root",	       "-s",	 "--service", "-e",	"--environment",
		    "--max-root-size", "--push", "-f",	      "-o",	"--output"};
		const char *val = NULL;
		struct i2k_error *merr = NULL;
		int which =
		    i2k_cli_match_opt(names, I2K_ARRAY_SIZE(names), argc, argv, &i, &val, &merr);
		if (which == -2) {
			i2k_cli_usage("build", "%s", merr->msg);
			i2k_error_free(merr);
			return -1;
		}
		if (which == -1) {
			if (arg[0] == '-' && arg[1] != '\0') {
				i2k_cli_usage("build", "unknown option %s", arg);
				return -1;
			}
			a->files = i2k_xrealloc(a->files, (a->n_files + 1) * sizeof(*a->files));
			a->files[a->n_files++] = arg;
			continue;
		}
		switch (which) {
		case 0:
		case 12:
			if (add_formats(a, val) < 0)
				return -1;
			break;
		case 13:
		case 14:
			a->output = val;
			break;
		case 1:
			a->dir = val;
			break;
		case 2:
			if (*val == '\0' || strchr(val, '/')) {
				i2k_cli_usage("build",
					      "--name must be a plain file name, not \"%s\"", val);
				return -1;
			}
			a->name = val;
			break;
		case 3:
			if (parse_size(val, &a->size) < 0) {
				i2k_cli_usage(
				    "build",
				    "--size must be a number of bytes with an optional K, "
				    "M, G or T suffix (a multiple of 512), not \"%s\"",
				    val);
				return -1;
			}
			break;
		case 5: {
			struct i2k_error *e = NULL;
			if (i2k_root_mode_parse(val, &a->root, &e) < 0) {
				i2k_cli_usage("build", "%s", e->msg);
				i2k_error_free(e);
				return -1;
			}
			a->root_given = true;
			break;
		}
		case 6:
		case 7:
			a->service = val;
			break;
		case 8:
		case 9:
			a->environment = val;
			break;
		case 11:
			if (strcmp(val, "aws") != 0) {
				i2k_cli_usage("build", "--push: \"%s\" (only aws)", val);
				return -1;
			}
			a->push = val;
			break;
		case 10:
			if (parse_size(val, &a->max_root) < 0) {
				i2k_cli_usage("build",
					      "--max-root-size must be a size like 4G, not \"%s\"",
					      val);
				return -1;
			}
			break;
		case 4: {
			struct i2k_error *e = NULL;
			if (i2k_compression_parse(val, &a->compression, &e) < 0) {
				i2k_cli_usage("build", "%s", e->msg);
				i2k_error_free(e);
				return -1;
			}
			break;
		}
		}
	}
	if (a->service && a->n_files) {
		i2k_cli_usage("build", "give either -s SERVICE.yml or YAML files, not both");
		return -1;
	}
	if (a->environment && !a->service) {
		i2k_cli_usage("build", "-e ENVIRONMENT.yml goes with -s SERVICE.yml");
		return -1;
	}
	bool aws_format = false;
	for (size_t k = 0; k < a->n_formats; k++)
		aws_format |= strcmp(a->formats[k], "aws") == 0;
	if (a->push && !aws_format) {
		i2k_cli_usage("build", "--push aws needs --format aws");
		return -1;
	}
	if (a->n_files == 0 && !a->service) {
		i2k_cli_usage("build", "no configuration file given");
		return -1;
	}
	if (a->output) {
		const struct i2k_format *f =
		    i2k_format_find(a->n_formats ? a->formats[0] : "kernel+initrd");
		if (a->n_formats != 1 || f == NULL || f->files[0] == NULL || f->files[1] != NULL) {
			i2k_cli_usage("build", "-o needs exactly one --format that writes one file "
					       "(e.g. -f tar -o -)");
			return -1;
		}
		if (a->dir) {
			i2k_cli_usage("build", "-o and --dir exclude each other");
			return -1;
		}
		if (strcmp(a->output, "-") == 0 && a->fetch.json) {
			i2k_cli_usage("build", "-o - writes the image to stdout: no --json");
			return -1;
		}
	}
	return 0;
}

static void print_note(void *ctx, const char *fmt, va_list ap)
{
	(void)ctx;
	char text[1024];
	vsnprintf(text, sizeof(text), fmt, ap);
	i2k_cli_note("%s", text);
}

/* --push aws: the upload is the aws format's WRITE step ("write aws (EBS)"
 * with the disk bytes passed), the later phases are notes, once each. */
static void push_progress(const struct i2k_ebs_progress *p, void *ctx)
{
	const char **last = ctx;
	bool upload = strcmp(p->phase, "upload") == 0;
	if (!upload && *last && strcmp(*last, p->phase) == 0)
		return;
	struct i2k_stage_event ev = {.stage = I2K_STAGE_WRITE,
				     .step = upload ? I2K_STEP_UPDATE : I2K_STEP_END,
				     .what = "aws (EBS)",
				     .done = p->written,
				     .total = p->size};
	if (upload || (*last && strcmp(*last, "upload") == 0))
		i2k_cli_stage(&ev, NULL);
	if (strcmp(p->phase, "complete") == 0)
		i2k_cli_note("completing the snapshot (%llu blocks sent, %llu zero skipped)",
			     (unsigned long long)p->blocks_sent,
			     (unsigned long long)(p->blocks_total - p->blocks_sent));
	else if (strcmp(p->phase, "wait") == 0)
		i2k_cli_note("waiting for AWS");
	else if (strcmp(p->phase, "register") == 0)
		i2k_cli_note("registering the AMI");
	*last = p->phase;
}

/* An environment variable's value, NULL when unset or empty. */
static const char *env_path(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* -s SERVICE.yml: the manifest's LinuxKit YAML in a temporary file (the
 * config the pipeline reads), the provider's image format and the service's
 * name as defaults. */
struct service_build {
	char path[64];
	char *name;
	const char *format;
};

static int service_prepare(struct build_args *a, struct service_build *sb, struct i2k_error **err)
{
	_cleanup_(i2k_service_freep) struct i2k_service *m = NULL;
	_cleanup_(i2k_environment_freep) struct i2k_environment *env = NULL;
	_cleanup_free_ char *yaml = NULL;
	if (i2k_cli_load_service(a->service, a->environment, &m, &env, err) < 0 ||
	    i2k_template_linuxkit_yaml(m, env, &yaml, err) < 0)
		return -1;
	const char *type = env && env->provider.type ? env->provider.type : "local";
	size_t n;
	const struct i2k_provider *p = i2k_providers(&n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(p[i].name, type) == 0)
			sb->format = p[i].image_format;
	const char *tmp = getenv("TMPDIR");
	snprintf(sb->path, sizeof(sb->path), "%s/i2kit-service-XXXXXX",
		 tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
	_cleanup_close_ int fd = mkstemp(sb->path);
	if (fd < 0) {
		sb->path[0] = '\0';
		return i2k_error_errno(err, errno, I2K_ERR_IO, "temporary file for %s", a->service);
	}
	if (i2k_write_all(fd, yaml, strlen(yaml), err) < 0)
		return -1;
	sb->name = i2k_xstrdup(m->name);
	return 0;
}

int i2k_cmd_build(int argc, char **argv)
{
	struct build_args a = {0};
	i2k_cli_fetch_init(&a.fetch);
	bool help_only;
	if (parse_args(&a, argc, argv, &help_only) < 0) {
		args_clear(&a);
		return 2;
	}
	if (help_only) {
		help();
		args_clear(&a);
		return 0;
	}
	if (a.dry_run) {
		int drc = dry_run(&a);
		args_clear(&a);
		return drc;
	}
	if (a.fetch.json)
		a.fetch.fetch.registry.progress = NULL;
	_cleanup_free_ char *tmpdir = NULL;
	if (a.output) {
		if (strcmp(a.output, "-") == 0 && isatty(STDOUT_FILENO)) {
			int urc = i2k_cli_usage("build", "-o -: refusing to write an image to a "
							 "terminal (redirect stdout)");
			args_clear(&a);
			return urc;
		}
		const char *t = getenv("TMPDIR");
		tmpdir = i2k_xasprintf("%s/i2kit-out-XXXXXX", t && *t ? t : "/var/tmp");
		if (mkdtemp(tmpdir) == NULL) {
			struct i2k_error *terr = NULL;
			i2k_error_errno(&terr, errno, I2K_ERR_IO, "%s", tmpdir);
			args_clear(&a);
			return i2k_cli_fail(terr);
		}
		a.dir = tmpdir;
	}
	struct i2k_error *err = NULL;
	struct service_build sb = {0};
	const char *service_files[1], *service_formats[1];
	if (a.service) {
		if (service_prepare(&a, &sb, &err) < 0) {
			if (sb.path[0])
				unlink(sb.path);
			args_clear(&a);
			return i2k_cli_fail(err);
		}
		service_files[0] = sb.path;
		a.files = i2k_xrealloc(a.files, sizeof(*a.files));
		a.files[0] = service_files[0];
		a.n_files = 1;
		if (a.n_formats == 0 && sb.format) {
			service_formats[0] = sb.format;
			a.formats = i2k_xrealloc(a.formats, sizeof(*a.formats));
			a.formats[0] = service_formats[0];
			a.n_formats = 1;
		}
		if (a.name == NULL)
			a.name = sb.name;
	}
	struct i2k_build_request rq = {
	    .files = a.files,
	    .nfiles = a.n_files,
	    .formats = a.formats,
	    .nformats = a.n_formats,
	    .out = {.dir = a.dir,
		    .name = a.name,
		    .compression = a.compression,
		    .size = a.size,
		    .root_given = a.root_given,
		    .root = a.root,
		    .digests = a.fetch.json,
		    .boot = {.efi_stub = env_path("I2KIT_EFI_STUB"),
			     .isolinux_dir = env_path("I2KIT_ISOLINUX_DIR"),
			     .ldlinux_c32 = env_path("I2KIT_LDLINUX_C32")}},
	    .cache_dir = a.fetch.cache_dir,
	    .fetch = &a.fetch.fetch,
	    .verify_keys = a.fetch.verify_keys,
	    .n_verify_keys = a.fetch.n_verify_keys,
	    .max_root_size = a.max_root,
	    .keep_init = a.keep_init,
	    .no_sbom = a.no_sbom,
	    .note = a.fetch.json ? NULL : print_note,
	    .progress = {.fn = a.fetch.json ? NULL : i2k_cli_stage},
	};
	struct i2k_aws aws;
	struct i2k_push_dest pd;
	bool have_aws = false;
	const char *push_phase = NULL;
	if (a.push) {
		if (i2k_cli_aws_resolve(&a.aws, a.aws_debug, &aws, &err) < 0) {
			args_clear(&a);
			return i2k_cli_fail(err);
		}
		have_aws = true;
		struct i2k_push_opts po = {.sink = {.replace = a.replace}};
		if (!a.fetch.json) {
			po.sink.progress = push_progress;
			po.sink.progress_ctx = &push_phase;
		}
		i2k_push_dest_init(&pd, &aws, &po);
		rq.out.disk_dest = &pd.dest;
	}
	struct i2k_build_result res = {0};
	int rc = 0;
	int brc = i2k_build_run(&rq, &res, &err);
	i2k_cli_progress_end();
	if (brc < 0 || (a.output && deliver_output(res.out.files[0].path, a.output, &err) < 0)) {
		rc = i2k_cli_fail(err);
	} else if (a.output) {
		if (i2k_cli_verbosity >= 0)
			fprintf(stderr, "wrote %s (%s, %.1f MiB)\n",
				strcmp(a.output, "-") == 0 ? "stdout" : a.output,
				res.out.files[0].format, (double)res.out.files[0].size / 1048576.0);
	} else if (a.fetch.json) {
		print_json(&res.out, &res, have_aws ? &pd : NULL);
	} else {
		for (size_t i = 0; i < res.out.nfiles && i2k_cli_verbosity >= 0; i++)
			fprintf(stderr, "wrote %s (%s, %.1f MiB)\n", res.out.files[i].path,
				res.out.files[i].format, (double)res.out.files[i].size / 1048576.0);
		if (have_aws && pd.pushed) {
			if (i2k_cli_verbosity >= 0)
				fprintf(stderr,
					"pushed %s: %llu blocks sent, %llu zero blocks skipped\n",
					pd.result.ami, (unsigned long long)pd.result.blocks_sent,
					(unsigned long long)pd.result.blocks_skipped);
			printf("%s\n", pd.result.ami);
		}
	}
	if (tmpdir) {
		for (size_t i = 0; i < res.out.nfiles; i++)
			unlink(res.out.files[i].path);
		rmdir(tmpdir);
	}
	i2k_build_result_free(&res);
	if (have_aws)
		i2k_aws_clear(&aws);
	if (sb.path[0])
		unlink(sb.path);
	free(sb.name);
	args_clear(&a);
	return rc;
}
