/* test_modules.c — kernel/modules: dependency closure and pruning on a fake
 * lib/modules tree (tests/data/modules/fake) and on the fixture kernel's real
 * modules (/lib/modules/VER-cloud-amd64). */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/fstree/fstree.h"
#include "kernel/modules.h"
#include "tests/unit/test.h"

#define VER "1.0-test"
#define MD "lib/modules/" VER

static struct i2k_spool *spool;

static void add_data(struct i2k_fstree *t, const char *path, const void *data, size_t len)
{
	uint64_t off = 0;
	struct i2k_error *e = NULL;
	if (len > 0 && i2k_spool_append(spool, data, len, &off, &e) < 0)
		abort();
	struct i2k_fattr a = {.mode = S_IFREG | 0644, .mtime = 1700000000};
	OK(i2k_fstree_add(t, path, &a, NULL, off, len, I2K_FSTREE_MKPARENTS | I2K_FSTREE_REPLACE,
			  NULL, &_e));
}

static void add_str(struct i2k_fstree *t, const char *path, const char *s)
{
	add_data(t, path, s, strlen(s));
}

/* Contents of a tree file ("" if missing), owned by a static buffer ring. */
static char *slurp(struct i2k_fstree *t, const char *path)
{
	static char *ring[8];
	static unsigned k;
	struct i2k_inode *ino = i2k_fstree_lookup(t, path);
	char *buf = calloc(1, ino ? ino->size + 1 : 1);
	if (ino && ino->size) {
		struct i2k_error *e = NULL;
		if (i2k_fstree_read(t, ino, 0, buf, ino->size, &e) < 0)
			abort();
	}
	free(ring[k % 8]);
	ring[k++ % 8] = buf;
	return buf;
}

static bool exists(struct i2k_fstree *t, const char *path)
{
	return i2k_fstree_lookup(t, path) != NULL;
}

/* The fake set: metadata from tests/data/modules/fake, one small file per
 * modules.dep line, a stray module not in modules.dep, and a README. */
static struct i2k_fstree *fake_tree(bool with_dep)
{
	struct i2k_fstree *t = i2k_fstree_new(spool);
	static const char *const meta[] = {
	    "modules.dep",     "modules.order",	  "modules.builtin", "modules.builtin.modinfo",
	    "modules.alias",   "modules.softdep", "modules.symbols", "modules.devname",
	    "modules.dep.bin",
	};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(meta); i++) {
		if (!with_dep && strcmp(meta[i], "modules.dep") == 0)
			continue;
		char src[512];
		snprintf(src, sizeof(src), "modules/fake/%s", meta[i]);
		char *data = NULL;
		size_t len = 0;
		struct i2k_error *e = NULL;
		if (i2k_read_file(test_data(src), 1 << 20, &data, &len, &e) < 0) {
			fprintf(stderr, "FAIL: cannot read %s: %s\n", src, e->msg);
			exit(1);
		}
		char dst[512];
		snprintf(dst, sizeof(dst), MD "/%s", meta[i]);
		add_data(t, dst, data, len);
		free(data);
	}
	char *dep = NULL;
	size_t len = 0;
	struct i2k_error *e = NULL;
	if (i2k_read_file(test_data("modules/fake/modules.dep"), 1 << 20, &dep, &len, &e) < 0)
		abort();
	for (char *line = strtok(dep, "\n"); line; line = strtok(NULL, "\n")) {
		char *colon = strchr(line, ':');
		*colon = '\0';
		char dst[512];
		snprintf(dst, sizeof(dst), MD "/%s", line);
		add_str(t, dst, "\177ELF fake module\n");
	}
	free(dep);
	add_str(t, MD "/extra/stray.ko", "\177ELF stray\n");
	add_str(t, MD "/kernel/README", "not a module\n");
	add_str(t, "boot/cmdline", "console=ttyS0");
	return t;
}

static struct i2k_kernel_cfg list_cfg(const char **names, size_t n)
{
	struct i2k_kernel_cfg k = {.modules = I2K_MODULES_LIST};
	k.module_names.v = (char **)names;
	k.module_names.n = n;
	return k;
}

