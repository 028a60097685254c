/* sqfs_data.c — squashfs data and fragment blocks (see sqfs_data.h). */
#include "formats/fs/sqfs_data.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "formats/fs/sqfs_comp.h"
#include "formats/fs/sqfs_meta.h"

#define BATCH_BYTES (8u << 20) /* input bytes compressed per batch */

enum job_kind { JOB_DATA, JOB_FRAG };

struct job {
	enum job_kind kind;
	uint32_t file, block; /* JOB_DATA */
	size_t len;
	uint8_t *in, *out;
	size_t out_len; /* 0: store raw */
	bool zero;
	struct i2k_error *err;
};

struct i2k_sqfs_data {
	struct i2k_sqfs_data_opts o;
	struct i2k_sink *sink;
	uint64_t pos;
	struct i2k_sqfs_comp *comps; /* one per thread */
	int ncomps;
	struct job *jobs;
	size_t njobs, batch;
	size_t next; /* next job for a worker (atomic) */
	size_t out_cap;
	struct i2k_sqfs_file *files;
	size_t nfiles, fcap;
	uint8_t *frag;
	size_t frag_len;
	uint32_t nfrags; /* fragment blocks queued so far */
	struct i2k_buf fragtab;
	bool finished, failed;
};

void i2k_sqfs_data_free(struct i2k_sqfs_data *d)
{
	if (d == NULL)
		return;
	for (int i = 0; i < d->ncomps; i++)
		i2k_sqfs_comp_release(&d->comps[i]);
	free(d->comps);
	for (size_t i = 0; i < d->batch; i++) {
		free(d->jobs[i].in);
		free(d->jobs[i].out);
		i2k_error_free(d->jobs[i].err);
	}
	free(d->jobs);
	for (size_t i = 0; i < d->nfiles; i++)
		free(d->files[i].blocks);
	free(d->files);
	free(d->frag);
	i2k_buf_free(&d->fragtab);
	free(d);
}

void i2k_sqfs_data_freep(struct i2k_sqfs_data **d)
{
	i2k_sqfs_data_free(*d);
	*d = NULL;
}

