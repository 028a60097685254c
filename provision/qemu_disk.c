/* qemu_disk.c — --disk SPEC and UEFI-only disk detection (see qemu_disk.h). */
#include "provision/qemu_disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "formats/container/qcow2.h"
#include "formats/sink.h"
#include "provision/esp.h"

int i2k_qemu_parse_size(const char *s, uint64_t *out)
{
	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || v == 0)
		return -1;
	unsigned shift = 0;
	if (*end) {
		const char *units = "KMGT";
		const char *u = strchr(units, *end >= 'a' ? *end - 32 : *end);
		if (u == NULL || *u == '\0')
			return -1;
		shift = 10u * (unsigned)(u - units + 1);
		end++;
		if (*end == 'i')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end)
			return -1;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static const char *ext_format(const char *file)
{
	if (i2k_str_has_suffix(file, ".qcow2"))
		return "qcow2";
	if (i2k_str_has_suffix(file, ".vhd"))
		return "vpc";
	return "raw";
}

int i2k_qemu_disk_parse(const char *spec, struct i2k_qemu_disk *out, struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	if (*spec == '\0')
		return i2k_error_set(err, I2K_ERR_USAGE, "--disk needs a FILE or size=S");
	if (strchr(spec, '=') == NULL) {
		out->file = i2k_xstrdup(spec);
		out->format = ext_format(spec);
		return 0;
	}
	_cleanup_free_ char *copy = i2k_xstrdup(spec);
	char *save = NULL;
	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (eq == NULL)
			goto bad;
		*eq = '\0';
		const char *v = eq + 1;
		if (strcmp(kv, "file") == 0 && *v) {
			free(out->file);
			out->file = i2k_xstrdup(v);
		} else if (strcmp(kv, "size") == 0) {
			if (i2k_qemu_parse_size(v, &out->size) < 0 || out->size % 512) {
				i2k_qemu_disk_clear(out);
				return i2k_error_set(err, I2K_ERR_USAGE,
						     "--disk \"%s\": size \"%s\" is not a size "
						     "(e.g. 4G, 512M; a multiple of 512 bytes)",
						     spec, v);
			}
		} else if (strcmp(kv, "format") == 0) {
			if (strcmp(v, "qcow2") == 0)
				out->format = "qcow2";
			else if (strcmp(v, "raw") == 0)
				out->format = "raw";
			else {
				i2k_qemu_disk_clear(out);
				return i2k_error_set(err, I2K_ERR_USAGE,
						     "--disk \"%s\": format \"%s\" is not qcow2 "
						     "or raw",
						     spec, v);
			}
		} else {
			goto bad;
		}
	}
	if (out->file == NULL && out->size == 0)
		goto bad;
	if (out->format == NULL)
		out->format = out->file ? ext_format(out->file) : "qcow2";
	return 0;
bad:
	i2k_qemu_disk_clear(out);
	return i2k_error_set(err, I2K_ERR_USAGE,
			     "--disk \"%s\": expected FILE or [file=F,]size=S[,format=qcow2|raw]",
			     spec);
}

void i2k_qemu_disk_clear(struct i2k_qemu_disk *d)
{
	free(d->file);
	memset(d, 0, sizeof(*d));
}

/* An empty qcow2 of `size` bytes: the writer over an all-hole raw file;
 * the output is cut to its last data cluster. */
static int create_qcow2(const char *path, uint64_t size, struct i2k_error **err)
{
	_cleanup_(i2k_sink_freep) struct i2k_sink *raw = NULL;
	_cleanup_(i2k_sink_freep) struct i2k_sink *out = NULL;
	int raw_fd = -1;
	if (i2k_sink_tmpfile_new(size, "empty disk", &raw, &raw_fd, err) < 0)
		return -1;
	_cleanup_free_ char *tmp = i2k_xasprintf("%s.tmp", path);
	_cleanup_close_ int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "%s", tmp);
	/* room for the metadata: L2 tables (8 bytes per cluster), L1,
	 * refcounts, header */
	uint64_t room = size / 4096 + (4u << 20);
	if (i2k_sink_file_new(fd, 0, room, tmp, &out, err) < 0 ||
	    i2k_qcow2_write(raw_fd, 0, size, out, err) < 0 || i2k_sink_finish(out, err) < 0)
		goto fail;
	off_t end = 0, pos = 0;
	for (;;) {
		off_t d = lseek(fd, pos, SEEK_DATA);
		if (d < 0)
			break;
		off_t h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			break;
		end = h;
		pos = h;
	}
	const off_t cl = (off_t)1 << I2K_QCOW2_CLUSTER_BITS;
	end = (end + cl - 1) / cl * cl;
	if (end == 0 || ftruncate(fd, end) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0) {
		i2k_error_errno(err, errno ? errno : EIO, I2K_ERR_IO, "%s", path);
		goto fail;
	}
	return 0;
fail:
	unlink(tmp);
	return -1;
}

int i2k_qemu_disk_ensure(struct i2k_qemu_disk *d, const char *state, bool *created,
			 struct i2k_error **err)
{
	*created = false;
	if (d->file == NULL)
		d->file = i2k_xasprintf("%s/disk0.%s", state, d->format);
	struct stat st;
	if (stat(d->file, &st) == 0)
		return 0;
	if (errno != ENOENT)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "--disk %s", d->file);
	if (d->size == 0)
		return i2k_error_set(err, I2K_ERR_NOTFOUND,
				     "--disk %s: no such file (give size= to create it)", d->file);
	if (strcmp(d->format, "qcow2") == 0) {
		if (create_qcow2(d->file, d->size, err) < 0)
			return -1;
	} else {
		_cleanup_close_ int fd =
		    open(d->file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return i2k_error_errno(err, errno, I2K_ERR_IO, "--disk %s", d->file);
		if (ftruncate(fd, (off_t)d->size) < 0) {
			int e = errno;
			unlink(d->file);
			return i2k_error_errno(err, e, I2K_ERR_IO, "--disk %s", d->file);
		}
	}
	*created = true;
	return 0;
}

bool i2k_qemu_disk_uefi_only(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	uint8_t s[512];
	if (pread(fd, s, sizeof(s), 0) != (ssize_t)sizeof(s) || s[510] != 0x55 || s[511] != 0xaa)
		return false;
	for (size_t i = 0; i < 440; i++)
		if (s[i] != 0)
			return false;
	_cleanup_(i2k_disk_reader_freep) struct i2k_disk_reader *r = NULL;
	struct i2k_error *e = NULL;
	struct i2k_esp esp;
	bool found = i2k_disk_reader_open(path, &r, &e) == 0 && i2k_esp_find(r, &esp, &e) == 1;
	i2k_error_free(e);
	return found;
}
