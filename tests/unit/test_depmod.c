/* test_depmod.c — kernel/depmod: .modinfo from synthetic ELF modules (64-bit
 * LE, 32-bit BE; plain, xz, zstd, gzip), the generated modules.dep/alias/
 * softdep/devname, pruning of a tree that had no modules.dep, and the
 * fixture kernel's real modules compared with the modules.dep, .alias,
 * .softdep and .devname that Debian's depmod wrote for them (the oracle). */
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <lzma.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/fstree/fstree.h"
#include "kernel/depmod.h"
#include "kernel/modules.h"
#include "tests/unit/test.h"

#define MD "lib/modules/9.9-test"

static struct i2k_spool *spool;

static void add_data(struct i2k_fstree *t, const char *path, const void *data, size_t len)
{
	uint64_t off = 0;
	struct i2k_error *e = NULL;
	if (len > 0 && i2k_spool_append(spool, data, len, &off, &e) < 0)
		abort();
	struct i2k_fattr a = {.mode = S_IFREG | 0644, .mtime = 1700000000};
	OK(i2k_fstree_add(t, path, &a, NULL, off, len, I2K_FSTREE_MKPARENTS | I2K_FSTREE_REPLACE,
			  NULL, &_e));
}

static char *slurp(struct i2k_fstree *t, const char *path)
{
	static char *ring[8];
	static unsigned k;
	struct i2k_inode *ino = i2k_fstree_lookup(t, path);
	char *buf = calloc(1, ino ? ino->size + 1 : 1);
	if (ino && ino->size) {
		struct i2k_error *e = NULL;
		if (i2k_fstree_read(t, ino, 0, buf, ino->size, &e) < 0)
			abort();
	}
	free(ring[k % 8]);
	ring[k++ % 8] = buf;
	return buf;
}

/* ---- a tiny ELF writer ------------------------------------------------------ */

static void put16(uint8_t *p, uint16_t v, bool be)
{
	if (be)
		i2k_put_be16(p, v);
	else
		i2k_put_le16(p, v);
}
static void put32(uint8_t *p, uint32_t v, bool be)
{
	if (be)
		i2k_put_be32(p, v);
	else
		i2k_put_le32(p, v);
}

/* An ELF relocatable object with sections: null, .text, .modinfo,
 * .shstrtab. modinfo is "k=v\0k=v\0..." (len bytes). Returns malloc'd. */
static uint8_t *make_elf(bool is64, bool be, const char *modinfo, size_t milen, size_t *outlen)
{
	static const char shstr[] = "\0.text\0.modinfo\0.shstrtab";
	size_t eh = is64 ? 64 : 52, sh = is64 ? 64 : 40;
	size_t text_off = eh, mi_off = text_off + 16, str_off = mi_off + milen;
	size_t sh_off = (str_off + sizeof(shstr) + 7) & ~(size_t)7;
	size_t len = sh_off + 4 * sh;
	uint8_t *p = calloc(1, len);
	memcpy(p, "\177ELF", 4);
	p[4] = is64 ? 2 : 1;
	p[5] = be ? 2 : 1;
	p[6] = 1;
	put16(p + 16, 1, be); /* ET_REL */
	memset(p + text_off, 0x90, 16);
	memcpy(p + mi_off, modinfo, milen);
	memcpy(p + str_off, shstr, sizeof(shstr));
	if (is64) {
		i2k_put_le64(p + 40, 0);
		if (be) {
			i2k_put_be32(p + 40, 0);
			i2k_put_be32(p + 44, (uint32_t)sh_off);
		} else {
			i2k_put_le64(p + 40, sh_off);
		}
		put16(p + 58, (uint16_t)sh, be);
		put16(p + 60, 4, be);
		put16(p + 62, 3, be);
	} else {
		put32(p + 32, (uint32_t)sh_off, be);
		put16(p + 46, (uint16_t)sh, be);
		put16(p + 48, 4, be);
		put16(p + 50, 3, be);
	}
	struct {
		uint32_t name;
		size_t off, size;
	} secs[4] = {
	    {0, 0, 0}, {1, text_off, 16}, {7, mi_off, milen}, {16, str_off, sizeof(shstr)}};
	for (int i = 0; i < 4; i++) {
		uint8_t *s = p + sh_off + (size_t)i * sh;
		put32(s, secs[i].name, be);
		if (is64) {
			if (be) {
				i2k_put_be32(s + 28, (uint32_t)secs[i].off);
				i2k_put_be32(s + 36, (uint32_t)secs[i].size);
			} else {
				i2k_put_le64(s + 24, secs[i].off);
				i2k_put_le64(s + 32, secs[i].size);
			}
		} else {
			put32(s + 16, (uint32_t)secs[i].off, be);
			put32(s + 20, (uint32_t)secs[i].size, be);
		}
	}
	*outlen = len;
	return p;
}