static const char *kept_line(struct i2k_fstree *t)
{
	return slurp(t, MD "/modules.dep");
}

TEST(normalize)
{
	char a[] = "kernel/drivers/char/hw_random/virtio-rng.ko";
	CHECK_STR(i2k_modules_normalize(a), "virtio_rng");
	char b[] = "btrfs.ko.xz";
	CHECK_STR(i2k_modules_normalize(b), "btrfs");
	char c[] = "libcrc32c.ko.zst";
	CHECK_STR(i2k_modules_normalize(c), "libcrc32c");
	char d[] = "nvme-core";
	CHECK_STR(i2k_modules_normalize(d), "nvme_core");
	char e[] = "x.ko.gz";
	CHECK_STR(i2k_modules_normalize(e), "x");
}

TEST(list_closure_and_metadata)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = fake_tree(true);
	const char *names[] = {"virtio-net"};
	struct i2k_kernel_cfg k = list_cfg(names, 1);
	struct i2k_modules_report rep;
	OK(i2k_modules_prune(t, &k, &rep, &_e));
	CHECK_INT(rep.versions, 1);
	CHECK_INT(rep.pruned, 1);
	CHECK_INT(rep.total, 14);
	CHECK_INT(rep.kept, 5);
	CHECK(rep.kept_bytes < rep.total_bytes);
	CHECK(exists(t, MD "/kernel/drivers/net/virtio_net.ko"));
	CHECK(exists(t, MD "/kernel/drivers/net/net_failover.ko"));
	CHECK(exists(t, MD "/kernel/net/core/failover.ko"));
	CHECK(exists(t, MD "/kernel/drivers/virtio/virtio.ko"));
	CHECK(exists(t, MD "/kernel/drivers/virtio/virtio_ring.ko"));
	CHECK(!exists(t, MD "/kernel/drivers/char/hw_random/virtio-rng.ko"));
	CHECK(!exists(t, MD "/kernel/sound/core/snd.ko"));
	CHECK(!exists(t, MD "/extra/stray.ko"));
	/* directories emptied by pruning go, others stay */
	CHECK(!exists(t, MD "/kernel/sound"));
	CHECK(!exists(t, MD "/kernel/drivers/char"));
	CHECK(!exists(t, MD "/extra"));
	CHECK(exists(t, MD "/kernel/README"));
	/* metadata */
	CHECK_STR(kept_line(t),
		  "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko "
		  "kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko "
		  "kernel/drivers/virtio/virtio_ring.ko\n"
		  "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n"
		  "kernel/net/core/failover.ko:\n"
		  "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"
		  "kernel/drivers/virtio/virtio_ring.ko:\n");
	CHECK_STR(slurp(t, MD "/modules.order"), "kernel/drivers/net/virtio_net.ko\n"
						 "kernel/drivers/net/net_failover.ko\n"
						 "kernel/net/core/failover.ko\n"
						 "kernel/drivers/virtio/virtio.ko\n"
						 "kernel/drivers/virtio/virtio_ring.ko\n");
	CHECK_STR(slurp(t, MD "/modules.alias"),
		  "# Aliases extracted from modules themselves.\n"
		  "alias pci:v00001AF4d00001000sv*sd*bc*sc*i* virtio_net\n"
		  "alias virtio:d00000001v* virtio_net\n");
	CHECK_STR(slurp(t, MD "/modules.symbols"),
		  "# Aliases for symbols, used by symbol_request().\n"
		  "alias symbol:virtio_check_driver_offered_feature virtio\n"
		  "alias symbol:failover_register failover\n");
	CHECK_STR(slurp(t, MD "/modules.softdep"),
		  "# Soft dependencies extracted from modules themselves.\n");
	CHECK_STR(slurp(t, MD "/modules.devname"),
		  "# Device nodes to trigger on-demand module loading.\n");
	CHECK_STR(slurp(t, MD "/modules.builtin"),
		  "kernel/fs/ext4/ext4.ko\nkernel/net/packet/af_packet.ko\n");
	CHECK(!exists(t, MD "/modules.dep.bin"));
	CHECK(exists(t, MD "/modules.builtin.modinfo"));
	/* rewritten files keep their attributes */
	struct i2k_inode *ino = i2k_fstree_lookup(t, MD "/modules.dep");
	CHECK(ino && ino->mode == (S_IFREG | 0644) && ino->mtime == 1700000000);
}

