/* test_container.c — formats/container: raw, qcow2, fixed and dynamic VHD
 * from a sparse raw disk, checked with qemu-img (check, compare, info) as the
 * oracle, plus layout, determinism, sparseness and every error path. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "formats/container/container.h"
#include "formats/container/qcow2.h"
#include "formats/container/scan.h"
#include "formats/container/vhd.h"
#include "formats/sink.h"
#include "test.h"
#include "testutil.h"

#define KIB 1024ull
#define MIB (1024ull * 1024)
#define GIB (1024ull * MIB)

static const char *fmt_of(enum i2k_container_kind k)
{
	return k == I2K_CONTAINER_RAW	  ? "raw"
	       : k == I2K_CONTAINER_QCOW2 ? "qcow2"
	       : k == I2K_CONTAINER_VMDK  ? "vmdk"
					  : "vpc";
}

static char *path_in(const char *name)
{
	return i2k_xasprintf("%s/%s", tmpdir, name);
}

static bool exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

static uint64_t file_size(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static uint64_t allocated(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

/* Number of entries in dir whose name contains ".tmp-" (atomic leftovers). */
static int temp_files(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".tmp-"))
			n++;
	if (d)
		closedir(d);
	return n;
}

/* Deterministic non-zero pattern. */
static void pattern(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)((x >> 16) | 1);
	}
}

static void put(int fd, uint64_t off, size_t len, uint32_t seed)
{
	uint8_t *b = i2k_xmalloc(len);
	pattern(b, len, seed);
	CHECK(pwrite(fd, b, len, (off_t)off) == (ssize_t)len);
	free(b);
}

static void put_zeros(int fd, uint64_t off, size_t len)
{
	uint8_t *b = i2k_xcalloc(1, len);
	CHECK(pwrite(fd, b, len, (off_t)off) == (ssize_t)len);
	free(b);
}

/* A sparse raw disk of `size` bytes with data at the start, a few bytes in
 * the middle of a unit, a run crossing a 2 MiB block boundary, an allocated
 * all-zero 1 MiB region (written zeros) and the last 700 bytes. Returns an
 * fd open for reading and writing; the file is at *path. */
static int make_disk(const char *name, uint64_t size, char **path)
{
	*path = path_in(name);
	int fd = open(*path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)size) == 0);
	put(fd, 0, 4096, 1);
	put(fd, 3 * MIB + 100, 5, 2);
	put(fd, 6 * MIB - 70 * KIB, 200 * KIB, 3);
	put_zeros(fd, 10 * MIB, MIB);
	put(fd, size - 700, 700, 4);
	return fd;
}

static int write_ok(enum i2k_container_kind k, int fd, uint64_t size, const char *out,
		    const struct i2k_container_opts *o)
{
	struct i2k_error *e = NULL;
	int r = i2k_container_write_file(k, fd, 0, size, out, o, &e);
	if (r < 0)
		fprintf(stderr, "  %s: %s\n", i2k_container_kind_name(k), e ? e->msg : "?");
	i2k_error_free(e);
	return r;
}

/* Runs the oracle: qemu-img check (qcow2), compare and info. */
static void oracle(enum i2k_container_kind k, const char *raw, const char *out, uint64_t size)
{
	char cmd[2048];
	if (k == I2K_CONTAINER_QCOW2 || k == I2K_CONTAINER_VMDK) {
		snprintf(cmd, sizeof(cmd), "qemu-img check -f %s '%s' >&2", fmt_of(k), out);
		CHECK_INT(run(cmd), 0);
	}
	snprintf(cmd, sizeof(cmd), "qemu-img compare -f raw -F %s '%s' '%s' >&2", fmt_of(k), raw,
		 out);
	CHECK_INT(run(cmd), 0);
	snprintf(cmd, sizeof(cmd), "qemu-img info -f %s --output=json '%s'", fmt_of(k), out);
	_cleanup_free_ char *info = capture(cmd);
	_cleanup_free_ char *want =
	    i2k_xasprintf("\"virtual-size\": %llu,", (unsigned long long)size);
	CHECK_CONTAINS(info, want);
}

static bool same_file(const char *a, const char *b)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
	return run(cmd) == 0;
}

/* Writes disk as kind twice: oracle clean, byte-identical. Returns the
 * output path (caller frees). */
static char *roundtrip(enum i2k_container_kind k, const char *raw, int fd, uint64_t size,
		       const char *name)
{
	char *out = path_in(name);
	_cleanup_free_ char *again = i2k_xasprintf("%s.again", out);
	CHECK_INT(write_ok(k, fd, size, out, NULL), 0);
	CHECK_INT(write_ok(k, fd, size, again, NULL), 0);
	oracle(k, raw, out, size);
	CHECK(same_file(out, again));
	unlink(again);
	CHECK_INT(temp_files(tmpdir), 0);
	return out;
}

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void read_at(const char *path, uint64_t off, void *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && pread(fd, buf, n, (off_t)off) == (ssize_t)n);
	if (fd >= 0)
		close(fd);
}