#define MODINFO(s) s, sizeof(s) - 1

static uint8_t *compress_as(const char *name, const uint8_t *in, size_t len, size_t *outlen)
{
	size_t cap = len + 1024;
	uint8_t *out = malloc(cap);
	if (i2k_str_has_suffix(name, ".xz")) {
		size_t pos = 0;
		if (lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in, len, out, &pos, cap) !=
		    LZMA_OK)
			abort();
		*outlen = pos;
	} else if (i2k_str_has_suffix(name, ".zst")) {
		size_t n = ZSTD_compress(out, cap, in, len, 3);
		if (ZSTD_isError(n))
			abort();
		*outlen = n;
	} else if (i2k_str_has_suffix(name, ".gz")) {
		z_stream z = {0};
		if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			abort();
		z.next_in = (Bytef *)(uintptr_t)in;
		z.avail_in = (uInt)len;
		z.next_out = out;
		z.avail_out = (uInt)cap;
		if (deflate(&z, Z_FINISH) != Z_STREAM_END)
			abort();
		*outlen = z.total_out;
		deflateEnd(&z);
	} else {
		memcpy(out, in, len);
		*outlen = len;
	}
	return out;
}

static void add_module(struct i2k_fstree *t, const char *rel, bool is64, bool be,
		       const char *modinfo, size_t milen)
{
	size_t elen, clen;
	_cleanup_free_ uint8_t *elf = make_elf(is64, be, modinfo, milen, &elen);
	_cleanup_free_ uint8_t *c = compress_as(rel, elf, elen, &clen);
	char p[512];
	snprintf(p, sizeof(p), MD "/%s", rel);
	add_data(t, p, c, clen);
}

/* ---- tests ------------------------------------------------------------------ */

TEST(modinfo_elf64_le_and_elf32_be)
{
	static const char mi[] = "license=GPL\0depends=virtio,virtio_ring,\0alias=fs-x\0"
				 "\0\0softdep=pre: crc32c\0alias=pci:v*d*\0name=x";
	for (int v = 0; v < 4; v++) {
		bool is64 = v & 1, be = v & 2;
		size_t len;
		_cleanup_free_ uint8_t *elf = make_elf(is64, be, mi, sizeof(mi), &len);
		struct i2k_modinfo m;
		OK(i2k_depmod_modinfo(elf, len, &m, &_e));
		CHECK_INT(m.n_depends, 2);
		CHECK_INT(m.n_aliases, 2);
		CHECK_INT(m.n_softdeps, 1);
		if (m.n_depends == 2 && m.n_aliases == 2 && m.n_softdeps == 1) {
			CHECK_STR(m.depends[0], "virtio");
			CHECK_STR(m.depends[1], "virtio_ring");
			CHECK_STR(m.aliases[0], "fs-x");
			CHECK_STR(m.aliases[1], "pci:v*d*");
			CHECK_STR(m.softdeps[0], "pre: crc32c");
		}
		i2k_modinfo_clear(&m);
	}
}

TEST(modinfo_rejects_garbage)
{
	struct i2k_modinfo m;
	FAILS(i2k_depmod_modinfo("\177ELF fake", 9, &m, &_e), I2K_ERR_INTEGRITY,
	      "not an ELF object");
	size_t len;
	_cleanup_free_ uint8_t *elf = make_elf(true, false, MODINFO("a=b"), &len);
	/* section headers pointing past the end */
	for (size_t cut = 64; cut < len; cut += 37)
		FAILS(i2k_depmod_modinfo(elf, cut, &m, &_e), I2K_ERR_INTEGRITY,
		      "bad ELF section headers");
	/* no .modinfo: rename it */
	uint8_t *name = memmem(elf, len, ".modinfo", 8);
	CHECK(name != NULL);
	if (name)
		memcpy(name, ".nomodin", 8);
	struct i2k_error *e = NULL;
	CHECK(i2k_depmod_modinfo(elf, len, &m, &e) < 0);
	CHECK(e && e->code == I2K_ERR_INTEGRITY);
	i2k_error_free(e);
}

