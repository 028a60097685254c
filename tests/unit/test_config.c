/* test_config.c — builder/config: YAML → typed config, errors with
 * positions, merge, label JSON, YAML round trip, `i2kit validate`. */
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/config/config.h"
#include "builder/config/emit.h"
#include "cli/cmd_validate.h"
#include "cli/common.h"
#include "tests/unit/test.h"

/* ---- helpers --------------------------------------------------------------- */

static char last_warning[512];
static int n_warnings;

static void record_warning(const char *msg, void *ctx)
{
	(void)ctx;
	snprintf(last_warning, sizeof(last_warning), "%s", msg);
	n_warnings++;
}

static struct i2k_config *parse_ok(const char *yaml)
{
	struct i2k_config *c = NULL;
	struct i2k_error *err = NULL;
	if (i2k_config_parse("t.yml", yaml, strlen(yaml), &c, &err) < 0) {
		fprintf(stderr, "  unexpected error: %s\n", err->msg);
		i2k_error_free(err);
		return NULL;
	}
	return c;
}

static int expect_error_at(int line, const char *yaml, const char *msg)
{
	struct i2k_config *c = NULL;
	struct i2k_error *err = NULL;
	int r = i2k_config_parse("t.yml", yaml, strlen(yaml), &c, &err);
	int bad = 0;
	if (r == 0 || err == NULL) {
		fprintf(stderr, "  test_config.c:%d: expected error \"%s\", parse succeeded\n",
			line, msg);
		bad = 1;
	} else if (err->code != I2K_ERR_CONFIG || strcmp(err->msg, msg) != 0) {
		fprintf(stderr,
			"  test_config.c:%d: error\n    got  \"%s\" (%s)\n    want \"%s\"\n", line,
			err->msg, i2k_errc_name(err->code), msg);
		bad = 1;
	}
	if (c != NULL) {
		fprintf(stderr, "  test_config.c:%d: *out set on failure\n", line);
		bad = 1;
	}
	i2k_config_free(c);
	i2k_error_free(err);
	return bad;
}
#define EXPECT_ERROR(yaml, msg) (t_failed_checks += expect_error_at(__LINE__, (yaml), (msg)))