TEST(list_softdep_alias_and_compressed)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = fake_tree(true);
	/* an alias; btrfs's softdep "pre: crc32c" is itself an alias of crc32c_intel */
	const char *names[] = {"fs-btrfs"};
	struct i2k_kernel_cfg k = list_cfg(names, 1);
	struct i2k_modules_report rep;
	OK(i2k_modules_prune(t, &k, &rep, &_e));
	CHECK_INT(rep.kept, 3);
	CHECK(exists(t, MD "/kernel/fs/btrfs/btrfs.ko.xz"));
	CHECK(exists(t, MD "/kernel/lib/libcrc32c.ko.zst"));
	CHECK(exists(t, MD "/kernel/arch/x86/crypto/crc32c-intel.ko"));
	CHECK(!exists(t, MD "/kernel/drivers/virtio"));
	CHECK_STR(slurp(t, MD "/modules.softdep"),
		  "# Soft dependencies extracted from modules themselves.\n"
		  "softdep btrfs pre: crc32c\n");
	CHECK_STR(slurp(t, MD "/modules.devname"),
		  "# Device nodes to trigger on-demand module loading.\n"
		  "btrfs btrfs-control c10:234\n");

	/* post: softdeps count too: snd pulls drm */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t2 = fake_tree(true);
	const char *names2[] = {"snd"};
	k = list_cfg(names2, 1);
	OK(i2k_modules_prune(t2, &k, &rep, &_e));
	CHECK_INT(rep.kept, 3);
	CHECK(exists(t2, MD "/kernel/sound/soundcore.ko"));
	CHECK(exists(t2, MD "/kernel/drivers/gpu/drm/drm.ko"));
}

TEST(list_builtin_and_builtin_alias_keep_nothing)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = fake_tree(true);
	const char *names[] = {"ext4", "af-packet", "fs-ext4", "net-pf-17"};
	struct i2k_kernel_cfg k = list_cfg(names, 4);
	struct i2k_modules_report rep;
	OK(i2k_modules_prune(t, &k, &rep, &_e));
	CHECK_INT(rep.kept, 0);
	CHECK_INT(rep.total, 14);
	CHECK(!exists(t, MD "/kernel/drivers"));
	CHECK(!exists(t, MD "/kernel/fs"));
	CHECK(exists(t, MD "/kernel/README"));
	CHECK_STR(kept_line(t), "");
	CHECK_STR(slurp(t, MD "/modules.alias"), "# Aliases extracted from modules themselves.\n");
}

TEST(list_unknown_name_fails)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = fake_tree(true);
	const char *names[] = {"virtio_net", "nosuchmod"};
	struct i2k_kernel_cfg k = list_cfg(names, 2);
	FAILS(i2k_modules_prune(t, &k, NULL, &_e), I2K_ERR_CONFIG,
	      "kernel.modules: no module \"nosuchmod\" in " VER);
}

TEST(list_without_modules_dep_fails)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = fake_tree(false);
	const char *names[] = {"virtio_net"};
	struct i2k_kernel_cfg k = list_cfg(names, 1);
	/* modules.dep is computed (kernel/depmod.c), but these fake modules are
	 * not ELF objects: their dependencies are unknown */
	FAILS(i2k_modules_prune(t, &k, NULL, &_e), I2K_ERR_CONFIG,
	      "kernel.modules: " MD ": 14 of 14 module files have no readable .modinfo (first: "
	      "extra/stray.ko: not an ELF object), cannot select modules");
	CHECK_CONTAINS(slurp(t, MD "/modules.dep"), "kernel/sound/core/snd.ko:\n");
}

