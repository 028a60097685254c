/* test_bundle.c — builder/bundle: config.json / runtime.json as LinuxKit
 * writes them, id resolution, rootfs fix-ups, Go-style JSON output.
 * Expected documents live in tests/data/bundle/ (see its README for the
 * LinuxKit source each expectation comes from). */
#include "tests/unit/test.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/bundle/bundle.h"
#include "builder/bundle/caps.h"
#include "builder/bundle/gojson.h"
#include "builder/bundle/ids.h"
#include "builder/config/config.h"
#include "builder/fstree/fstree.h"
#include "builder/image/image.h"

/* ---- helpers ------------------------------------------------------------------ */

static struct i2k_config *parse_yaml(const char *yaml)
{
	struct i2k_config *c = NULL;
	struct i2k_error *e = NULL;
	if (i2k_config_parse("test.yml", yaml, strlen(yaml), &c, &e) < 0) {
		fprintf(stderr, "  YAML parse failed: %s\n", e && e->msg ? e->msg : "?");
		i2k_error_free(e);
		return NULL;
	}
	return c;
}

static struct i2k_image_config *parse_image(const char *json)
{
	struct i2k_image_config *ic = i2k_xcalloc(1, sizeof(*ic));
	struct i2k_error *e = NULL;
	if (i2k_image_config_parse(json, strlen(json), ic, &e) < 0) {
		fprintf(stderr, "  image config parse failed: %s\n", e && e->msg ? e->msg : "?");
		i2k_error_free(e);
		free(ic);
		return NULL;
	}
	return ic;
}

static void free_image(struct i2k_image_config *ic)
{
	if (ic)
		i2k_image_config_clear(ic);
	free(ic);
}

/* Makes a bundle; returns 0 or -1 with *msg (owned) set to the error. */
static int make(const struct i2k_config *c, enum i2k_bundle_kind kind, size_t idx,
		const struct i2k_image_config *ic, struct i2k_fstree *tree, struct i2k_idmap *ids,
		struct i2k_bundle *b, char **msg)
{
	const struct i2k_image_entry *e = kind == I2K_BUNDLE_ONBOOT	  ? &c->onboot[idx]
					  : kind == I2K_BUNDLE_ONSHUTDOWN ? &c->onshutdown[idx]
									  : &c->services[idx];
	struct i2k_bundle_input in = {.kind = kind,
				      .entry = e,
				      .image_cfg = ic,
				      .rootfs = tree,
				      .ids = ids,
				      .volumes = c->volumes,
				      .n_volumes = c->n_volumes};
	struct i2k_error *err = NULL;
	*msg = NULL;
	int r = i2k_bundle_make(&in, b, &err);
	if (r < 0) {
		*msg = i2k_xstrdup(err && err->msg ? err->msg : "(no message)");
		if (err && err->code != I2K_ERR_CONFIG) {
			fprintf(stderr, "  error code %d, want I2K_ERR_CONFIG\n", err->code);
			free(*msg);
			*msg = i2k_xstrdup("(wrong error code)");
		}
		i2k_error_free(err);
	}
	return r;
}

/* The error message of a bundle of a one-service YAML (NULL if it worked). */
static char *service_error(const char *yaml, const char *image_json)
{
	struct i2k_config *c = parse_yaml(yaml);
	struct i2k_image_config *ic = parse_image(image_json ? image_json : "{}");
	if (c == NULL || ic == NULL || c->n_services < 1) {
		i2k_config_free(c);
		free_image(ic);
		return i2k_xstrdup("(setup failed)");
	}
	struct i2k_bundle b = {0};
	char *msg = NULL;
	make(c, I2K_BUNDLE_SERVICE, 0, ic, NULL, NULL, &b, &msg);
	i2k_bundle_clear(&b);
	i2k_config_free(c);
	free_image(ic);
	return msg;
}

/* Compares a document with tests/data/bundle/NAME: semantically (after
 * parsing both with jansson) and byte for byte (Go's MarshalIndent format;
 * the file's one trailing newline is not part of the document). */
static int same_as_file(const char *doc, const char *name)
{
	char *want = NULL;
	size_t len = 0;
	struct i2k_error *e = NULL;
	_cleanup_free_ char *path = i2k_xstrdup(test_data(name));
	if (i2k_read_file(path, 1 << 20, &want, &len, &e) < 0) {
		fprintf(stderr, "  cannot read %s: %s\n", path, e->msg);
		i2k_error_free(e);
		return 0;
	}
	if (len && want[len - 1] == '\n')
		want[--len] = '\0';
	json_error_t je;
	json_t *a = json_loads(doc ? doc : "", 0, &je);
	json_t *b = json_loads(want, 0, &je);
	int ok = a && b && json_equal(a, b);
	if (!ok)
		fprintf(stderr, "  %s differs semantically; got:\n%s\n", name,
			doc ? doc : "(null)");
	else if (strcmp(doc, want) != 0) {
		fprintf(stderr, "  %s: same JSON but not the same bytes; got:\n%s\n", name, doc);
		ok = 0;
	}
	json_decref(a);
	json_decref(b);
	free(want);
	return ok;
}

static json_t *jparse(const char *doc)
{
	json_error_t je;
	return json_loads(doc ? doc : "", 0, &je);
}

/* A tree (with its spool) holding the given regular files. */
struct tree {
	struct i2k_spool *spool;
	struct i2k_fstree *t;
};

static void tree_file(struct tree *tr, const char *path, const char *data, uint32_t mode,
		      uint32_t uid)
{
	struct i2k_error *e = NULL;
	uint64_t off = 0;
	i2k_spool_append(tr->spool, data, strlen(data), &off, &e);
	struct i2k_fattr a = {.mode = S_IFREG | mode, .uid = uid, .gid = uid, .mtime = 12345};
	if (i2k_fstree_add(tr->t, path, &a, NULL, off, strlen(data),
			   I2K_FSTREE_MKPARENTS | I2K_FSTREE_REPLACE, NULL, &e) < 0) {
		fprintf(stderr, "  tree_file %s: %s\n", path, e->msg);
		i2k_error_free(e);
	}
}

static void tree_node(struct tree *tr, const char *path, uint32_t mode, const char *target)
{
	struct i2k_error *e = NULL;
	struct i2k_fattr a = {.mode = mode, .mtime = 12345, .rdev_major = 5, .rdev_minor = 1};
	if (i2k_fstree_add(tr->t, path, &a, target, 0, 0, I2K_FSTREE_MKPARENTS, NULL, &e) < 0) {
		fprintf(stderr, "  tree_node %s: %s\n", path, e->msg);
		i2k_error_free(e);
	}
}

static int tree_new(struct tree *tr)
{
	struct i2k_error *e = NULL;
	if (i2k_spool_new(NULL, &tr->spool, &e) < 0) {
		fprintf(stderr, "  spool: %s\n", e->msg);
		i2k_error_free(e);
		return -1;
	}
	tr->t = i2k_fstree_new(tr->spool);
	return 0;
}

static void tree_free(struct tree *tr)
{
	i2k_fstree_free(tr->t);
	i2k_spool_free(tr->spool);
}

