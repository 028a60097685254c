/* push.c — disk image file → EBS block sink → AMI (see push.h). */
#include "provision/aws/push.h"

#include <string.h>

#include <openssl/sha.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "provision/esp.h"

int i2k_push_boot_mode(struct i2k_disk_reader *r, const char **mode, struct i2k_error **err)
{
	struct i2k_esp esp;
	int found = i2k_esp_find(r, &esp, err);
	if (found < 0)
		return -1;
	*mode = found ? "uefi" : "legacy-bios";
	return 0;
}

char *i2k_push_default_name(const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	char *n = i2k_xstrdup(b);
	static const char *const ext[] = {".img", ".raw", ".qcow2", ".vhd"};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(ext); i++)
		if (i2k_str_has_suffix(n, ext[i]) && strlen(n) > strlen(ext[i])) {
			n[strlen(n) - strlen(ext[i])] = '\0';
			break;
		}
	return n;
}

typedef int (*block_fn)(uint64_t index, const uint8_t *buf, size_t len, void *ctx,
			struct i2k_error **err);

/* Calls fn for every 512 KiB block that overlaps a data extent, in order,
 * with the block's bytes (len = 512 KiB, or less for a short last block). */
static int each_block(struct i2k_disk_reader *r, uint8_t *buf, block_fn fn, void *ctx,
		      struct i2k_error **err)
{
	uint64_t size = i2k_disk_reader_size(r), pos = 0, off, len;
	int rc;
	while ((rc = i2k_disk_reader_next_extent(r, pos, &off, &len, err)) > 0) {
		uint64_t b0 = off / I2K_EBS_BLOCK, b1 = (off + len - 1) / I2K_EBS_BLOCK;
		for (uint64_t b = b0; b <= b1; b++) {
			uint64_t start = b * I2K_EBS_BLOCK;
			size_t n =
			    size - start < I2K_EBS_BLOCK ? (size_t)(size - start) : I2K_EBS_BLOCK;
			if (i2k_disk_reader_read(r, start, buf, n, err) < 0)
				return -1;
			if (i2k_check_interrupt(err) < 0)
				return -1;
			if (fn(b, buf, n, ctx, err) < 0)
				return -1;
		}
		pos = (b1 + 1) * I2K_EBS_BLOCK;
	}
	return rc;
}

static int digest_block(uint64_t index, const uint8_t *buf, size_t len, void *ctx,
			struct i2k_error **err)
{
	struct i2k_ebs_digest *d = ctx;
	if (buf[0] == 0 && memcmp(buf, buf + 1, len - 1) == 0)
		return 0;
	uint8_t md[32];
	if (len < I2K_EBS_BLOCK) { /* zero-padded, as uploaded */
		_cleanup_free_ uint8_t *pad = i2k_xcalloc(1, I2K_EBS_BLOCK);
		memcpy(pad, buf, len);
		SHA256(pad, I2K_EBS_BLOCK, md);
	} else {
		SHA256(buf, len, md);
	}
	i2k_ebs_digest_block(d, index, md);
	return 0;
}

static int sink_block(uint64_t index, const uint8_t *buf, size_t len, void *ctx,
		      struct i2k_error **err)
{
	return i2k_sink_write_at(ctx, index * I2K_EBS_BLOCK, buf, len, err);
}

/* Reads the disk once for its content digest (→ ClientToken) and boot
 * mode, then opens the EBS sink for it. *r stays open for the caller; the
 * sink keeps pointers to keys, which must outlive it. */