/* ---- names and sizes ---------------------------------------------------------------- */

TEST(kind_names)
{
	const char *n[] = {"raw", "qcow2", "vhd", "dynamic-vhd", "vmdk", "gcp"};
	enum i2k_container_kind want[] = {I2K_CONTAINER_RAW,	   I2K_CONTAINER_QCOW2,
					  I2K_CONTAINER_VHD_FIXED, I2K_CONTAINER_VHD_DYNAMIC,
					  I2K_CONTAINER_VMDK,	   I2K_CONTAINER_GCP};
	struct i2k_error *e = NULL;
	for (size_t i = 0; i < 6; i++) {
		enum i2k_container_kind k = I2K_CONTAINER_RAW;
		CHECK_INT(i2k_container_kind_from_name(n[i], &k, &e), 0);
		CHECK_INT(k, want[i]);
		CHECK_STR(i2k_container_kind_name(k), n[i]);
	}
	enum i2k_container_kind k;
	CHECK_INT(i2k_container_kind_from_name("vdi", &k, &e), -1);
	CHECK(e && e->code == I2K_ERR_USAGE);
	CHECK_STR(e ? e->msg : NULL, "unknown disk container \"vdi\" (expected raw, qcow2, vhd, "
				     "dynamic-vhd, vmdk or gcp)");
	i2k_error_freep(&e);
	CHECK_INT(i2k_container_kind_from_name(NULL, &k, &e), -1);
	i2k_error_freep(&e);
	CHECK_STR(i2k_container_kind_name((enum i2k_container_kind)9), "?");
}

TEST(vhd_geometry_and_round_size)
{
	uint16_t c;
	uint8_t h, s;
	i2k_vhd_geometry(155 * MIB, &c, &h, &s);
	CHECK(c == 640 && h == 16 && s == 31);
	i2k_vhd_geometry(17 * MIB, &c, &h, &s);
	CHECK(c == 512 && h == 4 && s == 17);
	i2k_vhd_geometry(200 * GIB, &c, &h, &s); /* capped at the maximum */
	CHECK(c == 65535 && h == 16 && s == 255);
	CHECK_INT(i2k_vhd_round_size(0), 17 * MIB);
	CHECK_INT(i2k_vhd_round_size(1), 17 * MIB);
	CHECK_INT(i2k_vhd_round_size(64 * MIB), 155 * MIB);
	CHECK_INT(i2k_vhd_round_size(GIB), 1071 * MIB);
	CHECK_INT(i2k_vhd_round_size(10 * GIB), 10269 * MIB);
	CHECK_INT(i2k_vhd_round_size(200 * GIB + 1), 200 * GIB + MIB);
	CHECK_INT(i2k_vhd_round_size(I2K_VHD_MAX_SIZE + 5), I2K_VHD_MAX_SIZE + MIB);
	/* Every result: whole MiB, exact CHS (or past the CHS maximum),
	 * idempotent, at most 254 MiB above the request. */
	int bad = 0;
	for (uint64_t m = 1; m < 131000; m += 37) {
		uint64_t r = i2k_vhd_round_size(m * MIB - 3);
		i2k_vhd_geometry(r, &c, &h, &s);
		bool exact = (uint64_t)c * h * s * 512 == r || r / 512 >= 65535ull * 16 * 255;
		if (r % MIB || !exact || i2k_vhd_round_size(r) != r || r - m * MIB > 254 * MIB)
			bad++;
	}
	CHECK_INT(bad, 0);
	CHECK_INT(i2k_container_round_size(I2K_CONTAINER_QCOW2, 1000), 1024);
	CHECK_INT(i2k_container_round_size(I2K_CONTAINER_RAW, 1024), 1024);
	CHECK_INT(i2k_container_round_size(I2K_CONTAINER_VHD_DYNAMIC, 64 * MIB), 155 * MIB);
}

