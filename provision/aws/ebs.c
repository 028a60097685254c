/* ebs.c — EBS direct API calls and the EBS block sink (see ebs.h). */
#include "provision/aws/ebs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/util.h"

#define GIB (1ull << 30)

/* --- API calls ------------------------------------------------------------ */

int i2k_ebs_parse_start(const char *json, char **snap, uint32_t *block_size, struct i2k_error **err)
{
	*snap = NULL;
	json_error_t je;
	json_t *j = json_loads(json ? json : "", 0, &je);
	const char *id = json_string_value(json_object_get(j, "SnapshotId"));
	if (id == NULL || *id == '\0' || strlen(id) > 60) {
		json_decref(j);
		return i2k_error_set(err, I2K_ERR_REGISTRY,
				     "StartSnapshot: answer has no SnapshotId");
	}
	*snap = i2k_xstrdup(id);
	json_t *bs = json_object_get(j, "BlockSize");
	*block_size = json_is_integer(bs) ? (uint32_t)json_integer_value(bs) : 0;
	json_decref(j);
	return 0;
}

static int start_once(const struct i2k_aws *a, struct i2k_aws_conn *c,
		      const struct i2k_ebs_start *s, const char *token, char **snap,
		      uint32_t *block_size, char **status, struct i2k_error **err)
{
	json_t *j = json_object();
	json_object_set_new(j, "VolumeSize", json_integer((json_int_t)s->volume_gib));
	if (token)
		json_object_set_new(j, "ClientToken", json_string(token));
	if (s->description)
		json_object_set_new(j, "Description", json_string(s->description));
	json_object_set_new(j, "Timeout", json_integer(s->timeout_min ? s->timeout_min : 60));
	if (s->n_tags) {
		json_t *tags = json_array();
		for (size_t i = 0; i < s->n_tags; i++)
			json_array_append_new(tags,
					      json_pack("{s:s,s:s}", "Key", s->tags[i].key, "Value",
							s->tags[i].value ? s->tags[i].value : ""));
		json_object_set_new(j, "Tags", tags);
	}
	_cleanup_free_ char *body = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	struct i2k_aws_req r = {
	    .svc = I2K_AWS_EBS,
	    .op = "StartSnapshot",
	    .method = "POST",
	    .path = "/snapshots",
	    .content_type = "application/json",
	    .body = body,
	    .body_len = strlen(body),
	};
	struct i2k_aws_resp resp;
	if (i2k_aws_call(a, c, &r, &resp, err) < 0) {
		i2k_aws_resp_clear(&resp);
		return -1;
	}
	int rc = i2k_ebs_parse_start(resp.body.data, snap, block_size, err);
	json_error_t je;
	json_t *ans = json_loads(resp.body.data ? resp.body.data : "", 0, &je);
	const char *st = json_string_value(json_object_get(ans, "Status"));
	*status = i2k_xstrdup(st ? st : "pending");
	json_decref(ans);
	i2k_aws_resp_clear(&resp);
	return rc;
}

int i2k_ebs_start_snapshot(const struct i2k_aws *a, struct i2k_aws_conn *c,
			   const struct i2k_ebs_start *s, char **snap, uint32_t *block_size,
			   struct i2k_error **err)
{
	*snap = NULL;
	char token[65] = "";
	if (s->client_token)
		snprintf(token, sizeof(token), "%s", s->client_token);
	for (int n = 0;; n++) {
		char *status = NULL;
		if (start_once(a, c, s, s->client_token ? token : NULL, snap, block_size, &status,
			       err) < 0) {
			free(status);
			return -1;
		}
		bool stale = strcmp(status, "pending") != 0;
		if (!stale || s->client_token == NULL || n == 3) {
			if (stale)
				i2k_error_set(err, I2K_ERR_REGISTRY,
					      "StartSnapshot: snapshot %s is %s, not pending",
					      *snap, status);
			free(status);
			if (stale) {
				free(*snap);
				*snap = NULL;
				return -1;
			}
			return 0;
		}
		/* The token named an earlier push's snapshot that has since
		 * completed or failed (and was deleted): derive the next token
		 * from it, deterministically. */
		i2k_aws_debugf(a,
			       "aws: ClientToken answered with %s snapshot %s; deriving a new one",
			       status, *snap);
		_cleanup_free_ char *seed = i2k_xasprintf("%s:%s", token, *snap);
		uint8_t d[32];
		SHA256((const uint8_t *)seed, strlen(seed), d);
		i2k_aws_hex32(d, token);
		free(status);
		free(*snap);
		*snap = NULL;
	}
}