static int sink_open(const struct i2k_aws *a, const struct i2k_push_opts *o,
		     struct i2k_disk_reader *r, uint8_t *buf, struct i2k_push_keys *keys,
		     struct i2k_sink **sink, struct i2k_error **err)
{
	const char *boot = o->boot_mode;
	if (boot == NULL && i2k_push_boot_mode(r, &boot, err) < 0)
		return -1;
	struct i2k_ebs_sink_opts so = o->sink;
	if (so.name == NULL) {
		_cleanup_free_ char *name = i2k_push_default_name(o->image);
		snprintf(keys->name, sizeof(keys->name), "%s", name);
		so.name = keys->name;
	}
	so.size = i2k_disk_reader_size(r);
	so.boot_mode = boot;
	i2k_aws_debugf(a, "aws: %s: %s, %llu bytes, boot mode %s", o->image,
		       i2k_disk_format_name(i2k_disk_reader_format(r)), (unsigned long long)so.size,
		       boot);
	struct i2k_ebs_digest d;
	i2k_ebs_digest_init(&d, so.size);
	if (each_block(r, buf, digest_block, &d, err) < 0) {
		i2k_ebs_digest_abort(&d);
		return i2k_error_wrap(err, "reading %s", o->image);
	}
	i2k_ebs_digest_final(&d, keys->digest);
	_cleanup_free_ char *seed =
	    i2k_xasprintf("i2kit-push-v1\n%s\n%s\n%s\n%s", keys->digest, so.name,
			  so.description ? so.description : "", boot);
	uint8_t tok[32];
	SHA256((const uint8_t *)seed, strlen(seed), tok);
	i2k_aws_hex32(tok, keys->token);
	so.client_token = keys->token;
	so.content_digest = keys->digest;
	return i2k_ebs_sink_new(a, &so, sink, err);
}

int i2k_push_aws(const struct i2k_aws *a, const struct i2k_push_opts *o, struct i2k_ebs_result *res,
		 struct i2k_error **err)
{
	struct i2k_push_keys keys;
	_cleanup_(i2k_disk_reader_freep) struct i2k_disk_reader *r = NULL;
	_cleanup_free_ uint8_t *buf = i2k_xmalloc(I2K_EBS_BLOCK);
	_cleanup_(i2k_sink_freep) struct i2k_sink *sink = NULL;
	if (i2k_disk_reader_open(o->image, &r, err) < 0 ||
	    sink_open(a, o, r, buf, &keys, &sink, err) < 0)
		return -1;
	if (each_block(r, buf, sink_block, sink, err) < 0)
		return i2k_error_wrap(err, "pushing %s to AWS", sink->name ? sink->name : o->image);
	if (i2k_sink_finish(sink, err) < 0)
		return -1;
	if (i2k_ebs_sink_result(sink, res) < 0)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "EBS sink has no result");
	return 0;
}

/* ---- `build --format aws --push aws`: the build's disk destination -------- */

static int dest_open(void *ctx, const struct i2k_format *f, const char *name, struct i2k_sink *disk,
		     struct i2k_sink **out, struct i2k_error **err)
{
	struct i2k_push_dest *d = ctx;
	*out = NULL;
	if (strcmp(f->name, "aws") != 0)
		return 0; /* other formats are written as files */
	uint64_t base = 0;
	int fd = i2k_sink_fd(disk, &base);
	if (fd < 0 || base != 0)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "the disk is not a whole file");
	/* The finished raw disk is read through its descriptor: digest and
	 * boot mode first, then the raw container writer streams it in. */
	_cleanup_free_ char *path = i2k_xasprintf("/proc/self/fd/%d", fd);
	_cleanup_(i2k_disk_reader_freep) struct i2k_disk_reader *r = NULL;
	_cleanup_free_ uint8_t *buf = i2k_xmalloc(I2K_EBS_BLOCK);
	struct i2k_push_opts o = d->opts;
	o.image = path;
	if (o.sink.name == NULL)
		o.sink.name = name;
	if (i2k_disk_reader_open(path, &r, err) < 0 ||
	    sink_open(d->aws, &o, r, buf, &d->keys, out, err) < 0)
		return i2k_error_wrap(err, "pushing %s to AWS", o.sink.name);
	return 0;
}

static int dest_close(void *ctx, const struct i2k_format *f, struct i2k_sink *out, bool ok,
		      struct i2k_output_result *res, struct i2k_error **err)
{
	struct i2k_push_dest *d = ctx;
	(void)f;
	(void)res;
	int r = 0;
	if (ok && i2k_ebs_sink_result(out, &d->result) == 0)
		d->pushed = true;
	else if (ok)
		r = i2k_error_set(err, I2K_ERR_INTERNAL, "EBS sink has no result");
	i2k_sink_free(out); /* an unfinished sink deletes its snapshot */
	return r;
}

void i2k_push_dest_init(struct i2k_push_dest *d, const struct i2k_aws *a,
			const struct i2k_push_opts *o)
{
	memset(d, 0, sizeof(*d));
	d->aws = a;
	d->opts = *o;
	d->dest = (struct i2k_disk_dest){.open = dest_open, .close = dest_close, .ctx = d};
}