TEST(scan_skips_holes_and_zero_units)
{
	_cleanup_free_ char *raw = NULL;
	uint64_t size = 64 * MIB + 3 * 512;
	int fd = make_disk("scan.raw", size, &raw);
	struct i2k_scan s;
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_scan_init(&s, fd, 0, size, &e), 0);
	uint64_t offs[16], off;
	const uint8_t *d;
	int n = 0, r;
	while ((r = i2k_scan_next(&s, &off, &d, &e)) > 0 && n < 16)
		offs[n++] = off;
	CHECK_INT(r, 0);
	/* 0; 3 MiB; 6 MiB-128K .. 6 MiB+128K (5 units); last unit */
	uint64_t want[] = {0,
			   3 * MIB,
			   6 * MIB - 128 * KIB,
			   6 * MIB - 64 * KIB,
			   6 * MIB,
			   6 * MIB + 64 * KIB,
			   6 * MIB + 128 * KIB,
			   64 * MIB};
	CHECK_INT(n, 8);
	for (int i = 0; i < n && i < 8; i++)
		CHECK_INT(offs[i], want[i]);
	CHECK(s.bytes_read < 4 * MIB); /* holes were not read */
	i2k_scan_release(&s);
	CHECK(i2k_scan_is_zero((const uint8_t *)"\0\0\0", 3));
	CHECK(!i2k_scan_is_zero((const uint8_t *)"\0\0\1", 3));
	close(fd);
	unlink(raw);
}

/* ---- the four containers against qemu-img ------------------------------------------- */

TEST(raw_copy_is_sparse_and_equal)
{
	_cleanup_free_ char *raw = NULL;
	uint64_t size = 64 * MIB + 3 * 512;
	int fd = make_disk("r.raw", size, &raw);
	_cleanup_free_ char *out = roundtrip(I2K_CONTAINER_RAW, raw, fd, size, "r.img");
	CHECK_INT(file_size(out), size);
	CHECK(same_file(raw, out));
	/* data: 4 KiB + 5 B + 200 KiB + 700 B, each in 64 KiB units; the zero MiB is
	 * not allocated */
	CHECK(allocated(out) <= 8 * 64 * KIB);
	close(fd);
	unlink(raw);
	unlink(out);
}

TEST(qcow2_layout_and_oracle)
{
	_cleanup_free_ char *raw = NULL;
	uint64_t size = 64 * MIB + 3 * 512;
	int fd = make_disk("q.raw", size, &raw);
	_cleanup_free_ char *out = roundtrip(I2K_CONTAINER_QCOW2, raw, fd, size, "q.qcow2");
	uint8_t h[112];
	read_at(out, 0, h, sizeof(h));
	CHECK(memcmp(h, "QFI\xfb", 4) == 0);
	CHECK_INT(be(h + 4, 4), 3);
	CHECK_INT(be(h + 20, 4), 16);
	CHECK_INT(be(h + 24, 8), size);
	CHECK_INT(be(h + 36, 4), 1); /* one L1 entry: 512 MiB per L2 table */
	CHECK_INT(be(h + 96, 4), 4); /* 16-bit refcounts */
	CHECK_INT(be(h + 100, 4), 104);
	CHECK_INT(be(h + 104, 8), 0); /* end of extensions */
	/* header + 8 data clusters + 1 L2 + 1 L1 + 1 refcount table + 1 block */
	CHECK_INT(file_size(out), (1 + 8 + 4) * 64 * KIB);
	CHECK_INT(be(h + 40, 8), 10 * 64 * KIB); /* L1 after data and L2 */
	CHECK_INT(be(h + 48, 8), 11 * 64 * KIB); /* refcount table */
	/* The allocated-but-zero MiB is unallocated in the image. */
	_cleanup_free_ char *cmd = i2k_xasprintf(
	    "qemu-img map -f qcow2 --output=json '%s' | grep -c '\"data\": true'", out);
	_cleanup_free_ char *map = capture(cmd);
	CHECK_STR(map, "4\n"); /* runs: [0,64K) [3M,+64K) [6M-128K,+320K) [64M,end) */
	close(fd);
	unlink(raw);
	unlink(out);
}

TEST(qcow2_empty_and_multi_l2)
{
	/* all-zero disk: no data, no L2 */
	_cleanup_free_ char *raw = path_in("e.raw");
	int fd = open(raw, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)(3 * MIB)) == 0);
	_cleanup_free_ char *out = roundtrip(I2K_CONTAINER_QCOW2, raw, fd, 3 * MIB, "e.qcow2");
	CHECK_INT(file_size(out), 4 * 64 * KIB);
	close(fd);
	unlink(out);
	/* 1.5 GiB + 512 with data in L2 ranges 0 and 2 only (and the last byte) */
	uint64_t size = 3 * 512 * MIB + 512;
	fd = open(raw, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)size) == 0);
	put(fd, 512 * MIB - 10, 20, 7); /* crosses the L2 boundary: ranges 0 and 1 */
	put(fd, 1100 * MIB, 3 * 64 * KIB, 8);
	put(fd, size - 1, 1, 9);
	_cleanup_free_ char *big = roundtrip(I2K_CONTAINER_QCOW2, raw, fd, size, "big.qcow2");
	uint8_t h[112];
	read_at(big, 0, h, sizeof(h));
	CHECK_INT(be(h + 36, 4), 4); /* ceil((1.5 GiB + 512) / 512 MiB) */
	/* header + 2 + 3 + 1 data clusters + 4 L2 (ranges 0,1,2,3) + L1 + RT + RB */
	CHECK_INT(file_size(big), (1 + 6 + 4 + 3) * 64 * KIB);
	close(fd);
	unlink(raw);
	unlink(big);
}

