/* gcp.c — disk.raw in a tar.gz (see gcp.h). */
#include "formats/container/gcp.h"

#include <sys/stat.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "formats/tar.h"
#include "initrd/compress.h"

uint64_t i2k_gcp_round_size(uint64_t size)
{
	return (size + I2K_GCP_ALIGN - 1) / I2K_GCP_ALIGN * I2K_GCP_ALIGN;
}

/* An ostream that appends to a sink. */
struct sink_stream {
	struct i2k_sink *out;
	uint64_t at;
};

static int stream_write(void *ctx, const void *buf, size_t len, struct i2k_error **err)
{
	struct sink_stream *s = ctx;
	if (i2k_sink_write_at(s->out, s->at, buf, len, err) < 0)
		return -1;
	s->at += len;
	return 0;
}

int i2k_gcp_write(int raw_fd, uint64_t base, uint64_t size, struct i2k_sink *out,
		  struct i2k_error **err)
{
	struct sink_stream ss = {.out = out};
	struct i2k_ostream os = {.write = stream_write, .ctx = &ss};
	struct i2k_compressor_opts co = {.kind = I2K_COMPRESS_GZIP};
	_cleanup_(i2k_compressor_freep) struct i2k_compressor *c = NULL;
	_cleanup_(i2k_tar_writer_freep) struct i2k_tar_writer *w = NULL;
	if (i2k_compressor_new(&co, os, &c, err) < 0 ||
	    i2k_tar_writer_new(i2k_compressor_stream(c), &w, err) < 0)
		return -1;
	struct i2k_tar_entry e = {
	    .path = "disk.raw",
	    .mode = S_IFREG | 0644,
	    .mtime = i2k_source_date_epoch(),
	    .size = size,
	};
	if (i2k_tar_writer_add(w, &e, err) < 0 ||
	    i2k_tar_writer_data_fd(w, raw_fd, base, size, err) < 0 ||
	    i2k_tar_writer_finish(w, err) < 0 || i2k_compressor_finish(c, err) < 0)
		return -1;
	return 0;
}
