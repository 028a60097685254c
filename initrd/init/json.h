/* json.h — a small JSON reader for the guest init (no libraries but libc):
 * parses a whole document into a tree of nodes allocated from one arena.
 * Enough for config.json / runtime.json: objects, arrays, strings (with
 * \uXXXX escapes incl. surrogate pairs), numbers (as long long and
 * double), true/false/null. Input is limited to 4 MiB, depth to 64. */
#ifndef I2K_INITRD_INIT_JSON_H
#define I2K_INITRD_INIT_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jnode {
	enum jtype type;
	const char *key;    /* member name when inside an object */
	const char *str;    /* J_STR (NUL-terminated, may contain no NUL) */
	long long num;	    /* J_NUM (integer part; saturates at LLONG_MIN/MAX) */
	double dbl;	    /* J_NUM */
	bool b;		    /* J_BOOL */
	struct jnode *kids; /* J_ARR / J_OBJ: first child */
	struct jnode *next; /* next sibling */
	size_t n;	    /* number of children */
};

/* Parses text; returns the root or NULL (errbuf says why). The tree lives
 * until i2ki_json_free(root). */
struct jnode *i2ki_json_parse(const char *text, size_t len, char *errbuf, size_t errlen);
/* Reads and parses a file. */
struct jnode *i2ki_json_load(const char *path, char *errbuf, size_t errlen);
void i2ki_json_free(struct jnode *root);
/* Member of an object, NULL if absent or not an object. */
const struct jnode *i2ki_json_get(const struct jnode *obj, const char *key);
/* String value of a member, or dflt. */
const char *i2ki_json_str(const struct jnode *obj, const char *key, const char *dflt);
/* First element of the array member key, NULL if absent, empty or not an
 * array. */
const struct jnode *i2ki_json_first(const struct jnode *obj, const char *key);
/* Boolean member (dflt when absent or not a boolean). */
bool i2ki_json_bool(const struct jnode *obj, const char *key, bool dflt);
/* Integer member: 0 and *v set when present and a number, -1 otherwise. */
int i2ki_json_int(const struct jnode *obj, const char *key, long long *v);
/* Unsigned 64-bit value of a number node (values >= 2^63 come from the
 * double, so 18446744073709551615 reads as UINT64_MAX); 0 for others. */
unsigned long long i2ki_json_u64(const struct jnode *n);

#endif