static char *tree_read(struct tree *tr, const char *path)
{
	struct i2k_inode *ino = i2k_fstree_lookup(tr->t, path);
	if (ino == NULL || !S_ISREG(ino->mode))
		return NULL;
	char *buf = i2k_xcalloc(1, (size_t)ino->size + 1);
	struct i2k_error *e = NULL;
	if (i2k_fstree_read(tr->t, ino, 0, buf, (size_t)ino->size, &e) < 0) {
		i2k_error_free(e);
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- config.json / runtime.json ------------------------------------------------ */

static const char *const busybox_image =
    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
    "\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","
    "\"HOME=/root\"],"
    "\"Entrypoint\":[\"/bin/httpd\"],\"Cmd\":[\"-f\",\"-p\",\"8080\"],"
    "\"WorkingDir\":\"/www\",\"User\":\"nobody\",\"Labels\":{\"maintainer\":\"x\"}}}";

TEST(default_service_from_image_config)
{
	struct i2k_config *c = parse_yaml("services:\n"
					  "  - name: web\n"
					  "    image: example.org/busybox:1.36\n");
	struct i2k_image_config *ic = parse_image(busybox_image);
	CHECK(c && ic);
	if (!c || !ic)
		goto out;
	struct i2k_bundle b = {0};
	char *msg = NULL;
	CHECK_INT(make(c, I2K_BUNDLE_SERVICE, 0, ic, NULL, NULL, &b, &msg), 0);
	CHECK(msg == NULL);
	free(msg);
	CHECK(same_as_file(b.config_json, "bundle/default.config.json"));
	CHECK(same_as_file(b.runtime_json, "bundle/default.runtime.json"));
	CHECK(!b.readonly); /* LinuxKit's default: writable (overlay) */
	i2k_bundle_clear(&b);
	CHECK(b.config_json == NULL);
out:
	i2k_config_free(c);
	free_image(ic);
}

TEST(deterministic_output)
{
	struct i2k_config *c = parse_yaml("services:\n"
					  "  - name: web\n"
					  "    image: example.org/busybox:1.36\n"
					  "    capabilities: [CAP_SYS_ADMIN, CAP_CHOWN]\n"
					  "    sysctl: {b: \"2\", a: \"1\"}\n");
	struct i2k_image_config *ic = parse_image(busybox_image);
	CHECK(c && ic);
	if (!c || !ic)
		goto out;
	struct i2k_bundle b1 = {0}, b2 = {0};
	char *m1 = NULL, *m2 = NULL;
	CHECK_INT(make(c, I2K_BUNDLE_SERVICE, 0, ic, NULL, NULL, &b1, &m1), 0);
	CHECK_INT(make(c, I2K_BUNDLE_SERVICE, 0, ic, NULL, NULL, &b2, &m2), 0);
	CHECK(b1.config_json && b2.config_json && strcmp(b1.config_json, b2.config_json) == 0);
	CHECK(b1.runtime_json && b2.runtime_json && strcmp(b1.runtime_json, b2.runtime_json) == 0);
	/* map keys sorted as Go does */
	CHECK_CONTAINS(b1.config_json, "\"sysctl\": {\n            \"a\": \"1\",\n"
				       "            \"b\": \"2\"\n        }");
	free(m1);
	free(m2);
	i2k_bundle_clear(&b1);
	i2k_bundle_clear(&b2);
out:
	i2k_config_free(c);
	free_image(ic);
}

static const char *const label_image =
    "{\"config\":{\"Env\":[\"A=image\"],\"Cmd\":[\"/image-cmd\"],\"WorkingDir\":\"/image\","
    "\"Labels\":{\"org.mobyproject.config\":"
    "\"{\\\"command\\\":[\\\"/label-cmd\\\"],\\\"env\\\":[\\\"B=label\\\"],"
    "\\\"cwd\\\":\\\"/label\\\",\\\"capabilities\\\":[\\\"CAP_NET_ADMIN\\\",\\\"CAP_CHOWN\\\"],"
    "\\\"binds\\\":[\\\"/var/run:/var/run\\\"],\\\"hostname\\\":\\\"labelhost\\\","
    "\\\"readonly\\\":true,\\\"net\\\":\\\"host\\\",\\\"pid\\\":\\\"host\\\","
    "\\\"tmpfs\\\":[\\\"/tmp\\\"],\\\"ambient\\\":[\\\"CAP_NET_RAW\\\"],"
    "\\\"rlimits\\\":[\\\"nofile,10,20\\\"],"
    "\\\"runtime\\\":{\\\"mkdir\\\":[\\\"/label/dir\\\"],"
    "\\\"bindNS\\\":{\\\"ipc\\\":\\\"/run/ipc\\\"}}}\"}}}";

TEST(yaml_overrides_label_overrides_image)
{
	struct i2k_config *c =
	    parse_yaml("onboot:\n"
		       "  - name: dhcp\n"
		       "    image: example.org/dhcp:1\n"
		       "    command: [\"/yaml-cmd\", \"-v\"]\n"
		       "    capabilities.add: [CAP_SYS_ADMIN, CAP_CHOWN]\n"
		       "    binds.add: [\"/etc/resolv.conf:/etc/resolv.conf:ro\"]\n"
		       "    env: [\"C=yaml\"]\n"
		       "    rlimits: [\"core,0,0\"]\n");
	struct i2k_image_config *ic = parse_image(label_image);
	CHECK(c && ic);
	if (!c || !ic)
		goto out;
	struct i2k_bundle b = {0};
	char *msg = NULL;
	CHECK_INT(make(c, I2K_BUNDLE_ONBOOT, 0, ic, NULL, NULL, &b, &msg), 0);
	if (msg)
		fprintf(stderr, "  %s\n", msg);
	free(msg);
	CHECK(same_as_file(b.config_json, "bundle/precedence.config.json"));
	CHECK(b.readonly); /* from the label */
	/* runtime: YAML has none, so the label's fields */
	json_t *rt = jparse(b.runtime_json);
	CHECK_STR(json_string_value(json_array_get(json_object_get(rt, "mkdir"), 0)), "/label/dir");
	CHECK_STR(json_string_value(json_object_get(json_object_get(rt, "bindNS"), "ipc")),
		  "/run/ipc");
	json_decref(rt);
	i2k_bundle_clear(&b);
out:
	i2k_config_free(c);
	free_image(ic);
}

TEST(yaml_lists_replace_label_lists)
{
	/* capabilities and binds given in YAML replace the label's (and .add
	 * is then ignored); readonly: false in YAML beats the label's true */
	struct i2k_config *c = parse_yaml("services:\n"
					  "  - name: s\n"
					  "    image: x\n"
					  "    capabilities: [CAP_KILL]\n"
					  "    capabilities.add: [CAP_SYS_ADMIN]\n"
					  "    binds: [\"/a:/b\"]\n"
					  "    binds.add: [\"/c:/d\"]\n"
					  "    readonly: false\n"
					  "    cwd: /yaml\n"
					  "    net: new\n"
					  "    pid: new\n");
	struct i2k_image_config *ic = parse_image(label_image);
	CHECK(c && ic);
	if (!c || !ic)
		goto out;
	struct i2k_bundle b = {0};
	char *msg = NULL;
	CHECK_INT(make(c, I2K_BUNDLE_SERVICE, 0, ic, NULL, NULL, &b, &msg), 0);
	free(msg);
	CHECK(!b.readonly);
	json_t *j = jparse(b.config_json);
	json_t *p = json_object_get(j, "process");
	json_t *caps = json_object_get(p, "capabilities");
	CHECK_INT(json_array_size(json_object_get(caps, "effective")), 1);
	CHECK_STR(json_string_value(json_array_get(json_object_get(caps, "effective"), 0)),
		  "CAP_KILL");
	/* ambient still from the label, and so in the bounding set */
	CHECK_INT(json_array_size(json_object_get(caps, "bounding")), 2);
	CHECK_STR(json_string_value(json_object_get(p, "cwd")), "/yaml");
	CHECK(json_object_get(json_object_get(j, "root"), "readonly") == NULL);
	/* label args (command beats image Cmd), label env */
	CHECK_STR(json_string_value(json_array_get(json_object_get(p, "args"), 0)), "/label-cmd");
	CHECK_STR(json_string_value(json_array_get(json_object_get(p, "env"), 0)), "B=label");
	json_t *mounts = json_object_get(j, "mounts");
	int has_b = 0, has_d = 0, has_varrun = 0;
	for (size_t i = 0; i < json_array_size(mounts); i++) {
		const char *d =
		    json_string_value(json_object_get(json_array_get(mounts, i), "destination"));
		has_b += strcmp(d, "/b") == 0;
		has_d += strcmp(d, "/d") == 0;
		has_varrun += strcmp(d, "/var/run") == 0;
	}
	CHECK(has_b == 1 && has_d == 0 && has_varrun == 0);
	/* net: new, pid: new → both namespaces created without a path */
	json_t *ns = json_object_get(json_object_get(j, "linux"), "namespaces");
	CHECK_INT(json_array_size(ns), 4);
	CHECK_STR(json_string_value(json_object_get(json_array_get(ns, 0), "type")), "network");
	CHECK(json_object_get(json_array_get(ns, 0), "path") == NULL);
	CHECK_STR(json_string_value(json_object_get(json_array_get(ns, 1), "type")), "pid");
	json_decref(j);
	i2k_bundle_clear(&b);
out:
	i2k_config_free(c);
	free_image(ic);
}

TEST(caps_add_without_label_and_empty_command)
{
	/* no label capabilities: capabilities.add alone is the set; an empty
	 * YAML command overrides the image's Entrypoint/Cmd (args omitted) */
	struct i2k_config *c = parse_yaml("services:\n"
					  "  - name: s\n"
					  "    image: x\n"
					  "    capabilities.add: [CAP_NET_BIND_SERVICE]\n"
					  "    command: []\n"
					  "    env: []\n");
	struct i2k_image_config *ic = parse_image(busybox_image);
	CHECK(c && ic);
	if (!c || !ic)
		goto out;
	struct i2k_bundle b = {0};
	char *msg = NULL;
	CHECK_INT(make(c, I2K_BUNDLE_SERVICE, 0, ic, NULL, NULL, &b, &msg), 0);
	free(msg);
	json_t *j = jparse(b.config_json);
	json_t *p = json_object_get(j, "process");
	CHECK(json_object_get(p, "args") == NULL);
	CHECK(json_object_get(p, "env") == NULL);
	CHECK_STR(json_string_value(json_array_get(
		      json_object_get(json_object_get(p, "capabilities"), "effective"), 0)),
		  "CAP_NET_BIND_SERVICE");
	json_decref(j);
	i2k_bundle_clear(&b);
out:
	i2k_config_free(c);
	free_image(ic);
}

static json_t *caps_of(const char *yaml)
{
	struct i2k_config *c = parse_yaml(yaml);
	struct i2k_image_config *ic = parse_image("{}");
	json_t *caps = NULL;
	if (c && ic) {
		struct i2k_bundle b = {0};
		char *msg = NULL;
		if (make(c, I2K_BUNDLE_SERVICE, 0, ic, NULL, NULL, &b, &msg) == 0) {
			json_t *j = jparse(b.config_json);
			caps = json_incref(
			    json_object_get(json_object_get(j, "process"), "capabilities"));
			json_decref(j);
		}
		free(msg);
		i2k_bundle_clear(&b);
	}
	i2k_config_free(c);
	free_image(ic);
	return caps;
}

TEST(caps_all_and_none)
{
	json_t *caps = caps_of("services:\n  - name: s\n    image: x\n"
			       "    capabilities: [ALL]\n    ambient: [CAP_NET_RAW]\n");
	CHECK(caps != NULL);
	json_t *eff = json_object_get(caps, "effective");
	json_t *bnd = json_object_get(caps, "bounding");
	CHECK_INT(json_array_size(eff), 41);
	CHECK_INT(i2k_caps_nknown, 41);
	/* effective: "all" in kernel order; bounding: sorted */
	for (size_t i = 0; i < json_array_size(eff) && i < i2k_caps_nknown; i++)
		CHECK_STR(json_string_value(json_array_get(eff, i)), i2k_caps_known[i]);
	CHECK_STR(json_string_value(json_array_get(eff, 0)), "CAP_CHOWN");
	CHECK_STR(json_string_value(json_array_get(eff, 40)), "CAP_CHECKPOINT_RESTORE");
	CHECK_INT(json_array_size(bnd), 41);
	CHECK_STR(json_string_value(json_array_get(bnd, 0)), "CAP_AUDIT_CONTROL");
	CHECK_STR(json_string_value(json_array_get(bnd, 40)), "CAP_WAKE_ALARM");
	for (size_t i = 1; i < json_array_size(bnd); i++)
		CHECK(strcmp(json_string_value(json_array_get(bnd, i - 1)),
			     json_string_value(json_array_get(bnd, i))) < 0);
	CHECK(json_equal(bnd, json_object_get(caps, "permitted")));
	CHECK(json_equal(bnd, json_object_get(caps, "inheritable")));
	CHECK_INT(json_array_size(json_object_get(caps, "ambient")), 1);
	json_decref(caps);

	caps = caps_of("services:\n  - name: s\n    image: x\n    capabilities: [none]\n");
	CHECK(caps && json_object_size(caps) == 0);
	json_decref(caps);

	/* ambient "all" also fills the bounding set */
	caps = caps_of("services:\n  - name: s\n    image: x\n    ambient: [all]\n");
	CHECK(caps && json_object_get(caps, "effective") == NULL);
	CHECK(caps && json_array_size(json_object_get(caps, "bounding")) == 41);
	CHECK(caps && json_array_size(json_object_get(caps, "ambient")) == 41);
	json_decref(caps);
}

TEST(caps_errors)
{
	char *m = service_error("services:\n  - name: web\n    image: x\n"
				"    capabilities: [CAP_FOO]\n",
				NULL);
	CHECK_STR(m, "test.yml:2:5: services[web]: unknown capability \"CAP_FOO\"");
	free(m);
	/* LinuxKit requires the CAP_ prefix and upper case */
	m = service_error("services:\n  - name: web\n    image: x\n"
			  "    capabilities: [net_admin]\n",
			  NULL);
	CHECK_STR(m, "test.yml:2:5: services[web]: unknown capability \"net_admin\"");
	free(m);
	/* "all" only as the single element */
	m = service_error("services:\n  - name: web\n    image: x\n"
			  "    capabilities: [all, CAP_KILL]\n",
			  NULL);
	CHECK_STR(m, "test.yml:2:5: services[web]: unknown capability \"all\"");
	free(m);
	m = service_error("services:\n  - name: web\n    image: x\n"
			  "    ambient: [CAP_nope]\n",
			  NULL);
	CHECK_STR(m, "test.yml:2:5: services[web]: unknown capability \"CAP_nope\"");
	free(m);
}

TEST(rlimits)
{
	struct i2k_config *c = parse_yaml("services:\n  - name: s\n    image: x\n"
					  "    rlimits:\n"
					  "      - nofile,1024,2048\n"
					  "      - \" RLIMIT_core , Unlimited ,0\"\n"
					  "      - Nproc,10,unlimited\n");
	struct i2k_image_config *ic = parse_image("{}");
	CHECK(c && ic);
	if (!c || !ic)
		goto out;
	struct i2k_bundle b = {0};
	char *msg = NULL;
	CHECK_INT(make(c, I2K_BUNDLE_SERVICE, 0, ic, NULL, NULL, &b, &msg), 0);
	free(msg);
	CHECK_CONTAINS(b.config_json, "        \"rlimits\": [\n"
				      "            {\n"
				      "                \"type\": \"RLIMIT_NOFILE\",\n"
				      "                \"hard\": 2048,\n"
				      "                \"soft\": 1024\n"
				      "            },\n"
				      "            {\n"
				      "                \"type\": \"RLIMIT_CORE\",\n"
				      "                \"hard\": 0,\n"
				      "                \"soft\": 18446744073709551615\n"
				      "            },\n"
				      "            {\n"
				      "                \"type\": \"RLIMIT_NPROC\",\n"
				      "                \"hard\": 18446744073709551615,\n"
				      "                \"soft\": 10\n"
				      "            }\n"
				      "        ]");
	i2k_bundle_clear(&b);
out:
	i2k_config_free(c);
	free_image(ic);
}

TEST(rlimit_errors)
{
	static const struct {
		const char *rl, *msg;
	} cases[] = {
	    {"nofile,1024", "cannot parse rlimit \"nofile,1024\": expected NAME,SOFT,HARD"},
	    {"nofile", "cannot parse rlimit \"nofile\": expected NAME,SOFT,HARD"},
	    {"foo,1,2", "rlimit \"foo,1,2\": unknown limit \"foo\""},
	    {"nofile,abc,2", "rlimit \"nofile,abc,2\": cannot parse \"abc\" as a 64-bit "
			     "unsigned number or \"unlimited\""},
	    {"nofile,1,2,3", "rlimit \"nofile,1,2,3\": cannot parse \"2,3\" as a 64-bit "
			     "unsigned number or \"unlimited\""},
	    {"nofile,-1,2", "rlimit \"nofile,-1,2\": cannot parse \"-1\" as a 64-bit "
			    "unsigned number or \"unlimited\""},
	    {"nofile,18446744073709551616,2",
	     "rlimit \"nofile,18446744073709551616,2\": cannot parse "
	     "\"18446744073709551616\" as a 64-bit unsigned number or \"unlimited\""},
	    {"nofile,,2", "rlimit \"nofile,,2\": cannot parse \"\" as a 64-bit unsigned "
			  "number or \"unlimited\""},
	};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *yaml = i2k_xasprintf(
		    "services:\n  - name: web\n    image: x\n    rlimits: [\"%s\"]\n", cases[i].rl);
		_cleanup_free_ char *want =
		    i2k_xasprintf("test.yml:2:5: services[web]: %s", cases[i].msg);
		char *m = service_error(yaml, NULL);
		CHECK_STR(m, want);
		free(m);
	}
}

TEST(uid_gid_names)
{
	struct tree tr = {0};
	CHECK_INT(tree_new(&tr), 0);
	tree_file(&tr, "etc/passwd",
		  "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33::/var/www:/bin/false\n"
		  "broken:x:notanumber:1::/:/bin/false\n",
		  0644, 0);
	tree_file(&tr, "etc/group", "root:x:0:\nstaff:x:50:alice\n", 0644, 0);
	struct i2k_config *c = parse_yaml("onboot:\n"
					  "  - name: init\n"
					  "    image: x\n"
					  "onshutdown:\n"
					  "  - name: bye\n"
					  "    image: x\n"
					  "services:\n"
					  "  - name: web\n"
					  "    image: x\n"
					  "    uid: www-data\n"
					  "    gid: staff\n"
					  "    additionalGids: [db, 7, root, web]\n"
					  "  - name: db\n"
					  "    image: x\n"
					  "    uid: web\n"
					  "    gid: db\n");
	struct i2k_image_config *ic = parse_image("{}");
	struct i2k_idmap *ids = i2k_idmap_new();
	CHECK(c && ic);
	if (!c || !ic)
		goto out;
	i2k_idmap_add_config(ids, c);
	uint32_t id = 0;
	CHECK(i2k_idmap_lookup(ids, "init", &id) && id == 100);
	CHECK(i2k_idmap_lookup(ids, "bye", &id) && id == 101);
	CHECK(i2k_idmap_lookup(ids, "web", &id) && id == 102);
	CHECK(i2k_idmap_lookup(ids, "db", &id) && id == 103);
	CHECK(!i2k_idmap_lookup(ids, "www-data", &id));
	CHECK(!i2k_idmap_lookup(NULL, "web", &id));

	struct i2k_bundle b = {0};
	char *msg = NULL;
	CHECK_INT(make(c, I2K_BUNDLE_SERVICE, 0, ic, tr.t, ids, &b, &msg), 0);
	if (msg)
		fprintf(stderr, "  %s\n", msg);
	free(msg);
	CHECK_CONTAINS(b.config_json, "\"user\": {\n"
				      "            \"uid\": 33,\n"
				      "            \"gid\": 50,\n"
				      "            \"additionalGids\": [\n"
				      "                103,\n"
				      "                7,\n"
				      "                0,\n"
				      "                102\n"
				      "            ]\n"
				      "        }");
	i2k_bundle_clear(&b);
	/* the second bundle sees the same ids */
	CHECK_INT(make(c, I2K_BUNDLE_SERVICE, 1, ic, tr.t, ids, &b, &msg), 0);
	free(msg);
	CHECK_CONTAINS(b.config_json, "\"uid\": 102,\n            \"gid\": 103\n");
	i2k_bundle_clear(&b);
out:
	i2k_idmap_free(ids);
	i2k_config_free(c);
	free_image(ic);
	tree_free(&tr);
}

TEST(uid_unknown_names)
{
	struct tree tr = {0};
	CHECK_INT(tree_new(&tr), 0);
	tree_file(&tr, "etc/passwd", "broken:x:notanumber:1::/:/bin/false\n", 0644, 0);
	struct i2k_config *c = parse_yaml("services:\n"
					  "  - name: web\n"
					  "    image: x\n"
					  "    uid: nobody\n"
					  "  - name: db\n"
					  "    image: x\n"
					  "    gid: www-data\n"
					  "  - name: b\n"
					  "    image: x\n"
					  "    uid: broken\n"
					  "  - name: ag\n"
					  "    image: x\n"
					  "    additionalGids: [1, missing]\n");
	struct i2k_image_config *ic = parse_image("{}");
	struct i2k_idmap *ids = i2k_idmap_new();
	CHECK(c && ic);
	if (!c || !ic)
		goto out;
	i2k_idmap_add_config(ids, c);
	struct i2k_bundle b = {0};
	char *msg = NULL;
	CHECK_INT(make(c, I2K_BUNDLE_SERVICE, 0, ic, tr.t, ids, &b, &msg), -1);
	CHECK_STR(msg, "test.yml:2:5: services[web]: uid: cannot find id \"nobody\"");
	free(msg);
	/* no /etc/group at all */
	CHECK_INT(make(c, I2K_BUNDLE_SERVICE, 1, ic, tr.t, ids, &b, &msg), -1);
	CHECK_STR(msg, "test.yml:5:5: services[db]: gid: cannot find id \"www-data\"");
	free(msg);
	/* a passwd line without a numeric id does not match */
	CHECK_INT(make(c, I2K_BUNDLE_SERVICE, 2, ic, tr.t, ids, &b, &msg), -1);
	CHECK_STR(msg, "test.yml:8:5: services[b]: uid: cannot find id \"broken\"");
	free(msg);
	/* without a tree or id map */
	CHECK_INT(make(c, I2K_BUNDLE_SERVICE, 3, ic, NULL, NULL, &b, &msg), -1);
	CHECK_STR(msg,
		  "test.yml:11:5: services[ag]: additionalGids[1]: cannot find id \"missing\"");
	free(msg);
	CHECK(b.config_json == NULL && b.runtime_json == NULL);
out:
	i2k_idmap_free(ids);
	i2k_config_free(c);
	free_image(ic);
	tree_free(&tr);
}

TEST(idmap_allocation)
{
	_cleanup_(i2k_idmap_freep) struct i2k_idmap *m = i2k_idmap_new();
	CHECK_INT(i2k_idmap_add(m, "a"), 100);
	CHECK_INT(i2k_idmap_add(m, "b"), 101);
	/* re-adding a name gives it the new id (Go map assignment) */
	CHECK_INT(i2k_idmap_add(m, "a"), 102);
	uint32_t id = 0;
	CHECK(i2k_idmap_lookup(m, "a", &id) && id == 102);
	CHECK(i2k_idmap_lookup(m, "b", &id) && id == 101);
	uint32_t x = 0;
	CHECK(i2k_ids_db_lookup("a:x:1:1\nab:x:2:2\n", "ab", &x) && x == 2);
	CHECK(!i2k_ids_db_lookup("abc:x:3:3\n", "ab", &x));
	CHECK(!i2k_ids_db_lookup("ab:x:99999999999:3\n", "ab", &x));
	CHECK(!i2k_ids_db_lookup("ab:x\n", "ab", &x));
	CHECK(i2k_ids_db_lookup("ab:x:4", "ab", &x) && x == 4); /* no trailing newline */
}

TEST(passthrough_fields)
{
	struct i2k_config *c = parse_yaml("services:\n"
					  "  - name: dev\n"
					  "    image: example.org/dev:1\n"
					  "    sysctl:\n"
					  "      net.ipv4.ip_forward: \"1\"\n"
					  "      kernel.shmmax: \"1000\"\n"
					  "    devices:\n"
					  "      - path: /dev/fuse\n"
					  "        type: c\n"
					  "        major: 10\n"
					  "        minor: 229\n"
					  "        mode: \"0666\"\n"
					  "      - path: all\n"
					  "        type: b\n"
					  "    resources:\n"
					  "      memory:\n"
					  "        limit: 1048576\n"
					  "      cpu:\n"
					  "        shares: 512\n"
					  "      devices:\n"
					  "        - allow: false\n"
					  "          access: rwm\n"
					  "    annotations:\n"
					  "      org.example.note: \"<x> & y\"\n"
					  "      a.first: \"1\"\n"
					  "    uidMappings:\n"
					  "      - containerID: 0\n"
					  "        hostID: 1000\n"
					  "        size: 1\n"
					  "    oomScoreAdj: -500\n"
					  "    noNewPrivileges: true\n"
					  "    rootfsPropagation: shared\n"
					  "    cgroupsPath: /i2kit/dev\n"
					  "    maskedPaths: [/proc/kcore]\n"
					  "    readonlyPaths: [/proc/sys]\n"
					  "    uid: 1000\n"
					  "    gid: 1000\n"
					  "    additionalGids: [10, 20]\n"
					  "    ipc: new\n"
					  "    uts: /proc/1/ns/uts\n"
					  "    userns: new\n"
					  "    net: none\n"
					  "    cwd: /work\n");
	struct i2k_image_config *ic = parse_image("{}");
	CHECK(c && ic);
	if (!c || !ic)
		goto out;
	struct i2k_bundle b = {0};
	char *msg = NULL;
	CHECK_INT(make(c, I2K_BUNDLE_SERVICE, 0, ic, NULL, NULL, &b, &msg), 0);
	if (msg)
		fprintf(stderr, "  %s\n", msg);
	free(msg);
	CHECK(same_as_file(b.config_json, "bundle/passthrough.config.json"));
	i2k_bundle_clear(&b);
out:
	i2k_config_free(c);
	free_image(ic);
}

TEST(device_mode_errors)
{
	char *m =
	    service_error("services:\n  - name: web\n    image: x\n"
			  "    devices:\n      - {path: /dev/null, type: c, major: 1, minor: 3}\n",
			  NULL);
	CHECK_STR(m, "test.yml:2:5: services[web]: devices[0] (/dev/null): cannot parse mode "
		     "(missing) as an octal value");
	free(m);
}

TEST(runtime_json)
{
	struct i2k_config *c = parse_yaml("services:\n"
					  "  - name: net\n"
					  "    image: example.org/net:1\n"
					  "    readonly: true\n"
					  "    runtime:\n"
					  "      cgroups: [net]\n"
					  "      mkdir: [/var/lib/net]\n"
					  "      mounts:\n"
					  "        - type: bind\n"
					  "          source: /var/lib/net\n"
					  "          destination: /var/lib/net\n"
					  "          options: [rbind]\n"
					  "      interfaces:\n"
					  "        - name: eth1\n"
					  "          add: veth\n"
					  "          peer: veth1\n"
					  "          createInRoot: true\n"
					  "      bindNS:\n"
					  "        net: /run/netns/net\n"
					  "      namespace: netns\n");
	struct i2k_image_config *ic = parse_image(label_image);
	CHECK(c && ic);
	if (!c || !ic)
		goto out;
	struct i2k_bundle b = {0};
	char *msg = NULL;
	CHECK_INT(make(c, I2K_BUNDLE_SERVICE, 0, ic, NULL, NULL, &b, &msg), 0);
	free(msg);
	CHECK(b.readonly);
	CHECK(same_as_file(b.runtime_json, "bundle/runtime.runtime.json"));
	i2k_bundle_clear(&b);
out:
	i2k_config_free(c);
	free_image(ic);
}

TEST(readonly_flag)
{
	struct i2k_config *c = parse_yaml("onshutdown:\n"
					  "  - name: ro\n"
					  "    image: x\n"
					  "    readonly: true\n"
					  "  - name: rw\n"
					  "    image: x\n"
					  "    readonly: false\n");
	struct i2k_image_config *ic = parse_image("{}");
	CHECK(c && ic);
	if (!c || !ic)
		goto out;
	struct i2k_bundle b = {0};
	char *msg = NULL;
	CHECK_INT(make(c, I2K_BUNDLE_ONSHUTDOWN, 0, ic, NULL, NULL, &b, &msg), 0);
	CHECK(b.readonly);
	CHECK_CONTAINS(b.config_json, "\"root\": {\n        \"path\": \"rootfs\",\n"
				      "        \"readonly\": true\n    }");
	CHECK_CONTAINS(b.config_json, "\"size=65536k\",\n                \"ro\"\n");
	i2k_bundle_clear(&b);
	CHECK_INT(make(c, I2K_BUNDLE_ONSHUTDOWN, 1, ic, NULL, NULL, &b, &msg), 0);
	CHECK(!b.readonly);
	CHECK_CONTAINS(b.config_json, "\"root\": {\n        \"path\": \"rootfs\"\n    }");
	CHECK(strstr(b.config_json, "\"ro\"") != NULL); /* only /sys/fs/cgroup's */
	CHECK(strstr(b.config_json, "\"size=65536k\",\n                \"ro\"") == NULL);
	free(msg);
	i2k_bundle_clear(&b);
out:
	i2k_config_free(c);
	free_image(ic);
}

TEST(namespaces_host_and_join)
{
	struct i2k_config *c = parse_yaml("services:\n"
					  "  - name: s\n"
					  "    image: x\n"
					  "    net: host\n"
					  "    pid: host\n"
					  "    ipc: /run/ipc\n"
					  "    uts: host\n");
	struct i2k_image_config *ic = parse_image("{}");
	CHECK(c && ic);
	if (!c || !ic)
		goto out;
	struct i2k_bundle b = {0};
	char *msg = NULL;
	CHECK_INT(make(c, I2K_BUNDLE_SERVICE, 0, ic, NULL, NULL, &b, &msg), 0);
	free(msg);
	CHECK_CONTAINS(b.config_json, "        \"namespaces\": [\n"
				      "            {\n"
				      "                \"type\": \"ipc\",\n"
				      "                \"path\": \"/run/ipc\"\n"
				      "            },\n"
				      "            {\n"
				      "                \"type\": \"mount\"\n"
				      "            },\n"
				      "            {\n"
				      "                \"type\": \"cgroup\"\n"
				      "            }\n"
				      "        ]");
	i2k_bundle_clear(&b);
out:
	i2k_config_free(c);
	free_image(ic);
}

TEST(mounts_tmpfs_binds_and_overrides)
{
	struct i2k_config *c =
	    parse_yaml("services:\n"
		       "  - name: s\n"
		       "    image: x\n"
		       "    tmpfs: [\"/run:size=10m,mode=1777\", /var/tmp]\n"
		       "    binds: [\"/:/hostroot\", \"/dev:/dev\", \"/x:/run:ro\"]\n"
		       "    mounts:\n"
		       "      - source: proc\n"
		       "        destination: /host/proc\n"
		       "      - type: mqueue\n"
		       "      - destination: /dev\n"
		       "        options: [rw]\n");
	struct i2k_image_config *ic = parse_image("{}");
	CHECK(c && ic);
	if (!c || !ic)
		goto out;
	struct i2k_bundle b = {0};
	char *msg = NULL;
	CHECK_INT(make(c, I2K_BUNDLE_SERVICE, 0, ic, NULL, NULL, &b, &msg), 0);
	if (msg)
		fprintf(stderr, "  %s\n", msg);
	free(msg);
	json_t *j = jparse(b.config_json);
	json_t *ms = json_object_get(j, "mounts");
	static const char *const want[][4] = {
	    /* destination, type, source, options joined by , */
	    {"/dev", "tmpfs", "tmpfs", "rw"}, /* mounts: replaced the bind and the default */
	    {"/dev/mqueue", "mqueue", "mqueue", ""},
	    {"/dev/pts", "devpts", "devpts", "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620"},
	    {"/host/proc", "proc", "proc", ""},
	    {"/hostroot", "bind", "/", "rw,rbind,rshared"},
	    {"/proc", "proc", "proc", "nosuid,nodev,noexec,relatime"},
	    {"/run", "bind", "/x", "ro,rbind"}, /* the bind replaced the tmpfs */
	    {"/sys", "sysfs", "sysfs", "nosuid,noexec,nodev"},
	    {"/sys/fs/cgroup", "cgroup", "cgroup", "nosuid,noexec,nodev,relatime,ro"},
	    {"/var/tmp", "tmpfs", "tmpfs", ""},
	};
	CHECK_INT(json_array_size(ms), I2K_ARRAY_SIZE(want));
	for (size_t i = 0; i < I2K_ARRAY_SIZE(want) && i < json_array_size(ms); i++) {
		json_t *m = json_array_get(ms, i);
		CHECK_STR(json_string_value(json_object_get(m, "destination")), want[i][0]);
		CHECK_STR(json_string_value(json_object_get(m, "type")), want[i][1]);
		CHECK_STR(json_string_value(json_object_get(m, "source")), want[i][2]);
		char opts[256] = "";
		json_t *o = json_object_get(m, "options");
		for (size_t k = 0; k < json_array_size(o); k++) {
			if (k)
				strncat(opts, ",", sizeof(opts) - strlen(opts) - 1);
			strncat(opts, json_string_value(json_array_get(o, k)),
				sizeof(opts) - strlen(opts) - 1);
		}
		CHECK_STR(opts, want[i][3]);
		if (want[i][3][0] == '\0')
			CHECK(o == NULL); /* omitempty */
	}
	json_decref(j);
	i2k_bundle_clear(&b);
out:
	i2k_config_free(c);
	free_image(ic);
}

TEST(mount_errors)
{
	static const struct {
		const char *yaml, *msg;
	} cases[] = {
	    {"    binds: [/nocolon]\n", "cannot parse bind \"/nocolon\": missing ':'"},
	    {"    binds: [\"/a:b:c:d\"]\n", "cannot parse bind \"/a:b:c:d\": too many ':'"},
	    {"    binds.add: [\"/a:b:c:d\"]\n", "cannot parse bind \"/a:b:c:d\": too many ':'"},
	    /* a source that is not absolute names a volume (LinuxKit's volume.go) */
	    {"    binds: [\"a:b:c:d\"]\n", "volume \"a\" not found (binds[0])"},
	    {"    binds.add: [\"/x:/x\", \"v:/v\"]\n", "volume \"v\" not found (binds.add[1])"},
	    {"    mounts: [{type: bind, source: v, destination: /v}]\n",
	     "volume \"v\" not found (mounts[0])"},
	    {"    tmpfs: [\"/a:b:c\"]\n", "cannot parse tmpfs \"/a:b:c\": too many ':'"},
	    {"    mounts: [{destination: /x, source: /y}]\n",
	     "mount for destination \"/x\" is missing type"},
	    {"    mounts: [{type: tmpfs}]\n", "mount type \"tmpfs\" is missing destination"},
	};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *yaml =
		    i2k_xasprintf("services:\n  - name: web\n    image: x\n%s", cases[i].yaml);
		_cleanup_free_ char *want =
		    i2k_xasprintf("test.yml:2:5: services[web]: %s", cases[i].msg);
		char *m = service_error(yaml, NULL);
		CHECK_STR(m, want);
		free(m);
	}
}