int i2k_ebs_put_block(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *snap,
		      uint64_t index, const uint8_t *data, const uint8_t digest[32],
		      struct i2k_error **err)
{
	char b64[45], hex[65], len[16];
	i2k_aws_base64_32(digest, b64);
	i2k_aws_hex32(digest, hex);
	snprintf(len, sizeof(len), "%u", I2K_EBS_BLOCK);
	struct i2k_sigv4_header hs[] = {
	    {"x-amz-Data-Length", len},
	    {"x-amz-Checksum", b64},
	    {"x-amz-Checksum-Algorithm", "SHA256"},
	};
	_cleanup_free_ char *path =
	    i2k_xasprintf("/snapshots/%s/blocks/%llu", snap, (unsigned long long)index);
	struct i2k_aws_req r = {
	    .svc = I2K_AWS_EBS,
	    .op = "PutSnapshotBlock",
	    .method = "PUT",
	    .path = path,
	    .content_type = "application/octet-stream",
	    .headers = hs,
	    .n_headers = I2K_ARRAY_SIZE(hs),
	    .body = data,
	    .body_len = I2K_EBS_BLOCK,
	    .payload_hash = hex, /* the block digest is the payload hash */
	    .max_body = 64u << 10,
	};
	struct i2k_aws_resp resp;
	int rc = i2k_aws_call(a, c, &r, &resp, err);
	i2k_aws_resp_clear(&resp);
	if (rc < 0)
		return i2k_error_wrap(err, "block %llu", (unsigned long long)index);
	return 0;
}

int i2k_ebs_complete(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *snap,
		     uint64_t changed_blocks, const uint8_t aggregate[32], char **status,
		     struct i2k_error **err)
{
	*status = NULL;
	char b64[45], cnt[24];
	i2k_aws_base64_32(aggregate, b64);
	snprintf(cnt, sizeof(cnt), "%llu", (unsigned long long)changed_blocks);
	struct i2k_sigv4_header hs[] = {
	    {"x-amz-ChangedBlocksCount", cnt},
	    {"x-amz-Checksum", b64},
	    {"x-amz-Checksum-Algorithm", "SHA256"},
	    {"x-amz-Checksum-Aggregation-Method", "LINEAR"},
	};
	_cleanup_free_ char *path = i2k_xasprintf("/snapshots/completion/%s", snap);
	struct i2k_aws_req r = {
	    .svc = I2K_AWS_EBS,
	    .op = "CompleteSnapshot",
	    .method = "POST",
	    .path = path,
	    .headers = hs,
	    .n_headers = I2K_ARRAY_SIZE(hs),
	};
	struct i2k_aws_resp resp;
	if (i2k_aws_call(a, c, &r, &resp, err) < 0) {
		i2k_aws_resp_clear(&resp);
		return -1;
	}
	json_error_t je;
	json_t *j = json_loads(resp.body.data ? resp.body.data : "", 0, &je);
	const char *st = json_string_value(json_object_get(j, "Status"));
	*status = i2k_xstrdup(st ? st : "unknown");
	json_decref(j);
	i2k_aws_resp_clear(&resp);
	if (strcmp(*status, "error") == 0)
		return i2k_error_set(err, I2K_ERR_REGISTRY, "CompleteSnapshot: snapshot %s: error",
				     snap);
	return 0;
}

/* --- content digest --------------------------------------------------------- */

void i2k_ebs_digest_init(struct i2k_ebs_digest *d, uint64_t size)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
		abort();
	uint8_t sz[8];
	i2k_put_le64(sz, size);
	EVP_DigestUpdate(c, "i2kit-ebs-v1", 12);
	EVP_DigestUpdate(c, sz, 8);
	d->ctx = c;
}

void i2k_ebs_digest_block(struct i2k_ebs_digest *d, uint64_t index, const uint8_t digest[32])
{
	uint8_t ix[8];
	i2k_put_le64(ix, index);
	EVP_DigestUpdate(d->ctx, ix, 8);
	EVP_DigestUpdate(d->ctx, digest, 32);
}