TEST(decompress_formats_and_limits)
{
	static const char text[] = "hello hello hello hello hello module";
	static const char *const names[] = {"a.ko", "a.ko.xz", "a.ko.zst", "a.ko.gz"};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(names); i++) {
		size_t clen, olen;
		_cleanup_free_ uint8_t *c =
		    compress_as(names[i], (const uint8_t *)text, sizeof(text), &clen);
		void *out = NULL;
		OK(i2k_depmod_decompress(names[i], c, clen, 1024, &out, &olen, &_e));
		CHECK_INT(olen, sizeof(text));
		CHECK(out && memcmp(out, text, sizeof(text)) == 0);
		free(out);
		FAILS(i2k_depmod_decompress(names[i], c, clen, 10, &out, &olen, &_e),
		      I2K_ERR_INTEGRITY, "decompresses to more than 10 bytes");
		if (i > 0) {
			/* truncated */
			struct i2k_error *e = NULL;
			CHECK(i2k_depmod_decompress(names[i], c, clen / 2, 1024, &out, &olen, &e) <
			      0);
			CHECK(e && e->code == I2K_ERR_INTEGRITY);
			i2k_error_free(e);
		}
	}
}

/* a → b → c; b softdep d; d is a device module; c exists twice (updates/
 * wins); e depends on a built-in; broken.ko is not ELF. */
static struct i2k_fstree *synthetic_tree(bool broken)
{
	struct i2k_fstree *t = i2k_fstree_new(spool);
	add_module(t, "kernel/drivers/a.ko", true, false,
		   MODINFO("depends=b-mod\0alias=pci:v00001234d*\0alias=fs-aa"));
	add_module(t, "kernel/fs/b-mod.ko.xz", true, false,
		   MODINFO("depends=c\0softdep=pre: d post: nosuch\0alias=fs-bee"));
	add_module(t, "kernel/lib/c.ko.zst", false, true, MODINFO("depends="));
	add_module(t, "updates/c.ko", true, false, MODINFO("alias=updated-c"));
	add_module(t, "kernel/char/d.ko.gz", true, false,
		   MODINFO("alias=devname:dee\0alias=char-major-10-99"));
	add_module(t, "kernel/misc/e.ko", true, false, MODINFO("depends=ext4,b_mod"));
	if (broken)
		add_data(t, MD "/kernel/misc/broken.ko", "\177ELF nope", 9);
	add_data(t, MD "/modules.order", "kernel/misc/e.ko\nkernel/drivers/a.ko\n", 36);
	add_data(t, MD "/modules.builtin", "kernel/fs/ext4/ext4.ko\n", 23);
	return t;
}

TEST(generate_synthetic)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = synthetic_tree(true);
	struct i2k_depmod_report rep;
	setenv("SOURCE_DATE_EPOCH", "1234", 1);
	OK(i2k_depmod_generate(t, MD, &rep, &_e));
	unsetenv("SOURCE_DATE_EPOCH");
	CHECK_INT(rep.modules, 7);
	CHECK_INT(rep.unreadable, 1);
	CHECK_STR(rep.first_bad, "kernel/misc/broken.ko: not an ELF object");
	free(rep.first_bad);
	/* modules.order first (e, a), then path order; kernel/lib/c.ko.zst is
	 * shadowed by updates/c.ko */
	CHECK_STR(slurp(t, MD "/modules.dep"),
		  "kernel/misc/e.ko: kernel/fs/b-mod.ko.xz updates/c.ko\n"
		  "kernel/drivers/a.ko: kernel/fs/b-mod.ko.xz updates/c.ko\n"
		  "kernel/char/d.ko.gz:\n"
		  "kernel/fs/b-mod.ko.xz: updates/c.ko\n"
		  "kernel/misc/broken.ko:\n"
		  "updates/c.ko:\n");
	CHECK_STR(slurp(t, MD "/modules.alias"), "# Aliases extracted from modules themselves.\n"
						 "alias pci:v00001234d* a\n"
						 "alias fs-aa a\n"
						 "alias devname:dee d\n"
						 "alias char-major-10-99 d\n"
						 "alias fs-bee b_mod\n"
						 "alias updated-c c\n");
	CHECK_STR(slurp(t, MD "/modules.softdep"),
		  "# Soft dependencies extracted from modules themselves.\n"
		  "softdep b_mod pre: d post: nosuch\n");
	CHECK_STR(slurp(t, MD "/modules.devname"),
		  "# Device nodes to trigger on-demand module loading.\n"
		  "d dee c10:99\n");
	struct i2k_inode *ino = i2k_fstree_lookup(t, MD "/modules.dep");
	CHECK(ino && ino->mode == (S_IFREG | 0644) && ino->uid == 0 && ino->mtime == 1234);
	/* deterministic */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t2 = synthetic_tree(true);
	setenv("SOURCE_DATE_EPOCH", "1234", 1);
	OK(i2k_depmod_generate(t2, MD, NULL, &_e));
	unsetenv("SOURCE_DATE_EPOCH");
	CHECK_STR(slurp(t2, MD "/modules.dep"), slurp(t, MD "/modules.dep"));
}