/* volumes: (LinuxKit's docs/yaml.md, volume.go): a bind or bind mount whose
 * source is a volume name points at the volume's merged directory; a
 * read-only volume must be bound read-only. */
TEST(volume_binds_and_mounts)
{
	static const char vols[] = "volumes:\n  - name: data\n  - name: conf\n    readonly: true\n";
	_cleanup_free_ char *yaml = i2k_xasprintf(
	    "%sservices:\n  - name: web\n    image: x\n    binds: [\"data:/data\", "
	    "\"conf:/etc/conf:ro\", \"/var:/var\"]\n    mounts: [{type: bind, source: data, "
	    "destination: /m, options: [ro, rbind]}]\nonboot:\n  - name: w\n    image: x\n"
	    "    binds.add: [\"data:/out:rw\"]\n",
	    vols);
	struct i2k_config *c = parse_yaml(yaml);
	struct i2k_image_config *ic = parse_image("{}");
	CHECK(c != NULL && ic != NULL);
	if (c && ic) {
		struct i2k_bundle b = {0};
		char *msg = NULL;
		CHECK(make(c, I2K_BUNDLE_SERVICE, 0, ic, NULL, NULL, &b, &msg) == 0);
		CHECK_CONTAINS(b.config_json, "\"destination\": \"/data\",\n"
					      "            \"type\": \"bind\",\n"
					      "            \"source\": "
					      "\"/containers/volumes/data/merged\",");
		CHECK_CONTAINS(b.config_json, "\"source\": \"/containers/volumes/conf/merged\"");
		CHECK_CONTAINS(b.config_json, "\"destination\": \"/m\",\n"
					      "            \"type\": \"bind\",\n"
					      "            \"source\": "
					      "\"/containers/volumes/data/merged\",");
		CHECK_CONTAINS(b.config_json, "\"source\": \"/var\"");
		CHECK(strstr(b.config_json, "\"source\": \"data\"") == NULL);
		free(msg);
		i2k_bundle_clear(&b);
		CHECK(make(c, I2K_BUNDLE_ONBOOT, 0, ic, NULL, NULL, &b, &msg) == 0);
		CHECK_CONTAINS(b.config_json, "\"source\": \"/containers/volumes/data/merged\"");
		free(msg);
		i2k_bundle_clear(&b);
	}
	i2k_config_free(c);
	free_image(ic);

	static const struct {
		const char *yaml, *msg;
	} bad[] = {
	    {"    binds: [\"conf:/etc/conf\"]\n",
	     "volume \"conf\" is read-only, but attempting to write into container read-write"},
	    {"    binds: [\"conf:/etc/conf:rw\"]\n",
	     "volume \"conf\" is read-only, but attempting to write into container read-write"},
	    {"    binds.add: [\"conf:/etc/conf:ro,rbind\"]\n",
	     "volume \"conf\" is read-only, but attempting to write into container read-write"},
	    {"    mounts: [{type: bind, source: conf, destination: /c, options: [rw, ro]}]\n",
	     "volume \"conf\" is read-only, but attempting to write into container read-write"},
	    {"    mounts: [{type: bind, source: conf, destination: /c}]\n",
	     "volume \"conf\" is read-only, but attempting to write into container read-write"},
	    {"    binds: [\"nosuch:/x\"]\n", "volume \"nosuch\" not found (binds[0])"},
	};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(bad); i++) {
		_cleanup_free_ char *y = i2k_xasprintf(
		    "%sservices:\n  - name: web\n    image: x\n%s", vols, bad[i].yaml);
		_cleanup_free_ char *want =
		    i2k_xasprintf("test.yml:6:5: services[web]: %s", bad[i].msg);
		char *m = service_error(y, NULL);
		CHECK_STR(m, want);
		free(m);
	}
	/* read-only use of a read-only volume is fine */
	_cleanup_free_ char *ok = i2k_xasprintf(
	    "%sservices:\n  - name: web\n    image: x\n    binds: [\"conf:/etc/conf:ro\"]\n"
	    "    mounts: [{type: bind, source: conf, destination: /c, options: [rbind, ro]}]\n",
	    vols);
	char *m = service_error(ok, NULL);
	CHECK(m == NULL);
	free(m);
}