void i2k_ebs_digest_final(struct i2k_ebs_digest *d, char out[72])
{
	uint8_t md[32];
	EVP_DigestFinal_ex(d->ctx, md, NULL);
	EVP_MD_CTX_free(d->ctx);
	d->ctx = NULL;
	memcpy(out, "sha256:", 7);
	i2k_aws_hex32(md, out + 7);
}

void i2k_ebs_digest_abort(struct i2k_ebs_digest *d)
{
	EVP_MD_CTX_free(d->ctx);
	d->ctx = NULL;
}

/* --- the sink ---------------------------------------------------------------- */

struct job {
	uint8_t *data;
	uint64_t index, seq;
};

struct ebs_sink {
	struct i2k_sink base;
	const struct i2k_aws *a;
	struct i2k_ebs_sink_opts o;
	struct i2k_aws_conn *conn; /* the writer's */
	char *snap;
	uint64_t nblocks;
	struct timespec t0;

	/* writer */
	uint8_t *cur;
	uint64_t cur_index;
	uint64_t pos; /* end of the last write */
	uint64_t queued;
	double last_progress;

	pthread_mutex_t mu;
	pthread_cond_t cv_free, cv_work, cv_done;
	uint8_t **free_bufs;
	size_t n_free, n_bufs;
	struct job *q; /* ring of n_bufs */
	size_t q_head, q_len;
	unsigned in_flight;
	bool closing, stop;
	struct i2k_error *werr;

	/* aggregate (in seq order = block-index order) */
	size_t ring;
	uint8_t (*rdig)[32];
	uint64_t *ridx;
	bool *rready;
	uint64_t seq_next, seq_agg;
	EVP_MD_CTX *agg;
	struct i2k_ebs_digest content;
	uint64_t blocks_sent, bytes_sent;

	pthread_t *threads;
	unsigned n_threads;
	bool ok;   /* finished successfully */
	char *ami; /* registered image (deregistered on failure) */
	struct i2k_ebs_result res;
};

static double elapsed(const struct ebs_sink *s)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - s->t0.tv_sec) + (double)(t.tv_nsec - s->t0.tv_nsec) / 1e9;
}

static void progress(struct ebs_sink *s, const char *phase, bool force)
{
	if (s->o.progress == NULL)
		return;
	double now = elapsed(s);
	if (!force && now - s->last_progress < 0.2)
		return;
	s->last_progress = now;
	struct i2k_ebs_progress p = {.phase = phase,
				     .size = s->base.size,
				     .written = s->pos,
				     .blocks_total = s->nblocks,
				     .seconds = now};
	pthread_mutex_lock(&s->mu);
	p.blocks_sent = s->blocks_sent;
	p.bytes_sent = s->bytes_sent;
	pthread_mutex_unlock(&s->mu);
	uint64_t passed = s->pos / I2K_EBS_BLOCK;
	if (s->pos >= s->base.size)
		passed = s->nblocks;
	p.blocks_zero = passed > s->queued ? passed - s->queued : 0;
	s->o.progress(&p, s->o.progress_ctx);
}

static void fail_locked(struct ebs_sink *s, struct i2k_error **e)
{
	if (s->werr == NULL)
		s->werr = I2K_STEAL(*e);
	i2k_error_free(*e);
	*e = NULL;
	s->stop = true;
	pthread_cond_broadcast(&s->cv_work);
	pthread_cond_broadcast(&s->cv_free);
	pthread_cond_broadcast(&s->cv_done);
}