static void check_footer(const uint8_t *f, uint64_t size, int type)
{
	CHECK(memcmp(f, "conectix", 8) == 0);
	CHECK_INT(be(f + 8, 4), 2);
	CHECK_INT(be(f + 12, 4), 0x00010000);
	CHECK_INT(be(f + 16, 8), type == 2 ? UINT64_MAX : 512);
	CHECK_INT(be(f + 24, 4), 1700000000 - 946684800); /* SOURCE_DATE_EPOCH set in main */
	CHECK(memcmp(f + 28, "i2k ", 4) == 0);
	CHECK(memcmp(f + 36, "Wi2k", 4) == 0);
	CHECK_INT(be(f + 40, 8), size);
	CHECK_INT(be(f + 48, 8), size);
	uint16_t c;
	uint8_t hh, s;
	i2k_vhd_geometry(size, &c, &hh, &s);
	CHECK_INT(be(f + 56, 2), c);
	CHECK_INT(f[58], hh);
	CHECK_INT(f[59], s);
	CHECK_INT((uint64_t)c * hh * s * 512, size);
	CHECK_INT(be(f + 60, 4), type);
	uint32_t sum = 0;
	for (int i = 0; i < 512; i++)
		sum += (i >= 64 && i < 68) ? 0 : f[i];
	CHECK_INT(be(f + 64, 4), (uint32_t)~sum);
	CHECK((f[68 + 6] & 0xf0) == 0x40 && (f[68 + 8] & 0xc0) == 0x80);
	CHECK_INT(f[84], 0);
}

TEST(vhd_fixed_oracle_and_footer)
{
	_cleanup_free_ char *raw = NULL;
	uint64_t size = i2k_vhd_round_size(64 * MIB);
	int fd = make_disk("f.raw", size, &raw);
	_cleanup_free_ char *out = roundtrip(I2K_CONTAINER_VHD_FIXED, raw, fd, size, "f.vhd");
	CHECK_INT(file_size(out), size + 512);
	uint8_t f[512];
	read_at(out, size, f, 512);
	check_footer(f, size, 2);
	CHECK(allocated(out) <= 9 * 64 * KIB); /* sparse: 8 units + the footer */
	/* the first size bytes are the raw disk */
	_cleanup_free_ char *cmd =
	    i2k_xasprintf("cmp -s -n %llu '%s' '%s'", (unsigned long long)size, raw, out);
	CHECK_INT(run(cmd), 0);
	close(fd);
	unlink(raw);
	unlink(out);
}

TEST(vhd_dynamic_oracle_and_layout)
{
	_cleanup_free_ char *raw = NULL;
	uint64_t size = i2k_vhd_round_size(64 * MIB); /* 155 MiB: 78 blocks, last one partial */
	int fd = make_disk("d.raw", size, &raw);
	_cleanup_free_ char *out = roundtrip(I2K_CONTAINER_VHD_DYNAMIC, raw, fd, size, "d.vhd");
	uint8_t f[512], tail[512], dh[1024];
	read_at(out, 0, f, 512);
	check_footer(f, size, 3);
	uint64_t fsz = file_size(out);
	read_at(out, fsz - 512, tail, 512);
	CHECK(memcmp(f, tail, 512) == 0);
	read_at(out, 512, dh, 1024);
	CHECK(memcmp(dh, "cxsparse", 8) == 0);
	CHECK_INT(be(dh + 8, 8), UINT64_MAX);
	CHECK_INT(be(dh + 16, 8), 1536);
	CHECK_INT(be(dh + 24, 4), 0x00010000);
	CHECK_INT(be(dh + 28, 4), 78);
	CHECK_INT(be(dh + 32, 4), 2 * MIB);
	uint32_t sum = 0;
	for (int i = 0; i < 1024; i++)
		sum += (i >= 36 && i < 40) ? 0 : dh[i];
	CHECK_INT(be(dh + 36, 4), (uint32_t)~sum);
	/* data blocks: 0 (start), 1 (3 MiB), 2 (6 MiB-70K..), 3 (..6 MiB+130K), 77 (end) */
	uint8_t bat[78 * 4];
	read_at(out, 1536, bat, sizeof(bat));
	uint64_t data_start = 1536 + 512; /* 312 bytes of BAT → one sector */
	uint64_t blk = 512 + 2 * MIB;
	int allocated_blocks = 0;
	for (int i = 0; i < 78; i++) {
		uint64_t v = be(bat + 4 * i, 4);
		if (v == 0xffffffff)
			continue;
		CHECK_INT(v * 512, data_start + (uint64_t)allocated_blocks * blk);
		allocated_blocks++;
	}
	CHECK_INT(allocated_blocks, 5);
	CHECK_INT(be(bat + 4 * 5, 4), 0xffffffff); /* 10 MiB of written zeros */
	CHECK_INT(fsz, data_start + 5 * blk + 512);
	CHECK(allocated(out) < 2 * MIB); /* zero units inside blocks are holes */
	close(fd);
	unlink(raw);
	unlink(out);
}