TEST(label_errors)
{
	/* an invalid label fails the bundle, naming the entry and the image */
	char *m = service_error("services:\n  - name: web\n    image: example.org/bad:1\n",
				"{\"config\":{\"Labels\":{\"org.mobyproject.config\":\"{nope\"}}}");
	CHECK(m != NULL);
	CHECK(m && strncmp(m, "test.yml:2:5: services[web]: image example.org/bad:1: ",
			   strlen("test.yml:2:5: services[web]: image example.org/bad:1: ")) == 0);
	free(m);
	/* an empty label is no label */
	m = service_error("services:\n  - name: web\n    image: x\n",
			  "{\"config\":{\"Labels\":{\"org.mobyproject.config\":\"\"}}}");
	CHECK(m == NULL);
	free(m);
	/* a label with a bad capability: the error comes from the bundle */
	m = service_error("services:\n  - name: web\n    image: x\n",
			  "{\"config\":{\"Labels\":{\"org.mobyproject.config\":"
			  "\"{\\\"capabilities\\\":[\\\"CAP_BOGUS\\\"]}\"}}}");
	CHECK_STR(m, "test.yml:2:5: services[web]: unknown capability \"CAP_BOGUS\"");
	free(m);
}

TEST(error_sections_and_no_position)
{
	struct i2k_config *c = parse_yaml("onboot:\n"
					  "  - name: first\n"
					  "    image: x\n"
					  "  - name: second\n"
					  "    image: x\n"
					  "    capabilities: [CAP_X]\n");
	struct i2k_image_config *ic = parse_image("{}");
	CHECK(c && ic && c->n_onboot == 2);
	if (!c || !ic || c->n_onboot != 2)
		goto out;
	struct i2k_bundle b = {0};
	char *msg = NULL;
	CHECK_INT(make(c, I2K_BUNDLE_ONBOOT, 1, ic, NULL, NULL, &b, &msg), -1);
	CHECK_STR(msg, "test.yml:4:5: onboot[second]: unknown capability \"CAP_X\"");
	free(msg);
	/* an entry without a position (e.g. built in code) */
	struct i2k_image_entry e = c->onboot[1];
	e.pos.line = 0;
	struct i2k_bundle_input in = {.kind = I2K_BUNDLE_ONSHUTDOWN, .entry = &e, .image_cfg = ic};
	struct i2k_error *err = NULL;
	CHECK_INT(i2k_bundle_make(&in, &b, &err), -1);
	CHECK(err != NULL);
	CHECK_STR(err ? err->msg : NULL, "onshutdown[second]: unknown capability \"CAP_X\"");
	i2k_error_free(err);
	/* NULL image config: only defaults */
	struct i2k_bundle_input in2 = {.kind = I2K_BUNDLE_SERVICE, .entry = &c->onboot[0]};
	err = NULL;
	CHECK_INT(i2k_bundle_make(&in2, &b, &err), 0);
	CHECK_CONTAINS(b.config_json, "\"cwd\": \"/\"");
	i2k_bundle_clear(&b);
	i2k_error_free(err);
out:
	i2k_config_free(c);
	free_image(ic);
}

