/* fuzz_disk.c — fuzzes the disk image readers of `run qemu` and `push aws`
 * beyond fuzz_aws.c's walk: the container reader (formats/container/
 * reader.c: raw, qcow2 L1/L2, VHD footer/header/BAT) checked for
 * consistency, and run qemu's UEFI-only detection (protective MBR + GPT
 * header + entry array, provision/qemu_disk.c).
 *
 * Oracles: extents are ordered, disjoint, non-empty and inside the virtual
 * disk; every byte between two extents reads as zero (the reader promises
 * holes read as zeros); reads at offsets taken from the input succeed or
 * fail cleanly, and reading the same range twice gives the same bytes (the
 * L2 cache must not change what is read); i2k_push_boot_mode always
 * settles on a mode; i2k_qemu_disk_uefi_only reads the raw file (entry
 * array placed anywhere) without a sanitizer report; provision/esp's walk
 * (GPT → ESP → FAT12/16/32 → \EFI\BOOT\BOOTX64.EFI → its .cmdline
 * section) ends in a printable ASCII line of at most I2K_ESP_CMDLINE_MAX
 * bytes on a partition inside the disk, or in an error.
 *
 * make build/fuzzer/fuzz_disk (libFuzzer) or build/fuzz/fuzz_disk
 * (-DI2K_FUZZ_MAIN: replays files, tests/fuzz/replay.sh). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "builder/base/error.h"
#include "formats/container/reader.h"
#include "provision/aws/push.h"
#include "provision/esp.h"
#include "provision/qemu_disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buf1[1 << 16], buf2[1 << 16];

static void zero_between(struct i2k_disk_reader *r, uint64_t from, uint64_t to)
{
	/* sample the start and the end of the hole */
	uint64_t spots[2] = {from, to > sizeof(buf1) ? to - sizeof(buf1) : 0};
	for (int i = 0; i < 2; i++) {
		uint64_t at = spots[i] < from ? from : spots[i];
		if (at >= to)
			continue;
		size_t n = to - at < sizeof(buf1) ? (size_t)(to - at) : sizeof(buf1);
		struct i2k_error *e = NULL;
		if (i2k_disk_reader_read(r, at, buf1, n, &e) < 0) {
			i2k_error_free(e);
			return;
		}
		for (size_t k = 0; k < n; k++)
			if (buf1[k]) {
				fprintf(stderr, "hole byte %llu reads as %#x\n",
					(unsigned long long)(at + k), buf1[k]);
				abort();
			}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-disk", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	(void)i2k_qemu_disk_uefi_only(path);
	struct i2k_esp esp;
	char *cmdline = NULL;
	struct i2k_error *ee = NULL;
	if (i2k_esp_uki_cmdline(path, &esp, &cmdline, &ee) == 0) {
		size_t n = strlen(cmdline);
		if (n > I2K_ESP_CMDLINE_MAX || esp.sectors == 0 || esp.first_lba == 0)
			abort();
		for (size_t i = 0; i < n; i++)
			if (cmdline[i] < 0x20 || cmdline[i] > 0x7E)
				abort();
	} else if (ee == NULL || cmdline != NULL) {
		abort();
	}
	free(cmdline);
	i2k_error_free(ee);
	struct i2k_disk_reader *r = NULL;
	struct i2k_error *e = NULL;
	if (i2k_disk_reader_open(path, &r, &e) == 0) {
		uint64_t vsize = i2k_disk_reader_size(r), pos = 0, off, len;
		for (int i = 0; i < 512; i++) {
			int rc = i2k_disk_reader_next_extent(r, pos, &off, &len, &e);
			if (rc < 0)
				break;
			if (rc == 0) {
				zero_between(r, pos, vsize);
				break;
			}
			if (off < pos || len == 0 || off > vsize || len > vsize - off)
				abort();
			zero_between(r, pos, off);
			pos = off + len;
		}
		i2k_error_free(e);
		e = NULL;
		/* reads at offsets from the input, twice */
		for (size_t i = 0; i + 12 <= size && i < 96 && vsize; i += 12) {
			uint64_t at, n;
			memcpy(&at, data + i, 8);
			at %= vsize;
			n = (uint64_t)(data[i + 8] | data[i + 9] << 8) + 1;
			if (n > vsize - at)
				n = vsize - at;
			if (i2k_disk_reader_read(r, at, buf1, (size_t)n, &e) < 0) {
				i2k_error_free(e);
				e = NULL;
				continue;
			}
			if (i2k_disk_reader_read(r, at, buf2, (size_t)n, &e) < 0 ||
			    memcmp(buf1, buf2, (size_t)n) != 0)
				abort();
		}
		const char *mode = NULL;
		if (i2k_push_boot_mode(r, &mode, &e) == 0 && mode == NULL)
			abort();
		i2k_disk_reader_free(r);
	}
	i2k_error_free(e);
	close(fd);
	return 0;
}

#include "tests/fuzz/replay_main.h"