TEST(vmdk_stream_optimized_oracle)
{
	_cleanup_free_ char *raw = NULL;
	uint64_t size = 40 * MIB; /* two grain tables: 32 MiB each */
	int fd = make_disk("v.raw", size, &raw);
	put(fd, 35 * MIB, 3000, 6); /* a grain in the second table */
	_cleanup_free_ char *out = roundtrip(I2K_CONTAINER_VMDK, raw, fd, size, "v.vmdk");
	uint8_t h[512];
	read_at(out, 0, h, sizeof(h));
	CHECK(memcmp(h, "KDMV", 4) == 0);
	CHECK_INT(i2k_get_le32(h + 4), 3);	     /* version 3 */
	CHECK_INT(i2k_get_le64(h + 56), UINT64_MAX); /* GD at end */
	CHECK_INT(i2k_get_le64(h + 12), size / 512); /* capacity */
	_cleanup_free_ char *cmd = i2k_xasprintf("qemu-img info -f vmdk '%s'", out);
	_cleanup_free_ char *info = capture(cmd);
	CHECK_CONTAINS(info, "create type: streamOptimized");
	CHECK_CONTAINS(info, "compressed: true");
	/* the footer holds the real directory offset; the stream ends with EOS */
	uint64_t end = file_size(out);
	uint8_t tail[1024];
	read_at(out, end - 1024, tail, sizeof(tail));
	CHECK(i2k_get_le64(tail + 56) != UINT64_MAX && i2k_get_le64(tail + 56) < end / 512);
	read_at(out, end - 512, tail, 512);
	CHECK(i2k_scan_is_zero(tail, 512));
	close(fd);
	unlink(raw);
	unlink(out);
}

TEST(gcp_tar_gz)
{
	_cleanup_free_ char *raw = NULL;
	uint64_t size = 8 * MIB;
	int fd = make_disk("g.raw", size, &raw);
	_cleanup_free_ char *out = path_in("g.img.tar.gz");
	CHECK_INT(write_ok(I2K_CONTAINER_GCP, fd, size, out, NULL), 0);
	CHECK_INT(i2k_container_round_size(I2K_CONTAINER_GCP, 1), 1ull << 30);
	CHECK_INT(i2k_container_round_size(I2K_CONTAINER_GCP, 1ull << 30), 1ull << 30);
	_cleanup_free_ char *cmd = i2k_xasprintf("tar -tvzf '%s'", out);
	_cleanup_free_ char *list = capture(cmd);
	CHECK_CONTAINS(list, " 8388608 ");
	CHECK_CONTAINS(list, "disk.raw");
	free(cmd);
	cmd = i2k_xasprintf("tar -xzOf '%s' disk.raw | cmp -n %llu - '%s'", out,
			    (unsigned long long)size, raw);
	CHECK_INT(run(cmd), 0);
	close(fd);
	unlink(raw);
	unlink(out);
}

TEST(vhd_unique_ids)
{
	_cleanup_free_ char *raw = NULL;
	uint64_t size = 17 * MIB;
	int fd = make_disk("u.raw", size, &raw);
	_cleanup_free_ char *a = path_in("u1.vhd"), *b = path_in("u2.vhd"), *c = path_in("u3.vhd");
	struct i2k_container_opts o = {.has_uuid_seed = true};
	memset(o.uuid_seed, 0x11, 32);
	uint8_t ua[16], ub[16], uc[16], ud[16], ue[16];
	CHECK_INT(write_ok(I2K_CONTAINER_VHD_FIXED, fd, size, a, &o), 0);
	read_at(a, size + 68, ua, 16);
	o.uuid_seed[31] = 0x12;
	CHECK_INT(write_ok(I2K_CONTAINER_VHD_FIXED, fd, size, b, &o), 0);
	read_at(b, size + 68, ub, 16);
	CHECK(memcmp(ua, ub, 16) != 0); /* seed matters */
	CHECK_INT(write_ok(I2K_CONTAINER_VHD_DYNAMIC, fd, size, c, &o), 0);
	read_at(c, 68, uc, 16);
	CHECK(memcmp(ub, uc, 16) != 0); /* type matters */
	CHECK_INT(write_ok(I2K_CONTAINER_VHD_FIXED, fd, size, a, NULL), 0);
	read_at(a, size + 68, ud, 16);
	CHECK(memcmp(ud, ua, 16) != 0 && memcmp(ud, ub, 16) != 0);
	put(fd, 5 * MIB, 1, 99); /* content matters without a seed */
	CHECK_INT(write_ok(I2K_CONTAINER_VHD_FIXED, fd, size, a, NULL), 0);
	read_at(a, size + 68, ue, 16);
	CHECK(memcmp(ud, ue, 16) != 0);
	close(fd);
	unlink(raw);
	unlink(a);
	unlink(b);
	unlink(c);
}