/* Entries built in code (builder/config validates types, so these paths
 * are only reachable this way): every type error of the pass-through
 * values. Returns the error message (owned) or NULL. */
static char *handmade_error(const char *field, const char *json, char **config_out)
{
	struct i2k_image_entry e = {.name = (char *)"h", .image = (char *)"x"};
	json_error_t je;
	json_t *v = json_loads(json, JSON_DECODE_ANY, &je);
	if (v == NULL)
		return i2k_xstrdup("(bad test JSON)");
	if (strcmp(field, "devices") == 0)
		e.opts.devices = v;
	else if (strcmp(field, "resources") == 0)
		e.opts.resources = v;
	else if (strcmp(field, "mounts") == 0)
		e.opts.mounts = v;
	else if (strcmp(field, "sysctl") == 0)
		e.opts.sysctl = v;
	else if (strcmp(field, "runtime.mounts") == 0)
		e.opts.runtime.mounts = v;
	else if (strcmp(field, "runtime.interfaces") == 0)
		e.opts.runtime.interfaces = v;
	else if (strcmp(field, "label") == 0) {
		json_decref(v);
		v = NULL;
	}
	struct i2k_image_config ic = {0};
	if (strcmp(field, "label") == 0)
		ic.labels = json_loads(json, 0, &je);
	struct i2k_bundle_input in = {.kind = I2K_BUNDLE_SERVICE, .entry = &e, .image_cfg = &ic};
	struct i2k_bundle b = {0};
	struct i2k_error *err = NULL;
	char *msg = NULL;
	if (i2k_bundle_make(&in, &b, &err) < 0)
		msg = i2k_xstrdup(err && err->msg ? err->msg : "(no message)");
	else if (config_out)
		*config_out = I2K_STEAL(b.config_json);
	i2k_error_free(err);
	i2k_bundle_clear(&b);
	json_decref(v);
	json_decref(ic.labels);
	return msg;
}