static void *worker(void *arg)
{
	struct ebs_sink *s = arg;
	struct i2k_aws_conn *conn = i2k_aws_conn_new();
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (s->q_len == 0 && !s->closing && !s->stop)
			pthread_cond_wait(&s->cv_work, &s->mu);
		if (s->q_len == 0)
			break;
		struct job j = s->q[s->q_head];
		s->q_head = (s->q_head + 1) % s->n_bufs;
		s->q_len--;
		s->in_flight++;
		bool skip = s->stop;
		pthread_mutex_unlock(&s->mu);

		struct i2k_error *e = NULL;
		uint8_t d[32];
		if (!skip) {
			SHA256(j.data, I2K_EBS_BLOCK, d);
			if (i2k_ebs_put_block(s->a, conn, s->snap, j.index, j.data, d, &e) < 0)
				skip = true;
		}

		pthread_mutex_lock(&s->mu);
		if (e) {
			fail_locked(s, &e);
		} else if (!skip) {
			size_t r = j.seq % s->ring;
			memcpy(s->rdig[r], d, 32);
			s->ridx[r] = j.index;
			s->rready[r] = true;
			while (s->rready[s->seq_agg % s->ring]) {
				size_t k = s->seq_agg % s->ring;
				EVP_DigestUpdate(s->agg, s->rdig[k], 32);
				i2k_ebs_digest_block(&s->content, s->ridx[k], s->rdig[k]);
				s->rready[k] = false;
				s->seq_agg++;
			}
			s->blocks_sent++;
			s->bytes_sent += I2K_EBS_BLOCK;
		}
		s->free_bufs[s->n_free++] = j.data;
		s->in_flight--;
		pthread_cond_broadcast(&s->cv_free);
		pthread_cond_broadcast(&s->cv_done);
	}
	pthread_mutex_unlock(&s->mu);
	i2k_aws_conn_free(conn);
	return NULL;
}