int i2k_sqfs_data_new(const struct i2k_sqfs_data_opts *o, struct i2k_sink *out, uint64_t start,
		      struct i2k_sqfs_data **dp, struct i2k_error **err)
{
	_cleanup_(i2k_sqfs_data_freep) struct i2k_sqfs_data *d = i2k_xcalloc(1, sizeof(*d));
	d->o = *o;
	if (d->o.threads < 1)
		d->o.threads = 1;
	if (d->o.threads > I2K_COMPRESS_MAX_THREADS)
		d->o.threads = I2K_COMPRESS_MAX_THREADS;
	d->sink = out;
	d->pos = start;
	d->comps = i2k_xcalloc((size_t)d->o.threads, sizeof(*d->comps));
	for (int i = 0; i < d->o.threads; i++) {
		d->ncomps = i + 1;
		if (i2k_sqfs_comp_init(&d->comps[i], o->kind, o->level, err) < 0)
			return -1;
	}
	size_t batch = BATCH_BYTES / o->block_size;
	if (batch < 2 * (size_t)d->o.threads)
		batch = 2 * (size_t)d->o.threads;
	d->batch = batch;
	d->out_cap = i2k_sqfs_comp_bound(o->block_size);
	d->jobs = i2k_xcalloc(batch, sizeof(*d->jobs));
	for (size_t i = 0; i < batch; i++) {
		d->jobs[i].in = i2k_xmalloc(o->block_size);
		d->jobs[i].out = i2k_xmalloc(d->out_cap);
	}
	d->frag = i2k_xmalloc(o->block_size);
	*dp = I2K_STEAL(d);
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

static void do_job(struct i2k_sqfs_comp *c, struct job *j, size_t cap)
{
	j->zero = j->kind == JOB_DATA && all_zero(j->in, j->len);
	j->out_len = 0;
	if (!j->zero)
		i2k_sqfs_comp_block(c, j->in, j->len, j->out, cap, &j->out_len, &j->err);
}

struct worker {
	struct i2k_sqfs_data *d;
	int tid;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct i2k_sqfs_data *d = w->d;
	for (;;) {
		size_t i = __atomic_fetch_add(&d->next, 1, __ATOMIC_RELAXED);
		if (i >= d->njobs)
			break;
		do_job(&d->comps[w->tid], &d->jobs[i], d->out_cap);
	}
	return NULL;
}

/* Compresses the queued jobs in parallel, then writes them in order. */
static int run_batch(struct i2k_sqfs_data *d, struct i2k_error **err)
{
	if (d->njobs == 0)
		return 0;
	if (i2k_check_interrupt(err) < 0)
		return -1;
	d->next = 0;
	int nt = d->o.threads;
	if ((size_t)nt > d->njobs)
		nt = (int)d->njobs;
	pthread_t th[I2K_COMPRESS_MAX_THREADS];
	struct worker w[I2K_COMPRESS_MAX_THREADS];
	int started = 0;
	for (int i = 1; i < nt; i++) {
		w[i] = (struct worker){d, i};
		if (pthread_create(&th[i], NULL, work, &w[i]) != 0)
			break; /* fewer helpers: same bytes, just slower */
		started = i;
	}
	w[0] = (struct worker){d, 0};
	work(&w[0]);
	for (int i = 1; i <= started; i++)
		pthread_join(th[i], NULL);

	size_t n = d->njobs;
	d->njobs = 0;
	for (size_t i = 0; i < n; i++) {
		struct job *j = &d->jobs[i];
		if (j->err) {
			i2k_error_propagate(err, &j->err);
			return -1;
		}
		const void *src = j->out_len ? j->out : j->in;
		size_t len = j->out_len ? j->out_len : j->len;
		uint32_t sz = (uint32_t)len | (j->out_len ? 0 : I2K_SQFS_BLOCK_RAW);
		if (j->kind == JOB_DATA) {
			struct i2k_sqfs_file *f = &d->files[j->file];
			if (j->block == 0)
				f->start = d->pos;
			if (j->zero) {
				f->blocks[j->block] = 0;
				f->sparse += j->len;
				continue;
			}
			f->blocks[j->block] = sz;
		} else {
			uint8_t e[16] = {0};
			i2k_sqfs_put64(e, d->pos);
			i2k_sqfs_put32(e + 8, sz);
			if (i2k_buf_append(&d->fragtab, e, sizeof(e), err) < 0)
				return -1;
		}
		if (i2k_sink_write_at(d->sink, d->pos, src, len, err) < 0)
			return -1;
		d->pos += len;
	}
	return 0;
}

static int take_job(struct i2k_sqfs_data *d, struct job **j, struct i2k_error **err)
{
	if (d->njobs == d->batch && run_batch(d, err) < 0)
		return -1;
	*j = &d->jobs[d->njobs++];
	return 0;
}

static int queue_fragment(struct i2k_sqfs_data *d, struct i2k_error **err)
{
	if (d->frag_len == 0)
		return 0;
	struct job *j;
	if (take_job(d, &j, err) < 0)
		return -1;
	memcpy(j->in, d->frag, d->frag_len);
	j->kind = JOB_FRAG;
	j->len = d->frag_len;
	d->frag_len = 0;
	d->nfrags++;
	return 0;
}

static int fail(struct i2k_sqfs_data *d)
{
	d->failed = true;
	return -1;
}

int i2k_sqfs_data_add(struct i2k_sqfs_data *d, struct i2k_fstree *t, const struct i2k_inode *ino,
		      uint32_t *id, struct i2k_error **err)
{
	if (d->finished || d->failed)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "squashfs data writer: add after %s",
				     d->finished ? "finish" : "an error");
	if (d->nfiles >= UINT32_MAX)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "too many files");
	uint64_t bs = d->o.block_size;
	uint64_t tail = ino->size % bs;
	bool frag = !d->o.no_fragments && tail > 0;
	uint64_t nb = frag ? ino->size / bs : (ino->size + bs - 1) / bs;
	if (nb > UINT32_MAX)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "file too large");
	i2k_xgrow((void **)&d->files, &d->fcap, d->nfiles + 1, sizeof(*d->files));
	uint32_t fid = (uint32_t)d->nfiles++;
	struct i2k_sqfs_file *f = &d->files[fid];
	*f = (struct i2k_sqfs_file){.size = ino->size,
				    .frag_idx = I2K_SQFS_NO_FRAGMENT,
				    .nblocks = (uint32_t)nb,
				    .blocks = i2k_xcalloc(nb ? nb : 1, sizeof(uint32_t))};
	for (uint64_t b = 0; b < nb; b++) {
		struct job *j;
		if (take_job(d, &j, err) < 0)
			return fail(d);
		uint64_t off = b * bs;
		size_t len = (size_t)(ino->size - off < bs ? ino->size - off : bs);
		*j = (struct job){.kind = JOB_DATA,
				  .file = fid,
				  .block = (uint32_t)b,
				  .len = len,
				  .in = j->in,
				  .out = j->out};
		if (i2k_fstree_read(t, ino, off, j->in, len, err) < 0) {
			d->njobs--;
			return fail(d);
		}
	}
	if (frag) {
		if (d->frag_len + tail > bs && queue_fragment(d, err) < 0)
			return fail(d);
		if (i2k_fstree_read(t, ino, ino->size - tail, d->frag + d->frag_len, (size_t)tail,
				    err) < 0)
			return fail(d);
		f = &d->files[fid];
		f->frag_idx = d->nfrags;
		f->frag_off = (uint32_t)d->frag_len;
		d->frag_len += (size_t)tail;
	}
	*id = fid;
	return 0;
}

int i2k_sqfs_data_finish(struct i2k_sqfs_data *d, uint64_t *end, struct i2k_error **err)
{
	if (d->finished || d->failed)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "squashfs data writer: finish after %s",
				     d->finished ? "finish" : "an error");
	if (queue_fragment(d, err) < 0 || run_batch(d, err) < 0)
		return fail(d);
	d->finished = true;
	*end = d->pos;
	return 0;
}

const struct i2k_sqfs_file *i2k_sqfs_data_file(const struct i2k_sqfs_data *d, uint32_t id)
{
	return id < d->nfiles ? &d->files[id] : NULL;
}

const uint8_t *i2k_sqfs_data_fragments(const struct i2k_sqfs_data *d, uint32_t *count)
{
	*count = (uint32_t)(d->fragtab.len / 16);
	return (const uint8_t *)d->fragtab.data;
}