TEST(passthrough_type_errors)
{
	static const struct {
		const char *field, *json, *msg;
	} cases[] = {
	    {"devices", "{}", "devices: expected an array"},
	    {"devices", "[1]", "devices[0]: expected an object"},
	    {"devices", "[{\"path\":1}]", "devices[0].path: expected a string"},
	    {"devices", "[{\"path\":\"/d\",\"major\":\"1\"}]",
	     "devices[0].major: expected an integer"},
	    {"devices", "[{\"path\":\"/d\",\"type\":\"c\",\"mode\":\"0778\"}]",
	     "devices[0] (/d): cannot parse mode 0778 as an octal value"},
	    {"devices", "[{\"path\":\"/d\",\"mode\":\"\"}]",
	     "devices[0] (/d): cannot parse mode  as an octal value"},
	    {"devices", "[{\"path\":\"/d\",\"mode\":\"20000000000\"}]",
	     "devices[0] (/d): cannot parse mode 20000000000 as an octal value"},
	    {"resources", "[]", "resources: expected an object"},
	    {"resources", "{\"devices\":{}}", "resources.devices: expected an array"},
	    {"resources", "{\"memory\":{\"limit\":1.5}}",
	     "resources.memory.limit: expected an integer"},
	    {"mounts", "{}", "mounts: expected an array"},
	    {"mounts", "[\"x\"]", "mounts[0]: expected an object"},
	    {"mounts", "[{\"type\":1}]", "mounts[0].type: expected a string"},
	    {"mounts", "[{\"type\":\"tmpfs\",\"destination\":\"/t\",\"options\":\"ro\"}]",
	     "mounts[0].options: expected an array"},
	    {"mounts", "[{\"type\":\"tmpfs\",\"destination\":\"/t\",\"options\":[1]}]",
	     "mounts[0].options[0]: expected a string"},
	    {"sysctl", "{\"a\":1}", "sysctl.a: expected a string"},
	    {"sysctl", "[\"a\"]", "sysctl: expected an object"},
	    {"runtime.mounts", "[1]", "runtime.mounts[0]: expected an object"},
	    {"runtime.mounts", "{}", "runtime.mounts: expected an array"},
	    {"runtime.interfaces", "[{\"createInRoot\":\"yes\"}]",
	     "runtime.interfaces[0].createInRoot: expected a boolean"},
	    {"label", "{\"org.mobyproject.config\":1}",
	     "image x: image label org.mobyproject.config is not a string"},
	};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *want = i2k_xasprintf("services[h]: %s", cases[i].msg);
		char *m = handmade_error(cases[i].field, cases[i].json, NULL);
		CHECK_STR(m, want);
		free(m);
	}
}