static int copy_werr(struct ebs_sink *s, struct i2k_error **err)
{
	pthread_mutex_lock(&s->mu);
	int rc = 0;
	if (s->werr)
		rc = i2k_error_set(err, s->werr->code, "%s", s->werr->msg);
	else if (s->stop)
		rc = i2k_error_set(err, I2K_ERR_INTERNAL, "EBS upload stopped");
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Waits for a free buffer (or failure). */
static uint8_t *take_buffer(struct ebs_sink *s)
{
	pthread_mutex_lock(&s->mu);
	while (s->n_free == 0 && !s->stop)
		pthread_cond_wait(&s->cv_free, &s->mu);
	uint8_t *b = s->stop ? NULL : s->free_bufs[--s->n_free];
	pthread_mutex_unlock(&s->mu);
	return b;
}

static int seal(struct ebs_sink *s, struct i2k_error **err)
{
	uint8_t *b = I2K_STEAL(s->cur);
	if (b == NULL)
		return 0;
	bool zero = b[0] == 0 && memcmp(b, b + 1, I2K_EBS_BLOCK - 1) == 0;
	pthread_mutex_lock(&s->mu);
	if (zero || s->stop) {
		s->free_bufs[s->n_free++] = b;
		pthread_mutex_unlock(&s->mu);
		return s->stop ? copy_werr(s, err) : 0;
	}
	/* keep the digest ring from wrapping over an unfolded slot */
	while (!s->stop && s->seq_next - s->seq_agg >= s->ring)
		pthread_cond_wait(&s->cv_done, &s->mu);
	if (s->stop) {
		s->free_bufs[s->n_free++] = b;
		pthread_mutex_unlock(&s->mu);
		return copy_werr(s, err);
	}
	size_t tail = (s->q_head + s->q_len) % s->n_bufs;
	s->q[tail] = (struct job){.data = b, .index = s->cur_index, .seq = s->seq_next++};
	s->q_len++;
	s->queued++;
	pthread_cond_signal(&s->cv_work);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static int ebs_write_at(struct i2k_sink *base, uint64_t off, const void *buf, size_t len,
			struct i2k_error **err)
{
	struct ebs_sink *s = (struct ebs_sink *)base;
	if (copy_werr(s, err) < 0)
		return -1;
	if (off < s->pos)
		return i2k_error_set(err, I2K_ERR_INTERNAL,
				     "EBS sink: write at %llu before the end of the previous write "
				     "(%llu); offsets must not decrease",
				     (unsigned long long)off, (unsigned long long)s->pos);
	const uint8_t *p = buf;
	while (len > 0) {
		uint64_t idx = off / I2K_EBS_BLOCK, in = off % I2K_EBS_BLOCK;
		size_t n = I2K_EBS_BLOCK - in < len ? (size_t)(I2K_EBS_BLOCK - in) : len;
		if (s->cur && idx != s->cur_index && seal(s, err) < 0)
			return -1;
		if (s->cur == NULL) {
			/* zeros into a block not yet started: nothing to keep */
			if (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0) {
				off += n;
				p += n;
				len -= n;
				continue;
			}
			s->cur = take_buffer(s);
			if (s->cur == NULL)
				return copy_werr(s, err);
			memset(s->cur, 0, I2K_EBS_BLOCK);
			s->cur_index = idx;
		}
		memcpy(s->cur + in, p, n);
		off += n;
		p += n;
		len -= n;
		s->pos = off;
	}
	s->pos = off > s->pos ? off : s->pos;
	if (i2k_check_interrupt(err) < 0)
		return -1;
	progress(s, "upload", false);
	return 0;
}

/* A hole: nothing to send (unwritten bytes are zeros); only the order rule
 * applies. */
static int ebs_zero(struct i2k_sink *base, uint64_t off, uint64_t len, struct i2k_error **err)
{
	struct ebs_sink *s = (struct ebs_sink *)base;
	if (copy_werr(s, err) < 0)
		return -1;
	if (off < s->pos)
		return i2k_error_set(err, I2K_ERR_INTERNAL,
				     "EBS sink: zero range at %llu before the end of the previous "
				     "write (%llu); offsets must not decrease",
				     (unsigned long long)off, (unsigned long long)s->pos);
	s->pos = off + len;
	if (i2k_check_interrupt(err) < 0)
		return -1;
	progress(s, "upload", false);
	return 0;
}

static int ebs_read_at(struct i2k_sink *base, uint64_t off, void *buf, size_t len,
		       struct i2k_error **err)
{
	return i2k_error_set(err, I2K_ERR_INTERNAL, "%s is write-only", base->name);
}

static void stop_workers(struct ebs_sink *s)
{
	pthread_mutex_lock(&s->mu);
	s->closing = true;
	pthread_cond_broadcast(&s->cv_work);
	pthread_mutex_unlock(&s->mu);
	for (unsigned i = 0; i < s->n_threads; i++)
		pthread_join(s->threads[i], NULL);
	s->n_threads = 0;
}

/* Deletes what the failed push left: the image (if registered) and the
 * snapshot. Errors here are not reported over the original one. */
static void cleanup_remote(struct ebs_sink *s)
{
	struct i2k_error *e = NULL;
	i2k_aws_set_uninterruptible(true);
	if (s->ami) {
		if (i2k_ec2_deregister_image(s->a, s->conn, s->ami, &e) < 0)
			i2k_warn("could not deregister %s: %s", s->ami, e->msg);
		i2k_error_free(e);
		e = NULL;
		free(s->ami);
		s->ami = NULL;
	}
	if (s->snap) {
		i2k_aws_debugf(s->a, "aws: deleting unfinished snapshot %s", s->snap);
		if (i2k_ec2_delete_snapshot(s->a, s->conn, s->snap, &e) < 0)
			i2k_warn("could not delete snapshot %s: %s", s->snap, e->msg);
		i2k_error_free(e);
		free(s->snap);
		s->snap = NULL;
	}
	i2k_aws_set_uninterruptible(false);
}

static int register_image(struct ebs_sink *s, const char *digest, struct i2k_error **err)
{
	const struct i2k_aws *a = s->a;
	struct i2k_ec2_image *old = NULL;
	size_t n_old = 0;
	if (s->o.replace) {
		if (i2k_ec2_describe_images(a, s->conn, s->o.name, false, &old, &n_old, err) < 0)
			return -1;
		for (size_t i = 0; i < n_old; i++) {
			i2k_aws_debugf(a, "aws: --replace: deregistering %s (%s)", old[i].id,
				       s->o.name);
			if (i2k_ec2_deregister_image(a, s->conn, old[i].id, err) < 0) {
				i2k_ec2_images_free(old, n_old);
				return -1;
			}
		}
	}
	progress(s, "register", true);
	_cleanup_free_ char *desc = s->o.description ? NULL : i2k_xasprintf("i2kit %s", s->o.name);
	struct i2k_ec2_register r = {
	    .name = s->o.name,
	    .description = s->o.description ? s->o.description : desc,
	    .architecture = s->o.architecture ? s->o.architecture : "x86_64",
	    .boot_mode = s->o.boot_mode,
	    .snapshot_id = s->snap,
	    .volume_gib = (s->base.size + GIB - 1) / GIB,
	};
	_cleanup_free_ char *code = NULL;
	if (i2k_ec2_register_image(a, s->conn, &r, &s->ami, &code, err) < 0) {
		i2k_ec2_images_free(old, n_old);
		return -1;
	}
	size_t nt = s->o.n_tags + 2;
	_cleanup_free_ struct i2k_ec2_tag *tags = i2k_xcalloc(nt, sizeof(*tags));
	tags[0] = (struct i2k_ec2_tag){I2K_EC2_TAG_NAME, s->o.name};
	tags[1] = (struct i2k_ec2_tag){I2K_EC2_TAG_DIGEST, digest};
	for (size_t i = 0; i < s->o.n_tags; i++)
		tags[2 + i] = s->o.tags[i];
	const char *res[] = {s->ami, s->snap};
	if (i2k_ec2_create_tags(a, s->conn, res, 2, tags, nt, err) < 0) {
		i2k_ec2_images_free(old, n_old);
		return -1;
	}
	const char *snap_only[] = {s->snap};
	struct i2k_ec2_tag ami_tag = {I2K_EC2_TAG_AMI, s->ami};
	if (i2k_ec2_create_tags(a, s->conn, snap_only, 1, &ami_tag, 1, err) < 0) {
		i2k_ec2_images_free(old, n_old);
		return -1;
	}
	for (size_t i = 0; i < n_old; i++) {
		char **snaps = NULL;
		size_t ns = 0;
		struct i2k_error *e = NULL;
		if (i2k_ec2_image_snapshots(a, s->conn, old[i].id, old[i].snapshot_id, &snaps, &ns,
					    &e) < 0) {
			i2k_warn("--replace: could not find the snapshots of %s: %s", old[i].id,
				 e->msg);
			i2k_error_free(e);
			continue;
		}
		for (size_t k = 0; k < ns; k++) {
			if (strcmp(snaps[k], s->snap) != 0 &&
			    i2k_ec2_delete_snapshot(a, s->conn, snaps[k], &e) < 0) {
				i2k_warn("--replace: could not delete snapshot %s of %s: %s",
					 snaps[k], old[i].id, e->msg);
				i2k_error_free(e);
				e = NULL;
			}
			free(snaps[k]);
		}
		free(snaps);
	}
	s->res.replaced = n_old;
	i2k_ec2_images_free(old, n_old);
	if (!s->o.no_wait) {
		progress(s, "wait", true);
		if (i2k_ec2_wait_image(a, s->conn, s->ami,
				       s->o.wait_timeout_s ? s->o.wait_timeout_s : 3600, err) < 0)
			return -1;
	}
	return 0;
}

static int finish_inner(struct ebs_sink *s, struct i2k_error **err)
{
	if (seal(s, err) < 0)
		return -1;
	s->pos = s->base.size;
	pthread_mutex_lock(&s->mu);
	s->closing = true;
	pthread_cond_broadcast(&s->cv_work);
	while ((s->q_len > 0 || s->in_flight > 0) && !s->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->cv_done, &s->mu, &ts);
		pthread_mutex_unlock(&s->mu);
		progress(s, "upload", false);
		if (i2k_interrupted) {
			pthread_mutex_lock(&s->mu);
			struct i2k_error *e = NULL;
			i2k_error_set(&e, I2K_ERR_INTERRUPTED, "interrupted");
			fail_locked(s, &e);
			continue;
		}
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	stop_workers(s);
	if (copy_werr(s, err) < 0)
		return -1;
	progress(s, "complete", true);

	uint8_t agg[32];
	EVP_DigestFinal_ex(s->agg, agg, NULL);
	char digest[72];
	i2k_ebs_digest_final(&s->content, digest);
	if (s->o.content_digest && strcmp(s->o.content_digest, digest) != 0)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "the disk changed while it was uploaded (digest %s, expected "
				     "%s)",
				     digest, s->o.content_digest);
	_cleanup_free_ char *status = NULL;
	if (i2k_ebs_complete(s->a, s->conn, s->snap, s->blocks_sent, agg, &status, err) < 0)
		return -1;
	progress(s, "wait", true);
	if (i2k_ec2_wait_snapshot(s->a, s->conn, s->snap,
				  s->o.wait_timeout_s ? s->o.wait_timeout_s : 3600, err) < 0)
		return -1;
	if (register_image(s, digest, err) < 0)
		return -1;

	struct i2k_ebs_result *r = &s->res;
	snprintf(r->ami, sizeof(r->ami), "%s", s->ami);
	snprintf(r->snapshot, sizeof(r->snapshot), "%s", s->snap);
	snprintf(r->region, sizeof(r->region), "%s", s->a->region);
	snprintf(r->digest, sizeof(r->digest), "%s", digest);
	r->size = s->base.size;
	r->blocks_sent = s->blocks_sent;
	r->blocks_skipped = s->nblocks - s->blocks_sent;
	r->bytes_sent = s->bytes_sent;
	r->seconds = elapsed(s);
	return 0;
}

static int ebs_finish(struct i2k_sink *base, struct i2k_error **err)
{
	struct ebs_sink *s = (struct ebs_sink *)base;
	if (finish_inner(s, err) < 0) {
		stop_workers(s);
		cleanup_remote(s);
		return i2k_error_wrap(err, "pushing %s to AWS", s->o.name);
	}
	s->ok = true;
	progress(s, "done", true);
	return 0;
}

static void ebs_destroy(struct i2k_sink *base)
{
	struct ebs_sink *s = (struct ebs_sink *)base;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_broadcast(&s->cv_work);
	pthread_cond_broadcast(&s->cv_free);
	pthread_mutex_unlock(&s->mu);
	stop_workers(s);
	if (!s->ok)
		cleanup_remote(s);
	for (size_t i = 0; i < s->n_free; i++)
		free(s->free_bufs[i]);
	free(s->cur);
	free(s->free_bufs);
	free(s->q);
	free(s->rdig);
	free(s->ridx);
	free(s->rready);
	free(s->threads);
	free(s->snap);
	free(s->ami);
	EVP_MD_CTX_free(s->agg);
	i2k_ebs_digest_abort(&s->content);
	i2k_error_free(s->werr);
	i2k_aws_conn_free(s->conn);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv_free);
	pthread_cond_destroy(&s->cv_work);
	pthread_cond_destroy(&s->cv_done);
	free(s);
}

