/* fuzz_imgconfig.c — fuzzes the image config JSON path (outside data: the
 * config blob of every pulled image): i2k_image_config_parse
 * (builder/image/image.c), i2k_config_platform (builder/registry/
 * manifest.c), and, for an accepted config, the bundle writer
 * (builder/bundle: Env/Entrypoint/Cmd/WorkingDir/User and the
 * org.mobyproject.config label, itself a JSON document of capabilities,
 * binds, mounts, rlimits, runtime actions...) for each container kind.
 *
 * Oracles: an accepted config has consistent counts and no empty strings
 * where the parser promises NULL; every config.json / runtime.json the
 * bundle writer produces is valid JSON for jansson AND for the guest
 * init's own reader (initrd/init/json.c, compiled in) — what the builder
 * writes, the guest must read — with process.args an array when present.
 *
 * make build/fuzzer/fuzz_imgconfig (libFuzzer) or build/fuzz/fuzz_imgconfig
 * (-DI2K_FUZZ_MAIN: replays files, tests/fuzz/replay.sh). */
#include "initrd/init/json.c"

#include <jansson.h>

#include "builder/base/error.h"
#include "builder/bundle/bundle.h"
#include "builder/image/image.h"
#include "builder/registry/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_doc(const char *doc, int want_args)
{
	if (doc == NULL)
		abort();
	json_error_t je;
	json_t *j = json_loads(doc, 0, &je);
	if (!json_is_object(j))
		abort();
	json_decref(j);
	char err[256];
	struct jnode *n = i2ki_json_parse(doc, strlen(doc), err, sizeof(err));
	if (!n || n->type != J_OBJ) {
		fprintf(stderr, "the guest init cannot read what the builder wrote: %s\n%s\n", err,
			doc);
		abort();
	}
	if (want_args) {
		const struct jnode *args = i2ki_json_get(i2ki_json_get(n, "process"), "args");
		/* absent when neither the image nor the YAML gives a command
		 * (LinuxKit's omitempty; the init then refuses that container) */
		if (args && args->type != J_ARR)
			abort();
	}
	i2ki_json_free(n);
}

static void check_strv(char **v, size_t n)
{
	if (n && !v)
		abort();
	for (size_t i = 0; i < n; i++)
		if (!v[i])
			abort();
	if (v && v[n])
		abort(); /* NULL-terminated */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct i2k_error *e = NULL;
	char *os = NULL, *arch = NULL, *variant = NULL;
	if (i2k_config_platform(s, size, &os, &arch, &variant, &e) == 0) {
		free(os);
		free(arch);
		free(variant);
	}
	i2k_error_free(e);
	e = NULL;
	struct i2k_image_config c;
	if (i2k_image_config_parse(s, size, &c, &e) < 0) {
		if (!e || !e->msg)
			abort();
		i2k_error_free(e);
		return 0;
	}
	check_strv(c.env, c.n_env);
	check_strv(c.entrypoint, c.n_entrypoint);
	check_strv(c.cmd, c.n_cmd);
	if ((c.working_dir && !c.working_dir[0]) || (c.user && !c.user[0]))
		abort();
	if (c.labels && !json_is_object(c.labels))
		abort();
	static const enum i2k_bundle_kind kinds[] = {I2K_BUNDLE_ONBOOT, I2K_BUNDLE_SERVICE};
	struct i2k_image_entry entry = {.name = (char *)"fuzz", .image = (char *)"x"};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		struct i2k_idmap *ids = i2k_idmap_new();
		i2k_idmap_add(ids, "fuzz");
		struct i2k_bundle_input in = {
		    .kind = kinds[k], .entry = &entry, .image_cfg = &c, .ids = ids};
		struct i2k_bundle b = {0};
		struct i2k_error *be = NULL;
		if (i2k_bundle_make(&in, &b, &be) == 0) {
			check_doc(b.config_json, 1);
			check_doc(b.runtime_json, 0);
		} else if (!be || !be->msg) {
			abort();
		}
		i2k_error_free(be);
		i2k_bundle_clear(&b);
		i2k_idmap_free(ids);
	}
	i2k_image_config_clear(&c);
	return 0;
}

#include "tests/fuzz/replay_main.h"