static char warned[4096];
static void catch_warn(const char *msg, void *ctx)
{
	size_t n = strlen(warned);
	snprintf(warned + n, sizeof(warned) - n, "%s\n", msg);
}

TEST(prune_without_modules_dep)
{
	/* LIST: the closure comes from the generated modules.dep, softdep d too */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = synthetic_tree(false);
	const char *names[] = {"fs-aa"};
	struct i2k_kernel_cfg k = {.modules = I2K_MODULES_LIST};
	k.module_names.v = (char **)names;
	k.module_names.n = 1;
	struct i2k_modules_report rep;
	warned[0] = '\0';
	i2k_set_warn_handler(catch_warn, NULL);
	OK(i2k_modules_prune(t, &k, &rep, &_e));
	i2k_set_warn_handler(NULL, NULL);
	CHECK_STR(warned, "");
	CHECK_INT(rep.pruned, 1);
	CHECK_INT(rep.total, 6);
	CHECK_INT(rep.kept, 4);
	CHECK(i2k_fstree_lookup(t, MD "/kernel/drivers/a.ko") != NULL);
	CHECK(i2k_fstree_lookup(t, MD "/kernel/fs/b-mod.ko.xz") != NULL);
	CHECK(i2k_fstree_lookup(t, MD "/updates/c.ko") != NULL);
	CHECK(i2k_fstree_lookup(t, MD "/kernel/char/d.ko.gz") != NULL);
	CHECK(i2k_fstree_lookup(t, MD "/kernel/lib/c.ko.zst") == NULL);
	CHECK(i2k_fstree_lookup(t, MD "/kernel/misc/e.ko") == NULL);
	CHECK_STR(slurp(t, MD "/modules.dep"),
		  "kernel/drivers/a.ko: kernel/fs/b-mod.ko.xz updates/c.ko\n"
		  "kernel/char/d.ko.gz:\n"
		  "kernel/fs/b-mod.ko.xz: updates/c.ko\n"
		  "updates/c.ko:\n");
	CHECK_STR(slurp(t, MD "/modules.alias"), "# Aliases extracted from modules themselves.\n"
						 "alias pci:v00001234d* a\n"
						 "alias fs-aa a\n"
						 "alias devname:dee d\n"
						 "alias char-major-10-99 d\n"
						 "alias fs-bee b_mod\n"
						 "alias updated-c c\n");

	/* ALL: nothing pruned, but the files are there for the guest (an
	 * unreadable module is only listed) */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t2 = synthetic_tree(true);
	k = (struct i2k_kernel_cfg){.modules = I2K_MODULES_ALL};
	warned[0] = '\0';
	i2k_set_warn_handler(catch_warn, NULL);
	OK(i2k_modules_prune(t2, &k, &rep, &_e));
	i2k_set_warn_handler(NULL, NULL);
	CHECK_STR(warned, "");
	CHECK_INT(rep.kept, 7);
	CHECK_CONTAINS(slurp(t2, MD "/modules.dep"), "kernel/drivers/a.ko: ");
	CHECK_CONTAINS(slurp(t2, MD "/modules.dep"), "kernel/misc/broken.ko:\n");
	CHECK_CONTAINS(slurp(t2, MD "/modules.alias"), "alias fs-bee b_mod\n");

	/* AUTO with an unreadable module: everything kept, with a warning */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t3 = synthetic_tree(true);
	k = (struct i2k_kernel_cfg){.modules = I2K_MODULES_AUTO};
	warned[0] = '\0';
	i2k_set_warn_handler(catch_warn, NULL);
	OK(i2k_modules_prune(t3, &k, &rep, &_e));
	i2k_set_warn_handler(NULL, NULL);
	CHECK_STR(warned, "kernel.modules: " MD ": 1 of 7 module files have no readable .modinfo "
			  "(first: kernel/misc/broken.ko: not an ELF object); keeping all its "
			  "modules\n");
	CHECK_INT(rep.kept, 7);
	CHECK_INT(rep.pruned, 0);
}