static bool strv_is(const struct i2k_strv *s, const char *const *want, size_t n)
{
	if (!s->set || s->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->v[i], want[i]) != 0)
			return false;
	return s->v[n] == NULL;
}
#define STRV_IS(s, ...)                                                                            \
	strv_is((s), (const char *const[]){__VA_ARGS__},                                           \
		sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static char *json_str(const json_t *j)
{
	return j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}
#define CHECK_JSON(j, want)                                                                        \
	do {                                                                                       \
		char *_s = json_str(j);                                                            \
		CHECK_STR(_s, want);                                                               \
		free(_s);                                                                          \
	} while (0)

static struct i2k_config *load(const char *const *names, size_t n)
{
	const char *paths[8] = {0};
	char *owned[8] = {0};
	for (size_t i = 0; i < n; i++) {
		owned[i] = i2k_xstrdup(test_data(names[i]));
		paths[i] = owned[i];
	}
	struct i2k_config *c = NULL;
	struct i2k_error *err = NULL;
	if (i2k_config_load(paths, n, &c, &err) < 0) {
		fprintf(stderr, "  load failed: %s\n", err->msg);
		i2k_error_free(err);
	}
	for (size_t i = 0; i < n; i++)
		free(owned[i]);
	return c;
}

/* Every value of tests/data/config/full.yml (positions checked separately,
 * since the re-serialised YAML has its own). */
static void check_full(const struct i2k_config *c)
{
	CHECK_STR(c->kernel.image, "linuxkit/kernel:6.6.13");
	CHECK_STR(c->kernel.cmdline, "console=ttyS0 quiet");
	CHECK_STR(c->kernel.binary, "bzImage");
	CHECK_STR(c->kernel.tar, "none");
	CHECK_STR(c->kernel.ucode, "intel-ucode.cpio");
	CHECK(c->kernel.modules_set && c->kernel.modules == I2K_MODULES_LIST);
	CHECK(STRV_IS(&c->kernel.module_names, "virtio_net", "virtio_blk"));
	CHECK_INT(c->n_init, 2);
	if (c->n_init == 2) {
		CHECK_STR(c->init[0].image, "linuxkit/init:v1.0.0");
		CHECK_STR(c->init[1].image, "linuxkit/runc:v1.0.0");
	}

	CHECK_INT(c->n_onboot, 1);
	if (c->n_onboot != 1)
		return;
	const struct i2k_image_entry *e = &c->onboot[0];
	const struct i2k_imgopts *o = &e->opts;
	CHECK_STR(e->name, "sysctl");
	CHECK_STR(e->image, "linuxkit/sysctl:v1");
	CHECK(STRV_IS(&o->capabilities, "CAP_SYS_ADMIN"));
	CHECK(STRV_IS(&o->capabilities_add, "CAP_NET_ADMIN"));
	CHECK(STRV_IS(&o->ambient, "CAP_NET_RAW"));
	CHECK_JSON(o->mounts, "[{\"destination\":\"/data\",\"options\":[\"rbind\",\"rw\"],"
			      "\"source\":\"/var/data\",\"type\":\"bind\",\"uidMappings\":"
			      "[{\"containerID\":0,\"hostID\":1000,\"size\":1}]}]");
	CHECK(STRV_IS(&o->binds, "/etc/resolv.conf:/etc/resolv.conf"));
	CHECK(STRV_IS(&o->binds_add, "/var:/var:rshared,rbind"));
	CHECK(STRV_IS(&o->tmpfs, "/run:size=10m"));
	CHECK_JSON(o->devices, "[{\"major\":10,\"minor\":232,\"mode\":438,\"path\":\"/dev/kvm\","
			       "\"type\":\"c\"}]");
	CHECK(STRV_IS(&o->command, "/bin/sh", "-c", "echo hi"));
	CHECK(STRV_IS(&o->env, "A=1", "B=two=2"));
	CHECK_STR(o->cwd, "/work");
	CHECK_STR(o->net, "host");
	CHECK_STR(o->pid, "host");
	CHECK_STR(o->ipc, "new");
	CHECK_STR(o->uts, "host");
	CHECK_STR(o->userns, "/run/userns");
	CHECK_STR(o->hostname, "builder");
	CHECK(o->readonly.set && o->readonly.value);
	CHECK(STRV_IS(&o->masked_paths, "/proc/kcore"));
	CHECK(STRV_IS(&o->readonly_paths, "/proc/sys"));
	CHECK(o->uid.set && !o->uid.is_name && o->uid.id == 100);
	CHECK(o->gid.set && o->gid.is_name);
	CHECK_STR(o->gid.name, "wheel");
	CHECK(o->additional_gids_set);
	CHECK_INT(o->n_additional_gids, 2);
	if (o->n_additional_gids == 2) {
		CHECK(!o->additional_gids[0].is_name && o->additional_gids[0].id == 10);
		CHECK(o->additional_gids[1].is_name);
		CHECK_STR(o->additional_gids[1].name, "audio");
	}
	CHECK(o->no_new_privileges.set && o->no_new_privileges.value);
	CHECK(o->oom_score_adj.set && o->oom_score_adj.value == -500);
	CHECK_STR(o->rootfs_propagation, "shared");
	CHECK_STR(o->cgroups_path, "/podruntime/sysctl");
	CHECK_JSON(
	    o->resources,
	    "{\"blockIO\":{\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":"
	    "1048576}],\"weight\":300},\"cpu\":{\"cpus\":\"0-1\",\"quota\":-1,\"shares\":512},"
	    "\"devices\":[{\"access\":\"rwm\",\"allow\":false}],\"hugepageLimits\":[{\"limit\":"
	    "4,\"pageSize\":\"2MB\"}],\"memory\":{\"disableOOMKiller\":false,\"limit\":"
	    "268435456,\"swappiness\":10},\"network\":{\"classID\":1,\"priorities\":[{\"name\":"
	    "\"eth0\",\"priority\":5}]},\"pids\":{\"limit\":100},\"rdma\":{\"mlx5_1\":{"
	    "\"hcaHandles\":3}},\"unified\":{\"memory.high\":\"1G\"}}");
	CHECK_JSON(o->sysctl, "{\"net.ipv4.ip_forward\":\"1\",\"vm.swappiness\":\"60\"}");
	CHECK(STRV_IS(&o->rlimits, "RLIMIT_NOFILE,1024,4096"));
	CHECK_JSON(o->uid_mappings, "[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]");
	CHECK_JSON(o->gid_mappings, "[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]");
	CHECK_JSON(o->annotations, "{\"org.example.flag\":\"true\"}");
	const struct i2k_runtime *rt = &o->runtime;
	CHECK(rt->set);
	CHECK(STRV_IS(&rt->cgroups, "systemreserved"));
	CHECK_JSON(rt->mounts, "[{\"destination\":\"/run/x\",\"options\":[\"nosuid\"],\"source\":"
			       "\"tmpfs\",\"type\":\"tmpfs\"}]");
	CHECK(STRV_IS(&rt->mkdir, "/var/lib/x"));
	CHECK_JSON(rt->interfaces, "[{\"add\":\"veth\",\"createInRoot\":true,\"name\":\"eth1\","
				   "\"peer\":\"veth1\"}]");
	CHECK_STR(rt->bindns.net, "/run/netns/sysctl");
	CHECK_STR(rt->bindns.uts, "/run/utsns/sysctl");
	CHECK(rt->bindns.pid == NULL && rt->bindns.ipc == NULL && rt->bindns.mnt == NULL &&
	      rt->bindns.user == NULL && rt->bindns.cgroup == NULL);
	CHECK_STR(rt->namespace_, "services.linuxkit");

	CHECK_INT(c->n_onshutdown, 1);
	if (c->n_onshutdown == 1) {
		CHECK_STR(c->onshutdown[0].name, "shutdown");
		CHECK(STRV_IS(&c->onshutdown[0].opts.command, "/bin/echo", "bye"));
		/* absent fields stay unset */
		CHECK(!c->onshutdown[0].opts.capabilities.set);
		CHECK(!c->onshutdown[0].opts.readonly.set);
		CHECK(c->onshutdown[0].opts.resources == NULL);
		CHECK(!c->onshutdown[0].opts.runtime.set);
	}
	CHECK_INT(c->n_services, 1);
	if (c->n_services == 1) {
		CHECK_STR(c->services[0].name, "getty");
		CHECK(STRV_IS(&c->services[0].opts.env, "INSECURE=true"));
	}

	CHECK_INT(c->n_files, 5);
	if (c->n_files == 5) {
		const struct i2k_file_entry *f = c->files;
		CHECK_STR(f[0].path, "etc/issue");
		CHECK_STR(f[0].contents, "Welcome to i2kit\n  indented line\n");
		CHECK_INT(f[0].contents_len, 33);
		CHECK(f[0].mode_set && f[0].mode == 0644);
		CHECK(f[0].uid.set && !f[0].uid.is_name && f[0].uid.id == 0);
		CHECK(f[0].gid.set && f[0].gid.is_name);
		CHECK_STR(f[0].gid.name, "root");
		CHECK_STR(f[1].metadata, "yaml");
		CHECK(f[1].contents == NULL && !f[1].mode_set && !f[1].uid.set);
		CHECK(f[2].directory && f[2].mode_set && f[2].mode == 0700);
		CHECK_STR(f[3].symlink, "/usr/share/zoneinfo/UTC");
		CHECK_STR(f[4].source, "~/.ssh/id_ed25519.pub");
		CHECK(f[4].optional && !f[3].optional && !f[4].directory);
	}
	CHECK_INT(c->n_volumes, 1);
	if (c->n_volumes == 1) {
		CHECK_STR(c->volumes[0].name, "vol_data");
		CHECK_STR(c->volumes[0].image, "alpine:3.19");
		CHECK(c->volumes[0].readonly);
		CHECK_STR(c->volumes[0].format, "filesystem");
		CHECK(STRV_IS(&c->volumes[0].platforms, "linux/amd64", "linux/arm64"));
	}
	CHECK(!c->trust_given);
}

/* ---- tests ------------------------------------------------------------------------- */

TEST(full_example)
{
	const char *names[] = {"config/full.yml"};
	_cleanup_(i2k_config_freep) struct i2k_config *c = load(names, 1);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	check_full(c);
	/* positions */
	CHECK_INT(c->n_files_read, 1);
	CHECK_STR(c->kernel.pos.file, test_data("config/full.yml"));
	CHECK_INT(c->kernel.pos.line, 3);
	CHECK_INT(c->kernel.pos.col, 3);
	CHECK_INT(c->init[1].pos.line, 11);
	CHECK_INT(c->init[1].pos.col, 5);
	CHECK_INT(c->onboot[0].pos.line, 13);
	CHECK_INT(c->onboot[0].pos.col, 5);
	CHECK(c->onboot[0].pos.file == c->files_read[0]);
	CHECK_INT(c->services[0].pos.line, 97);
	CHECK_INT(c->files[2].pos.line, 110);
	CHECK_INT(c->volumes[0].pos.line, 119);
	CHECK(c->yaml != NULL);
}

TEST(round_trip)
{
	const char *names[] = {"config/full.yml"};
	_cleanup_(i2k_config_freep) struct i2k_config *c = load(names, 1);
	CHECK(c != NULL && c->yaml != NULL);
	if (c == NULL || c->yaml == NULL)
		return;
	_cleanup_(i2k_config_freep) struct i2k_config *c2 = parse_ok(c->yaml);
	CHECK(c2 != NULL);
	if (c2 == NULL) {
		fprintf(stderr, "%s", c->yaml);
		return;
	}
	check_full(c2);
	CHECK_STR(c2->yaml, c->yaml); /* a fixed point */
	/* a few spellings of the writer */
	CHECK_CONTAINS(c->yaml, "mode: \"0644\"");
	CHECK_CONTAINS(c->yaml, "\ninit:\n- linuxkit/init:v1.0.0\n");
	CHECK_CONTAINS(c->yaml, "contents: |");
	CHECK_CONTAINS(c->yaml, "blockIO:");
	CHECK_CONTAINS(c->yaml, "net.ipv4.ip_forward: \"1\"");
	CHECK(strstr(c->yaml, "trust") == NULL);

	/* Strings that look like other types, NULs, unicode, empty ones. */
	static const char tricky[] =
	    "kernel:\n  image: k\n  cmdline: \"\"\nservices:\n"
	    "  - name: \"yes\"\n    image: \"123\"\n    hostname: \"null\"\n"
	    "    command: [\"-1\", \"0x10\", \"1.5\", \".inf\", \"~\", \"a: b\", \"#x\", \" "
	    "lead\", "
	    "\"caf\\u00e9\", \"- x\"]\n"
	    "    uid: \"true\"\n    gid: \"0042\"\n"
	    "files:\n  - path: bin/x\n    contents: \"a\\0b\\ttrail  \\n  \\n\"\n"
	    "  - path: e\n    contents: \"\"\n";
	_cleanup_(i2k_config_freep) struct i2k_config *t = parse_ok(tricky);
	CHECK(t != NULL);
	if (t == NULL)
		return;
	_cleanup_(i2k_config_freep) struct i2k_config *t2 = parse_ok(t->yaml);
	CHECK(t2 != NULL);
	if (t2 == NULL) {
		fprintf(stderr, "%s", t->yaml);
		return;
	}
	CHECK_STR(t2->kernel.cmdline, "");
	CHECK_STR(t2->services[0].name, "yes");
	CHECK_STR(t2->services[0].image, "123");
	CHECK_STR(t2->services[0].opts.hostname, "null");
	CHECK(STRV_IS(&t2->services[0].opts.command, "-1", "0x10", "1.5", ".inf", "~", "a: b", "#x",
		      " lead", "caf\xc3\xa9", "- x"));
	CHECK(t2->services[0].opts.uid.is_name);
	CHECK_STR(t2->services[0].opts.uid.name, "true");
	CHECK(!t2->services[0].opts.gid.is_name && t2->services[0].opts.gid.id == 42);
	CHECK_INT(t2->files[0].contents_len, 15);
	CHECK(t2->files[0].contents &&
	      memcmp(t2->files[0].contents, "a\0b\ttrail  \n  \n", 15) == 0);
	CHECK_STR(t2->files[1].contents, "");
	CHECK_STR(t2->yaml, t->yaml);
}

TEST(linuxkit_style)
{
	const char *names[] = {"config/linuxkit-style.yml"};
	_cleanup_(i2k_config_freep) struct i2k_config *c = load(names, 1);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK_STR(c->kernel.image, "linuxkit/kernel:6.6.13");
	CHECK_STR(c->kernel.cmdline, "console=tty0 console=ttyS0 console=ttyAMA0");
	CHECK(c->kernel.binary == NULL && c->kernel.tar == NULL);
	CHECK(!c->kernel.modules_set && c->kernel.modules == I2K_MODULES_AUTO);
	CHECK_INT(c->n_init, 4);
	CHECK_INT(c->n_onboot, 2);
	CHECK_INT(c->n_onshutdown, 1);
	CHECK_INT(c->n_services, 3);
	CHECK_INT(c->n_files, 2);
	if (c->n_onboot != 2 || c->n_services != 3 || c->n_files != 2)
		return;
	CHECK_STR(c->onboot[1].name, "dhcpcd");
	CHECK(STRV_IS(&c->onboot[1].opts.binds, "/var/run:/run",
		      "/etc/resolv.conf:/etc/resolv.conf"));
	CHECK(STRV_IS(&c->onboot[1].opts.capabilities, "CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE",
		      "CAP_NET_RAW", "CAP_SYS_ADMIN"));
	CHECK(STRV_IS(&c->onboot[1].opts.command, "/sbin/dhcpcd", "--nobackground", "-f",
		      "/dhcpcd.conf", "-1"));
	CHECK(!c->onboot[0].opts.command.set);
	CHECK_STR(c->services[0].name, "getty");
	CHECK(STRV_IS(&c->services[0].opts.env, "INSECURE=true"));
	CHECK_STR(c->services[1].name, "rngd");
	CHECK(STRV_IS(&c->services[1].opts.env, "RNGD_OPTS=-x jitter"));
	CHECK_STR(c->services[2].image, "nginx:1.19.5-alpine");
	CHECK_STR(c->files[0].metadata, "yaml");
	CHECK_STR(c->files[1].contents, "Welcome to LinuxKit.\n");
	_cleanup_(i2k_config_freep) struct i2k_config *c2 = parse_ok(c->yaml);
	CHECK(c2 != NULL && strcmp(c2->yaml, c->yaml) == 0);
}

TEST(errors)
{
	EXPECT_ERROR("kernel:\n  image: k\nfoo: 1\n", "t.yml:3:1: unknown top-level key \"foo\"");
	EXPECT_ERROR(
	    "services:\n  - name: a\n    image: b\n  - name: c\n    image: d\n    imagee: e\n",
	    "t.yml:6:5: unknown key \"imagee\" in services[1]");
	EXPECT_ERROR("services:\n  - name: a\n    image: b\n    capabilities: CAP_SYS_ADMIN\n",
		     "t.yml:4:19: services[0].capabilities: expected a list of strings");
	EXPECT_ERROR("services:\n  - name: a\n    image: b\n    capabilities: [CAP_A, [x]]\n",
		     "t.yml:4:27: services[0].capabilities[1]: expected a string");
	EXPECT_ERROR("onboot:\n  - name: a\n    image: b\n    readonly: maybe\n",
		     "t.yml:4:15: onboot[0].readonly: expected a boolean (true or false)");
	EXPECT_ERROR("onboot:\n  - name: a\n    image: b\n    readonly: \"true\"\n",
		     "t.yml:4:15: onboot[0].readonly: expected a boolean (true or false)");
	EXPECT_ERROR("services:\n  - name: a\n    image: b\n    oomScoreAdj: high\n",
		     "t.yml:4:18: services[0].oomScoreAdj: expected an integer");
	EXPECT_ERROR(
	    "services:\n  - name: a\n    image: b\n    oomScoreAdj: 99999999999999999999\n",
	    "t.yml:4:18: services[0].oomScoreAdj: integer 99999999999999999999 is out of "
	    "range");
	EXPECT_ERROR("services:\n  - name: a\n    image: b\n    oomScoreAdj: 2000\n",
		     "t.yml:4:18: services[0].oomScoreAdj: must be between -1000 and 1000");
	EXPECT_ERROR("services:\n  - name: a\n    image: b\n    sysctl: [a]\n",
		     "t.yml:4:13: services[0].sysctl: expected a mapping of strings");
	EXPECT_ERROR("services:\n  - name: a\n    image: b\n    sysctl: {a: [1]}\n",
		     "t.yml:4:17: services[0].sysctl.a: expected a string");
	EXPECT_ERROR("services:\n  - name: a\n    image: b\n    runtime: [x]\n",
		     "t.yml:4:14: services[0].runtime: expected a mapping");
	EXPECT_ERROR(
	    "services:\n  - name: a\n    image: b\n    runtime:\n      bindNS: {netns: x}\n",
	    "t.yml:5:16: unknown key \"netns\" in services[0].runtime.bindNS");
	EXPECT_ERROR(
	    "services:\n  - name: a\n    image: b\n    resources:\n      memory: {limitt: 5}\n",
	    "t.yml:5:16: unknown key \"limitt\" in services[0].resources.memory");
	EXPECT_ERROR("services:\n  - name: a\n    image: b\n    mounts: {destination: /x}\n",
		     "t.yml:4:13: services[0].mounts: expected a list of mappings");
	EXPECT_ERROR("services:\n  - name: a\n    image: b\n"
		     "    uidMappings: [{containerID: -1, hostID: 0, size: 1}]\n",
		     "t.yml:4:33: services[0].uidMappings[0].containerID: expected a non-negative "
		     "integer");
	EXPECT_ERROR(
	    "services:\n  - name: a\n    image: b\n    devices: [{path: /dev/x, mode: rw}]\n",
	    "t.yml:4:36: services[0].devices[0].mode: invalid mode \"rw\": expected octal "
	    "digits such as \"0644\"");
	EXPECT_ERROR("services:\n  - name: a\n    image: b\n    uid: -1\n",
		     "t.yml:4:10: services[0].uid: expected a non-negative id or a name");
	EXPECT_ERROR("services:\n  - name: a\n    image: b\n    gid: 4294967296\n",
		     "t.yml:4:10: services[0].gid: id 4294967296 is out of range");
	EXPECT_ERROR("services:\n  - name: a\n    image: b\n    uid: [1]\n",
		     "t.yml:4:10: services[0].uid: expected an id (integer) or a name");
	EXPECT_ERROR("services:\n  - name: a\n    image: b\n    additionalGids: 5\n",
		     "t.yml:4:21: services[0].additionalGids: expected a list of ids or names");
	EXPECT_ERROR("services:\n  - name: a\n    image: b\n    cwd:\n",
		     "t.yml:4:9: services[0].cwd: expected a string");
	EXPECT_ERROR("services:\n  - image: b\n",
		     "t.yml:2:5: services[0]: missing required field \"name\"");
	EXPECT_ERROR("onshutdown:\n  - name: a\n",
		     "t.yml:2:5: onshutdown[0]: missing required field \"image\"");
	EXPECT_ERROR(
	    "services:\n  - name: a/b\n    image: x\n",
	    "t.yml:2:11: services[0].name: invalid name \"a/b\": must be 1-255 characters, "
	    "not \".\" or \"..\", without '/'");
	EXPECT_ERROR("services:\n  - name: a\n    image: \"\"\n",
		     "t.yml:3:12: services[0].image: image must not be empty");
	EXPECT_ERROR("services:\n  - getty\n",
		     "t.yml:2:5: services[0]: expected a mapping with name and image");
	EXPECT_ERROR("services: {name: a}\n", "t.yml:1:11: services: expected a list of images");
	EXPECT_ERROR("init: linuxkit/init\n", "t.yml:1:7: init: expected a list of strings");
	EXPECT_ERROR("services:\n  - name: a\n    image: b\n  - name: a\n    image: c\n",
		     "t.yml:4:5: duplicate service name \"a\" (first defined at t.yml:2:5)");
	EXPECT_ERROR("volumes:\n  - {name: v}\n  - {name: w}\n  - {name: v}\n",
		     "t.yml:4:5: duplicate volume name \"v\" (first defined at t.yml:2:5)");
	EXPECT_ERROR("kernel:\n  image: a\n  image: b\n",
		     "t.yml:3:3: duplicate key \"image\" (first at line 2, column 3)");
	EXPECT_ERROR("kernel:\n  image: k\n  modules: some\n",
		     "t.yml:3:12: kernel.modules: expected \"auto\", \"all\" or a list of module "
		     "names");
	EXPECT_ERROR("kernel:\n  image: k\n  initrd: x\n",
		     "t.yml:3:3: unknown key \"initrd\" in kernel");
	EXPECT_ERROR("kernel: linuxkit/kernel\n", "t.yml:1:9: kernel: expected a mapping");
	EXPECT_ERROR("files:\n  - contents: x\n",
		     "t.yml:2:5: files[0]: missing required field \"path\"");
	EXPECT_ERROR("files:\n  - path: a\n    contents: x\n    mode: \"0789\"\n",
		     "t.yml:4:11: files[0].mode: invalid mode \"0789\": expected octal digits such "
		     "as \"0644\"");
	EXPECT_ERROR(
	    "files:\n  - path: a\n    contents: x\n    mode: 17777\n",
	    "t.yml:4:11: files[0].mode: invalid mode \"17777\": expected octal digits such "
	    "as \"0644\"");
	EXPECT_ERROR("files:\n  - path: a\n    contents: x\n    source: y\n",
		     "t.yml:2:5: files[0]: only one of contents, source, symlink, metadata and "
		     "directory may be given");
	EXPECT_ERROR("files:\n  - path: a\n",
		     "t.yml:2:5: files[0]: one of contents, source, symlink, metadata or directory "
		     "is required");
	EXPECT_ERROR("files:\n  - path: a\n    contents: x\n    optional: true\n",
		     "t.yml:2:5: files[0]: optional is only valid with source");
	EXPECT_ERROR("files:\n  - path: a\n    metadata: xml\n",
		     "t.yml:3:15: files[0].metadata: must be \"yaml\" or \"json\", not \"xml\"");
	EXPECT_ERROR("files:\n  - path: etc/../../x\n    contents: x\n",
		     "t.yml:2:5: files[0]: path \"etc/../../x\" must not contain \"..\"");
	EXPECT_ERROR("files:\n  - path: a\n    directory: 1\n",
		     "t.yml:3:16: files[0].directory: expected a boolean (true or false)");
	EXPECT_ERROR("files:\n  - path: a\n    owner: root\n    contents: x\n",
		     "t.yml:3:5: unknown key \"owner\" in files[0]");
	EXPECT_ERROR(
	    "volumes:\n  - name: Data\n",
	    "t.yml:2:11: volumes[0].name: invalid volume name \"Data\": use a-z, 0-9, _ and -");
	EXPECT_ERROR("volumes:\n  - name: a\n  - name: a\n",
		     "t.yml:3:5: duplicate volume name \"a\" (first defined at t.yml:2:5)");
	EXPECT_ERROR(
	    "volumes:\n  - name: a\n    format: ext4\n",
	    "t.yml:3:13: volumes[0].format: must be \"oci\" or \"filesystem\", not \"ext4\"");
	EXPECT_ERROR("volumes:\n  - image: a\n",
		     "t.yml:2:5: volumes[0]: missing required field \"name\"");
	EXPECT_ERROR("services:\n  - name: a\n    image: b\n    env: [A=1, FOO]\n",
		     "t.yml:4:16: services[0].env[1]: expected KEY=VALUE, got \"FOO\"");
	EXPECT_ERROR("services:\n  - name: a\n    image: b\n    env: [\"=x\"]\n",
		     "t.yml:4:11: services[0].env[0]: expected KEY=VALUE, got \"=x\"");
	/* YAML syntax and structure */
	EXPECT_ERROR("a: b: c\n", "t.yml:1:5: mapping values are not allowed in this context");
	EXPECT_ERROR("services: [a, b\n",
		     "t.yml:2:1: did not find expected ',' or ']' while parsing a flow sequence "
		     "(line 1, column 11)");
	EXPECT_ERROR("a: \xff\n", "t.yml:1:4: invalid leading UTF-8 octet");
	EXPECT_ERROR("- a\n- b\n", "t.yml:1:1: the top level must be a mapping");
	EXPECT_ERROR("just a string\n", "t.yml:1:1: the top level must be a mapping");
	EXPECT_ERROR("init: [a]\n---\ninit: [b]\n",
		     "t.yml:2:1: multiple YAML documents are not supported");
	EXPECT_ERROR("init: *x\n", "t.yml:1:7: unknown alias \"x\"");
	EXPECT_ERROR("? [a]\n: b\n", "t.yml:1:3: mapping keys must be strings");
	EXPECT_ERROR("services:\n  - name: a\n    image: b\n    env: &e [A=1]\n  - name: c\n"
		     "    image: d\n    env: *e\n    env: *e\n",
		     "t.yml:8:5: duplicate key \"env\" (first at line 7, column 5)");
}

TEST(limits)
{
	/* nesting */
	char deep[256];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	deep[200] = '\0';
	EXPECT_ERROR(deep, "t.yml:1:65: nesting deeper than 64 levels");
	/* billion laughs: 10^7 nodes after expansion */
	static const char laughs[] = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
				     "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
				     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
				     "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
				     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
				     "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
				     "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
	struct i2k_config *c = NULL;
	struct i2k_error *err = NULL;
	CHECK(i2k_config_parse("t.yml", laughs, strlen(laughs), &c, &err) < 0);
	CHECK(c == NULL);
	CHECK(err && err->code == I2K_ERR_CONFIG);
	CHECK_CONTAINS(err ? err->msg : NULL,
		       "document too large: more than 1000000 nodes after expanding aliases");
	/* f (line 6) is the first level past 10^6 nodes */
	CHECK(err && strncmp(err->msg, "t.yml:6:", 8) == 0);
	i2k_error_free(err);
	/* a big scalar aliased many times: byte limit */
	size_t big = (size_t)1 << 20;
	struct i2k_buf b = {0};
	CHECK(i2k_buf_append(&b, "x: &x \"", 7, NULL) == 0);
	char *fill = i2k_xmalloc(big);
	memset(fill, 'a', big);
	CHECK(i2k_buf_append(&b, fill, big, NULL) == 0);
	free(fill);
	CHECK(i2k_buf_append(&b, "\"\ny: [", 6, NULL) == 0);
	for (int i = 0; i < 100; i++)
		CHECK(i2k_buf_append(&b, "*x, ", 4, NULL) == 0);
	CHECK(i2k_buf_append(&b, "*x]\n", 4, NULL) == 0);
	err = NULL;
	CHECK(i2k_config_parse("t.yml", b.data, b.len, &c, &err) < 0);
	CHECK_CONTAINS(err ? err->msg : NULL, "bytes after expanding aliases");
	i2k_error_free(err);
	i2k_buf_free(&b);
	/* input size */
	err = NULL;
	CHECK(i2k_config_parse("t.yml", "", (size_t)17 << 20, &c, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "t.yml: file larger than 16777216 bytes");
	i2k_error_free(err);
}

TEST(aliases_and_scalars)
{
	static const char y[] = "services:\n"
				"  - name: a\n    image: b\n    env: &e [A=1, B=2]\n"
				"    readonly: on\n    noNewPrivileges: No\n"
				"  - name: c\n    image: d\n    env: *e\n    readonly: FALSE\n"
				"    oomScoreAdj: +7\n    uid: \"65534\"\n    gid: nogroup\n"
				"    sysctl: {a: 1, b: true, c: 1.5, d: \"x\"}\n";
	_cleanup_(i2k_config_freep) struct i2k_config *c = parse_ok(y);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK(STRV_IS(&c->services[1].opts.env, "A=1", "B=2"));
	CHECK(c->services[0].opts.readonly.set && c->services[0].opts.readonly.value);
	CHECK(c->services[0].opts.no_new_privileges.set &&
	      !c->services[0].opts.no_new_privileges.value);
	CHECK(c->services[1].opts.readonly.set && !c->services[1].opts.readonly.value);
	CHECK(c->services[1].opts.oom_score_adj.value == 7);
	CHECK(!c->services[1].opts.uid.is_name && c->services[1].opts.uid.id == 65534);
	CHECK_STR(c->services[1].opts.gid.name, "nogroup");
	CHECK_JSON(c->services[1].opts.sysctl,
		   "{\"a\":\"1\",\"b\":\"true\",\"c\":\"1.5\",\"d\":\"x\"}");
	/* the empty-list / absent distinction */
	_cleanup_(i2k_config_freep) struct i2k_config *e =
	    parse_ok("services:\n  - name: a\n    image: b\n    capabilities: []\n");
	CHECK(e && e->services[0].opts.capabilities.set && e->services[0].opts.capabilities.n == 0);
	CHECK(e && !e->services[0].opts.binds.set);
	/* modules: auto / all */
	_cleanup_(i2k_config_freep) struct i2k_config *k =
	    parse_ok("kernel:\n  image: k\n  modules: all\n");
	CHECK(k && k->kernel.modules_set && k->kernel.modules == I2K_MODULES_ALL);
	_cleanup_(i2k_config_freep) struct i2k_config *k2 =
	    parse_ok("kernel:\n  image: k\n  modules: auto\n");
	CHECK(k2 && k2->kernel.modules_set && k2->kernel.modules == I2K_MODULES_AUTO);
}

TEST(merge_keys_and_big_maps)
{
	/* YAML merge keys, as Go yaml supports them */
	static const char svc[] = "services:\n"
				  "  - &base {name: a, image: i, env: [A=1], cwd: /}\n"
				  "  - <<: *base\n    name: b\n    env: [B=2]\n"
				  "  - <<: [{name: c, net: host}, *base]\n    readonly: true\n";
	_cleanup_(i2k_config_freep) struct i2k_config *c = parse_ok(svc);
	CHECK(c != NULL);
	if (c && c->n_services == 3) {
		CHECK_STR(c->services[1].name, "b");
		CHECK_STR(c->services[1].image, "i");
		CHECK(STRV_IS(&c->services[1].opts.env, "B=2"));
		CHECK_STR(c->services[1].opts.cwd, "/");
		CHECK_STR(c->services[2].name, "c"); /* earlier merged mapping wins */
		CHECK_STR(c->services[2].opts.net, "host");
		CHECK(STRV_IS(&c->services[2].opts.env, "A=1"));
		CHECK(c->services[2].opts.readonly.value);
		CHECK(strstr(c->yaml, "<<") == NULL);
	}
	EXPECT_ERROR("services:\n  - <<: [x]\n    name: a\n",
		     "t.yml:2:10: the value of a merge key (<<) must be a mapping or a list of "
		     "mappings");
	/* duplicate detection in a large mapping (sorted path) */
	struct i2k_buf b = {0};
	static const char head[] = "services:\n  - name: a\n    image: i\n    sysctl:\n";
	i2k_buf_append(&b, head, strlen(head), NULL);
	for (int i = 0; i < 40; i++) {
		char line[64];
		int n = snprintf(line, sizeof(line), "      k%02d: v\n", i == 37 ? 5 : i);
		i2k_buf_append(&b, line, (size_t)n, NULL);
	}
	EXPECT_ERROR(b.data, "t.yml:42:7: duplicate key \"k05\" (first at line 10, column 7)");
	i2k_buf_free(&b);
	/* more than 4096 anchors */
	i2k_buf_append(&b, "init: [", 7, NULL);
	for (int i = 0; i < 4100; i++) {
		char item[32];
		int n = snprintf(item, sizeof(item), "&a%d x, ", i);
		i2k_buf_append(&b, item, (size_t)n, NULL);
	}
	i2k_buf_append(&b, "y]\n", 3, NULL);
	struct i2k_config *cc = NULL;
	struct i2k_error *err = NULL;
	CHECK(i2k_config_parse("t.yml", b.data, b.len, &cc, &err) < 0);
	CHECK_CONTAINS(err ? err->msg : NULL, "too many anchors (more than 4096)");
	i2k_error_free(err);
	i2k_buf_free(&b);
}

TEST(empty_and_null)
{
	static const char *const empties[] = {"",    "# nothing\n", "---\n",
					      "~\n", "---\n...\n",  "services:\ninit:\n"};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(empties); i++) {
		_cleanup_(i2k_config_freep) struct i2k_config *c = parse_ok(empties[i]);
		CHECK(c != NULL);
		if (c == NULL)
			continue;
		CHECK(c->kernel.image == NULL && c->n_services == 0 && c->n_init == 0);
		CHECK_STR(c->yaml, "{}\n");
		_cleanup_(i2k_config_freep) struct i2k_config *c2 = parse_ok(c->yaml);
		CHECK(c2 && c2->n_services == 0);
	}
	struct i2k_config *c = NULL;
	struct i2k_error *err = NULL;
	CHECK(i2k_config_load(NULL, 0, &c, &err) == 0);
	CHECK(c && c->n_services == 0);
	i2k_config_free(c);
}

TEST(trust_warns)
{
	i2k_set_warn_handler(record_warning, NULL);
	n_warnings = 0;
	_cleanup_(i2k_config_freep) struct i2k_config *c =
	    parse_ok("init: [a]\ntrust:\n  org:\n    - linuxkit\n");
	CHECK(c && c->trust_given);
	CHECK_INT(n_warnings, 1);
	CHECK_STR(last_warning, "t.yml:2:1: trust is not supported and is ignored");
	CHECK_CONTAINS(c ? c->yaml : NULL, "trust: {}");
	/* any shape is accepted */
	_cleanup_(i2k_config_freep) struct i2k_config *c2 = parse_ok("trust: [1, {a: b}]\n");
	CHECK(c2 && c2->trust_given);
	CHECK_INT(n_warnings, 2);
	i2k_set_warn_handler(NULL, NULL);
}

TEST(merge)
{
	i2k_set_warn_handler(record_warning, NULL);
	n_warnings = 0;
	const char *names[] = {"config/merge-base.yml", "config/merge-extra.yml"};
	_cleanup_(i2k_config_freep) struct i2k_config *c = load(names, 2);
	i2k_set_warn_handler(NULL, NULL);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK_STR(c->kernel.image, "linuxkit/kernel:6.6.99");
	CHECK_STR(c->kernel.cmdline, "console=ttyS0"); /* kept: not given later */
	CHECK_STR(c->kernel.tar, "none");
	CHECK(c->kernel.modules_set && c->kernel.modules == I2K_MODULES_ALL);
	CHECK_STR(c->kernel.pos.file, test_data("config/merge-extra.yml"));
	CHECK_INT(c->n_init, 2);
	CHECK_STR(c->init[0].image, "linuxkit/init:v1");
	CHECK_STR(c->init[1].image, "linuxkit/runc:v1");
	CHECK_INT(c->n_onboot, 2);
	CHECK_STR(c->onboot[1].name, "format");
	CHECK_INT(c->n_services, 2);
	CHECK_STR(c->services[0].name, "getty");
	CHECK_STR(c->services[1].name, "sshd");
	CHECK_STR(c->services[0].pos.file, test_data("config/merge-base.yml"));
	CHECK_STR(c->services[1].pos.file, test_data("config/merge-extra.yml"));
	CHECK_INT(c->services[1].pos.line, 10);
	CHECK_INT(c->n_files, 2);
	CHECK_INT(c->n_volumes, 1);
	CHECK(c->trust_given);
	CHECK_INT(n_warnings, 1);
	CHECK_INT(c->n_files_read, 2);
	CHECK_CONTAINS(c->yaml, "sshd");
	CHECK_CONTAINS(c->yaml, "getty");
	CHECK_CONTAINS(c->yaml, "linuxkit/kernel:6.6.99");

	/* duplicate service across files */
	const char *dup[] = {"config/merge-base.yml", "config/merge-dup.yml"};
	char *p0 = i2k_xstrdup(test_data(dup[0])), *p1 = i2k_xstrdup(test_data(dup[1]));
	const char *paths[] = {p0, p1};
	struct i2k_config *d = NULL;
	struct i2k_error *err = NULL;
	CHECK(i2k_config_load(paths, 2, &d, &err) < 0);
	CHECK(d == NULL);
	char *want = i2k_xasprintf("%s:4:5: duplicate service name \"getty\" (first defined at "
				   "%s:11:5)",
				   p1, p0);
	CHECK_STR(err ? err->msg : NULL, want);
	CHECK(err && err->code == I2K_ERR_CONFIG);
	free(want);
	free(p0);
	free(p1);
	i2k_error_free(err);

	/* merge API directly: onboot names across files; modules list override */
	struct i2k_config *a = parse_ok("kernel:\n  image: k1\n  modules: [a]\nonboot:\n"
					"  - {name: x, image: i}\n");
	struct i2k_config *b = parse_ok("kernel:\n  image: k2\n  modules: [b, c]\n  cmdline: q\n");
	err = NULL;
	CHECK(a && b && i2k_config_merge(a, b, &err) == 0);
	CHECK(STRV_IS(&a->kernel.module_names, "b", "c"));
	CHECK_STR(a->kernel.cmdline, "q");
	struct i2k_config *b2 = parse_ok("onboot:\n  - name: z\n    image: i\n  - name: x\n"
					 "    image: j\n");
	/* as LinuxKit: onboot entries are numbered, their names may repeat */
	CHECK(i2k_config_merge(a, b2, &err) == 0);
	CHECK_INT(a->n_onboot, 3);
	struct i2k_config *b3 = parse_ok("onshutdown:\n  - {name: s, image: i}\n"
					 "  - {name: s, image: j}\n");
	CHECK(b3 != NULL);
	CHECK_INT(b3 ? b3->n_onshutdown : 0, 2);
	CHECK(i2k_config_merge(a, b3, &err) == 0);
	struct i2k_config *b4 = parse_ok("volumes:\n  - {name: v}\n");
	CHECK(i2k_config_merge(a, b4, &err) == 0);
	struct i2k_config *b5 = parse_ok("volumes:\n  - {name: v}\n");
	CHECK(i2k_config_merge(a, b5, &err) < 0);
	CHECK_STR(err ? err->msg : NULL,
		  "t.yml:2:5: duplicate volume name \"v\" (first defined at t.yml:2:5)");
	i2k_error_free(err);
	i2k_config_free(a);
}

TEST(label_json)
{
	struct i2k_imgopts o;
	struct i2k_error *err = NULL;
	static const char label[] =
	    "{\"capabilities\":[\"CAP_SYS_ADMIN\"],\"binds\":[\"/a:/a\"],\"net\":\"host\","
	    "\"Readonly\":true,\"unknownKey\":{\"x\":1},\"mounts\":[{\"type\":\"bind\","
	    "\"destination\":\"/x\",\"whatever\":1}],\"uid\":0,\"gid\":\"wheel\","
	    "\"additionalGids\":[1,\"g\"],\"devices\":[{\"path\":\"/dev/fuse\",\"type\":\"c\","
	    "\"major\":10,\"minor\":229,\"mode\":\"0666\"}],\"runtime\":{\"mkdir\":[\"/var/x\"],"
	    "\"bindNS\":{\"net\":\"/run/n\"}},\"sysctl\":{\"a\":\"1\"},\"cwd\":null,"
	    "\"resources\":{\"memory\":{\"limit\":1024}},\"name\":\"ignored\"}";
	CHECK(i2k_imgopts_from_json(label, &o, &err) == 0);
	if (err) {
		fprintf(stderr, "  %s\n", err->msg);
		i2k_error_free(err);
		err = NULL;
	}
	CHECK(STRV_IS(&o.capabilities, "CAP_SYS_ADMIN"));
	CHECK(STRV_IS(&o.binds, "/a:/a"));
	CHECK_STR(o.net, "host");
	CHECK(o.readonly.set && o.readonly.value);
	CHECK_JSON(o.mounts, "[{\"destination\":\"/x\",\"type\":\"bind\"}]");
	CHECK(o.uid.set && o.uid.id == 0 && !o.uid.is_name);
	CHECK_STR(o.gid.name, "wheel");
	CHECK_INT(o.n_additional_gids, 2);
	CHECK_JSON(o.devices, "[{\"major\":10,\"minor\":229,\"mode\":438,\"path\":\"/dev/fuse\","
			      "\"type\":\"c\"}]");
	CHECK(STRV_IS(&o.runtime.mkdir, "/var/x"));
	CHECK_STR(o.runtime.bindns.net, "/run/n");
	CHECK_JSON(o.sysctl, "{\"a\":\"1\"}");
	CHECK(o.cwd == NULL);
	CHECK_JSON(o.resources, "{\"memory\":{\"limit\":1024}}");
	CHECK(!o.env.set && !o.command.set);
	i2k_imgopts_clear(&o);
	CHECK(o.capabilities.v == NULL && o.mounts == NULL);

	static const struct {
		const char *json, *msg;
	} bad[] = {
	    {"{\"capabilities\":\"CAP_SYS_ADMIN\"}",
	     "org.mobyproject.config label: capabilities: expected a list of strings"},
	    {"{\"readonly\":\"yes\"}",
	     "org.mobyproject.config label: readonly: expected a boolean (true or false)"},
	    {"{\"net\":1}", "org.mobyproject.config label: net: expected a string"},
	    {"{\"oomScoreAdj\":1.5}",
	     "org.mobyproject.config label: oomScoreAdj: expected an integer"},
	    {"{\"uid\":true}",
	     "org.mobyproject.config label: uid: expected an id (integer) or a name"},
	    {"{\"env\":[\"NOPE\"]}",
	     "org.mobyproject.config label: env[0]: expected KEY=VALUE, got \"NOPE\""},
	    {"{\"resources\":{\"memory\":{\"limit\":\"big\"}}}",
	     "org.mobyproject.config label: resources.memory.limit: expected an integer"},
	    {"{\"devices\":[{\"mode\":438}]}",
	     "org.mobyproject.config label: devices[0].mode: expected an octal mode such as "
	     "\"0644\""},
	    {"{\"sysctl\":{\"a\":1}}", "org.mobyproject.config label: sysctl.a: expected a string"},
	    {"[1]", "org.mobyproject.config label: expected a JSON object"},
	    {"{", "org.mobyproject.config label: invalid JSON: string or '}' expected near end of "
		  "file (line 1, column 1)"},
	};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(bad); i++) {
		err = NULL;
		memset(&o, 0x5a, sizeof(o)); /* need not be initialised */
		CHECK(i2k_imgopts_from_json(bad[i].json, &o, &err) < 0);
		CHECK_STR(err ? err->msg : NULL, bad[i].msg);
		CHECK(err && err->code == I2K_ERR_CONFIG);
		CHECK(o.capabilities.v == NULL && !o.capabilities.set); /* cleared */
		i2k_error_free(err);
	}
}

