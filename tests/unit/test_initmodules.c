/* test_initmodules.c — modules.dep / modules.alias / modules.builtin
 * parsing, dependency order and modalias coldplug of the guest init
 * (initrd/init/modules.c, compiled in directly). The texts are excerpts of
 * the fixture kernel's (linux-image-cloud-amd64 6.1) files, shortened. */
#include "initrd/init/util.c"
#include "initrd/init/cmdline.c"
#include "initrd/init/log.c"
#include "initrd/init/modules.c"

#include "tests/unit/test.h"

#include <sys/stat.h>

static const char DEP[] =
    "kernel/fs/overlayfs/overlay.ko:\n"
    "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"
    "kernel/drivers/virtio/virtio_ring.ko:\n"
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko:\n"
    "kernel/drivers/virtio/virtio_pci_legacy_dev.ko:\n"
    "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko "
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko "
    "kernel/drivers/virtio/virtio_ring.ko\n"
    "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko "
    "kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko "
    "kernel/drivers/virtio/virtio_ring.ko\n"
    "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n"
    "kernel/net/core/failover.ko:\n"
    "kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko "
    "kernel/drivers/virtio/virtio_ring.ko\n"
    "kernel/drivers/acpi/button.ko:\n"
    "kernel/drivers/input/evdev.ko:\n"
    "kernel/fs/squashfs/squashfs.ko.xz:\n"
    "kernel/drivers/md/dm-mod.ko:\n"
    "# a comment line\n"
    "garbage line without colon\n"
    "kernel/broken/needs_missing.ko: kernel/broken/absent.ko\n"
    "kernel/broken/bad.ko:\n"
    "kernel/broken/uses_bad.ko: kernel/broken/bad.ko\n";

static const char ALIAS[] =
    "# Aliases extracted from modules themselves.\n"
    "alias fs-overlay overlay\n"
    "alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\n"
    "alias virtio:d00000001v* virtio_net\n"
    "alias virtio:d00000002v* virtio_blk\n"
    "alias acpi*:LNXPWRBN:* button\n"
    "alias input:b*v*p*e*-e*k*r*a*m*l*s*f*w* evdev\n"
    "alias fs-squashfs squashfs\n"
    "alias devname:mapper/control dm_mod\n"
    "alias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000\n" /* not in modules.dep */
    "alias malformed\n";

static const char BUILTIN[] = "kernel/fs/ext4/ext4.ko\nkernel/drivers/input/serio/i8042.ko\n";

static char order[2048];
static char sysroot[256];

static int fake_insmod(struct kmods *km, const char *path)
{
	char n[128];
	i2ki_kmods_normalise(path, n, sizeof(n));
	size_t l = strlen(order);
	snprintf(order + l, sizeof(order) - l, "%s%s", l ? " " : "", n);
	if (strcmp(n, "bad") == 0)
		return -EINVAL;
	if (strcmp(n, "dm_mod") == 0)
		return -EEXIST;
	/* as the real driver does: virtio_pci binding creates virtio devices */
	if (strcmp(n, "virtio_pci") == 0 && sysroot[0]) {
		char p[512];
		snprintf(p, sizeof(p), "%s/bus/virtio/devices/virtio0", sysroot);
		mkdir(p, 0755);
		snprintf(p, sizeof(p), "%s/bus/virtio/devices/virtio0/modalias", sysroot);
		FILE *f = fopen(p, "w");
		if (f) {
			fputs("virtio:d00000001v00001AF4\n", f);
			fclose(f);
		}
	}
	return 0;
}

static int fake_present(struct kmods *km, const char *name)
{
	return strcmp(name, "already_in") == 0;
}

static void setup(struct kmods *km)
{
	memset(km, 0, sizeof(*km));
	order[0] = 0;
	CHECK_INT(i2ki_kmods_parse(km, strdup(DEP), strdup(ALIAS), strdup(BUILTIN)), 0);
	km->insmod = fake_insmod;
	km->present = fake_present;
}

TEST(normalise)
{
	char n[64];
	i2ki_kmods_normalise("kernel/drivers/virtio/virtio_pci.ko", n, sizeof(n));
	CHECK_STR(n, "virtio_pci");
	i2ki_kmods_normalise("kernel/fs/squashfs/squashfs.ko.xz", n, sizeof(n));
	CHECK_STR(n, "squashfs");
	i2ki_kmods_normalise("dm-mod", n, sizeof(n));
	CHECK_STR(n, "dm_mod");
	i2ki_kmods_normalise("kernel/x/a.kobj.ko", n, sizeof(n));
	CHECK_STR(n, "a.kobj");
	i2ki_kmods_normalise("kernel/x/virtio.ko:", n, sizeof(n));
	CHECK_STR(n, "virtio");
	i2ki_kmods_normalise("averyveryverylongname", n, 5);
	CHECK_STR(n, "aver");
}