TEST(device_mode_strings)
{
	/* a mode given as a string is parsed like Go's ParseInt(s, 8, 32) */
	char *cfg = NULL;
	char *m =
	    handmade_error("devices",
			   "[{\"path\":\"/a\",\"type\":\"c\",\"major\":1,\"minor\":2,"
			   "\"mode\":\"0777\"},"
			   "{\"path\":\"/b\",\"type\":\"c\",\"major\":1,\"minor\":3,"
			   "\"mode\":\"-1\"},"
			   "{\"path\":\"/c\",\"type\":\"b\",\"major\":8,\"minor\":0,\"mode\":420}]",
			   &cfg);
	CHECK(m == NULL);
	free(m);
	json_t *j = jparse(cfg);
	json_t *d = json_object_get(json_object_get(j, "linux"), "devices");
	CHECK_INT(json_array_size(d), 3);
	CHECK_INT(json_integer_value(json_object_get(json_array_get(d, 0), "fileMode")), 511);
	CHECK_INT(json_integer_value(json_object_get(json_array_get(d, 1), "fileMode")),
		  4294967295LL);
	CHECK_INT(json_integer_value(json_object_get(json_array_get(d, 2), "fileMode")), 420);
	json_decref(j);
	free(cfg);
}

/* ---- Go-style JSON writer ------------------------------------------------------- */

TEST(gojson_format_and_escaping)
{
	struct i2k_gj w;
	i2k_gj_init(&w);
	i2k_gj_obj_begin(&w);
	i2k_gj_key(&w, "s");
	i2k_gj_str(&w, "<a&b>\"\\\n\r\t\b\f\x01\x1f\x7f é €");
	i2k_gj_key(&w, "ls");
	i2k_gj_str(&w, "\xe2\x80\xa8|\xe2\x80\xa9"); /* U+2028, U+2029 */
	i2k_gj_key(&w, "bad");
	i2k_gj_str(&w, "a\xff"
		       "b\xc3"
		       "c\xed\xa0\x80"); /* invalid byte, truncated, surrogate */
	i2k_gj_key(&w, "empty_obj");
	i2k_gj_obj_begin(&w);
	i2k_gj_obj_end(&w);
	i2k_gj_key(&w, "empty_arr");
	i2k_gj_arr_begin(&w);
	i2k_gj_arr_end(&w);
	i2k_gj_key(&w, "nums");
	i2k_gj_arr_begin(&w);
	i2k_gj_u64(&w, UINT64_MAX);
	i2k_gj_i64(&w, INT64_MIN);
	i2k_gj_bool(&w, false);
	i2k_gj_null(&w);
	i2k_gj_arr_end(&w);
	i2k_gj_obj_end(&w);
	char *out = NULL;
	struct i2k_error *err = NULL;
	CHECK_INT(i2k_gj_finish(&w, &out, &err), 0);
	CHECK_STR(
	    out,
	    "{\n"
	    "    \"s\": \"\\u003ca\\u0026b\\u003e\\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u001f\x7f é €\",\n"
	    "    \"ls\": \"\\u2028|\\u2029\",\n"
	    "    \"bad\": \"a\\ufffdb\\ufffdc\\ufffd\\ufffd\\ufffd\",\n"
	    "    \"empty_obj\": {},\n"
	    "    \"empty_arr\": [],\n"
	    "    \"nums\": [\n"
	    "        18446744073709551615,\n"
	    "        -9223372036854775808,\n"
	    "        false,\n"
	    "        null\n"
	    "    ]\n"
	    "}");
	free(out);
}

TEST(gojson_schema_types)
{
	/* schema emission: field order, unknown keys dropped, case-insensitive
	 * keys, pointer vs omitempty, wrong types rejected */
	json_error_t je;
	json_t *v = json_loads("{\"Unified\":{\"b\":\"2\",\"a\":\"1\"},\"bogus\":1,"
			       "\"pids\":{},\"memory\":{\"swappiness\":0,\"limit\":5},"
			       "\"cpu\":{\"cpus\":\"\"},\"devices\":[]}",
			       0, &je);
	struct i2k_gj w;
	i2k_gj_init(&w);
	i2k_gj_value_schema(&w, v, &i2k_gj_t_resources, "resources");
	char *out = NULL;
	struct i2k_error *err = NULL;
	CHECK_INT(i2k_gj_finish(&w, &out, &err), 0);
	CHECK_STR(out, "{\n"
		       "    \"memory\": {\n"
		       "        \"limit\": 5,\n"
		       "        \"swappiness\": 0\n"
		       "    },\n"
		       "    \"cpu\": {},\n"
		       "    \"pids\": {\n"
		       "        \"limit\": 0\n"
		       "    },\n"
		       "    \"unified\": {\n"
		       "        \"a\": \"1\",\n"
		       "        \"b\": \"2\"\n"
		       "    }\n"
		       "}");
	free(out);
	json_decref(v);

	static const struct {
		const char *json, *msg;
	} bad[] = {
	    {"{\"memory\":{\"limit\":\"x\"}}", "resources.memory.limit: expected an integer"},
	    {"{\"pids\":[]}", "resources.pids: expected an object"},
	    {"{\"devices\":{}}", "resources.devices: expected an array"},
	    {"{\"cpu\":{\"cpus\":1}}", "resources.cpu.cpus: expected a string"},
	    {"{\"memory\":{\"disableOOMKiller\":1}}",
	     "resources.memory.disableOOMKiller: expected a boolean"},
	    {"{\"blockIO\":{\"weight\":70000}}", "resources.blockIO.weight: 70000 out of range"},
	    {"{\"cpu\":{\"shares\":-1}}", "resources.cpu.shares: -1 out of range"},
	    {"{\"unified\":[]}", "resources.unified: expected an object"},
	};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(bad); i++) {
		v = json_loads(bad[i].json, 0, &je);
		i2k_gj_init(&w);
		i2k_gj_value_schema(&w, v, &i2k_gj_t_resources, "resources");
		err = NULL;
		out = NULL;
		CHECK_INT(i2k_gj_finish(&w, &out, &err), -1);
		CHECK_STR(err ? err->msg : NULL, bad[i].msg);
		CHECK(err && err->code == I2K_ERR_CONFIG);
		i2k_error_free(err);
		json_decref(v);
	}
}

