/* push.h — `i2kit push aws`: a disk image file (raw, qcow2, VHD; read
 * through its container by formats/container/reader.h, no conversion)
 * streamed into the EBS block sink (ebs.h) and registered as an AMI.
 *
 * Steps: open the image; boot mode from its partition table unless given
 * (GPT with an EFI system partition → "uefi", else "legacy-bios"); one
 * read-only pass over its data extents computes the content digest
 * (ebs.h) — the ClientToken is derived from it, the name and the
 * description, so a retried push of the same content is idempotent; then
 * the data extents are read again, block by block in order, and written
 * into the sink, which uploads the non-zero blocks and finishes as ebs.h
 * describes. The digest of the second pass must equal the first
 * (I2K_ERR_INTEGRITY if the file changed in between).
 */
#ifndef I2K_PROVISION_AWS_PUSH_H
#define I2K_PROVISION_AWS_PUSH_H

#include "builder/base/error.h"
#include "formats/artifacts.h"
#include "formats/container/reader.h"
#include "provision/aws/client.h"
#include "provision/aws/ebs.h"

struct i2k_push_opts {
	const char *image;     /* path */
	const char *boot_mode; /* NULL → detected */
	/* name (NULL → the image's file name without extension), description,
	 * tags, architecture, jobs, replace, no_wait, progress: passed on;
	 * size, boot_mode, client_token, content_digest: set here. */
	struct i2k_ebs_sink_opts sink;
};

/* The request of the aws provider's push op (provision/provider.h). */
struct i2k_push_request {
	const struct i2k_aws *aws;
	const struct i2k_push_opts *opts;
};

/* Pushes o->image; *res on success. */
int i2k_push_aws(const struct i2k_aws *a, const struct i2k_push_opts *o, struct i2k_ebs_result *res,
		 struct i2k_error **err);

/* `i2kit build --format aws --push aws`: a disk destination for the build
 * pipeline (formats/artifacts.h) that takes the aws format's disk: the
 * finished raw disk is read once for its content digest (the ClientToken)
 * and boot mode, then the raw container writer streams it into the EBS sink
 * — zero runs as holes — and no NAME.raw is written. Other formats are
 * written as files. After a successful build, pushed is set and result
 * holds the AMI. opts.sink.name NULL → the build's output name. d, a and
 * the strings in o must outlive the build. */
/* The content digest, the ClientToken derived from it and the default AMI
 * name: the EBS sink points into these, so they live as long as it. */
struct i2k_push_keys {
	char digest[72];
	char token[65];
	char name[256];
};

struct i2k_push_dest {
	const struct i2k_aws *aws;
	struct i2k_push_keys keys; /* the open sink points into these */
	struct i2k_push_opts opts;
	struct i2k_disk_dest dest; /* pass &d->dest in the build request */
	bool pushed;
	struct i2k_ebs_result result;
};
void i2k_push_dest_init(struct i2k_push_dest *d, const struct i2k_aws *a,
			const struct i2k_push_opts *o);

/* "uefi" when the disk has a GPT with an EFI system partition inside the
 * disk (provision/esp.h: i2k_esp_find), else "legacy-bios". Static
 * strings. */
int i2k_push_boot_mode(struct i2k_disk_reader *r, const char **mode, struct i2k_error **err);

/* The image's name for an AMI: file name without directory and extension
 * (".img", ".raw", ".qcow2", ".vhd"). Caller frees. */
char *i2k_push_default_name(const char *path);

#endif
