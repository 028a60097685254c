/* check.h — every check `i2kit build` makes before it fetches anything, so
 * that `i2kit validate` finds the same errors (LinuxKit's rules, no
 * stricter, no looser; names and YAML types are checked by builder/config).
 *
 * i2k_assemble_check(cfg, home) checks, in config order:
 *   image references   kernel.image, init[], onboot/onshutdown/services
 *                      image, volumes image: Docker's reference syntax
 *                      (builder/registry/ref.h) → I2K_ERR_CONFIG
 *                      "POS: services[web].image: invalid image reference ...";
 *                      a LinuxKit package template ("@pkg:DIR", "@pkgs:...")
 *                      → I2K_ERR_UNSUPPORTED "... is a linuxkit pkg
 *                      template, which i2kit does not support: ..."
 *   capabilities       capabilities, capabilities.add and ambient of every
 *                      entry: known CAP_ names (case as the kernel's), or a
 *                      single "all"/"none" (any case) → I2K_ERR_CONFIG
 *                      "POS: onboot[x].capabilities: unknown capability \"C\""
 *   volume references  binds, binds.add and mounts of every entry that
 *                      name a volume (builder/bundle/volumes.h): the volume
 *                      must exist, a read-only one must be bound ":ro";
 *                      a volume with format oci needs an image
 *                      → I2K_ERR_CONFIG "POS: services[x]: volume ..."
 *   files: source      a non-optional source (with "~/" → home, NULL →
 *                      $HOME) must be an existing regular file →
 *                      I2K_ERR_NOTFOUND / I2K_ERR_CONFIG, worded as the
 *                      build's "POS: files[N] PATH: source SRC: ..."
 * Positions are "FILE:LINE:COL: " of the entry (omitted when unknown).
 * Returns 0 or -1 with the first error. Reads only the local file system.
 */
#ifndef I2K_BUILDER_ASSEMBLE_CHECK_H
#define I2K_BUILDER_ASSEMBLE_CHECK_H

#include "builder/base/error.h"
#include "builder/config/config.h"

int i2k_assemble_check(const struct i2k_config *cfg, const char *home, struct i2k_error **err);

#endif
