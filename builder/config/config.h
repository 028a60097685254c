/* config.h — a LinuxKit-style YAML configuration, typed.
 *
 * builder/config parses one or more YAML files into struct i2k_config,
 * validating every key and type (errors carry FILE:LINE:COL), and merges
 * several files the way `linuxkit build a.yml b.yml` does: kernel fields of a
 * later file override, init/onboot/onshutdown/services/files/volumes lists
 * are appended, and service and volume names must stay unique (as in
 * LinuxKit, onboot/onshutdown entries are numbered and may share a name).
 *
 * Per-image options (struct i2k_imgopts) keep "was it set?" information
 * because precedence matters: YAML > org.mobyproject.config label > image
 * config. OCI pass-through structures (mounts, resources, id mappings,
 * devices, interfaces) are kept as jansson values already in OCI JSON form.
 *
 * Ownership: everything inside a struct i2k_config is owned by it and freed
 * by i2k_config_free.
 */
#ifndef I2K_BUILDER_CONFIG_CONFIG_H
#define I2K_BUILDER_CONFIG_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"

/* Where a value came from, for error messages: "FILE:LINE:COL". line/col are
 * 1-based; line 0 means "no position" (e.g. from a label). */
struct i2k_pos {
	const char *file; /* points into i2k_config.files (owned there) */
	unsigned line, col;
};

/* A string list that remembers whether it was given at all (an empty list
 * `capabilities: []` is "set, empty", different from absent). */
struct i2k_strv {
	char **v;
	size_t n;
	bool set;
};

/* Optional scalars. */
struct i2k_optbool {
	bool set, value;
};
struct i2k_optint {
	bool set;
	int64_t value;
};
/* uid/gid: a number or a name to look up in the image's /etc/passwd|group. */
struct i2k_optid {
	bool set;
	bool is_name;
	int64_t id;
	char *name;
};

struct i2k_bindns { /* runtime.bindNS: paths where to bind the namespace */
	char *cgroup, *ipc, *mnt, *net, *pid, *user, *uts;
};

struct i2k_runtime {
	bool set;
	struct i2k_strv cgroups;
	json_t *mounts; /* array of OCI mounts, NULL if absent */
	struct i2k_strv mkdir;
	json_t *interfaces; /* array of {name, add, peer, createInRoot}, NULL if absent */
	struct i2k_bindns bindns;
	char *namespace_; /* runtime.namespace */
};

/* Every per-image field LinuxKit accepts (yaml names in comments). */
struct i2k_imgopts {
	struct i2k_strv capabilities;	      /* capabilities */
	struct i2k_strv capabilities_add;     /* capabilities.add */
	struct i2k_strv ambient;	      /* ambient */
	json_t *mounts;			      /* mounts: array of OCI mounts */
	struct i2k_strv binds;		      /* binds: "src:dst[:opts]" */
	struct i2k_strv binds_add;	      /* binds.add */
	struct i2k_strv tmpfs;		      /* tmpfs: "dst[:opts]" */
	json_t *devices;		      /* devices: [{path,type,major,minor,mode}];
						 "mode" is a JSON integer (the octal
						 string "0666" already parsed) */
	struct i2k_strv command;	      /* command */
	struct i2k_strv env;		      /* env: "K=V" */
	char *cwd;			      /* cwd */
	char *net, *pid, *ipc, *uts, *userns; /* "host", "new" or a path to join */
	char *hostname;
	struct i2k_optbool readonly;
	struct i2k_strv masked_paths;	/* maskedPaths */
	struct i2k_strv readonly_paths; /* readonlyPaths */
	struct i2k_optid uid, gid;
	struct i2k_optid *additional_gids; /* additionalGids */
	size_t n_additional_gids;
	bool additional_gids_set;
	struct i2k_optbool no_new_privileges; /* noNewPrivileges */
	struct i2k_optint oom_score_adj;      /* oomScoreAdj */
	char *rootfs_propagation;	      /* rootfsPropagation */
	char *cgroups_path;		      /* cgroupsPath */
	json_t *resources;		      /* resources: OCI LinuxResources */
	json_t *sysctl;			      /* sysctl: object string→string */
	struct i2k_strv rlimits;	      /* rlimits: "NAME,soft,hard" */
	json_t *uid_mappings, *gid_mappings;  /* uidMappings/gidMappings */
	json_t *annotations;		      /* annotations: object string→string */
	struct i2k_runtime runtime;	      /* runtime */
};

/* An onboot / onshutdown / service entry. */
struct i2k_image_entry {
	char *name;
	char *image; /* reference as written, e.g. "linuxkit/getty:v1" */
	struct i2k_imgopts opts;
	struct i2k_pos pos; /* position of the entry's mapping */
};

struct i2k_file_entry {
	char *path;
	bool directory;
	char *symlink;	/* NULL if not a symlink */
	char *contents; /* NULL if absent (distinct from "") */
	size_t contents_len;
	char *source;	/* host path; "~/" already NOT expanded (done at build) */
	char *metadata; /* "yaml" or "json": write the config as metadata */
	bool optional;
	bool mode_set;
	uint32_t mode; /* parsed octal */
	struct i2k_optid uid, gid;
	struct i2k_pos pos;
};

