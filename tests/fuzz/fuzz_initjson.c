/* fuzz_initjson.c — fuzzes the guest init's JSON reader (initrd/init/json.c,
 * compiled in: the init is not part of the library), which reads every
 * bundle's config.json and runtime.json and the metadata file, and the pure
 * readers of the parsed tree the container runner uses before any syscall:
 * mount options (ctmounts.c), capabilities (caps.c), cgroup paths and
 * resource limits (cgroup.c). No PID 1 code runs.
 *
 * Oracle: jansson (the builder's JSON library) parses the same bytes.
 *   - both accept: the trees are equal (types, strings byte for byte,
 *     integers, reals, array elements in order, object members with the
 *     last duplicate winning, as both document);
 *   - only the init accepts: allowed only for what jansson refuses on
 *     purpose (invalid UTF-8 or lone surrogates, which the init keeps /
 *     maps to U+FFFD; integers or reals out of range, which it saturates);
 *   - only jansson accepts: allowed only for the init's documented limits
 *     (depth 64, numbers of at most 63 characters) and input with a NUL
 *     byte (jansson takes a NUL for the end of the input; the init refuses
 *     what follows the document).
 * Anything else aborts, as does any ASan/UBSan report.
 *
 * make build/fuzzer/fuzz_initjson (libFuzzer) or build/fuzz/fuzz_initjson
 * (-DI2K_FUZZ_MAIN: replays files, tests/fuzz/replay.sh). */
#include "initrd/init/util.c"
#include "initrd/init/json.c"
#include "initrd/init/ctmounts.c"
#include "initrd/init/caps.c"
#include "initrd/init/cgroup.c"

#include <jansson.h>
#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const struct jnode *a, json_t *b)
{
	switch (a->type) {
	case J_NULL:
		if (!json_is_null(b))
			abort();
		break;
	case J_BOOL:
		if (!json_is_boolean(b) || a->b != json_is_true(b))
			abort();
		break;
	case J_NUM:
		if (json_is_integer(b)) {
			if (a->num != json_integer_value(b))
				abort();
		} else if (json_is_real(b)) {
			double x = json_real_value(b);
			if (!(a->dbl == x || (isnan(a->dbl) && isnan(x))))
				abort();
		} else {
			abort();
		}
		break;
	case J_STR:
		if (!json_is_string(b) || strlen(a->str) != json_string_length(b) ||
		    memcmp(a->str, json_string_value(b), json_string_length(b)) != 0)
			abort();
		break;
	case J_ARR: {
		if (!json_is_array(b) || a->n != json_array_size(b))
			abort();
		size_t i = 0;
		for (const struct jnode *k = a->kids; k; k = k->next, i++)
			same(k, json_array_get(b, i));
		if (i != a->n)
			abort();
		break;
	}
	case J_OBJ: {
		if (!json_is_object(b))
			abort();
		size_t i = 0;
		for (const struct jnode *k = a->kids; k; k = k->next, i++) {
			if (!k->key || !json_object_get(b, k->key))
				abort();
		}
		if (i != a->n || json_object_size(b) > a->n)
			abort();
		const char *key;
		json_t *v;
		json_object_foreach(b, key, v)
		{
			const struct jnode *mine = i2ki_json_get(a, key);
			if (!mine)
				abort();
			same(mine, v);
		}
		break;
	}
	default:
		abort();
	}
}

/* What the runner reads from a bundle before it makes any syscall. */
static void consumers(const struct jnode *root)
{
	char e[256];
	struct ctm_opts o;
	const struct jnode *lists[] = {i2ki_json_get(root, "mounts"), root};
	for (size_t l = 0; l < 2; l++) {
		const struct jnode *ms = lists[l];
		if (!ms || ms->type != J_ARR)
			continue;
		for (const struct jnode *m = ms->kids; m; m = m->next) {
			const char *type = i2ki_json_str(m, "type", NULL);
			if (i2ki_ctm_parse_options(i2ki_json_get(m, "options"), type, &o, e,
						   sizeof(e)) == 0 &&
			    strnlen(o.data, sizeof(o.data)) == sizeof(o.data))
				abort();
		}
	}
	const struct jnode *proc = i2ki_json_get(root, "process");
	struct caps_sets cs;
	(void)i2ki_caps_parse(i2ki_json_get(proc, "capabilities"), &cs, e, sizeof(e));
	(void)i2ki_caps_parse(root, &cs, e, sizeof(e));
	const struct jnode *lin = i2ki_json_get(root, "linux");
	(void)i2ki_cgroup_has_limits(i2ki_json_get(lin, "resources"));
	(void)i2ki_cgroup_has_limits(root);
	const char *cp = i2ki_json_str(lin, "cgroupsPath", NULL);
	if (cp)
		(void)i2ki_cgroup_check_path(cp, e, sizeof(e));
	for (const struct jnode *k = root->type == J_OBJ ? root->kids : NULL; k; k = k->next) {
		long long v;
		(void)i2ki_json_int(root, k->key, &v);
		(void)i2ki_json_bool(root, k->key, false);
		(void)i2ki_json_first(root, k->key);
		(void)i2ki_json_u64(k);
		if (k->type == J_STR)
			(void)i2ki_caps_from_name(k->str);
	}
}

static int allowed_jansson_refusal(const char *text)
{
	static const char *const why[] = {"Unicode",  "decode byte", "too big",
					  "overflow", "NUL",	     "\\u0000"};
	for (size_t i = 0; i < sizeof(why) / sizeof(why[0]); i++)
		if (strstr(text, why[i]))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	/* exact-size copy: ASan sees any read past the end */
	char *text = malloc(size ? size : 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	struct jnode *root = i2ki_json_parse(text, size, err, sizeof(err));
	json_error_t jerr;
	json_t *j = json_loadb(text, size, JSON_DECODE_ANY, &jerr);
	if (root && j) {
		same(root, j);
	} else if (root && !j) {
		if (!allowed_jansson_refusal(jerr.text))
			abort();
	} else if (!root && j) {
		/* jansson stops reading at a NUL byte ("0\0x" is "0" to it) */
		if (!strstr(err, "number too long") && !strstr(err, "nesting deeper") &&
		    !memchr(text, 0, size))
			abort();
	}
	if (!root && err[0] == 0)
		abort(); /* a refusal always says why */
	if (root)
		consumers(root);
	i2ki_json_free(root);
	json_decref(j);
	free(text);
	return 0;
}

#include "tests/fuzz/replay_main.h"
