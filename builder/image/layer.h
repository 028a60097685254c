/* layer.h — applying one tar layer to an fstree (i2k_layer_apply, declared
 * in image.h) and the layer media types i2kit understands.
 *
 * Rules (OCI image-spec "layer" + "whiteouts"):
 *   - entry names: a leading "/" and "./" are stripped, "." components and
 *     repeated slashes dropped; a ".." component, a name longer than
 *     I2K_LAYER_MAX_NAME bytes, or a path through a symlink → I2K_ERR_HOSTILE
 *     `entry "NAME": REASON`;
 *   - ".wh.NAME" removes NAME of lower layers, ".wh..wh..opq" empties its
 *     directory of lower-layer entries; both hide lower layers only, so the
 *     layer's own entries survive whatever their order in the tar; other
 *     ".wh..wh.*" names (aufs bookkeeping) are ignored; whiteouts never
 *     appear in the tree;
 *   - hard links name an earlier path of this or a lower layer; a target
 *     that escapes the root, is missing, is a directory or lies under a
 *     symlink → I2K_ERR_HOSTILE;
 *   - symlink targets are data (absolute ones are fine: never followed);
 *   - devices are kept unless opts->reject_devices;
 *   - a dir entry for the root ("./") sets the root's attributes.
 */
#ifndef I2K_BUILDER_IMAGE_LAYER_H
#define I2K_BUILDER_IMAGE_LAYER_H

#include <stdbool.h>

#define I2K_LAYER_MAX_NAME 4096

enum i2k_layer_compression {
	I2K_LAYER_UNKNOWN = -1,
	I2K_LAYER_DETECT = 0, /* "" or NULL: sniff the magic bytes */
	I2K_LAYER_PLAIN,
	I2K_LAYER_GZIP,
	I2K_LAYER_ZSTD,
};

/* Compression named by a layer media type (OCI tar, tar+gzip, tar+zstd and
 * their nondistributable variants; Docker rootfs.diff.tar(.gzip) and
 * rootfs.foreign.diff.tar.gzip); I2K_LAYER_UNKNOWN for anything else. */
enum i2k_layer_compression i2k_layer_media_type(const char *media_type);

#endif