/* A sink that is not a file: i2k_sink_fd() says -1. */
static int nofile_io(struct i2k_sink *s, uint64_t off, void *buf, size_t len, struct i2k_error **e)
{
	return 0;
}
static int nofile_wr(struct i2k_sink *s, uint64_t off, const void *buf, size_t len,
		     struct i2k_error **e)
{
	return 0;
}
static const struct i2k_sink_ops nofile_ops = {.write_at = nofile_wr, .read_at = nofile_io};

TEST(from_sinks)
{
	struct i2k_sink *disk = NULL, *part = NULL;
	struct i2k_error *e = NULL;
	int fd = -1;
	CHECK_INT(i2k_sink_tmpfile_new(8 * MIB, "disk", &disk, &fd, &e), 0);
	CHECK_INT(i2k_sink_window_new(disk, MIB, 2 * MIB, "part", &part, &e), 0);
	uint8_t b[1000];
	pattern(b, sizeof(b), 5);
	CHECK_INT(i2k_sink_write_at(part, 70000, b, sizeof(b), &e), 0);
	_cleanup_free_ char *out = path_in("p.qcow2"), *ref = path_in("p.raw");
	uint64_t base = 0;
	int pfd = i2k_sink_fd(part, &base);
	CHECK_INT(base, MIB);
	CHECK_INT(
	    i2k_container_write_file(I2K_CONTAINER_QCOW2, pfd, base, part->size, out, NULL, &e), 0);
	CHECK_INT(i2k_container_write_file(I2K_CONTAINER_RAW, pfd, base, part->size, ref, NULL, &e),
		  0);
	CHECK_INT(file_size(ref), 2 * MIB);
	uint8_t got[1000];
	read_at(ref, 70000, got, sizeof(got));
	CHECK(memcmp(got, b, sizeof(b)) == 0);
	oracle(I2K_CONTAINER_QCOW2, ref, out, 2 * MIB);
	struct i2k_sink nf = {.ops = &nofile_ops, .size = MIB, .name = "memory disk"};
	CHECK_INT(i2k_container_write(I2K_CONTAINER_RAW, &nf, part, NULL, &e), -1);
	CHECK(e && e->code == I2K_ERR_INTERNAL);
	CHECK_STR(e ? e->msg : NULL, "memory disk is not a file sink");
	i2k_error_freep(&e);
	i2k_sink_free(part);
	i2k_sink_free(disk);
	unlink(out);
	unlink(ref);
}

/* ---- the sink seam: a recording sink sees the disk as a stream ------------ */

/* Records every call: what an upload sink (EBS) would receive. */
struct rec_call {
	bool zero;
	uint64_t off, len;
	bool all_zero_data; /* a write whose bytes are all zero */
};
struct rec_sink {
	struct i2k_sink base;
	struct rec_call calls[256];
	size_t n;
	uint8_t *image; /* what the sink's target holds */
};
static int rec_write(struct i2k_sink *s, uint64_t off, const void *buf, size_t len,
		     struct i2k_error **e)
{
	struct rec_sink *r = (struct rec_sink *)s;
	CHECK(r->n < I2K_ARRAY_SIZE(r->calls));
	if (r->n < I2K_ARRAY_SIZE(r->calls))
		r->calls[r->n++] = (struct rec_call){
		    .off = off, .len = len, .all_zero_data = i2k_scan_is_zero(buf, len)};
	memcpy(r->image + off, buf, len);
	return 0;
}
static int rec_zero(struct i2k_sink *s, uint64_t off, uint64_t len, struct i2k_error **e)
{
	struct rec_sink *r = (struct rec_sink *)s;
	if (r->n < I2K_ARRAY_SIZE(r->calls))
		r->calls[r->n++] = (struct rec_call){.zero = true, .off = off, .len = len};
	memset(r->image + off, 0, len);
	return 0;
}
static int rec_read(struct i2k_sink *s, uint64_t off, void *buf, size_t len, struct i2k_error **e)
{
	memcpy(buf, ((struct rec_sink *)s)->image + off, len);
	return 0;
}
static void rec_destroy(struct i2k_sink *s)
{
}
static const struct i2k_sink_ops rec_ops = {
    .write_at = rec_write, .read_at = rec_read, .zero = rec_zero, .destroy = rec_destroy};