/* ---- the fixture kernel: our files vs Debian's depmod ------------------------ */

static struct i2k_fstree *real_tree;
static size_t real_prefix;
static const char *real_dest;

static bool generated_name(const char *base)
{
	static const char *const gen[] = {"modules.dep",	 "modules.dep.bin",
					  "modules.alias",	 "modules.alias.bin",
					  "modules.softdep",	 "modules.symbols",
					  "modules.symbols.bin", "modules.devname",
					  "modules.builtin.bin", "modules.builtin.alias.bin"};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(gen); i++)
		if (strcmp(base, gen[i]) == 0)
			return true;
	return false;
}

static int load_one(const char *fpath, const struct stat *st, int type, struct FTW *ftw)
{
	if (strlen(fpath) <= real_prefix || generated_name(fpath + ftw->base))
		return 0;
	char dst[4096];
	snprintf(dst, sizeof(dst), "%s%s", real_dest, fpath + real_prefix);
	struct i2k_fattr a = {.mode = st->st_mode, .mtime = st->st_mtime};
	struct i2k_error *e = NULL;
	int r = 0;
	if (type == FTW_D) {
		r = i2k_fstree_add(real_tree, dst, &a, NULL, 0, 0,
				   I2K_FSTREE_MKPARENTS | I2K_FSTREE_REPLACE, NULL, &e);
	} else if (type == FTW_F && S_ISREG(st->st_mode)) {
		int fd = open(fpath, O_RDONLY | O_CLOEXEC);
		uint64_t off = 0, size = 0;
		if (fd < 0 || i2k_spool_append_fd(spool, fd, &off, &size, &e) < 0)
			r = -1;
		if (fd >= 0)
			close(fd);
		if (r == 0)
			r = i2k_fstree_add(real_tree, dst, &a, NULL, off, size,
					   I2K_FSTREE_MKPARENTS, NULL, &e);
	}
	if (r < 0) {
		fprintf(stderr, "  loading %s: %s\n", fpath, e ? e->msg : "?");
		i2k_error_free(e);
		return 1;
	}
	return 0;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of text with each modules.dep line's dependency list sorted
 * (as a set), all lines sorted: the comparison ignores order. */
static char *canonical(const char *text, bool dep)
{
	_cleanup_free_ char *copy = i2k_xstrdup(text);
	char **lines = NULL;
	size_t n = 0;
	for (char *l = strtok(copy, "\n"); l; l = strtok(NULL, "\n")) {
		char *line = i2k_xstrdup(l);
		char *colon = dep ? strchr(line, ':') : NULL;
		if (colon) {
			char *words[512];
			size_t nw = 0;
			char *save = NULL;
			for (char *w = strtok_r(colon + 1, " ", &save); w && nw < 512;
			     w = strtok_r(NULL, " ", &save))
				words[nw++] = w;
			qsort(words, nw, sizeof(*words), cmp_strp);
			struct i2k_buf b = {.max = 0};
			i2k_buf_append(&b, line, (size_t)(colon - line) + 1, NULL);
			for (size_t i = 0; i < nw; i++) {
				i2k_buf_append(&b, " ", 1, NULL);
				i2k_buf_append(&b, words[i], strlen(words[i]), NULL);
			}
			free(line);
			line = b.data ? b.data : i2k_xstrdup("");
		}
		lines = i2k_xrealloc(lines, (n + 1) * sizeof(*lines));
		lines[n++] = line;
	}
	qsort(lines, n, sizeof(*lines), cmp_strp);
	struct i2k_buf out = {.max = 0};
	for (size_t i = 0; i < n; i++) {
		i2k_buf_append(&out, lines[i], strlen(lines[i]), NULL);
		i2k_buf_append(&out, "\n", 1, NULL);
		free(lines[i]);
	}
	free(lines);
	return out.data ? out.data : i2k_xstrdup("");
}

static void compare_with_host(struct i2k_fstree *t, const char *dir, const char *ver,
			      const char *file, bool dep)
{
	char hp[1024], tp[1024];
	snprintf(hp, sizeof(hp), "%s/%s", dir, file);
	snprintf(tp, sizeof(tp), "lib/modules/%s/%s", ver, file);
	char *host = NULL;
	size_t len;
	struct i2k_error *e = NULL;
	if (i2k_read_file(hp, 64u << 20, &host, &len, &e) < 0) {
		fprintf(stderr, "  cannot read %s: %s\n", hp, e->msg);
		i2k_error_free(e);
		t_failed_checks++;
		return;
	}
	_cleanup_free_ char *want = canonical(host, dep);
	_cleanup_free_ char *got = canonical(slurp(t, tp), dep);
	free(host);
	if (strcmp(want, got) != 0) {
		t_failed_checks++;
		/* the first differing line */
		size_t i = 0;
		while (want[i] && want[i] == got[i])
			i++;
		while (i > 0 && want[i - 1] != '\n')
			i--;
		fprintf(stderr, "  %s differs from depmod's at: want \"%.200s\" got \"%.200s\"\n",
			file, want + i, got + i);
	}
}

TEST(real_fixture_kernel_matches_depmod)
{
	glob_t g;
	if (glob("/lib/modules/*-cloud-amd64", 0, NULL, &g) != 0 || g.gl_pathc == 0) {
		fprintf(stderr, "  FIXTURE MISSING: no /lib/modules/*-cloud-amd64 "
				"(apt-get install linux-image-cloud-amd64)\n");
		t_failed_checks++;
		return;
	}
	_cleanup_free_ char *dir = i2k_xstrdup(g.gl_pathv[g.gl_pathc - 1]);
	globfree(&g);
	const char *ver = strrchr(dir, '/') + 1;
	real_tree = i2k_fstree_new(spool);
	real_prefix = strlen(dir);
	char dest[512];
	snprintf(dest, sizeof(dest), "lib/modules/%s", ver);
	real_dest = dest;
	CHECK(nftw(dir, load_one, 32, FTW_PHYS) == 0);
	CHECK(i2k_fstree_lookup(real_tree, "lib/modules/x") == NULL);
	char p[1024];
	snprintf(p, sizeof(p), "%s/modules.dep", dest);
	CHECK(i2k_fstree_lookup(real_tree, p) == NULL);
	struct i2k_depmod_report rep;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	OK(i2k_depmod_generate(real_tree, dest, &rep, &_e));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "  %s: %zu modules read in %.2f s, %zu unreadable\n", ver, rep.modules,
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		rep.unreadable);
	free(rep.first_bad);
	CHECK(rep.modules > 1000);
	CHECK_INT(rep.unreadable, 0);
	compare_with_host(real_tree, dir, ver, "modules.dep", true);
	compare_with_host(real_tree, dir, ver, "modules.alias", false);
	compare_with_host(real_tree, dir, ver, "modules.softdep", false);
	compare_with_host(real_tree, dir, ver, "modules.devname", false);
	/* and the exact order of one line, as depmod writes it */
	CHECK_CONTAINS(slurp(real_tree, p),
		       "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko "
		       "kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko "
		       "kernel/drivers/virtio/virtio_ring.ko\n");
	/* pruning then works as on a depmod'ed tree */
	struct i2k_kernel_cfg k = {.modules = I2K_MODULES_AUTO};
	struct i2k_modules_report mrep;
	OK(i2k_modules_prune(real_tree, &k, &mrep, &_e));
	CHECK(mrep.kept >= 15 && mrep.kept <= 40);
	snprintf(p, sizeof(p), "%s/kernel/drivers/net/virtio_net.ko", dest);
	CHECK(i2k_fstree_lookup(real_tree, p) != NULL);
	snprintf(p, sizeof(p), "%s/kernel/fs/btrfs/btrfs.ko", dest);
	CHECK(i2k_fstree_lookup(real_tree, p) == NULL);
	i2k_fstree_free(real_tree);
	real_tree = NULL;
}

int main(void)
{
	t_prog = "test_depmod";
	struct i2k_error *e = NULL;
	if (i2k_spool_new(NULL, &spool, &e) < 0)
		abort();
	RUN(modinfo_elf64_le_and_elf32_be);
	RUN(modinfo_rejects_garbage);
	RUN(decompress_formats_and_limits);
	RUN(generate_synthetic);
	RUN(prune_without_modules_dep);
	RUN(real_fixture_kernel_matches_depmod);
	i2k_spool_free(spool);
	return TEST_DONE();
}