TEST(parse_tables)
{
	struct kmods km;
	setup(&km);
	CHECK_INT(km.nmods, 17);
	CHECK_INT(km.naliases, 9);
	struct kmod *m = i2ki_kmods_find(&km, "virtio-pci");
	CHECK(m != NULL);
	if (m) {
		CHECK_STR(m->path, "kernel/drivers/virtio/virtio_pci.ko");
		CHECK_CONTAINS(m->deps, "virtio_pci_legacy_dev.ko");
	}
	CHECK(i2ki_kmods_find(&km, "e1000") == NULL);
	CHECK(i2ki_kmods_find(&km, "squashfs") != NULL);
	CHECK_STR(km.aliases[1].pattern, "pci:v00001AF4d*sv*sd*bc*sc*i*");
	CHECK_STR(km.aliases[1].module, "virtio_pci");
	CHECK_INT(km.aliases[1].prefix, 14);
	CHECK(i2ki_kmods_builtin(&km, "ext4"));
	CHECK(i2ki_kmods_builtin(&km, "i8042"));
	CHECK(!i2ki_kmods_builtin(&km, "overlay"));
	i2ki_kmods_free(&km);
	i2ki_kmods_free(&km); /* idempotent */
	/* no texts at all: empty tables */
	CHECK_INT(i2ki_kmods_parse(&km, NULL, NULL, NULL), 0);
	CHECK(i2ki_kmods_find(&km, "overlay") == NULL);
	i2ki_kmods_free(&km);
}

TEST(dependencies_load_first_and_once)
{
	struct kmods km;
	setup(&km);
	CHECK_INT(i2ki_kmods_load(&km, "virtio_net", 0), 0);
	CHECK_STR(order, "failover net_failover virtio_ring virtio virtio_net");
	order[0] = 0;
	CHECK_INT(i2ki_kmods_load(&km, "virtio-pci", 0), 0);
	CHECK_STR(order, "virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci");
	order[0] = 0;
	CHECK_INT(i2ki_kmods_load(&km, "virtio_net", 0), 0); /* already loaded: nothing */
	CHECK_STR(order, "");
	CHECK_INT(km.loaded, 8);
	i2ki_kmods_free(&km);
}

TEST(failures_and_special_cases)
{
	struct kmods km;
	setup(&km);
	int saved = i2ki_log_fd;
	i2ki_log_fd = open("/dev/null", O_WRONLY);
	CHECK_INT(i2ki_kmods_load(&km, "bad", 0), -EINVAL);
	CHECK_INT(i2ki_kmods_find(&km, "bad")->state, KMOD_FAILED);
	CHECK_INT(i2ki_kmods_load(&km, "bad", 0), -EIO); /* not retried */
	CHECK_INT(i2ki_kmods_load(&km, "uses_bad", 0), -EIO);
	CHECK_STR(order, "bad");
	CHECK_INT(i2ki_kmods_load(&km, "nonexistent", 0), -ENOENT);
	CHECK_INT(i2ki_kmods_load(&km, "ext4", 0), 0);	     /* built in */
	CHECK_INT(i2ki_kmods_load(&km, "already_in", 0), 0); /* in /sys/module */
	CHECK_INT(i2ki_kmods_load(&km, "dm_mod", 0), 0);     /* EEXIST counts as loaded */
	CHECK_INT(i2ki_kmods_find(&km, "dm_mod")->state, KMOD_LOADED);
	/* a dependency missing from modules.dep is left to the kernel */
	CHECK_INT(i2ki_kmods_load(&km, "needs_missing", 0), 0);
	order[0] = 0;
	CHECK_INT(i2ki_kmods_load(&km, "fs-overlay", 0), 0); /* alias name */
	CHECK_STR(order, "overlay");
	CHECK_INT(i2ki_kmods_load(&km, "devname:mapper/control", 0), 0);
	close(i2ki_log_fd);
	i2ki_log_fd = saved;
	i2ki_kmods_free(&km);
}