TEST(raw_into_recording_sink)
{
	_cleanup_free_ char *raw = NULL;
	uint64_t size = 16 * MIB;
	int fd = make_disk("rec.raw", size, &raw);
	struct rec_sink r = {.base = {.ops = &rec_ops, .size = size, .name = "recorder"}};
	r.image = i2k_xmalloc(size);
	memset(r.image, 0xAA, size); /* every byte must be covered by a call */
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_container_write_fd(I2K_CONTAINER_RAW, fd, 0, size, &r.base, NULL, &e), 0);
	i2k_error_free(e);
	/* calls are in increasing order, contiguous, and cover the whole disk */
	uint64_t at = 0, written = 0;
	for (size_t i = 0; i < r.n; i++) {
		CHECK_INT(r.calls[i].off, at);
		at = r.calls[i].off + r.calls[i].len;
		if (!r.calls[i].zero) {
			CHECK(!r.calls[i].all_zero_data); /* zero blocks are never sent */
			written += r.calls[i].len;
		}
	}
	CHECK_INT(at, size);
	/* data units: at 0, at 3 MiB, 6016..6336 KiB (5 units: the run
	 * crosses unit boundaries), the last; the written zero MiB at 10 MiB
	 * is not sent */
	CHECK_INT(written, 8 * I2K_SCAN_UNIT);
	uint8_t *want = i2k_xmalloc(size);
	CHECK(pread(fd, want, size, 0) == (ssize_t)size);
	CHECK(memcmp(want, r.image, size) == 0);
	free(want);
	free(r.image);
	close(fd);
	unlink(raw);
}

/* ---- errors: nothing under the final name ------------------------------------------- */

static void expect_fail(enum i2k_container_kind k, int fd, uint64_t size, const char *out,
			enum i2k_errc code, const char *msg)
{
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_container_write_file(k, fd, 0, size, out, NULL, &e), -1);
	CHECK(e && e->code == code);
	_cleanup_free_ char *want = i2k_xasprintf("writing %s: %s", out, msg);
	CHECK_STR(e ? e->msg : NULL, want);
	i2k_error_free(e);
	CHECK(!exists(out));
	CHECK_INT(temp_files(tmpdir), 0);
}

TEST(bad_sizes)
{
	_cleanup_free_ char *raw = NULL;
	int fd = make_disk("b.raw", 20 * MIB, &raw);
	_cleanup_free_ char *out = path_in("b.out");
	expect_fail(I2K_CONTAINER_QCOW2, fd, 0, out, I2K_ERR_USAGE, "empty disk");
	expect_fail(I2K_CONTAINER_QCOW2, fd, MIB + 1, out, I2K_ERR_USAGE,
		    "disk size 1048577 is not a multiple of 512 bytes");
	expect_fail(I2K_CONTAINER_VHD_FIXED, fd, MIB + 1, out, I2K_ERR_USAGE,
		    "disk size 1048577 is not a multiple of 512 bytes");
	expect_fail(I2K_CONTAINER_VHD_DYNAMIC, fd, 20 * MIB, out, I2K_ERR_USAGE,
		    "VHD disk size 20971520 is not a valid VHD size (use i2k_vhd_round_size: "
		    "162529280)");
	expect_fail(I2K_CONTAINER_VHD_FIXED, fd, 3000 * GIB, out, I2K_ERR_UNSUPPORTED,
		    "VHD disk size 3221225472000 exceeds the format's limit of 2040 GiB");
	expect_fail(I2K_CONTAINER_QCOW2, fd, 65 * 1024 * GIB, out, I2K_ERR_UNSUPPORTED,
		    "disk size 71468255805440 exceeds the qcow2 writer's limit of 64 TiB");
	expect_fail(I2K_CONTAINER_RAW, fd, 21 * MIB, out, I2K_ERR_INTERNAL,
		    "raw disk is shorter than its size (20971520 < 22020096 bytes)");
	expect_fail((enum i2k_container_kind)7, fd, MIB, out, I2K_ERR_USAGE,
		    "unknown disk container kind 7");
	/* a raw disk that cannot be read */
	int wo = open(raw, O_WRONLY);
	expect_fail(I2K_CONTAINER_RAW, wo, MIB, out, I2K_ERR_IO,
		    "raw disk: read: Bad file descriptor");
	close(wo);
	/* an output directory that does not exist */
	struct i2k_error *e = NULL;
	_cleanup_free_ char *nodir = path_in("missing/x.qcow2");
	CHECK_INT(i2k_container_write_file(I2K_CONTAINER_QCOW2, fd, 0, MIB, nodir, NULL, &e), -1);
	CHECK(e && e->code == I2K_ERR_IO);
	CHECK_CONTAINS(e ? e->msg : NULL, "No such file or directory");
	i2k_error_free(e);
	close(fd);
	unlink(raw);
}

