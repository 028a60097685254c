/* mkiso.c — test driver for formats/disk/isoboot: kernel + initrd → a
 * bootable ISO / isohybrid disk image. Built by tests/integration/
 * 51-bios-boot.sh with the unit-test flags and build/libi2k-asan.a.
 *
 *   mkiso [--hybrid] [--bios] [--efi FATIMG] [--efi-partition]
 *         [--cmdline S] [--volid V] [--size BYTES] KERNEL INITRD OUT
 *
 * Without --bios/--efi, --bios is assumed. Prints the image size.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/error.h"
#include "formats/disk/isoboot.h"

static int usage(void)
{
	fprintf(stderr, "usage: mkiso [--hybrid] [--bios] [--efi FATIMG] [--efi-partition] "
			"[--cmdline S] [--volid V] [--size BYTES] KERNEL INITRD OUT\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct i2k_isoboot_opts o = {.efi_fd = -1};
	const char *efi = NULL;
	int i = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--hybrid") == 0) {
			o.hybrid = true;
		} else if (strcmp(a, "--bios") == 0) {
			o.bios = true;
		} else if (strcmp(a, "--efi-partition") == 0) {
			o.efi_partition = true;
		} else if (strcmp(a, "--efi") == 0 && v) {
			efi = v;
			i++;
		} else if (strcmp(a, "--cmdline") == 0 && v) {
			o.cmdline = v;
			i++;
		} else if (strcmp(a, "--volid") == 0 && v) {
			o.volume_id = v;
			i++;
		} else if (strcmp(a, "--size") == 0 && v) {
			o.min_size = strtoull(v, NULL, 10);
			i++;
		} else {
			return usage();
		}
	}
	if (argc - i != 3)
		return usage();
	if (!efi)
		o.bios = true;
	_cleanup_close_ int efd = -1;
	if (efi) {
		efd = open(efi, O_RDONLY | O_CLOEXEC);
		if (efd < 0) {
			perror(efi);
			return 1;
		}
		o.efi = true;
		o.efi_fd = efd;
	}
	_cleanup_close_ int kfd = open(argv[i], O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int ifd = open(argv[i + 1], O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int ofd = open(argv[i + 2], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (kfd < 0 || ifd < 0 || ofd < 0) {
		perror("open");
		return 1;
	}
	struct i2k_error *err = NULL;
	uint64_t size = 0;
	if (i2k_isoboot_write_fd(kfd, ifd, &o, ofd, &size, &err) < 0) {
		fprintf(stderr, "mkiso: error: %s\n", err->msg);
		int code = i2k_error_exit_code(err);
		i2k_error_free(err);
		unlink(argv[i + 2]);
		return code;
	}
	printf("%llu\n", (unsigned long long)size);
	return 0;
}
