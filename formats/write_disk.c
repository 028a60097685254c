/* write_disk.c — every disk format: the build's raw disk for the row's boot
 * method and root mode (formats/artifacts.h), written in the row's container
 * into NAME+SUFFIX or into the build's disk destination; and
 * i2k_format_write, the one entry point of the format table. */
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "formats/writers.h"

static int container_opts(struct i2k_artifacts *a, const struct i2k_format *f,
			  struct i2k_container_opts *co, struct i2k_error **err)
{
	memset(co, 0, sizeof(*co));
	co->has_uuid_seed = true;
	const struct i2k_format_opts *o = i2k_artifacts_opts(a);
	return i2k_artifacts_seed(a, i2k_format_root(f, o->root_given, o->root), co->uuid_seed,
				  err);
}

/* Into the destination's sink, when it takes this format. 1 = done, 0 = not
 * taken (write a file), -1 = error. */
static int write_to_dest(const struct i2k_format *f, struct i2k_artifacts *a, struct i2k_sink *disk,
			 const struct i2k_container_opts *co, struct i2k_output_result *res,
			 struct i2k_error **err)
{
	const struct i2k_disk_dest *d = i2k_artifacts_opts(a)->disk_dest;
	struct i2k_sink *out = NULL;
	if (d == NULL)
		return 0;
	if (d->open(d->ctx, f, i2k_artifacts_opts(a)->name, disk, &out, err) < 0)
		return -1;
	if (out == NULL)
		return 0;
	int r = i2k_container_write(f->container, disk, out, co, err);
	if (r == 0)
		r = i2k_sink_finish(out, err);
	struct i2k_error *cerr = NULL;
	if (d->close(d->ctx, f, out, r == 0, res, r == 0 ? err : &cerr) < 0)
		r = -1;
	i2k_error_free(cerr);
	return r < 0 ? -1 : 1;
}

int i2k_write_disk(const struct i2k_format *f, struct i2k_artifacts *a,
		   struct i2k_output_result *res, struct i2k_error **err)
{
	struct i2k_sink *disk;
	struct i2k_container_opts co;
	if (i2k_artifacts_disk(a, f, &disk, err) < 0 || container_opts(a, f, &co, err) < 0)
		return -1;
	int r = write_to_dest(f, a, disk, &co, res, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	const struct i2k_format_opts *o = i2k_artifacts_opts(a);
	_cleanup_(i2k_output_group_freep) struct i2k_output_group *g = NULL;
	if (i2k_output_group_open(o->dir ? o->dir : ".", o->name, f->files, 1, o->digests, &g,
				  err) < 0)
		return -1;
	i2k_output_group_progress(g, &o->progress, f->name, 0);
	/* A raw disk is its own output: the first raw format of a build takes
	 * the temp disk file itself instead of copying it. */
	int adopted = 0;
	uint64_t base = 0;
	int dfd = i2k_sink_fd(disk, &base);
	if (f->container == I2K_CONTAINER_RAW && dfd >= 0 && base == 0 &&
	    i2k_artifacts_disk_claim(a, disk))
		adopted = i2k_output_adopt(g, 0, dfd, disk->size, err);
	if (adopted < 0 || (!adopted && i2k_container_write(f->container, disk,
							    i2k_output_sink(g, 0), &co, err) < 0))
		return -1;
	return i2k_output_group_commit(g, f->name, res, err);
}

int i2k_format_write(const char *format, struct i2k_artifacts *a, struct i2k_output_result *res,
		     struct i2k_error **err)
{
	const struct i2k_format *f = i2k_format_find(format);
	if (f == NULL)
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "unknown output format \"%s\" (see i2kit build --help)",
				     format);
	const struct i2k_format_opts *o = i2k_artifacts_opts(a);
	if (o->root_given && !(f->roots & I2K_ROOT_BIT(o->root)))
		return i2k_format_check(&format, 1, o->root_given, o->root, err);
	if (i2k_check_interrupt(err) < 0)
		return -1;
	return f->write(f, a, res, err);
}