static char warned[4096];
static void catch_warn(const char *msg, void *ctx)
{
	size_t n = strlen(warned);
	snprintf(warned + n, sizeof(warned) - n, "%s\n", msg);
}

TEST(auto_without_modules_dep_keeps_all_and_warns)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = fake_tree(false);
	struct i2k_kernel_cfg k = {.modules = I2K_MODULES_AUTO};
	struct i2k_modules_report rep;
	warned[0] = '\0';
	i2k_set_warn_handler(catch_warn, NULL);
	OK(i2k_modules_prune(t, &k, &rep, &_e));
	i2k_set_warn_handler(NULL, NULL);
	CHECK_STR(warned, "kernel.modules: " MD ": 14 of 14 module files have no readable .modinfo "
			  "(first: extra/stray.ko: not an ELF object); keeping all its modules\n");
	CHECK_INT(rep.total, 14);
	CHECK_INT(rep.kept, 14);
	CHECK_INT(rep.pruned, 0);
	CHECK(exists(t, MD "/kernel/sound/core/snd.ko"));
}

TEST(all_keeps_everything)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = fake_tree(true);
	struct i2k_kernel_cfg k = {.modules = I2K_MODULES_ALL};
	struct i2k_modules_report rep;
	size_t before = i2k_fstree_count(t);
	OK(i2k_modules_prune(t, &k, &rep, &_e));
	CHECK_INT(i2k_fstree_count(t), before);
	CHECK_INT(rep.versions, 1);
	CHECK_INT(rep.pruned, 0);
	CHECK_INT(rep.total, 14);
	CHECK_INT(rep.kept, 14);
	CHECK_INT(rep.kept_bytes, rep.total_bytes);
	CHECK(exists(t, MD "/modules.dep.bin"));
}

TEST(auto_defaults_lists_and_cmdline)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = fake_tree(true);
	add_str(t, "etc/modules", "# comment\n  snd index=0\n; other comment\n");
	add_str(t, "etc/modules-load.d/a.conf", "fs-btrfs\n");
	add_str(t, "etc/modules-load.d/ignored.txt", "drm\n");
	add_str(t, "usr/lib/modules-load.d/b.conf", "nosuch-mod\n");
	add_str(t, "boot/cmdline", "console=ttyS0 i2kit.modules=virtio-rng,\"drm\" quiet");
	struct i2k_kernel_cfg k = {.modules = I2K_MODULES_AUTO};
	struct i2k_modules_report rep;
	warned[0] = '\0';
	i2k_set_warn_handler(catch_warn, NULL);
	OK(i2k_modules_prune(t, &k, &rep, &_e));
	i2k_set_warn_handler(NULL, NULL);
	CHECK_STR(warned, "kernel.modules: usr/lib/modules-load.d/b.conf names \"nosuch-mod\", "
			  "which is not a module of " VER "\n");
	/* defaults: virtio_net (+4), overlay; etc/modules: snd (+soundcore,
	 * drm); a.conf: btrfs (+libcrc32c, crc32c_intel); cmdline: virtio-rng */
	CHECK(exists(t, MD "/kernel/drivers/net/virtio_net.ko"));
	CHECK(exists(t, MD "/kernel/fs/overlayfs/overlay.ko"));
	CHECK(exists(t, MD "/kernel/sound/core/snd.ko"));
	CHECK(exists(t, MD "/kernel/drivers/gpu/drm/drm.ko"));
	CHECK(exists(t, MD "/kernel/fs/btrfs/btrfs.ko.xz"));
	CHECK(exists(t, MD "/kernel/drivers/char/hw_random/virtio-rng.ko"));
	CHECK(!exists(t, MD "/extra/stray.ko"));
	CHECK_INT(rep.kept, 13);
}

