/* mkesp.c — test driver: kernel + initrd + cmdline → a GPT disk image with
 * one FAT32 EFI system partition holding \EFI\BOOT\BOOTX64.EFI (a UKI).
 * It is the reference for how the library pieces fit together:
 *
 *   UKI into the spool (i2k_uki_build_spool) → an fstree with the file
 *   → i2k_fat_min_size → i2k_part_layout (1 MiB aligned, GPT tail)
 *   → a file sink over the disk → i2k_gpt_write (seeded GUIDs)
 *   → a window sink over the ESP → i2k_fat_write (hidden sectors = start LBA)
 *
 *   usage: mkesp [--osrel FILE] [--label LABEL] KERNEL INITRD CMDLINE OUT.img
 * Built by tests/integration/50-uefi-boot.sh against build/libi2k-asan.a. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "builder/fstree/fstree.h"
#include "formats/disk/gpt.h"
#include "formats/disk/part.h"
#include "formats/fs/fat.h"
#include "formats/sink.h"
#include "kernel/uki.h"

static int open_input(const char *path, struct i2k_uki_input *in, struct i2k_error **err)
{
	struct stat st;
	in->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (in->fd < 0 || fstat(in->fd, &st) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_NOTFOUND, "%s", path);
	in->off = 0;
	in->size = (uint64_t)st.st_size;
	return 0;
}

/* The GUID seed: sha256 of the UKI bytes, so the same inputs give the same disk. */
static int uki_seed(struct i2k_spool *sp, uint64_t off, uint64_t size, uint8_t seed[32],
		    struct i2k_error **err)
{
	_cleanup_(i2k_sha256_freep) struct i2k_sha256 *h = i2k_sha256_new();
	_cleanup_free_ uint8_t *buf = i2k_xmalloc(1 << 20);
	for (uint64_t done = 0; done < size;) {
		size_t n = size - done < (1 << 20) ? (size_t)(size - done) : (1 << 20);
		if (i2k_spool_read(sp, off + done, buf, n, err) < 0)
			return -1;
		i2k_sha256_update(h, buf, n);
		done += n;
	}
	i2k_sha256_final_raw(h, seed);
	return 0;
}

static int mkesp(const char *kernel, const char *initrd, const char *cmdline, const char *osrel,
		 const char *label, const char *out, struct i2k_error **err)
{
	struct i2k_uki_opts o = {.cmdline = cmdline, .kernel = {.fd = -1}, .initrd = {.fd = -1}};
	_cleanup_free_ char *osrel_text = NULL;
	size_t osrel_len = 0;
	if (osrel && i2k_read_file(osrel, 1 << 16, &osrel_text, &osrel_len, err) < 0)
		return -1;
	o.osrel = osrel_text;
	int r = -1;
	struct i2k_spool *sp = NULL;
	struct i2k_fstree *tree = NULL;
	struct i2k_sink *disk = NULL, *esp = NULL;
	struct i2k_atomic_file af = {.fd = -1};
	uint64_t off, size, esp_size, disk_size;
	uint8_t seed[32];
	if (open_input(kernel, &o.kernel, err) < 0 || open_input(initrd, &o.initrd, err) < 0 ||
	    i2k_spool_new(NULL, &sp, err) < 0 ||
	    i2k_uki_build_spool(&o, sp, &off, &size, err) < 0 ||
	    uki_seed(sp, off, size, seed, err) < 0)
		goto out;
	tree = i2k_fstree_new(sp);
	struct i2k_fattr fa = {.mode = S_IFREG | 0644, .mtime = i2k_source_date_epoch()};
	if (i2k_fstree_add(tree, "EFI/BOOT/BOOTX64.EFI", &fa, NULL, off, size, I2K_FSTREE_MKPARENTS,
			   NULL, err) < 0 ||
	    i2k_fat_min_size(tree, &esp_size, err) < 0)
		goto out;
	struct i2k_part parts[1] = {{.name = "EFI System Partition",
				     .type_guid = I2K_GUID_ESP,
				     .mbr_type = 0xEF,
				     .size = esp_size}};
	if (i2k_part_layout(parts, 1, 0, true, &disk_size, err) < 0 ||
	    i2k_atomic_open(&af, out, 0644, err) < 0 ||
	    i2k_sink_file_new(af.fd, 0, disk_size, "disk", &disk, err) < 0 ||
	    i2k_gpt_write(disk, parts, 1, seed, err) < 0 ||
	    i2k_sink_window_new(disk, parts[0].start, parts[0].size, "ESP", &esp, err) < 0)
		goto out;
	struct i2k_fat_opts fo = {.label = label,
				  .hidden_sectors = (uint32_t)(parts[0].start / I2K_SECTOR)};
	if (i2k_fat_write(tree, &fo, esp, err) < 0 || i2k_sink_finish(esp, err) < 0 ||
	    i2k_sink_finish(disk, err) < 0 || i2k_atomic_commit(&af, err) < 0)
		goto out;
	fprintf(stderr, "mkesp: UKI %llu bytes, ESP %llu bytes at %llu, disk %llu bytes\n",
		(unsigned long long)size, (unsigned long long)parts[0].size,
		(unsigned long long)parts[0].start, (unsigned long long)disk_size);
	r = 0;
out:
	i2k_sink_free(esp);
	i2k_sink_free(disk);
	i2k_atomic_abort(&af);
	i2k_fstree_free(tree);
	i2k_spool_free(sp);
	if (o.kernel.fd >= 0)
		close(o.kernel.fd);
	if (o.initrd.fd >= 0)
		close(o.initrd.fd);
	return r;
}

int main(int argc, char **argv)
{
	const char *osrel = NULL, *label = "ESP";
	int i = 1;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--osrel") == 0)
			osrel = argv[i + 1];
		else if (strcmp(argv[i], "--label") == 0)
			label = argv[i + 1];
		else
			break;
	}
	if (argc - i != 4) {
		fprintf(stderr, "usage: mkesp [--osrel FILE] [--label LABEL] KERNEL INITRD CMDLINE "
				"OUT.img\n");
		return 2;
	}
	struct i2k_error *err = NULL;
	if (mkesp(argv[i], argv[i + 1], argv[i + 2], osrel, label, argv[i + 3], &err) < 0) {
		fprintf(stderr, "mkesp: error: %s\n", err ? err->msg : "?");
		int code = i2k_error_exit_code(err);
		i2k_error_free(err);
		return code;
	}
	return 0;
}
