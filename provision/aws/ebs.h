/* ebs.h — EBS direct APIs (StartSnapshot, PutSnapshotBlock,
 * CompleteSnapshot; REST-JSON, answers via jansson) and the EBS block sink:
 * a struct i2k_sink that turns a disk written through it into a registered
 * AMI.
 *
 * The sink's life:
 *   i2k_ebs_sink_new  checks the AMI name (an existing name is an error
 *                     unless replace), StartSnapshot (VolumeSize =
 *                     ceil(size / 1 GiB), ClientToken, Description, tags
 *                     i2kit:name + the user's, Timeout), starts `jobs`
 *                     upload threads;
 *   write_at          bytes of the disk; offsets must be non-decreasing
 *                     (each write starts at or after the end of the
 *                     previous one; a write before it fails with
 *                     I2K_ERR_INTERNAL). Unwritten regions are zeros. The
 *                     disk is cut into 524288-byte blocks (AWS's block
 *                     size; the BlockSize StartSnapshot answers is not
 *                     trusted); a block is sealed when a write passes its
 *                     end; all-zero blocks are dropped without hashing
 *                     (memcmp), the others are queued to the upload threads,
 *                     which compute SHA-256 and PutSnapshotBlock them
 *                     (x-amz-Data-Length, x-amz-Checksum (base64),
 *                     x-amz-Checksum-Algorithm SHA256), retried as client.h
 *                     says. Memory: (jobs + 1) block buffers + a constant.
 *                     read_at is not supported (write-only sink); zero
 *                     (i2k_sink_zero) is a hole: nothing is sent.
 *   finish            seals the last block (short last block zero-padded),
 *                     waits for the uploads, CompleteSnapshot with
 *                     x-amz-ChangedBlocksCount and the LINEAR aggregate
 *                     checksum (SHA-256 over the blocks' raw 32-byte
 *                     digests in block-index order, base64), waits until
 *                     the snapshot is completed (DescribeSnapshots, 1..15 s
 *                     backoff), with replace deregisters the images of that
 *                     name, RegisterImage (ec2.h), tags image and snapshot
 *                     (i2kit:name, i2kit:digest, the user's), deletes the
 *                     replaced images' snapshots, and unless no_wait waits
 *                     for the image to be available.
 *   i2k_ebs_sink_result  what happened (after a successful finish).
 * On any failure (an upload that still fails after its retries, a refused
 * CompleteSnapshot, a sink destroyed before finish, SIGINT) the snapshot
 * is deleted (and an image registered from it deregistered); the first
 * error is reported by the next write_at or by finish.
 *
 * Content digest (tag i2kit:digest, "sha256:HEX"): SHA-256 over
 * "i2kit-ebs-v1", the disk size (le64) and, for every non-zero block in
 * order, its index (le64) and raw digest — the same for the same disk
 * bytes, whatever container they came from (i2k_ebs_digest_* compute it
 * outside the sink, e.g. for a ClientToken).
 */
#ifndef I2K_PROVISION_AWS_EBS_H
#define I2K_PROVISION_AWS_EBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "formats/sink.h"
#include "provision/aws/client.h"
#include "provision/aws/ec2.h"

#define I2K_EBS_BLOCK 524288u
#define I2K_EBS_DEFAULT_JOBS 64u
#define I2K_EBS_MAX_JOBS 1024u

/* --- the API calls --------------------------------------------------------- */

struct i2k_ebs_start {
	uint64_t volume_gib;
	const char *client_token; /* NULL → none */
	const char *description;  /* NULL → none */
	const struct i2k_ec2_tag *tags;
	size_t n_tags;
	unsigned timeout_min; /* 0 → 60 */
};
/* *snap is the caller's; *block_size is what AWS answered (informational).
 * An answer whose Status is not "pending" means the ClientToken named an
 * earlier push's snapshot (completed, or failed and deleted): the call is
 * repeated with a token derived from that one and the snapshot id (at most
 * 3 times), so re-running a failed push still works and stays deterministic. */
int i2k_ebs_start_snapshot(const struct i2k_aws *a, struct i2k_aws_conn *c,
			   const struct i2k_ebs_start *s, char **snap, uint32_t *block_size,
			   struct i2k_error **err);
/* Parses a StartSnapshot answer (exported for tests). */
int i2k_ebs_parse_start(const char *json, char **snap, uint32_t *block_size,
			struct i2k_error **err);
int i2k_ebs_put_block(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *snap,
		      uint64_t index, const uint8_t *data, const uint8_t digest[32],
		      struct i2k_error **err);
int i2k_ebs_complete(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *snap,
		     uint64_t changed_blocks, const uint8_t aggregate[32], char **status,
		     struct i2k_error **err);

/* --- content digest ---------------------------------------------------------- */

struct i2k_ebs_digest {
	void *ctx; /* EVP_MD_CTX */
};
void i2k_ebs_digest_init(struct i2k_ebs_digest *d, uint64_t size);
void i2k_ebs_digest_block(struct i2k_ebs_digest *d, uint64_t index, const uint8_t digest[32]);
void i2k_ebs_digest_final(struct i2k_ebs_digest *d, char out[72]); /* also frees */
void i2k_ebs_digest_abort(struct i2k_ebs_digest *d);

/* --- the sink ---------------------------------------------------------------- */

struct i2k_ebs_progress {
	const char *phase;     /* "upload", "complete", "wait", "register" */
	uint64_t size;	       /* disk bytes */
	uint64_t written;      /* disk bytes the writer has passed */
	uint64_t blocks_sent;  /* uploaded */
	uint64_t blocks_zero;  /* skipped as all-zero so far */
	uint64_t blocks_total; /* size / 512 KiB, rounded up */
	uint64_t bytes_sent;
	double seconds;
};
typedef void (*i2k_ebs_progress_fn)(const struct i2k_ebs_progress *p, void *ctx);

struct i2k_ebs_sink_opts {
	uint64_t size;			/* disk size in bytes (> 0) */
	unsigned jobs;			/* parallel uploads; 0 → 64 */
	const char *name;		/* AMI name (required) */
	const char *description;	/* NULL → "i2kit NAME" */
	const struct i2k_ec2_tag *tags; /* the user's (snapshot and image) */
	size_t n_tags;
	const char *architecture;   /* "x86_64" (NULL) | "arm64" */
	const char *boot_mode;	    /* "uefi" | "legacy-bios" (required) */
	const char *client_token;   /* ≤ 64 chars; NULL → none */
	const char *content_digest; /* expected digest or NULL; a mismatch at
				     * finish is I2K_ERR_INTEGRITY (the input
				     * changed while it was uploaded) */
	bool replace;
	bool no_wait;		      /* do not wait for the image to be available */
	unsigned wait_timeout_s;      /* snapshot/image waits; 0 → 3600 */
	i2k_ebs_progress_fn progress; /* called from the writing thread, ≤ 5/s */
	void *progress_ctx;
};

struct i2k_ebs_result {
	char ami[64], snapshot[64], region[64];
	char digest[72];
	uint64_t size, blocks_sent, blocks_skipped, bytes_sent;
	double seconds;
	size_t replaced; /* images deregistered by replace */
};

/* a and *o's strings must outlive the sink. */
int i2k_ebs_sink_new(const struct i2k_aws *a, const struct i2k_ebs_sink_opts *o,
		     struct i2k_sink **out, struct i2k_error **err);
/* After a successful i2k_sink_finish: copies the result; -1 otherwise. */
int i2k_ebs_sink_result(struct i2k_sink *s, struct i2k_ebs_result *r);

#endif
