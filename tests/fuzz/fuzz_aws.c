/* fuzz_aws.c — fuzzes the parsers of outside data in the AWS push path:
 * the disk image reader (formats/container/reader.c: raw/qcow2/VHD headers,
 * L1/L2 tables, BAT, GPT for the boot mode), the EC2 DescribeImages XML
 * parser and the EBS StartSnapshot JSON parser.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. $(pkg-config --cflags libxml-2.0) \
 *       tests/fuzz/fuzz_aws.c build/libi2k-asan.a $(pkg-config --libs ...)
 * or replay files with -DI2K_FUZZ_MAIN (tests/fuzz/replay.sh does).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "builder/base/error.h"
#include "formats/container/reader.h"
#include "provision/aws/ebs.h"
#include "provision/aws/ec2.h"
#include "provision/aws/push.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_disk(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-disk", 0);
	if (fd < 0)
		return;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct i2k_disk_reader *r = NULL;
	struct i2k_error *e = NULL;
	if (i2k_disk_reader_open(path, &r, &e) == 0) {
		uint64_t size_v = i2k_disk_reader_size(r), pos = 0, off, len;
		static uint8_t buf[65536];
		for (int i = 0; i < 256; i++) {
			int rc = i2k_disk_reader_next_extent(r, pos, &off, &len, &e);
			if (rc <= 0)
				break;
			if (off < pos || off + len > size_v || len == 0)
				abort(); /* contract: extents move forward inside the disk */
			size_t n = len < sizeof(buf) ? (size_t)len : sizeof(buf);
			if (i2k_disk_reader_read(r, off, buf, n, &e) < 0)
				break;
			pos = off + len;
		}
		i2k_error_free(e);
		e = NULL;
		const char *mode = NULL;
		if (i2k_push_boot_mode(r, &mode, &e) == 0 && mode == NULL)
			abort();
		i2k_disk_reader_free(r);
	}
	i2k_error_free(e);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_disk(data, size);
	char *s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	struct i2k_error *e = NULL;
	xmlDoc *doc = NULL;
	if (i2k_aws_xml_parse(s, size, &doc, &e) == 0) {
		struct i2k_ec2_image *im = NULL;
		size_t n = 0;
		if (i2k_ec2_parse_images(doc, &im, &n, &e) == 0)
			for (size_t i = 0; i < n; i++)
				if (im[i].id == NULL)
					abort(); /* contract: every image has an id */
		i2k_ec2_images_free(im, n);
		xmlFreeDoc(doc);
	}
	i2k_error_free(e);
	e = NULL;
	char *snap = NULL;
	uint32_t bs = 0;
	if (i2k_ebs_parse_start(s, &snap, &bs, &e) == 0 && snap == NULL)
		abort();
	free(snap);
	i2k_error_free(e);
	free(s);
	return 0;
}

#include "tests/fuzz/replay_main.h"
