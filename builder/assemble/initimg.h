/* initimg.h — the init: list as i2kit builds it. i2kit's guest init ships
 * with the program, so a config never needs a registry for it:
 *
 *   i2kit/init[:TAG]     (docker.io/i2kit/init) is i2kit's own init: the OCI
 *                        archive installed with the program is imported into
 *                        the cache and the entry pinned to its digest. TAG
 *                        must be the program's version (VERSION, vVERSION)
 *                        or "latest"; another tag or digest is
 *                        I2K_ERR_CONFIG naming the version that ships.
 *   no init: at all      with a kernel: i2kit's own init (as above).
 *   linuxkit/init, linuxkit/runc, linuxkit/containerd (docker.io, any tag)
 *                        LinuxKit's init + runc + containerd, whose job
 *                        i2kit's init does: replaced by i2kit's own init
 *                        (once, where the first of them was), with one
 *                        notice (i2k_warn) naming them — unless keep_init,
 *                        which keeps them as written (pulled as LinuxKit
 *                        would).
 *   anything else        as written.
 * The archive is found by i2k_init_archive_path(). Other registries'
 * i2kit/init (e.g. 127.0.0.1:5000/i2kit/init) are ordinary images.
 */
#ifndef I2K_BUILDER_ASSEMBLE_INITIMG_H
#define I2K_BUILDER_ASSEMBLE_INITIMG_H

#include <stdbool.h>
#include <stddef.h>

#include "builder/base/error.h"
#include "builder/config/config.h"
#include "builder/store/store.h"

/* The bundled init archive (i2kit-init-VERSION.tar), first found of:
 *   $I2KIT_INIT_ARCHIVE
 *   DIR/../share/i2kit/i2kit-init-VERSION.tar   (make install)
 *   DIR/build/init/i2kit-init-VERSION.tar       (the build tree)
 * where DIR is the directory of the running program (/proc/self/exe).
 * Returns a new string, or NULL with I2K_ERR_NOTFOUND listing where it
 * looked. */
char *i2k_init_archive_path(struct i2k_error **err);

struct i2k_init_opts {
	bool keep_init;	     /* --keep-init */
	const char *archive; /* NULL → i2k_init_archive_path() */
};

/* "docker.io/i2kit/init:VERSION@": the prefix of the digest-pinned cache ref
 * of the bundled init once imported. It comes from i2kit's installation,
 * not from a registry, so signature checks (--verify-key) skip it. */
const char *i2k_init_own_ref_prefix(void);

/* Computes the init images to fetch for cfg. *out is a new array of n
 * entries (images owned by it; positions borrowed from cfg): free with
 * i2k_init_list_free. Imports the bundled archive into store when i2kit's
 * own init is used. */
int i2k_init_resolve(const struct i2k_config *cfg, struct i2k_store *store,
		     const struct i2k_init_opts *opts, struct i2k_init_entry **out, size_t *n,
		     struct i2k_error **err);
void i2k_init_list_free(struct i2k_init_entry *v, size_t n);

#endif
