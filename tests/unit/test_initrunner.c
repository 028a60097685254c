/* test_initrunner.c — the guest init's container runner (initrd/init/
 * runner.c, ctmounts.c, caps.c, cgroup.c, runtime.c), compiled in directly
 * (initrd/init is not part of the library), so static helpers are
 * reachable. Only what runs unprivileged and without side effects on the
 * host: option parsing, in-root path resolution, capability and cgroup
 * conversions, and every error that is reported before a namespace,
 * mount, cgroup or interface is touched. The privileged paths (clone,
 * mounts, pivot_root, capset, cgroups, rtnetlink) are covered by
 * tests/integration/41-boot-runner.sh under QEMU. */
#include "initrd/init/util.c"
#include "initrd/init/json.c"
#include "initrd/init/ctmounts.c"
#include "initrd/init/caps.c"
#include "initrd/init/cgroup.c"
#include "initrd/init/runtime.c"
#include "initrd/init/runner.c"

#include "tests/unit/test.h"

static char err[512];

static struct jnode *J(const char *s)
{
	char e[256];
	struct jnode *n = i2ki_json_parse(s, strlen(s), e, sizeof(e));
	if (!n)
		fprintf(stderr, "  bad test JSON: %s: %s\n", s, e);
	return n;
}

static char scratch[256];

static const char *mkscratch(void)
{
	snprintf(scratch, sizeof(scratch), "/tmp/i2k-initrunner.XXXXXX");
	return mkdtemp(scratch);
}

static void rm_rf(const char *p)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
	if (system(cmd) != 0)
		fprintf(stderr, "  could not remove %s\n", p);
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* ---- ctmounts ---------------------------------------------------------- */