TEST(modalias_matching)
{
	struct kmods km;
	setup(&km);
	CHECK_INT(
	    i2ki_kmods_load_modalias(&km, "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00"),
	    5);
	CHECK_STR(order,
		  "virtio_pci_legacy_dev virtio_pci_modern_dev virtio_ring virtio virtio_pci");
	order[0] = 0;
	CHECK_INT(
	    i2ki_kmods_load_modalias(&km, "pci:v00008086d00001237sv00001AF4sd00001100bc06sc00i00"),
	    0);
	CHECK_INT(i2ki_kmods_load_modalias(&km, "acpi:LNXPWRBN:"), 1);
	CHECK_INT(i2ki_kmods_load_modalias(&km, "input:b0019v0000p0001e0000-e0,1,k74,ramlsfw"), 1);
	CHECK_STR(order, "button evdev");
	CHECK_INT(i2ki_kmods_load_modalias(&km, "acpi:LNXPWRBN:"), 0); /* once */
	i2ki_kmods_free(&km);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

TEST(coldplug_repeats_for_new_buses)
{
	struct kmods km;
	setup(&km);
	snprintf(sysroot, sizeof(sysroot), "/tmp/test_initmodules.XXXXXX");
	CHECK(mkdtemp(sysroot) != NULL);
	char p[512];
	const char *dirs[] = {"bus",
			      "bus/pci",
			      "bus/pci/devices",
			      "bus/pci/devices/0000:00:03.0",
			      "bus/virtio",
			      "bus/virtio/devices",
			      "bus/acpi",
			      "bus/acpi/devices",
			      "bus/acpi/devices/LNXPWRBN:00",
			      "class",
			      "class/input",
			      "class/input/input0"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", sysroot, dirs[i]);
		CHECK_INT(mkdir(p, 0755), 0);
	}
	snprintf(p, sizeof(p), "%s/bus/pci/devices/0000:00:03.0/modalias", sysroot);
	write_file(p, "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00\n");
	snprintf(p, sizeof(p), "%s/bus/acpi/devices/LNXPWRBN:00/modalias", sysroot);
	write_file(p, "acpi:LNXPWRBN:\n");
	snprintf(p, sizeof(p), "%s/class/input/input0/modalias", sysroot);
	write_file(p, "input:b0019v0000p0001e0000-e0,1,k74,ramlsfw\n");
	int n = i2ki_kmods_coldplug(&km, sysroot);
	/* pass 1: virtio_pci (+4 deps), button, evdev; pass 2: virtio_net (+2) */
	CHECK_INT(n, 10);
	CHECK_CONTAINS(order, "virtio_pci");
	CHECK_CONTAINS(order, "virtio_net");
	CHECK_CONTAINS(order, "button");
	CHECK_CONTAINS(order, "evdev");
	CHECK(i2ki_kmods_find(&km, "virtio_blk")->state == KMOD_NEW);
	CHECK_INT(i2ki_kmods_coldplug(&km, "/nonexistent-sysfs"), 0);
	i2ki_kmods_free(&km);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sysroot);
	CHECK_INT(system(cmd), 0);
	sysroot[0] = 0;
}

TEST(list_files)
{
	struct kmods km;
	setup(&km);
	char dir[] = "/tmp/test_initmodules_conf.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char p[512];
	snprintf(p, sizeof(p), "%s/b.conf", dir);
	write_file(p, "# comment\nsquashfs\n  virtio-blk # trailing\n;other\n\n");
	snprintf(p, sizeof(p), "%s/a.conf", dir);
	write_file(p, "overlay");
	snprintf(p, sizeof(p), "%s/ignored.txt", dir);
	write_file(p, "button\n");
	load_conf_dir(&km, dir);
	CHECK_STR(order, "overlay squashfs virtio_ring virtio virtio_blk");
	load_conf_dir(&km, "/nonexistent");
	load_list_file(&km, "/nonexistent");
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK_INT(system(cmd), 0);
	i2ki_kmods_free(&km);
}

TEST(open_missing_dir)
{
	struct kmods km;
	CHECK_INT(i2ki_kmods_open(&km, "/nonexistent/lib/modules/x"), -1);
	CHECK(errno == ENOENT);
}

TEST(cmdline_options)
{
	char v[32];
	i2ki_cmdline_set("console=ttyS0 i2kit.modules=a,b i2kit.hostname=\"my host\" quiet "
			 "i2kit.dhcp=0 i2kit.modules=c");
	CHECK_STR(i2ki_cmdline_get("i2kit.modules", v, sizeof(v)), "c");
	CHECK_STR(i2ki_cmdline_get("i2kit.hostname", v, sizeof(v)), "my host");
	CHECK_STR(i2ki_cmdline_get("quiet", v, sizeof(v)), "");
	CHECK(i2ki_cmdline_get("i2kit", v, sizeof(v)) == NULL);
	CHECK(i2ki_cmdline_get("console=ttyS", v, sizeof(v)) == NULL);
	CHECK_STR(i2ki_cmdline_get("console", v, 4), "tty");
	CHECK_INT(i2ki_cmdline_flag("i2kit.dhcp", 1), 0);
	CHECK_INT(i2ki_cmdline_flag("i2kit.idle", 0), 0);
	CHECK_INT(i2ki_cmdline_flag("quiet", 0), 1);
}

int main(void)
{
	t_prog = "initmodules";
	RUN(normalise);
	RUN(parse_tables);
	RUN(dependencies_load_first_and_once);
	RUN(failures_and_special_cases);
	RUN(modalias_matching);
	RUN(coldplug_repeats_for_new_buses);
	RUN(list_files);
	RUN(open_missing_dir);
	RUN(cmdline_options);
	return TEST_DONE();
}