TEST(interrupt_leaves_nothing)
{
	_cleanup_free_ char *raw = NULL;
	uint64_t size = i2k_vhd_round_size(64 * MIB);
	int fd = make_disk("i.raw", size, &raw);
	_cleanup_free_ char *out = path_in("i.out");
	enum i2k_container_kind kinds[] = {I2K_CONTAINER_RAW,	    I2K_CONTAINER_QCOW2,
					   I2K_CONTAINER_VHD_FIXED, I2K_CONTAINER_VHD_DYNAMIC,
					   I2K_CONTAINER_VMDK,	    I2K_CONTAINER_GCP};
	for (size_t i = 0; i < 6; i++) {
		i2k_interrupted = 1;
		expect_fail(kinds[i], fd, size, out, I2K_ERR_INTERRUPTED, "interrupted");
		i2k_interrupted = 0;
	}
	/* an existing output survives a failed write untouched */
	CHECK_INT(i2k_write_file_atomic(out, "old", 3, 0644, NULL), 0);
	i2k_interrupted = 1;
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_container_write_file(I2K_CONTAINER_QCOW2, fd, 0, size, out, NULL, &e), -1);
	i2k_interrupted = 0;
	i2k_error_free(e);
	_cleanup_free_ char *old = read_text(out);
	CHECK_STR(old, "old");
	CHECK_INT(temp_files(tmpdir), 0);
	close(fd);
	unlink(raw);
	unlink(out);
}

/* Disk full: every kind on a 1 MiB tmpfs (if we may mount one) and under
 * RLIMIT_FSIZE (in a child). */
static void full_in(const char *dir, const char *raw, int fd, uint64_t size, const char *why)
{
	enum i2k_container_kind kinds[] = {I2K_CONTAINER_RAW, I2K_CONTAINER_QCOW2,
					   I2K_CONTAINER_VHD_FIXED, I2K_CONTAINER_VHD_DYNAMIC};
	for (size_t i = 0; i < 4; i++) {
		_cleanup_free_ char *out = i2k_xasprintf("%s/full.img", dir);
		struct i2k_error *e = NULL;
		CHECK_INT(i2k_container_write_file(kinds[i], fd, 0, size, out, NULL, &e), -1);
		CHECK(e && e->code == I2K_ERR_IO);
		CHECK_CONTAINS(e ? e->msg : NULL, why);
		CHECK_CONTAINS(e ? e->msg : NULL, out);
		i2k_error_free(e);
		CHECK(!exists(out));
		CHECK_INT(temp_files(dir), 0);
	}
}

TEST(disk_full_leaves_nothing)
{
	_cleanup_free_ char *raw = NULL;
	uint64_t size = i2k_vhd_round_size(64 * MIB);
	int fd = make_disk("full.raw", size, &raw);
	put(fd, 20 * MIB, 3 * MIB, 11); /* more data than the 1 MiB tmpfs holds */
	_cleanup_free_ char *mnt = path_in("mnt");
	CHECK(mkdir(mnt, 0755) == 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") == 0) {
		full_in(mnt, raw, fd, size, "no space left on device");
		CHECK(umount(mnt) == 0);
	} else {
		fprintf(stderr, "  note: cannot mount tmpfs (%s); RLIMIT_FSIZE only\n",
			strerror(errno));
	}
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = {MIB, MIB};
		setrlimit(RLIMIT_FSIZE, &rl);
		int before = t_failed_checks;
		full_in(mnt, raw, fd, size, "File too large");
		_exit(t_failed_checks == before ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	rmdir(mnt);
	close(fd);
	unlink(raw);
}

int main(void)
{
	t_prog = "test_container";
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	make_tmpdir();
	if (run("qemu-img --version >/dev/null") != 0) {
		printf("FAIL: test_container/oracle: qemu-img (qemu-utils) is not installed\n");
		return 1;
	}
	RUN(kind_names);
	RUN(vhd_geometry_and_round_size);
	RUN(scan_skips_holes_and_zero_units);
	RUN(raw_copy_is_sparse_and_equal);
	RUN(qcow2_layout_and_oracle);
	RUN(qcow2_empty_and_multi_l2);
	RUN(vhd_fixed_oracle_and_footer);
	RUN(vhd_dynamic_oracle_and_layout);
	RUN(vhd_unique_ids);
	RUN(vmdk_stream_optimized_oracle);
	RUN(gcp_tar_gz);
	RUN(from_sinks);
	RUN(raw_into_recording_sink);
	RUN(bad_sizes);
	RUN(interrupt_leaves_nothing);
	RUN(disk_full_leaves_nothing);
	_cleanup_free_ char *cmd = i2k_xasprintf("rm -rf '%s'", tmpdir);
	run(cmd);
	return TEST_DONE();
}