struct i2k_volume_entry {
	char *name;
	char *image;
	bool readonly;
	char *format; /* NULL, "filesystem" (the image's tree, default) or "oci"
			 (the image as an OCI image layout) */
	struct i2k_strv platforms;
	struct i2k_pos pos;
};

struct i2k_kernel_cfg {
	char *image;   /* NULL when the config has no kernel; required (non-empty)
			  in a file that has a kernel: section */
	char *cmdline; /* NULL → "" */
	char *binary;  /* default "kernel" */
	char *tar;     /* default "kernel.tar"; "none" = no tar */
	char *ucode;   /* NULL = none */
	/* kernel.modules (i2kit extension, see the guest-init issue):
	 * mode AUTO (default), ALL, or LIST with names. */
	enum { I2K_MODULES_AUTO, I2K_MODULES_ALL, I2K_MODULES_LIST } modules;
	bool modules_set; /* kernel.modules was given (merge: a later file wins) */
	struct i2k_strv module_names;
	struct i2k_pos pos;
};

struct i2k_init_entry {
	char *image;
	struct i2k_pos pos;
};

/* One `i2kit-verify:` pair (an i2kit extension, see README "Signatures"):
 * the image (as written) must carry a signature that verifies with the
 * public key file `key` (a path relative to the working directory). */
struct i2k_verify_entry {
	char *image;
	char *key;
	struct i2k_pos pos;
};

struct i2k_config {
	struct i2k_kernel_cfg kernel;
	struct i2k_init_entry *init;
	size_t n_init;
	struct i2k_image_entry *onboot, *onshutdown, *services;
	size_t n_onboot, n_onshutdown, n_services;
	struct i2k_file_entry *files;
	size_t n_files;
	struct i2k_volume_entry *volumes;
	size_t n_volumes;
	struct i2k_verify_entry *verify; /* "i2kit-verify:" (not re-emitted) */
	size_t n_verify;
	bool trust_given;  /* "trust:" present (accepted, ignored with a warning) */
	char **files_read; /* names of the YAML files, owner of i2k_pos.file */
	size_t n_files_read;
	/* The merged configuration re-serialised as YAML (for /etc/linuxkit.yml
	 * and files: metadata), owned. */
	char *yaml;
};

/* Parses one YAML document from a buffer; `name` is used in positions.
 * An empty file (or only comments, or a null document) is a valid empty
 * config. Sets (*out)->yaml. Warns (i2k_warn) when "trust:" is present.
 * Errors: I2K_ERR_CONFIG with "NAME:LINE:COL: message" (see parse.c for the
 * list); inputs over 16 MiB, more than 1e6 nodes after alias expansion or
 * deeper than 64 levels are rejected. */
int i2k_config_parse(const char *name, const char *data, size_t len, struct i2k_config **out,
		     struct i2k_error **err);
/* Reads and parses each file (at most 16 MiB each), merging in order. "-"
 * reads stdin (named "<stdin>" in positions). n == 0 gives an empty config.
 * Sets (*out)->yaml to the merged config. */
int i2k_config_load(const char *const *paths, size_t n, struct i2k_config **out,
		    struct i2k_error **err);
/* Merges src into dst (dst is modified; src is consumed and freed, also on
 * failure). Kernel fields given in src override; lists are appended; a
 * duplicate service or volume name is an error naming both positions. Regenerates dst->yaml. */
int i2k_config_merge(struct i2k_config *dst, struct i2k_config *src, struct i2k_error **err);

/* Parses the JSON of an image's `org.mobyproject.config` label into opts
 * (same schema as the YAML per-image fields). opts need not be initialised;
 * it is overwritten, and left cleared on failure. Like LinuxKit (Go
 * encoding/json) unknown keys are ignored, key names match
 * case-insensitively and null means absent; wrong types are errors:
 * I2K_ERR_CONFIG "org.mobyproject.config label: PATH: why". */
int i2k_imgopts_from_json(const char *json, struct i2k_imgopts *opts, struct i2k_error **err);
void i2k_imgopts_clear(struct i2k_imgopts *opts);

void i2k_config_free(struct i2k_config *c);
void i2k_config_freep(struct i2k_config **c);

/* "FILE:LINE:COL: " for p into buf (or "" when p has no position); returns
 * buf. For error messages. */
const char *i2k_pos_prefix(const struct i2k_pos *p, char *buf, size_t n);

/* The host path a files: entry's source names: "~/x" → home + "/x" (home
 * NULL → $HOME), others as written. Caller frees; NULL when no source. */
char *i2k_file_source_path(const struct i2k_file_entry *f, const char *home);

void i2k_strv_clear(struct i2k_strv *s);
void i2k_strv_push(struct i2k_strv *s, const char *str); /* copies */

#endif