TEST(auto_plain)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = fake_tree(true);
	struct i2k_kernel_cfg k = {.modules = I2K_MODULES_AUTO};
	struct i2k_modules_report rep;
	OK(i2k_modules_prune(t, &k, &rep, &_e));
	/* virtio_net + 4 deps, virtio-rng, overlay */
	CHECK_INT(rep.kept, 7);
	CHECK(!exists(t, MD "/kernel/sound"));
	CHECK(!exists(t, MD "/kernel/drivers/gpu"));
}

TEST(no_lib_modules_is_fine)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(spool);
	add_str(t, "etc/hostname", "x\n");
	const char *names[] = {"virtio_net"};
	struct i2k_kernel_cfg k = list_cfg(names, 1);
	struct i2k_modules_report rep;
	OK(i2k_modules_prune(t, &k, &rep, &_e));
	CHECK_INT(rep.versions, 0);
	CHECK_INT(rep.total, 0);
}

TEST(two_versions_and_usr_lib)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = fake_tree(true);
	add_str(t, "usr/lib/modules/2.0/modules.dep",
		"kernel/a.ko: kernel/b.ko\nkernel/b.ko:\n"
		"kernel/c.ko:\n");
	add_str(t, "usr/lib/modules/2.0/kernel/a.ko", "a");
	add_str(t, "usr/lib/modules/2.0/kernel/b.ko", "b");
	add_str(t, "usr/lib/modules/2.0/kernel/c.ko", "c");
	const char *names[] = {"virtio_rng", "a"};
	struct i2k_kernel_cfg k = list_cfg(names, 2);
	/* "a" is not in 1.0-test */
	FAILS(i2k_modules_prune(t, &k, NULL, &_e), I2K_ERR_CONFIG,
	      "kernel.modules: no module \"a\" in " VER);
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t2 = i2k_fstree_new(spool);
	add_str(t2, "usr/lib/modules/2.0/modules.dep",
		"kernel/a.ko: kernel/b.ko\nkernel/b.ko:\n"
		"kernel/c.ko:\n");
	add_str(t2, "usr/lib/modules/2.0/kernel/a.ko", "a");
	add_str(t2, "usr/lib/modules/2.0/kernel/b.ko", "b");
	add_str(t2, "usr/lib/modules/2.0/kernel/c.ko", "c");
	const char *names2[] = {"a"};
	k = list_cfg(names2, 1);
	struct i2k_modules_report rep;
	OK(i2k_modules_prune(t2, &k, &rep, &_e));
	CHECK_INT(rep.kept, 2);
	CHECK_INT(rep.total, 3);
	CHECK(!exists(t2, "usr/lib/modules/2.0/kernel/c.ko"));
	CHECK_STR(slurp(t2, "usr/lib/modules/2.0/modules.dep"),
		  "kernel/a.ko: kernel/b.ko\nkernel/b.ko:\n");
}

TEST(oversized_metadata_fails)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(spool);
	/* a sparse 33 MiB modules.dep: only its size matters */
	struct i2k_fattr a = {.mode = S_IFREG | 0644};
	OK(i2k_fstree_add(t, "lib/modules/9/modules.dep", &a, NULL, 0, (32u << 20) + 1,
			  I2K_FSTREE_MKPARENTS, NULL, &_e));
	struct i2k_kernel_cfg k = {.modules = I2K_MODULES_AUTO};
	FAILS(i2k_modules_prune(t, &k, NULL, &_e), I2K_ERR_INTEGRITY,
	      "lib/modules/9/modules.dep: exceeds 33554432 bytes");
}

/* ---- the fixture kernel's real modules ----------------------------------- */

static struct i2k_fstree *real_tree;
static size_t real_prefix;
static const char *real_dest;