static const struct i2k_sink_ops ebs_ops = {
    .write_at = ebs_write_at,
    .read_at = ebs_read_at,
    .zero = ebs_zero,
    .finish = ebs_finish,
    .destroy = ebs_destroy,
};

int i2k_ebs_sink_new(const struct i2k_aws *a, const struct i2k_ebs_sink_opts *o,
		     struct i2k_sink **out, struct i2k_error **err)
{
	*out = NULL;
	if (o->size == 0)
		return i2k_error_set(err, I2K_ERR_USAGE, "empty disk");
	if (o->name == NULL || *o->name == '\0' || strlen(o->name) > 128)
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "an AMI name of 1..128 characters is "
				     "required");
	if (o->boot_mode == NULL ||
	    (strcmp(o->boot_mode, "uefi") != 0 && strcmp(o->boot_mode, "legacy-bios") != 0))
		return i2k_error_set(err, I2K_ERR_USAGE, "boot mode must be uefi or legacy-bios");
	if (o->architecture && strcmp(o->architecture, "x86_64") != 0 &&
	    strcmp(o->architecture, "arm64") != 0)
		return i2k_error_set(err, I2K_ERR_USAGE, "architecture must be x86_64 or arm64");
	if (o->client_token && strlen(o->client_token) > 64)
		return i2k_error_set(err, I2K_ERR_USAGE, "client token longer than 64");
	unsigned jobs = o->jobs ? o->jobs : I2K_EBS_DEFAULT_JOBS;
	if (jobs > I2K_EBS_MAX_JOBS)
		return i2k_error_set(err, I2K_ERR_USAGE, "--jobs %u exceeds %u", jobs,
				     I2K_EBS_MAX_JOBS);
	uint64_t gib = (o->size + GIB - 1) / GIB;
	if (gib > 65536)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "disk of %llu GiB exceeds EBS's 64 TiB limit",
				     (unsigned long long)gib);

	struct i2k_aws_conn *conn = i2k_aws_conn_new();
	/* an existing name is an error before anything is uploaded */
	if (!o->replace) {
		struct i2k_ec2_image *im = NULL;
		size_t n = 0;
		if (i2k_ec2_describe_images(a, conn, o->name, false, &im, &n, err) < 0) {
			i2k_aws_conn_free(conn);
			return i2k_error_wrap(err, "pushing %s to AWS", o->name);
		}
		if (n > 0) {
			i2k_error_set(err, I2K_ERR_REGISTRY,
				      "pushing %s to AWS: an AMI named \"%s\" already exists in %s "
				      "(%s); use --replace",
				      o->name, o->name, a->region, im[0].id);
			i2k_ec2_images_free(im, n);
			i2k_aws_conn_free(conn);
			return -1;
		}
	}
	size_t nt = o->n_tags + 1;
	_cleanup_free_ struct i2k_ec2_tag *tags = i2k_xcalloc(nt, sizeof(*tags));
	tags[0] = (struct i2k_ec2_tag){I2K_EC2_TAG_NAME, o->name};
	for (size_t i = 0; i < o->n_tags; i++)
		tags[1 + i] = o->tags[i];
	_cleanup_free_ char *desc = o->description ? NULL : i2k_xasprintf("i2kit %s", o->name);
	struct i2k_ebs_start st = {
	    .volume_gib = gib,
	    .client_token = o->client_token,
	    .description = o->description ? o->description : desc,
	    .tags = tags,
	    .n_tags = nt,
	};
	char *snap = NULL;
	uint32_t bs = 0;
	if (i2k_ebs_start_snapshot(a, conn, &st, &snap, &bs, err) < 0) {
		i2k_aws_conn_free(conn);
		return i2k_error_wrap(err, "pushing %s to AWS", o->name);
	}
	if (bs != I2K_EBS_BLOCK)
		i2k_aws_debugf(a, "aws: StartSnapshot answered BlockSize %u; using %u", bs,
			       I2K_EBS_BLOCK);
	i2k_aws_debugf(a, "aws: snapshot %s started (%llu GiB, %u jobs)", snap,
		       (unsigned long long)gib, jobs);

	struct ebs_sink *s = i2k_xcalloc(1, sizeof(*s));
	s->base.ops = &ebs_ops;
	s->base.size = o->size;
	s->base.name = "EBS snapshot";
	s->a = a;
	s->o = *o;
	s->conn = conn;
	s->snap = snap;
	s->nblocks = (o->size + I2K_EBS_BLOCK - 1) / I2K_EBS_BLOCK;
	clock_gettime(CLOCK_MONOTONIC, &s->t0);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv_free, NULL);
	pthread_cond_init(&s->cv_work, NULL);
	pthread_cond_init(&s->cv_done, NULL);
	s->n_bufs = jobs + 1;
	s->free_bufs = i2k_xcalloc(s->n_bufs, sizeof(*s->free_bufs));
	for (size_t i = 0; i < s->n_bufs; i++)
		s->free_bufs[s->n_free++] = i2k_xmalloc(I2K_EBS_BLOCK);
	s->q = i2k_xcalloc(s->n_bufs, sizeof(*s->q));
	s->ring = 4 * s->n_bufs;
	s->rdig = i2k_xcalloc(s->ring, sizeof(*s->rdig));
	s->ridx = i2k_xcalloc(s->ring, sizeof(*s->ridx));
	s->rready = i2k_xcalloc(s->ring, sizeof(*s->rready));
	s->agg = EVP_MD_CTX_new();
	if (s->agg == NULL || EVP_DigestInit_ex(s->agg, EVP_sha256(), NULL) != 1)
		abort();
	i2k_ebs_digest_init(&s->content, o->size);
	s->threads = i2k_xcalloc(jobs, sizeof(*s->threads));
	for (unsigned i = 0; i < jobs; i++) {
		if (pthread_create(&s->threads[i], NULL, worker, s) != 0) {
			i2k_error_errno(err, errno, I2K_ERR_INTERNAL, "starting upload threads");
			ebs_destroy(&s->base);
			return -1;
		}
		s->n_threads++;
	}
	*out = &s->base;
	return 0;
}

int i2k_ebs_sink_result(struct i2k_sink *base, struct i2k_ebs_result *r)
{
	if (base == NULL || base->ops != &ebs_ops)
		return -1;
	struct ebs_sink *s = (struct ebs_sink *)base;
	if (!s->ok)
		return -1;
	*r = s->res;
	return 0;
}