/* Runs i2k_cmd_validate in a child, capturing stdout and stderr. */
static int run_validate(const char *const *args, size_t n, char **out, char **errout)
{
	char tmpl_o[] = "/tmp/i2k-test-config-XXXXXX", tmpl_e[] = "/tmp/i2k-test-config-XXXXXX";
	int fo = mkstemp(tmpl_o), fe = mkstemp(tmpl_e);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fo, 1);
		dup2(fe, 2);
		char *argv[16] = {"validate"};
		for (size_t i = 0; i < n && i < 14; i++)
			argv[i + 1] = (char *)args[i];
		int rc = i2k_cmd_validate((int)n + 1, argv);
		fflush(stdout);
		fflush(stderr);
		_exit(rc);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	i2k_read_file(tmpl_o, 1 << 20, out, NULL, NULL);
	i2k_read_file(tmpl_e, 1 << 20, errout, NULL, NULL);
	close(fo);
	close(fe);
	unlink(tmpl_o);
	unlink(tmpl_e);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(cmd_validate)
{
	char *a = i2k_xstrdup(test_data("config/merge-base.yml"));
	char *b = i2k_xstrdup(test_data("config/merge-extra.yml"));
	char *d = i2k_xstrdup(test_data("config/merge-dup.yml"));
	char *out = NULL, *eo = NULL;

	const char *ok[] = {a, b};
	CHECK_INT(run_validate(ok, 2, &out, &eo), 0);
	char *want = i2k_xasprintf("%s: ok\n%s: ok\n", a, b);
	CHECK_STR(out, want);
	CHECK(eo && strncmp(eo, "i2kit: warning: ", 16) == 0);
	CHECK_CONTAINS(eo, "merge-extra.yml:15:1: trust is not supported and is ignored\n");
	free(want);
	free(out);
	free(eo);

	const char *bad[] = {a, d};
	CHECK_INT(run_validate(bad, 2, &out, &eo), 1);
	CHECK_STR(out, "");
	want = i2k_xasprintf("i2kit: error: %s:4:5: duplicate service name \"getty\" (first "
			     "defined at %s:11:5)\n",
			     d, a);
	CHECK_STR(eo, want);
	free(want);
	free(out);
	free(eo);

	CHECK_INT(run_validate(NULL, 0, &out, &eo), 2);
	CHECK_STR(eo, "i2kit: error: no configuration files given\nTry 'i2kit validate --help'.\n");
	free(out);
	free(eo);

	const char *missing[] = {"/nonexistent/x.yml"};
	CHECK_INT(run_validate(missing, 1, &out, &eo), 1);
	CHECK_STR(eo, "i2kit: error: /nonexistent/x.yml: No such file or directory\n");
	free(out);
	free(eo);

	const char *opt[] = {"--bogus"};
	CHECK_INT(run_validate(opt, 1, &out, &eo), 2);
	CHECK_CONTAINS(eo, "unknown option --bogus");
	free(out);
	free(eo);
	free(a);
	free(b);
	free(d);
}