static int load_one(const char *fpath, const struct stat *st, int type, struct FTW *ftw)
{
	if (strlen(fpath) <= real_prefix)
		return 0;
	char dst[4096];
	snprintf(dst, sizeof(dst), "%s%s", real_dest, fpath + real_prefix);
	struct i2k_fattr a = {.mode = st->st_mode, .mtime = st->st_mtime};
	struct i2k_error *e = NULL;
	int r = 0;
	if (type == FTW_D) {
		r = i2k_fstree_add(real_tree, dst, &a, NULL, 0, 0,
				   I2K_FSTREE_MKPARENTS | I2K_FSTREE_REPLACE, NULL, &e);
	} else if (type == FTW_SL) {
		char target[4096];
		ssize_t n = readlink(fpath, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = '\0';
		r = i2k_fstree_add(real_tree, dst, &a, target, 0, 0, I2K_FSTREE_MKPARENTS, NULL,
				   &e);
	} else if (type == FTW_F && S_ISREG(st->st_mode)) {
		int fd = open(fpath, O_RDONLY | O_CLOEXEC);
		uint64_t off = 0, size = 0;
		if (fd < 0 || i2k_spool_append_fd(spool, fd, &off, &size, &e) < 0)
			r = -1;
		if (fd >= 0)
			close(fd);
		if (r == 0)
			r = i2k_fstree_add(real_tree, dst, &a, NULL, off, size,
					   I2K_FSTREE_MKPARENTS, NULL, &e);
	}
	if (r < 0) {
		fprintf(stderr, "  loading %s: %s\n", fpath, e ? e->msg : "?");
		i2k_error_free(e);
		return 1;
	}
	return 0;
}

/* lib/modules/VER of the fixture kernel, or NULL (test fails loudly). */
static char *fixture_dir(void)
{
	glob_t g;
	if (glob("/lib/modules/*-cloud-amd64", 0, NULL, &g) != 0 || g.gl_pathc == 0) {
		fprintf(stderr, "  FIXTURE MISSING: no /lib/modules/*-cloud-amd64 "
				"(apt-get install linux-image-cloud-amd64)\n");
		return NULL;
	}
	char *d = i2k_xstrdup(g.gl_pathv[g.gl_pathc - 1]);
	globfree(&g);
	return d;
}

static struct i2k_fstree *load_real(const char *dir)
{
	real_tree = i2k_fstree_new(spool);
	real_prefix = strlen(dir);
	static char dest[512];
	snprintf(dest, sizeof(dest), "lib/modules/%s", strrchr(dir, '/') + 1);
	real_dest = dest;
	if (nftw(dir, load_one, 32, FTW_PHYS) != 0) {
		t_failed_checks++;
		fprintf(stderr, "  nftw %s failed\n", dir);
	}
	return real_tree;
}

static bool real_exists(struct i2k_fstree *t, const char *ver, const char *rel)
{
	char p[1024];
	snprintf(p, sizeof(p), "lib/modules/%s/%s", ver, rel);
	return exists(t, p);
}

TEST(real_fixture_kernel_auto)
{
	_cleanup_free_ char *dir = fixture_dir();
	CHECK(dir != NULL);
	if (!dir)
		return;
	const char *ver = strrchr(dir, '/') + 1;
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = load_real(dir);
	struct i2k_kernel_cfg k = {.modules = I2K_MODULES_AUTO};
	struct i2k_modules_report rep;
	OK(i2k_modules_prune(t, &k, &rep, &_e));
	fprintf(stderr, "  %s auto: kept %zu of %zu modules, %llu of %llu bytes\n", ver, rep.kept,
		rep.total, (unsigned long long)rep.kept_bytes, (unsigned long long)rep.total_bytes);
	CHECK(rep.total > 1000);
	CHECK(rep.kept >= 15 && rep.kept <= 40);
	CHECK(rep.kept_bytes * 20 < rep.total_bytes);
	CHECK(real_exists(t, ver, "kernel/drivers/net/virtio_net.ko"));
	CHECK(real_exists(t, ver, "kernel/drivers/net/net_failover.ko"));
	CHECK(real_exists(t, ver, "kernel/net/core/failover.ko"));
	CHECK(real_exists(t, ver, "kernel/drivers/virtio/virtio.ko"));
	CHECK(real_exists(t, ver, "kernel/drivers/virtio/virtio_ring.ko"));
	CHECK(real_exists(t, ver, "kernel/drivers/virtio/virtio_pci.ko"));
	CHECK(real_exists(t, ver, "kernel/drivers/block/virtio_blk.ko"));
	CHECK(real_exists(t, ver, "kernel/fs/overlayfs/overlay.ko"));
	CHECK(real_exists(t, ver, "kernel/fs/squashfs/squashfs.ko"));
	CHECK(real_exists(t, ver, "kernel/fs/erofs/erofs.ko")); /* + libcrc32c */
	CHECK(real_exists(t, ver, "kernel/lib/libcrc32c.ko"));
	CHECK(real_exists(t, ver, "kernel/drivers/firmware/qemu_fw_cfg.ko"));
	CHECK(real_exists(t, ver, "kernel/drivers/char/hw_random/virtio-rng.ko"));
	CHECK(real_exists(t, ver, "kernel/drivers/net/ethernet/amazon/ena/ena.ko"));
	/* gone: a VPN, a file system and a hypervisor's drivers nobody asked for */
	CHECK(!real_exists(t, ver, "kernel/drivers/net/wireguard/wireguard.ko"));
	CHECK(!real_exists(t, ver, "kernel/fs/btrfs/btrfs.ko"));
	CHECK(!real_exists(t, ver, "kernel/drivers/hv/hv_vmbus.ko"));
	CHECK(!real_exists(t, ver, "kernel/drivers/net/wireguard"));
	CHECK(real_exists(t, ver, "modules.builtin"));
	CHECK(!real_exists(t, ver, "modules.dep.bin"));
	char p[1024];
	snprintf(p, sizeof(p), "lib/modules/%s/modules.dep", ver);
	const char *dep = slurp(t, p);
	CHECK_CONTAINS(dep, "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko");
	CHECK(strstr(dep, "wireguard") == NULL);
	/* every line of the rewritten modules.dep names files that exist */
	size_t lines = 0;
	_cleanup_free_ char *copy = i2k_xstrdup(dep);
	for (char *l = strtok(copy, "\n"); l; l = strtok(NULL, "\n")) {
		char *save = NULL;
		for (char *w = strtok_r(l, ": ", &save); w; w = strtok_r(NULL, ": ", &save))
			CHECK(real_exists(t, ver, w));
		lines++;
	}
	CHECK_INT(lines, rep.kept);
}

TEST(real_fixture_kernel_list)
{
	_cleanup_free_ char *dir = fixture_dir();
	CHECK(dir != NULL);
	if (!dir)
		return;
	const char *ver = strrchr(dir, '/') + 1;
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = load_real(dir);
	const char *names[] = {"virtio-net", "nvme", "fs-overlay"}; /* nvme is built in */
	struct i2k_kernel_cfg k = list_cfg(names, 3);
	struct i2k_modules_report rep;
	OK(i2k_modules_prune(t, &k, &rep, &_e));
	CHECK_INT(rep.kept, 6);
	CHECK(real_exists(t, ver, "kernel/fs/overlayfs/overlay.ko"));
	CHECK(!real_exists(t, ver, "kernel/fs/squashfs/squashfs.ko"));
}

int main(void)
{
	t_prog = "test_modules";
	struct i2k_error *e = NULL;
	if (i2k_spool_new(NULL, &spool, &e) < 0)
		abort();
	RUN(normalize);
	RUN(list_closure_and_metadata);
	RUN(list_softdep_alias_and_compressed);
	RUN(list_builtin_and_builtin_alias_keep_nothing);
	RUN(list_unknown_name_fails);
	RUN(list_without_modules_dep_fails);
	RUN(auto_without_modules_dep_keeps_all_and_warns);
	RUN(all_keeps_everything);
	RUN(auto_defaults_lists_and_cmdline);
	RUN(auto_plain);
	RUN(no_lib_modules_is_fine);
	RUN(two_versions_and_usr_lib);
	RUN(oversized_metadata_fails);
	RUN(real_fixture_kernel_auto);
	RUN(real_fixture_kernel_list);
	i2k_spool_free(spool);
	return TEST_DONE();
}