TEST(gojson_limits)
{
	struct i2k_gj w;
	i2k_gj_init(&w);
	for (int i = 0; i < I2K_GJ_MAX_DEPTH + 2; i++)
		i2k_gj_arr_begin(&w);
	char *out = NULL;
	struct i2k_error *err = NULL;
	CHECK_INT(i2k_gj_finish(&w, &out, &err), -1);
	CHECK_STR(err ? err->msg : NULL, "generated JSON nests deeper than 64 levels");
	i2k_error_free(err);
	/* unbalanced */
	i2k_gj_init(&w);
	i2k_gj_obj_begin(&w);
	err = NULL;
	CHECK_INT(i2k_gj_finish(&w, &out, &err), -1);
	CHECK(err && err->code == I2K_ERR_INTERNAL);
	i2k_error_free(err);
}

/* ---- rootfs fix-ups ------------------------------------------------------------- */

TEST(fixup_empty_root)
{
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	struct tree tr = {0};
	CHECK_INT(tree_new(&tr), 0);
	struct i2k_error *err = NULL;
	CHECK_INT(i2k_bundle_fixup_rootfs(tr.t, &err), 0);
	static const char *const dirs[] = {"dev", "dev/pts", "dev/shm", "etc", "proc", "sys"};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(dirs); i++) {
		struct i2k_inode *ino = i2k_fstree_lookup(tr.t, dirs[i]);
		CHECK(ino && ino->mode == (S_IFDIR | 0755) && ino->uid == 0 &&
		      ino->mtime == 1700000000);
	}
	struct i2k_inode *mtab = i2k_fstree_lookup(tr.t, "etc/mtab");
	CHECK(mtab && S_ISLNK(mtab->mode) && mtab->target &&
	      strcmp(mtab->target, "/proc/mounts") == 0);
	_cleanup_free_ char *hosts = tree_read(&tr, "etc/hosts");
	CHECK_STR(hosts, "127.0.0.1       localhost\n"
			 "::1     localhost ip6-localhost ip6-loopback\n"
			 "fe00::0 ip6-localnet\n"
			 "ff00::0 ip6-mcastprefix\n"
			 "ff02::1 ip6-allnodes\n"
			 "ff02::2 ip6-allrouters\n");
	_cleanup_free_ char *resolv = tree_read(&tr, "etc/resolv.conf");
	CHECK_STR(resolv, "\n# no resolv.conf configured\n");
	struct i2k_inode *ino = i2k_fstree_lookup(tr.t, "etc/resolv.conf");
	CHECK(ino && ino->mode == (S_IFREG | 0644) && ino->mtime == 1700000000);
	/* 1 root + 6 dirs + 3 files */
	CHECK_INT(i2k_fstree_count(tr.t), 10);
	/* idempotent */
	CHECK_INT(i2k_bundle_fixup_rootfs(tr.t, &err), 0);
	CHECK_INT(i2k_fstree_count(tr.t), 10);
	tree_free(&tr);
	unsetenv("SOURCE_DATE_EPOCH");
}

TEST(fixup_existing_image)
{
	setenv("SOURCE_DATE_EPOCH", "42", 1);
	struct tree tr = {0};
	CHECK_INT(tree_new(&tr), 0);
	tree_file(&tr, "etc/hosts", "10.0.0.1 mine\n", 0600, 7);
	tree_file(&tr, "etc/hostname", "box\n", 0644, 0);
	tree_file(&tr, "etc/passwd", "root:x:0:0::/:/bin/sh\n", 0644, 0);
	tree_file(&tr, ".dockerenv", "", 0644, 0);
	tree_file(&tr, "Dockerfile", "FROM scratch\n", 0644, 0);
	tree_node(&tr, "etc/resolv.conf", S_IFLNK | 0777, "../run/resolv.conf");
	tree_node(&tr, "etc/mtab", S_IFLNK | 0777, "../proc/self/mounts");
	tree_node(&tr, "dev/console", S_IFCHR | 0600, NULL);
	tree_node(&tr, "dev/null", S_IFCHR | 0666, NULL);
	tree_node(&tr, "dev/shm", S_IFREG | 0644, NULL);     /* not a directory: dropped */
	tree_node(&tr, "dev/pts", S_IFDIR | 0700, NULL);     /* a directory: kept */
	tree_node(&tr, "sys", S_IFLNK | 0777, "/elsewhere"); /* replaced by a directory */
	tree_node(&tr, "proc", S_IFDIR | 0555, NULL);
	struct i2k_error *err = NULL;
	CHECK_INT(i2k_bundle_fixup_rootfs(tr.t, &err), 0);
	if (err)
		fprintf(stderr, "  %s\n", err->msg);
	i2k_error_free(err);

	CHECK(i2k_fstree_lookup(tr.t, "etc/hostname") == NULL);
	CHECK(i2k_fstree_lookup(tr.t, ".dockerenv") == NULL);
	CHECK(i2k_fstree_lookup(tr.t, "Dockerfile") == NULL);
	CHECK(i2k_fstree_lookup(tr.t, "dev/console") == NULL);
	struct i2k_inode *ino = i2k_fstree_lookup(tr.t, "dev/null");
	CHECK(ino && S_ISCHR(ino->mode) && ino->mtime == 12345); /* untouched */
	ino = i2k_fstree_lookup(tr.t, "dev/shm");
	CHECK(ino && ino->mode == (S_IFDIR | 0755) && ino->mtime == 42);
	ino = i2k_fstree_lookup(tr.t, "dev/pts");
	CHECK(ino && ino->mode == (S_IFDIR | 0700) && ino->mtime == 42); /* kept, re-timed */
	ino = i2k_fstree_lookup(tr.t, "sys");
	CHECK(ino && ino->mode == (S_IFDIR | 0755));
	ino = i2k_fstree_lookup(tr.t, "proc");
	CHECK(ino && ino->mode == (S_IFDIR | 0555) && ino->mtime == 42);
	ino = i2k_fstree_lookup(tr.t, "etc/mtab"); /* the image's own link is kept */
	CHECK(ino && S_ISLNK(ino->mode) && strcmp(ino->target, "../proc/self/mounts") == 0 &&
	      ino->mtime == 42);
	/* hosts and resolv.conf: always LinuxKit's, 0644 root */
	ino = i2k_fstree_lookup(tr.t, "etc/hosts");
	CHECK(ino && ino->mode == (S_IFREG | 0644) && ino->uid == 0 && ino->mtime == 42);
	_cleanup_free_ char *hosts = tree_read(&tr, "etc/hosts");
	CHECK(hosts && strncmp(hosts, "127.0.0.1       localhost\n", 26) == 0);
	ino = i2k_fstree_lookup(tr.t, "etc/resolv.conf");
	CHECK(ino && S_ISREG(ino->mode));
	_cleanup_free_ char *resolv = tree_read(&tr, "etc/resolv.conf");
	CHECK_STR(resolv, "\n# no resolv.conf configured\n");
	_cleanup_free_ char *passwd = tree_read(&tr, "etc/passwd");
	CHECK_STR(passwd, "root:x:0:0::/:/bin/sh\n");
	tree_free(&tr);
	unsetenv("SOURCE_DATE_EPOCH");
}

TEST(fixup_etc_symlink)
{
	/* "etc" a symlink: LinuxKit's tar gets an "etc" directory entry after
	 * it, so extraction ends with a real directory holding the files */
	struct tree tr = {0};
	CHECK_INT(tree_new(&tr), 0);
	tree_node(&tr, "etc", S_IFLNK | 0777, "/usr/etc");
	struct i2k_error *err = NULL;
	CHECK_INT(i2k_bundle_fixup_rootfs(tr.t, &err), 0);
	i2k_error_free(err);
	struct i2k_inode *ino = i2k_fstree_lookup(tr.t, "etc");
	CHECK(ino && S_ISDIR(ino->mode));
	CHECK(i2k_fstree_lookup(tr.t, "etc/hosts") != NULL);
	tree_free(&tr);
}

int main(void)
{
	t_prog = "test_bundle";
	RUN(default_service_from_image_config);
	RUN(deterministic_output);
	RUN(yaml_overrides_label_overrides_image);
	RUN(yaml_lists_replace_label_lists);
	RUN(caps_add_without_label_and_empty_command);
	RUN(caps_all_and_none);
	RUN(caps_errors);
	RUN(rlimits);
	RUN(rlimit_errors);
	RUN(uid_gid_names);
	RUN(uid_unknown_names);
	RUN(idmap_allocation);
	RUN(passthrough_fields);
	RUN(device_mode_errors);
	RUN(passthrough_type_errors);
	RUN(device_mode_strings);
	RUN(runtime_json);
	RUN(readonly_flag);
	RUN(namespaces_host_and_join);
	RUN(mounts_tmpfs_binds_and_overrides);
	RUN(mount_errors);
	RUN(volume_binds_and_mounts);
	RUN(label_errors);
	RUN(error_sections_and_no_position);
	RUN(gojson_format_and_escaping);
	RUN(gojson_schema_types);
	RUN(gojson_limits);
	RUN(fixup_empty_root);
	RUN(fixup_existing_image);
	RUN(fixup_etc_symlink);
	return TEST_DONE();
}
