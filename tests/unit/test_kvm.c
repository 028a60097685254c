/* test_kvm.c — provision/kvm's probe cache: key, miss → probe → record,
 * hit without probing, invalidation when the device, kernel or CPU part of
 * the key changes, a corrupt record, no cache at all. The "device" is a
 * regular file: the real probe on it fails fast at KVM_GET_API_VERSION, so
 * a cached "ok" answered as true proves no probe ran. */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "provision/kvm.h"
#include "tests/unit/test.h"

static char tmp[256];

static char *tpath(const char *name)
{
	return i2k_xasprintf("%s/%s", tmp, name);
}

static void write_str(const char *path, const char *s)
{
	if (i2k_write_file_atomic(path, s, strlen(s), 0600, NULL) < 0)
		abort();
}

static char *read_str(const char *path)
{
	char *s = NULL;
	size_t len;
	if (i2k_read_file(path, 1 << 16, &s, &len, NULL) < 0)
		return i2k_xstrdup("<missing>");
	return s;
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

TEST(key_names_kernel_device_and_cpu)
{
	_cleanup_free_ char *dev = tpath("kvm-key");
	_cleanup_free_ char *cpu = tpath("cpuinfo");
	write_str(dev, "");
	write_str(cpu, "processor\t: 0\nvendor_id\t: Fake\nmodel name\t: Fake CPU 9000 @ 1GHz\n"
		       "processor\t: 1\nmodel name\t: Other\n");
	char key[1024];
	CHECK(i2k_kvm_probe_key(dev, cpu, key, sizeof(key)));
	CHECK(strstr(key, "cpu=Fake CPU 9000 @ 1GHz") != NULL);
	CHECK(strstr(key, "Other") == NULL);
	_cleanup_free_ char *devpart = i2k_xasprintf("dev=%s ", dev);
	CHECK(strstr(key, devpart) != NULL);
	CHECK(strstr(key, "kernel=") != NULL && strstr(key, "mtime=") != NULL);
	CHECK(strchr(key, '\n') == NULL);
	/* the same state → the same key; a new mtime → a new key */
	char again[1024];
	CHECK(i2k_kvm_probe_key(dev, cpu, again, sizeof(again)));
	CHECK_STR(again, key);
	struct timespec ts[2] = {{.tv_sec = 1000000000, .tv_nsec = 0},
				 {.tv_sec = 1000000000, .tv_nsec = 0}};
	CHECK(utimensat(AT_FDCWD, dev, ts, 0) == 0);
	CHECK(i2k_kvm_probe_key(dev, cpu, again, sizeof(again)));
	CHECK(strcmp(again, key) != 0);
	CHECK(strstr(again, "mtime=1000000000.000000000") != NULL);
	/* a missing CPU model is a key too; a missing device is not */
	_cleanup_free_ char *nocpu = tpath("no-cpuinfo");
	CHECK(i2k_kvm_probe_key(dev, nocpu, again, sizeof(again)));
	CHECK(strstr(again, "cpu=unknown") != NULL);
	_cleanup_free_ char *nodev = tpath("no-such-kvm");
	CHECK(!i2k_kvm_probe_key(nodev, cpu, again, sizeof(again)));
	CHECK_STR(again, "");
}

TEST(cache_miss_then_hit)
{
	_cleanup_free_ char *dev = tpath("kvm-a");
	_cleanup_free_ char *cache = tpath("state/sub/kvm-probe");
	write_str(dev, "");
	char why[256], why2[256];
	bool hit = true;
	CHECK(!i2k_kvm_usable_cached(dev, cache, 3000, why, sizeof(why), &hit));
	CHECK(!hit);
	CHECK(strncmp(why, "KVM_GET_API_VERSION", 19) == 0);
	char key[1024];
	CHECK(i2k_kvm_probe_key(dev, NULL, key, sizeof(key)));
	_cleanup_free_ char *want = i2k_xasprintf("%s\nno %s\n", key, why);
	_cleanup_free_ char *rec = read_str(cache);
	CHECK_STR(rec, want);
	CHECK(!i2k_kvm_usable_cached(dev, cache, 3000, why2, sizeof(why2), &hit));
	CHECK(hit);
	CHECK_STR(why2, why);
	/* a hit is a few system calls: 200 of them well within 20 ms each */
	int64_t t0 = now_us();
	for (int i = 0; i < 200; i++)
		CHECK(!i2k_kvm_usable_cached(dev, cache, 3000, why2, sizeof(why2), &hit) && hit);
	int64_t per = (now_us() - t0) / 200;
	CHECK(per < 20000);
}

TEST(cached_ok_is_answered_without_probing)
{
	_cleanup_free_ char *dev = tpath("kvm-b");
	_cleanup_free_ char *cache = tpath("kvm-probe-b");
	write_str(dev, "");
	char key[1024], why[256];
	CHECK(i2k_kvm_probe_key(dev, NULL, key, sizeof(key)));
	_cleanup_free_ char *rec = i2k_xasprintf("%s\nok\n", key);
	write_str(cache, rec);
	bool hit = false;
	CHECK(i2k_kvm_usable_cached(dev, cache, 3000, why, sizeof(why), &hit));
	CHECK(hit);
	CHECK_STR(why, "");
	/* without the cache the same device is probed and fails */
	CHECK(!i2k_kvm_usable_cached(dev, NULL, 3000, why, sizeof(why), &hit));
	CHECK(!hit);
}

TEST(cache_invalidation)
{
	_cleanup_free_ char *dev = tpath("kvm-c");
	_cleanup_free_ char *cache = tpath("kvm-probe-c");
	write_str(dev, "");
	char key[1024], why[256];
	bool hit = true;
	CHECK(i2k_kvm_probe_key(dev, NULL, key, sizeof(key)));
	/* a record of another kernel, another CPU, an older device: all misses
	 * (a miss probes, fails on the fake device and rewrites the record) */
	const char *from[] = {"kernel=", "cpu=", "mtime="};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(from); i++) {
		_cleanup_free_ char *other = i2k_xstrdup(key);
		char *p = strstr(other, from[i]);
		CHECK(p != NULL);
		if (p == NULL)
			continue;
		p += strlen(from[i]);
		*p = *p == 'X' ? 'Y' : 'X';
		_cleanup_free_ char *rec = i2k_xasprintf("%s\nok\n", other);
		write_str(cache, rec);
		CHECK(!i2k_kvm_usable_cached(dev, cache, 3000, why, sizeof(why), &hit));
		CHECK(!hit);
		_cleanup_free_ char *now = read_str(cache);
		CHECK(strncmp(now, key, strlen(key)) == 0);
		CHECK(strstr(now, "\nno KVM_GET_API_VERSION") != NULL);
	}
	/* the device changes under a valid record: a miss */
	_cleanup_free_ char *rec = i2k_xasprintf("%s\nok\n", key);
	write_str(cache, rec);
	struct timespec ts[2] = {{.tv_sec = 1200000000, .tv_nsec = 0},
				 {.tv_sec = 1200000000, .tv_nsec = 0}};
	CHECK(utimensat(AT_FDCWD, dev, ts, 0) == 0);
	CHECK(!i2k_kvm_usable_cached(dev, cache, 3000, why, sizeof(why), &hit));
	CHECK(!hit);
	/* a record that is not "ok" or "no …", or a key alone: misses */
	const char *bad[] = {"maybe\n", "", "ok-ish\n"};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(bad); i++) {
		CHECK(i2k_kvm_probe_key(dev, NULL, key, sizeof(key)));
		_cleanup_free_ char *r = i2k_xasprintf("%s\n%s", key, bad[i]);
		write_str(cache, r);
		CHECK(!i2k_kvm_usable_cached(dev, cache, 3000, why, sizeof(why), &hit));
		CHECK(!hit);
	}
}

TEST(missing_device_is_never_cached)
{
	_cleanup_free_ char *dev = tpath("no-kvm");
	_cleanup_free_ char *cache = tpath("kvm-probe-d");
	char why[256];
	bool hit = true;
	CHECK(!i2k_kvm_usable_cached(dev, cache, 3000, why, sizeof(why), &hit));
	CHECK(!hit);
	_cleanup_free_ char *want = i2k_xasprintf("%s: No such file or directory", dev);
	CHECK_STR(why, want);
	CHECK(access(cache, F_OK) != 0);
}

int main(void)
{
	t_prog = "test_kvm";
	snprintf(tmp, sizeof(tmp), "%s/i2k-test-kvm.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmp) == NULL)
		abort();
	RUN(key_names_kernel_device_and_cpu);
	RUN(cache_miss_then_hit);
	RUN(cached_ok_is_answered_without_probing);
	RUN(cache_invalidation);
	RUN(missing_device_is_never_cached);
	i2k_rm_rf(tmp, NULL);
	return TEST_DONE();
}
