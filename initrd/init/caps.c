/* caps.c — capability names and sets with raw syscalls. */
#include "caps.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "builder/base/capnames.h"
#include "ctmounts.h"
#include "json.h"
#include "util.h"

/* <linux/capability.h> is not part of musl's headers. */
#define CAPS_VERSION_3 0x20080522
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#endif
#ifndef PR_CAP_AMBIENT_RAISE
#define PR_CAP_AMBIENT_RAISE 2
#endif
#ifndef PR_CAP_AMBIENT_CLEAR_ALL
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

struct caps_header {
	uint32_t version;
	int pid;
};
struct caps_data {
	uint32_t effective, permitted, inheritable;
};

/* Names indexed by capability number, shared with the builder. */
#define cap_names i2k_cap_names
#define N_CAPS I2K_CAP_COUNT

int i2ki_caps_from_name(const char *name)
{
	for (int i = 0; name && i < N_CAPS; i++)
		if (strcmp(cap_names[i], name) == 0)
			return i;
	return -1;
}

const char *i2ki_caps_name(int cap)
{
	return cap >= 0 && cap < N_CAPS ? cap_names[cap] : NULL;
}

int i2ki_caps_last(void)
{
	char buf[16];
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return N_CAPS - 1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return N_CAPS - 1;
	buf[n] = '\0';
	int v = 0;
	for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		v = v * 10 + (buf[i] - '0');
	return v > 0 && v < 64 ? v : N_CAPS - 1;
}

static int parse_set(const struct jnode *caps, const char *key, int last, uint64_t *out,
		     char *errbuf, size_t errlen)
{
	*out = 0;
	const struct jnode *a = i2ki_json_get(caps, key);
	if (!a)
		return 0;
	if (a->type != J_ARR)
		return i2ki_fail(errbuf, errlen, "capabilities.%s is not an array", key);
	for (const struct jnode *n = a->kids; n; n = n->next) {
		int c = n->type == J_STR ? i2ki_caps_from_name(n->str) : -1;
		if (c < 0)
			return i2ki_fail(errbuf, errlen, "unknown capability %s in %s",
					 n->type == J_STR ? n->str : "(not a string)", key);
		if (c <= last)
			*out |= 1ULL << c;
	}
	return 0;
}

int i2ki_caps_parse(const struct jnode *caps, struct caps_sets *out, char *errbuf, size_t errlen)
{
	int last = i2ki_caps_last();
	memset(out, 0, sizeof(*out));
	if (caps && caps->type != J_OBJ)
		return i2ki_fail(errbuf, errlen, "process.capabilities is not an object");
	if (parse_set(caps, "bounding", last, &out->bounding, errbuf, errlen) < 0 ||
	    parse_set(caps, "effective", last, &out->effective, errbuf, errlen) < 0 ||
	    parse_set(caps, "permitted", last, &out->permitted, errbuf, errlen) < 0 ||
	    parse_set(caps, "inheritable", last, &out->inheritable, errbuf, errlen) < 0 ||
	    parse_set(caps, "ambient", last, &out->ambient, errbuf, errlen) < 0)
		return -1;
	return 0;
}

int i2ki_caps_drop_bounding(uint64_t keep, char *errbuf, size_t errlen)
{
	int last = i2ki_caps_last();
	for (int c = 0; c <= last; c++) {
		if (keep & (1ULL << c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return i2ki_fail(errbuf, errlen, "drop %s from the bounding set: %s",
					 i2ki_caps_name(c) ? i2ki_caps_name(c) : "capability",
					 strerror(errno));
	}
	return 0;
}

int i2ki_caps_apply(const struct caps_sets *s, char *errbuf, size_t errlen)
{
	struct caps_header h = {.version = CAPS_VERSION_3, .pid = 0};
	struct caps_data d[2] = {
	    {(uint32_t)s->effective, (uint32_t)s->permitted, (uint32_t)s->inheritable},
	    {(uint32_t)(s->effective >> 32), (uint32_t)(s->permitted >> 32),
	     (uint32_t)(s->inheritable >> 32)},
	};
	if (syscall(SYS_capset, &h, d) < 0)
		return i2ki_fail(errbuf, errlen, "capset: %s", strerror(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return i2ki_fail(errbuf, errlen, "clear ambient capabilities: %s", strerror(errno));
	for (int c = 0; c < 64; c++) {
		if (!(s->ambient & (1ULL << c)))
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			return i2ki_fail(errbuf, errlen, "raise ambient %s: %s",
					 i2ki_caps_name(c) ? i2ki_caps_name(c) : "capability",
					 strerror(errno));
	}
	return 0;
}