TEST(mount_options)
{
	struct ctm_opts o;
	struct jnode *n = J("[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]");
	CHECK_INT(i2ki_ctm_parse_options(n, "tmpfs", &o, err, sizeof(err)), 0);
	CHECK_INT(o.flags, MS_NOSUID | MS_STRICTATIME);
	CHECK_INT(o.propagation, 0);
	CHECK(!o.bind);
	CHECK_STR(o.data, "mode=755,size=65536k");
	i2ki_json_free(n);

	n = J("[\"ro\",\"rbind\",\"rshared\"]");
	CHECK_INT(i2ki_ctm_parse_options(n, NULL, &o, err, sizeof(err)), 0);
	CHECK(o.bind);
	CHECK_INT(o.flags, MS_RDONLY | MS_BIND | MS_REC);
	CHECK_INT(o.propagation, MS_SHARED | MS_REC);
	CHECK_STR(o.data, "");
	i2ki_json_free(n);

	n = J("[\"rw\",\"ro\",\"nodev\",\"rw\",\"dev\",\"tmpcopyup\"]");
	CHECK_INT(i2ki_ctm_parse_options(n, NULL, &o, err, sizeof(err)), 0);
	CHECK_INT(o.flags, 0);
	CHECK_STR(o.data, "");
	i2ki_json_free(n);

	/* runtime.json's "remount, private" of the bundle tmpfs */
	n = J("[\"remount\",\"private\"]");
	CHECK_INT(i2ki_ctm_parse_options(n, NULL, &o, err, sizeof(err)), 0);
	CHECK_INT(o.flags, MS_REMOUNT);
	CHECK_INT(o.propagation, MS_PRIVATE);
	i2ki_json_free(n);

	/* type bind without options is a bind; no options at all is fine */
	CHECK_INT(i2ki_ctm_parse_options(NULL, "bind", &o, err, sizeof(err)), 0);
	CHECK(o.bind);
	CHECK_INT(o.flags, 0);

	n = J("{\"a\":1}");
	CHECK_INT(i2ki_ctm_parse_options(n, NULL, &o, err, sizeof(err)), -1);
	CHECK_STR(err, "mount options are not an array");
	i2ki_json_free(n);
	n = J("[\"ro\",7]");
	CHECK_INT(i2ki_ctm_parse_options(n, NULL, &o, err, sizeof(err)), -1);
	CHECK_STR(err, "mount option is not a string");
	i2ki_json_free(n);

	char big[CTM_DATA_MAX + 64];
	int l = snprintf(big, sizeof(big), "[\"lowerdir=");
	while (l < (int)sizeof(big) - 8)
		big[l++] = 'x';
	snprintf(big + l, sizeof(big) - (size_t)l, "\"]");
	n = J(big);
	CHECK_INT(i2ki_ctm_parse_options(n, NULL, &o, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "mount options longer than");
	i2ki_json_free(n);
}

TEST(mount_errors)
{
	struct ctm_opts o = {0};
	CHECK_INT(i2ki_ctm_mount("tmpfs", "/nonexistent-i2k-dir/x", "tmpfs", &o, err, sizeof(err)),
		  -1);
	CHECK_CONTAINS(err, "mount tmpfs tmpfs on /nonexistent-i2k-dir/x: ");
	o.bind = true;
	CHECK_INT(i2ki_ctm_mount("/nonexistent-i2k-src", "/nonexistent-i2k-dir", NULL, &o, err,
				 sizeof(err)),
		  -1);
	CHECK_CONTAINS(err, "bind /nonexistent-i2k-src on /nonexistent-i2k-dir: ");

	/* config.json mounts refused before anything is mounted */
	struct jnode *m = J("{\"destination\":\"dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}");
	CHECK_INT(mount_entry(m, "/b", "/b/rootfs", err, sizeof(err)), -1);
	CHECK_STR(err, "mount destination dev is not absolute");
	i2ki_json_free(m);
	m = J("{\"destination\":\"/etc/x\",\"type\":\"bind\",\"source\":\"/nonexistent-i2k-src\","
	      "\"options\":[\"rbind\"]}");
	CHECK_INT(mount_entry(m, "/b", "/b/rootfs", err, sizeof(err)), -1);
	CHECK_STR(err, "bind source /nonexistent-i2k-src: No such file or directory");
	i2ki_json_free(m);
	m = J("{\"type\":\"tmpfs\"}");
	CHECK_INT(mount_entry(m, "/b", "/b/rootfs", err, sizeof(err)), -1);
	CHECK_STR(err, "mount destination (missing) is not absolute");
	i2ki_json_free(m);

	/* a "ro" tmpfs on /dev is mounted rw first (devices), ro at the end */
	m = J("{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"options\":[\"nosuid\",\"ro\"]}");
	CHECK(dev_ro_tmpfs(m));
	i2ki_json_free(m);
	m = J("{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"options\":[\"nosuid\"]}");
	CHECK(!dev_ro_tmpfs(m));
	i2ki_json_free(m);

	struct jnode *cfg = J("{\"linux\":{\"rootfsPropagation\":\"sideways\"}}");
	CHECK_INT(i2ki_ctm_setup_rootfs(cfg, "/b", "/b/rootfs", err, sizeof(err)), -1);
	CHECK_STR(err, "unknown rootfsPropagation sideways");
	i2ki_json_free(cfg);

	/* masked/readonly paths that do not exist are skipped */
	cfg = J("{\"linux\":{\"maskedPaths\":[\"/nonexistent-i2k-m\"],"
		"\"readonlyPaths\":[\"/nonexistent-i2k-r\"]},\"root\":{\"readonly\":false}}");
	CHECK_INT(i2ki_ctm_finish_rootfs(cfg, err, sizeof(err)), 0);
	i2ki_json_free(cfg);
}

TEST(devices_refused)
{
	struct dev_spec d = {.path = "/dev/x", .type = 'x'};
	CHECK_INT(make_device("/nonexistent-i2k-root", &d, err, sizeof(err)), -1);
	CHECK_STR(err, "device /dev/x: unknown type 'x'");
	d.path = "dev/x";
	d.type = 'c';
	CHECK_INT(make_device("/nonexistent-i2k-root", &d, err, sizeof(err)), -1);
	CHECK_STR(err, "device path dev/x is not absolute");
}

TEST(resolve_in_root)
{
	const char *root = mkscratch();
	CHECK(root != NULL);
	if (!root)
		return;
	char p[600], out[CTM_PATH_MAX], want[600];
	snprintf(p, sizeof(p), "%s/a/b", root);
	CHECK_INT(i2ki_mkdir_p(p, 0755, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/abs", root);
	CHECK_INT(symlink("/a", p), 0);
	snprintf(p, sizeof(p), "%s/rel", root);
	CHECK_INT(symlink("a/b", p), 0);
	snprintf(p, sizeof(p), "%s/a/up", root);
	CHECK_INT(symlink("../../../../a", p), 0);
	snprintf(p, sizeof(p), "%s/loop1", root);
	CHECK_INT(symlink("loop2", p), 0);
	snprintf(p, sizeof(p), "%s/loop2", root);
	CHECK_INT(symlink("/loop1", p), 0);

	CHECK_INT(i2ki_ctm_resolve(root, "/abs/b/x", out, sizeof(out), err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/a/b/x", root);
	CHECK_STR(out, want);
	CHECK_INT(i2ki_ctm_resolve(root, "/rel/new/deeper", out, sizeof(out), err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/a/b/new/deeper", root);
	CHECK_STR(out, want);
	/* ".." never climbs above the root, in the path or in a link */
	CHECK_INT(i2ki_ctm_resolve(root, "/a/up/b", out, sizeof(out), err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/a/b", root);
	CHECK_STR(out, want);
	CHECK_INT(i2ki_ctm_resolve(root, "/../../etc/./passwd", out, sizeof(out), err, sizeof(err)),
		  0);
	snprintf(want, sizeof(want), "%s/etc/passwd", root);
	CHECK_STR(out, want);
	CHECK_INT(i2ki_ctm_resolve(root, "/", out, sizeof(out), err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/", root);
	CHECK_STR(out, want);
	CHECK_INT(i2ki_ctm_resolve(root, "/loop1/x", out, sizeof(out), err, sizeof(err)), -1);
	CHECK_STR(err, "too many symlinks in /loop1/x");
	char longp[CTM_PATH_MAX + 10];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	CHECK_INT(i2ki_ctm_resolve(root, longp, out, sizeof(out), err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "path too long: /aaa");

	/* mkdir -p: through existing dirs; a file in the way is an error */
	snprintf(p, sizeof(p), "%s/a/file", root);
	put(p, "x");
	snprintf(p, sizeof(p), "%s/a/file/sub", root);
	CHECK_INT(i2ki_mkdir_p(p, 0755, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "/a/file/sub: Not a directory");
	CHECK_INT(i2ki_mkdir_p("", 0755, err, sizeof(err)), -1);
	CHECK_STR(err, "bad path length for ");
	/* a file mount point is created with its directories */
	snprintf(p, sizeof(p), "%s/etc/resolv.conf", root);
	CHECK_INT(make_mountpoint(p, true, err, sizeof(err)), 0);
	struct stat st;
	CHECK(stat(p, &st) == 0 && S_ISREG(st.st_mode));
	rm_rf(root);
}

/* ---- caps --------------------------------------------------------------- */

TEST(capabilities)
{
	CHECK_INT(i2ki_caps_from_name("CAP_CHOWN"), 0);
	CHECK_INT(i2ki_caps_from_name("CAP_NET_ADMIN"), 12);
	CHECK_INT(i2ki_caps_from_name("CAP_SYS_ADMIN"), 21);
	CHECK_INT(i2ki_caps_from_name("CAP_CHECKPOINT_RESTORE"), 40);
	CHECK_INT(i2ki_caps_from_name("NET_ADMIN"), -1);
	CHECK_INT(i2ki_caps_from_name("cap_net_admin"), -1);
	CHECK_INT(i2ki_caps_from_name(NULL), -1);
	CHECK_STR(i2ki_caps_name(13), "CAP_NET_RAW");
	CHECK(i2ki_caps_name(64) == NULL);
	CHECK(i2ki_caps_last() >= 37);

	struct caps_sets s;
	struct jnode *c = J("{\"bounding\":[\"CAP_CHOWN\",\"CAP_NET_ADMIN\"],"
			    "\"effective\":[\"CAP_NET_ADMIN\",\"CAP_NET_ADMIN\"],"
			    "\"ambient\":[\"CAP_NET_RAW\"]}");
	CHECK_INT(i2ki_caps_parse(c, &s, err, sizeof(err)), 0);
	CHECK(s.bounding == ((1ULL << 0) | (1ULL << 12)));
	CHECK(s.effective == (1ULL << 12));
	CHECK(s.permitted == 0 && s.inheritable == 0);
	CHECK(s.ambient == (1ULL << 13));
	i2ki_json_free(c);

	/* LinuxKit's "capabilities": {} → every set empty */
	c = J("{}");
	CHECK_INT(i2ki_caps_parse(c, &s, err, sizeof(err)), 0);
	CHECK(s.bounding == 0 && s.effective == 0 && s.ambient == 0);
	i2ki_json_free(c);

	c = J("{\"effective\":[\"CAP_FOO\"]}");
	CHECK_INT(i2ki_caps_parse(c, &s, err, sizeof(err)), -1);
	CHECK_STR(err, "unknown capability CAP_FOO in effective");
	i2ki_json_free(c);
	c = J("{\"permitted\":[1]}");
	CHECK_INT(i2ki_caps_parse(c, &s, err, sizeof(err)), -1);
	CHECK_STR(err, "unknown capability (not a string) in permitted");
	i2ki_json_free(c);
	c = J("{\"bounding\":\"CAP_CHOWN\"}");
	CHECK_INT(i2ki_caps_parse(c, &s, err, sizeof(err)), -1);
	CHECK_STR(err, "capabilities.bounding is not an array");
	i2ki_json_free(c);
	c = J("[]");
	CHECK_INT(i2ki_caps_parse(c, &s, err, sizeof(err)), -1);
	CHECK_STR(err, "process.capabilities is not an object");
	i2ki_json_free(c);
}

/* ---- cgroup ---------------------------------------------------------------- */

TEST(cgroups)
{
	CHECK_INT(i2ki_cgroup_check_path("/i2kit/web", err, sizeof(err)), 0);
	CHECK_INT(i2ki_cgroup_check_path("i2kit/web", err, sizeof(err)), -1);
	CHECK_STR(err, "bad cgroup path i2kit/web");
	CHECK_INT(i2ki_cgroup_check_path("/i2kit/../../etc", err, sizeof(err)), -1);
	CHECK_STR(err, "bad cgroup path /i2kit/../../etc");
	CHECK_INT(i2ki_cgroup_check_path("/a/./b", err, sizeof(err)), -1);
	CHECK_INT(i2ki_cgroup_check_path("/", err, sizeof(err)), -1);
	CHECK_INT(i2ki_cgroup_check_path(NULL, err, sizeof(err)), -1);
	CHECK_STR(err, "bad cgroup path (null)");
	char longp[300];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	CHECK_INT(i2ki_cgroup_check_path(longp, err, sizeof(err)), -1);
	CHECK_INT(i2ki_cgroup_create("../x", NULL, err, sizeof(err)), -1);
	CHECK_STR(err, "bad cgroup path ../x");

	CHECK_INT(i2ki_cgroup_cpu_weight(1024), 39);
	CHECK_INT(i2ki_cgroup_cpu_weight(2), 1);
	CHECK_INT(i2ki_cgroup_cpu_weight(0), 1);
	CHECK_INT(i2ki_cgroup_cpu_weight(262144), 10000);
	CHECK_INT(i2ki_cgroup_cpu_weight(1000000), 10000);

	struct jnode *r = J("{}");
	CHECK(!i2ki_cgroup_has_limits(r));
	CHECK(!i2ki_cgroup_has_limits(NULL));
	i2ki_json_free(r);
	r = J("{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]}");
	CHECK(!i2ki_cgroup_has_limits(r)); /* device rules are not enforced */
	i2ki_json_free(r);
	r = J("{\"memory\":{\"limit\":33554432}}");
	CHECK(i2ki_cgroup_has_limits(r));
	i2ki_json_free(r);
	r = J("{\"pids\":{\"limit\":10}}");
	CHECK(i2ki_cgroup_has_limits(r));
	i2ki_json_free(r);

	/* swap checks come before anything is written */
	r = J("{\"swap\":100}");
	CHECK_INT(write_memory("/nonexistent-i2k", r, err, sizeof(err)), -1);
	CHECK_STR(err, "memory.swap needs a memory.limit");
	i2ki_json_free(r);
	r = J("{\"limit\":200,\"swap\":100}");
	CHECK_INT(write_memory("/nonexistent-i2k", r, err, sizeof(err)), -1);
	CHECK_STR(err, "memory.swap 100 is below memory.limit 200");
	i2ki_json_free(r);
	r = J("{\"limit\":200}");
	CHECK_INT(write_memory("/nonexistent-i2k", r, err, sizeof(err)), -1);
	CHECK_STR(err, "cgroup /nonexistent-i2k: memory.max: No such file or directory");
	i2ki_json_free(r);

	/* 2^64-1 ("unlimited" in LinuxKit's rlimits) only fits the double */
	char v[16];
	struct jnode neg = {.type = J_NUM, .num = -1, .dbl = -1};
	struct jnode huge = {.type = J_NUM, .num = INT64_MAX, .dbl = 18446744073709551615.0};
	struct jnode small = {.type = J_NUM, .num = 4096, .dbl = 4096};
	struct jnode str = {.type = J_STR, .str = "4096"};
	fmt_limit(&neg, v, sizeof(v));
	CHECK_STR(v, "max");
	fmt_limit(&huge, v, sizeof(v));
	CHECK_STR(v, "max");
	fmt_limit(&small, v, sizeof(v));
	CHECK_STR(v, "4096");
	CHECK(i2ki_json_u64(&huge) == UINT64_MAX);
	CHECK(i2ki_json_u64(&small) == 4096);
	CHECK(i2ki_json_u64(&neg) == 0);
	CHECK(i2ki_json_u64(&str) == 0);
	CHECK(i2ki_json_u64(NULL) == 0);

	CHECK_INT(i2ki_cgroup_write("/x", "../escape", "1", err, sizeof(err)), -1);
	CHECK_STR(err, "bad cgroup file name ../escape");
}

/* ---- runtime.json ------------------------------------------------------------ */

TEST(runtime_prepare_and_errors)
{
	const char *b = mkscratch();
	CHECK(b != NULL);
	if (!b)
		return;
	char doc[1200], p[600];
	snprintf(doc, sizeof(doc),
		 "{\"mkdir\":[\"var/lib/x\",\"%s/abs/dir\"],\"cgroups\":[],"
		 "\"mounts\":[],\"namespace\":\"ignored\"}",
		 b);
	struct jnode *rt = J(doc);
	CHECK_INT(i2ki_runtime_prepare(rt, b, err, sizeof(err)), 0);
	struct stat st;
	snprintf(p, sizeof(p), "%s/rootfs/var/lib/x", b);
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
	snprintf(p, sizeof(p), "%s/abs/dir", b);
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
	i2ki_runtime_cleanup(rt, b); /* nothing mounted: a no-op */
	i2ki_json_free(rt);

	CHECK_INT(i2ki_runtime_prepare(NULL, b, err, sizeof(err)), 0);
	rt = J("[]");
	CHECK_INT(i2ki_runtime_prepare(rt, b, err, sizeof(err)), -1);
	CHECK_STR(err, "runtime.json is not an object");
	i2ki_json_free(rt);
	rt = J("{\"mkdir\":[3]}");
	CHECK_INT(i2ki_runtime_prepare(rt, b, err, sizeof(err)), -1);
	CHECK_STR(err, "runtime mkdir entry is not a path");
	i2ki_json_free(rt);
	rt = J("{\"mounts\":[{\"type\":\"tmpfs\"}]}");
	CHECK_INT(i2ki_runtime_prepare(rt, b, err, sizeof(err)), -1);
	CHECK_STR(err, "runtime mount without a destination");
	i2ki_json_free(rt);
	rt = J("{\"mounts\":[{\"destination\":\"/x\",\"options\":[5]}]}");
	CHECK_INT(i2ki_runtime_prepare(rt, b, err, sizeof(err)), -1);
	CHECK_STR(err, "mount option is not a string");
	i2ki_json_free(rt);
	if (!i2ki_cgroup_v2()) {
		rt = J("{\"cgroups\":[\"net\"]}");
		CHECK_INT(i2ki_runtime_prepare(rt, b, err, sizeof(err)), -1);
		CHECK_STR(err, "runtime cgroups: no cgroup v2 at /sys/fs/cgroup");
		i2ki_json_free(rt);
	}
	rm_rf(b);
}

TEST(runtime_attach_errors)
{
	struct jnode *rt = J("{\"interfaces\":[{\"add\":\"veth\",\"peer\":\"p\"}]}");
	CHECK_INT(i2ki_runtime_attach(rt, 1, err, sizeof(err)), -1);
	CHECK_STR(err, "interface requires a name");
	i2ki_json_free(rt);
	rt = J("{\"interfaces\":[{\"name\":\"eth1\",\"add\":\"veth\"}]}");
	CHECK_INT(i2ki_runtime_attach(rt, 1, err, sizeof(err)), -1);
	CHECK_STR(err, "veth eth1 requires a peer");
	i2ki_json_free(rt);
	rt = J("{\"interfaces\":[{\"name\":\"a-name-much-too-long\",\"peer\":\"p\"}]}");
	CHECK_INT(i2ki_runtime_attach(rt, 1, err, sizeof(err)), -1);
	CHECK_STR(err, "bad interface name a-name-much-too-long");
	i2ki_json_free(rt);
	rt = J("{\"interfaces\":[{\"name\":\"i2knosuch0\"}]}");
	CHECK_INT(i2ki_runtime_attach(rt, 1, err, sizeof(err)), -1);
	CHECK_STR(err, "move interface i2knosuch0 to pid 1: no such interface");
	i2ki_json_free(rt);
	rt = J("{\"interfaces\":[{\"name\":\"x/y\",\"add\":\"dummy\"}]}");
	CHECK_INT(i2ki_runtime_attach(rt, 1, err, sizeof(err)), -1);
	CHECK_STR(err, "bad interface name x/y");
	i2ki_json_free(rt);
	CHECK_INT(i2ki_runtime_link_add("d0", "", 0, err, sizeof(err)), -1);
	CHECK_STR(err, "create  d0: bad link kind");
	rt = J("{\"bindNS\":{\"net\":\"run/netns/x\",\"ipc\":\"\"}}");
	CHECK_INT(i2ki_runtime_attach(rt, 1, err, sizeof(err)), -1);
	CHECK_STR(err, "bindNS net path run/netns/x is not absolute");
	i2ki_json_free(rt);
	rt = J("{\"bindNS\":{\"cgroup\":\"\",\"ipc\":\"\",\"mnt\":\"\",\"net\":\"\",\"pid\":\"\","
	       "\"user\":\"\",\"uts\":\"\"},\"interfaces\":[]}");
	CHECK_INT(i2ki_runtime_attach(rt, 1, err, sizeof(err)), 0);
	i2ki_json_free(rt);
	CHECK_INT(i2ki_runtime_attach(NULL, 1, err, sizeof(err)), 0);

	/* netlink message building: a veth request nests its peer */
	struct nl_msg m;
	nl_begin(&m, NL_F_CREATE, 0);
	nl_attr(&m, IFLA_IFNAME_, "a", 2);
	size_t li = nl_attr(&m, IFLA_LINKINFO_, NULL, 0);
	nl_attr(&m, IFLA_INFO_KIND_, "veth", 5);
	nl_end(&m, li);
	CHECK(!m.overflow);
	/* header 16 + ifinfomsg 16 + ifname 8 + linkinfo 4 + kind 12 */
	CHECK_INT(m.len, 56);
	struct nl_attr a;
	memcpy(&a, m.u.buf + li, sizeof(a));
	CHECK_INT(a.len, 16);
	CHECK_INT(a.type, IFLA_LINKINFO_);
	for (int i = 0; i < 200; i++)
		nl_attr(&m, IFLA_IFNAME_, "0123456789", 11);
	CHECK(m.overflow);
	CHECK_INT(nl_talk(&m, "create x", err, sizeof(err)), -1);
	CHECK_STR(err, "create x: netlink message too long");
}

/* ---- runner ----------------------------------------------------------------- */

/* Writes BUNDLE/config.json (and runtime.json when rt != NULL) and runs
 * i2ki_runner_start, which must fail before touching anything. */
static pid_t start_with(const char *bundle, const char *name, const char *cfg, const char *rt)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/config.json", bundle);
	if (cfg)
		put(p, cfg);
	else
		unlink(p);
	snprintf(p, sizeof(p), "%s/runtime.json", bundle);
	if (rt)
		put(p, rt);
	else
		unlink(p);
	struct runner_opts o = {.name = name, .bundle = bundle, .stdout_fd = 1, .stdin_fd = 0};
	err[0] = '\0';
	return i2ki_runner_start(&o, err, sizeof(err));
}

#define ARGS "\"process\":{\"args\":[\"/bin/true\"]}"

TEST(runner_start_refuses)
{
	const char *b = mkscratch();
	CHECK(b != NULL);
	if (!b)
		return;
	struct runner_opts o = {.name = "x", .bundle = "relative/bundle"};
	CHECK_INT(i2ki_runner_start(&o, err, sizeof(err)), -1);
	CHECK_STR(err, "bad bundle relative/bundle or name");
	o.bundle = b;
	o.name = "a/b";
	CHECK_INT(i2ki_runner_start(&o, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "bad bundle ");

	CHECK_INT(start_with(b, "x", NULL, NULL), -1);
	CHECK_CONTAINS(err, "/config.json: No such file or directory");
	CHECK_INT(start_with(b, "x", "{\"process\":", NULL), -1);
	CHECK_CONTAINS(err, "/config.json: line 1");
	CHECK_INT(start_with(b, "x", "[]", NULL), -1);
	CHECK_CONTAINS(err, "/config.json: not an object");
	CHECK_INT(start_with(b, "x", "{\"process\":{\"args\":[]}}", NULL), -1);
	CHECK_STR(err, "config.json: process.args is empty");
	CHECK_INT(start_with(b, "x", "{" ARGS "}", "{\"mkdir\":"), -1);
	CHECK_CONTAINS(err, "/runtime.json: line 1");
	CHECK_INT(
	    start_with(b, "x", "{" ARGS ",\"linux\":{\"namespaces\":[{\"type\":\"pid\"}]}}", NULL),
	    -1);
	CHECK_STR(err, "config.json needs a new mount namespace");
	CHECK_INT(
	    start_with(b, "x", "{" ARGS ",\"linux\":{\"namespaces\":[{\"type\":\"time\"}]}}", NULL),
	    -1);
	CHECK_STR(err, "unknown namespace type time");
	CHECK_INT(start_with(b, "x",
			     "{" ARGS ",\"linux\":{\"namespaces\":[{\"type\":\"pid\"},"
			     "{\"type\":\"pid\",\"path\":\"/proc/1/ns/pid\"}]}}",
			     NULL),
		  -1);
	CHECK_STR(err, "namespace pid listed twice");
	CHECK_INT(start_with(b, "x", "{" ARGS ",\"linux\":{\"namespaces\":{}}}", NULL), -1);
	CHECK_STR(err, "linux.namespaces is not an array");
	/* a hostname without a uts namespace would rename the VM */
	CHECK_INT(start_with(b, "x",
			     "{" ARGS ",\"hostname\":\"h1\",\"linux\":{\"namespaces\":"
			     "[{\"type\":\"mount\"}]}}",
			     NULL),
		  -1);
	CHECK_STR(err, "hostname h1 needs a uts namespace");
	CHECK_INT(start_with(b, "x",
			     "{" ARGS ",\"linux\":{\"cgroupsPath\":\"../../etc\",\"namespaces\":"
			     "[{\"type\":\"mount\"}]}}",
			     NULL),
		  -1);
	CHECK_STR(err, "bad cgroup path /../../etc");
	rm_rf(b);
}

TEST(runner_namespaces_and_paths)
{
	struct run r = {0};
	struct runner_opts o = {.name = "web", .bundle = "/containers/services/web"};
	r.o = &o;
	r.cfg = J("{\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"/run/netns/x\"},"
		  "{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"cgroup\"},"
		  "{\"type\":\"uts\"}]},\"hostname\":\"web\"}");
	CHECK_INT(parse_namespaces(&r, err, sizeof(err)), 0);
	CHECK_INT(r.new_flags, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS);
	CHECK(r.new_cgroup);
	CHECK(any_ns_path(&r));
	CHECK_INT(cgroup_path_of(&r, err, sizeof(err)), 0);
	CHECK_STR(r.cgpath, "/i2kit/web");
	i2ki_json_free(r.cfg);

	struct run r2 = {.o = &o};
	r2.cfg =
	    J("{\"linux\":{\"cgroupsPath\":\"pods/web\",\"namespaces\":[{\"type\":\"mount\"}]}}");
	CHECK_INT(parse_namespaces(&r2, err, sizeof(err)), 0);
	CHECK(!any_ns_path(&r2));
	CHECK_INT(cgroup_path_of(&r2, err, sizeof(err)), 0);
	CHECK_STR(r2.cgpath, "/pods/web");
	i2ki_json_free(r2.cfg);
}

TEST(child_steps_refuse_bad_config)
{
	struct jnode *p = J("{\"rlimits\":[{\"type\":\"RLIMIT_BOGUS\",\"hard\":1,\"soft\":1}]}");
	CHECK_INT(set_rlimits(p, err, sizeof(err)), -1);
	CHECK_STR(err, "unknown rlimit RLIMIT_BOGUS");
	i2ki_json_free(p);
	p = J("{\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1,\"soft\":2}]}");
	CHECK_INT(set_rlimits(p, err, sizeof(err)), -1);
	CHECK_STR(err, "setrlimit RLIMIT_NOFILE: Invalid argument");
	i2ki_json_free(p);

	p = J("{\"linux\":{\"sysctl\":{\"../../etc/x\":\"1\"}}}");
	CHECK_INT(set_sysctls(p, err, sizeof(err)), -1);
	CHECK_STR(err, "bad sysctl name ../../etc/x");
	i2ki_json_free(p);
	p = J("{\"linux\":{\"sysctl\":{\"net.ipv4.ip_forward\":1}}}");
	CHECK_INT(set_sysctls(p, err, sizeof(err)), -1);
	CHECK_STR(err, "sysctl net.ipv4.ip_forward: value is not a string");
	i2ki_json_free(p);
	p = J("{\"linux\":{\"sysctl\":{\"net.i2k.nosuch\":\"1\"}}}");
	CHECK_INT(set_sysctls(p, err, sizeof(err)), -1);
	CHECK_STR(err, "open /proc/sys/net/i2k/nosuch: No such file or directory");
	i2ki_json_free(p);

	p = J("{\"uidMappings\":[{\"containerID\":0,\"size\":1}]}");
	CHECK_INT(write_idmap(1, p, "uidMappings", "uid_map", err, sizeof(err)), -1);
	CHECK_STR(err, "linux.uidMappings: entry without containerID/hostID/size");
	CHECK_INT(write_idmap(1, p, "gidMappings", "gid_map", err, sizeof(err)), -1);
	CHECK_STR(err, "user namespace without linux.gidMappings");
	i2ki_json_free(p);

	p = J("{\"args\":[\"/bin/sh\",3],\"env\":[]}");
	CHECK(str_vec(p, "args", err, sizeof(err)) == NULL);
	CHECK_STR(err, "process.args holds a non-string");
	char **env = str_vec(p, "env", err, sizeof(err));
	CHECK(env != NULL && env[0] == NULL);
	free(env);
	i2ki_json_free(p);

	p = J("{\"uid\":0,\"gid\":0,\"additionalGids\":[\"wheel\"]}");
	CHECK_INT(set_user(p, err, sizeof(err)), -1);
	CHECK_STR(err, "additionalGids holds a non-number");
	i2ki_json_free(p);
	p = J("{\"uid\":-1,\"gid\":0}");
	CHECK_INT(set_user(p, err, sizeof(err)), -1);
	CHECK_STR(err, "bad uid/gid -1:0");
	i2ki_json_free(p);

	char *argv[] = {"i2k-no-such-program", NULL};
	char *envp[] = {"PATH=/nonexistent-i2k:/nonexistent-i2k2", NULL};
	CHECK_INT(exec_search(argv, envp, err, sizeof(err)), -1);
	CHECK_STR(err, "exec i2k-no-such-program: not found in PATH");
	char *argv2[] = {"/nonexistent-i2k/prog", NULL};
	CHECK_INT(exec_search(argv2, envp, err, sizeof(err)), -1);
	CHECK_STR(err, "exec /nonexistent-i2k/prog: No such file or directory");

	/* the child's report: EOF = exec'd, else its one line */
	int fds[2];
	CHECK_INT(pipe(fds), 0);
	close(fds[1]);
	CHECK_INT(read_report(fds[0], err, sizeof(err)), 0);
	close(fds[0]);
	CHECK_INT(pipe(fds), 0);
	CHECK(write(fds[1], "mount proc on /proc: EPERM", 26) == 26);
	close(fds[1]);
	CHECK_INT(read_report(fds[0], err, sizeof(err)), -1);
	CHECK_STR(err, "mount proc on /proc: EPERM");
	close(fds[0]);
}

int main(void)
{
	t_prog = "initrunner";
	RUN(mount_options);
	RUN(mount_errors);
	RUN(devices_refused);
	RUN(resolve_in_root);
	RUN(capabilities);
	RUN(cgroups);
	RUN(runtime_prepare_and_errors);
	RUN(runtime_attach_errors);
	RUN(runner_start_refuses);
	RUN(runner_namespaces_and_paths);
	RUN(child_steps_refuse_bad_config);
	return TEST_DONE();
}