/* kernel: without image is fine in one file when another gives the image
 * (LinuxKit merges kernel fields one by one), an error when none does. */
static void write_tmp(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

TEST(kernel_image_checked_after_merge)
{
	char dir[] = "/tmp/i2k-cfg-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char a[64], b[64];
	snprintf(a, sizeof(a), "%s/a.yml", dir);
	snprintf(b, sizeof(b), "%s/b.yml", dir);
	write_tmp(a, "kernel:\n  image: k\n  cmdline: one\n");
	write_tmp(b, "kernel:\n  cmdline: two\n");
	const char *both[] = {a, b};
	struct i2k_config *c = NULL;
	struct i2k_error *e = NULL;
	CHECK(i2k_config_load(both, 2, &c, &e) == 0);
	if (c) {
		CHECK_STR(c->kernel.image, "k");
		CHECK_STR(c->kernel.cmdline, "two");
	}
	i2k_config_free(c);
	c = NULL;
	const char *only_b[] = {b};
	CHECK(i2k_config_load(only_b, 1, &c, &e) < 0);
	CHECK(c == NULL);
	if (e) {
		char want[160];
		snprintf(want, sizeof(want), "%s:2:3: kernel: missing required field \"image\"", b);
		CHECK_STR(e->msg, want);
	}
	i2k_error_free(e);
	unlink(a);
	unlink(b);
	rmdir(dir);
}

int main(void)
{
	t_prog = "test_config";
	RUN(kernel_image_checked_after_merge);
	RUN(full_example);
	RUN(round_trip);
	RUN(linuxkit_style);
	RUN(errors);
	RUN(limits);
	RUN(aliases_and_scalars);
	RUN(merge_keys_and_big_maps);
	RUN(empty_and_null);
	RUN(trust_warns);
	RUN(merge);
	RUN(label_json);
	RUN(cmd_validate);
	return TEST_DONE();
}
