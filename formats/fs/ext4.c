/* ext4.c — ext4 writer through libext2fs (see ext4.h). */
#include "formats/fs/ext4.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <et/com_err.h>
#include <ext2fs/ext2_err.h>
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <ext2fs/ext3_extents.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"

#define CHUNK (1u << 20) /* file data is scanned and copied in pieces of this size */
#define EXT4_LINK_MAX 65000u
#define LPF_NAME "lost+found"
#define LPF_MIN_BYTES (16u * 1024) /* mke2fs makes lost+found 16 KiB */

/* ---- io_manager over an i2k_sink ------------------------------------------ *
 * libext2fs opens devices by name; ours is "i2k-sink:%p", the address of a
 * struct sinkio that outlives the file system. No cache: block I/O goes
 * straight to the sink (a file sink's page cache is the cache), which also
 * lets the writer put file data into the sink directly without coherency
 * issues. The first sink error is kept so the caller gets it, not errcode_t. */

struct sinkio {
	struct i2k_sink *sink;
	struct i2k_error *err;
};

static struct struct_io_manager sink_io_manager;

static errcode_t sio_open(const char *name, int flags, io_channel *channel)
{
	void *p = NULL;
	if (name == NULL || strncmp(name, "i2k-sink:", 9) != 0 || sscanf(name + 9, "%p", &p) != 1 ||
	    p == NULL)
		return EXT2_ET_BAD_DEVICE_NAME;
	io_channel io = calloc(1, sizeof(*io));
	if (io == NULL)
		return EXT2_ET_NO_MEMORY;
	io->name = strdup(name);
	if (io->name == NULL) {
		free(io);
		return EXT2_ET_NO_MEMORY;
	}
	io->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	io->manager = &sink_io_manager;
	io->block_size = 1024;
	io->refcount = 1;
	io->flags = flags;
	io->private_data = p;
	*channel = io;
	return 0;
}

static errcode_t sio_close(io_channel io)
{
	if (--io->refcount > 0)
		return 0;
	free(io->name);
	free(io);
	return 0;
}

static errcode_t sio_set_blksize(io_channel io, int blksize)
{
	io->block_size = blksize;
	return 0;
}

static uint64_t sio_bytes(io_channel io, int count)
{
	return count < 0 ? (uint64_t)(-(int64_t)count) : (uint64_t)count * (uint64_t)io->block_size;
}

static errcode_t sio_read64(io_channel io, unsigned long long block, int count, void *data)
{
	struct sinkio *s = io->private_data;
	struct i2k_error *e = NULL;
	if (i2k_sink_read_at(s->sink, block * (uint64_t)io->block_size, data, sio_bytes(io, count),
			     &e) < 0) {
		i2k_error_propagate(&s->err, &e);
		i2k_error_free(e);
		return EXT2_ET_SHORT_READ;
	}
	return 0;
}

static errcode_t sio_write64(io_channel io, unsigned long long block, int count, const void *data)
{
	struct sinkio *s = io->private_data;
	struct i2k_error *e = NULL;
	if (i2k_sink_write_at(s->sink, block * (uint64_t)io->block_size, data, sio_bytes(io, count),
			      &e) < 0) {
		i2k_error_propagate(&s->err, &e);
		i2k_error_free(e);
		return EXT2_ET_SHORT_WRITE;
	}
	return 0;
}

static errcode_t sio_read(io_channel io, unsigned long block, int count, void *data)
{
	return sio_read64(io, block, count, data);
}

static errcode_t sio_write(io_channel io, unsigned long block, int count, const void *data)
{
	return sio_write64(io, block, count, data);
}

static errcode_t sio_write_byte(io_channel io, unsigned long offset, int count, const void *data)
{
	struct sinkio *s = io->private_data;
	struct i2k_error *e = NULL;
	if (count < 0)
		return EXT2_ET_INVALID_ARGUMENT;
	if (i2k_sink_write_at(s->sink, offset, data, (size_t)count, &e) < 0) {
		i2k_error_propagate(&s->err, &e);
		i2k_error_free(e);
		return EXT2_ET_SHORT_WRITE;
	}
	return 0;
}

static errcode_t sio_zeroout(io_channel io, unsigned long long block, unsigned long long count)
{
	struct sinkio *s = io->private_data;
	struct i2k_error *e = NULL;
	if (i2k_sink_zero(s->sink, block * (uint64_t)io->block_size,
			  count * (uint64_t)io->block_size, &e) < 0) {
		i2k_error_propagate(&s->err, &e);
		i2k_error_free(e);
		return EXT2_ET_SHORT_WRITE;
	}
	return 0;
}

static errcode_t sio_flush(io_channel io)
{
	return 0;
}

static errcode_t sio_set_option(io_channel io, const char *option, const char *arg)
{
	return EXT2_ET_INVALID_ARGUMENT;
}

static struct struct_io_manager sink_io_manager = {
    .magic = EXT2_ET_MAGIC_IO_MANAGER,
    .name = "i2kit sink I/O manager",
    .open = sio_open,
    .close = sio_close,
    .set_blksize = sio_set_blksize,
    .read_blk = sio_read,
    .write_blk = sio_write,
    .flush = sio_flush,
    .write_byte = sio_write_byte,
    .set_option = sio_set_option,
    .read_blk64 = sio_read64,
    .write_blk64 = sio_write64,
    .zeroout = sio_zeroout,
};

static pthread_once_t et_once = PTHREAD_ONCE_INIT;
static void et_init(void)
{
	initialize_ext2_error_table();
}

/* ---- options ------------------------------------------------------------- */

struct geom {
	uint32_t bs, isz;
	bool csum, journal;
};

static int check_opts(const struct i2k_ext4_opts *o, struct geom *g, struct i2k_error **err)
{
	g->bs = o->block_size ? o->block_size : 4096;
	g->isz = o->inode_size ? o->inode_size : 256;
	if (g->bs != 1024 && g->bs != 2048 && g->bs != 4096)
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "ext4 block size must be 1024, 2048 or 4096, not %" PRIu32,
				     g->bs);
	if ((g->isz != 256 && g->isz != 512 && g->isz != 1024) || g->isz > g->bs)
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "ext4 inode size must be 256, 512 or 1024 (at most the block "
				     "size), not %" PRIu32,
				     g->isz);
	const char *label = o->label ? o->label : I2K_EXT4_DEFAULT_LABEL;
	if (strlen(label) > EXT2_LABEL_LEN)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "ext4 label \"%s\" is longer than %d bytes", label,
				     EXT2_LABEL_LEN);
	g->csum = true;
	g->journal = !o->no_journal;
	return 0;
}

/* ---- directory blocks ----------------------------------------------------- *
 * Linear directory blocks packed in entry order; with metadata_csum every
 * block ends in a 12-byte checksum tail. The same packing drives the size
 * estimate and the writer. */

static uint32_t rec_len_for(size_t name_len)
{
	return (uint32_t)((8 + name_len + 3) & ~(size_t)3);
}

static uint32_t dir_usable(const struct geom *g)
{
	return g->bs - (g->csum ? (uint32_t)sizeof(struct ext2_dir_entry_tail) : 0);
}

/* Packing state of one directory (estimate) */
struct dpack {
	uint64_t blocks;
	uint32_t used;
};

static void dpack_start(struct dpack *p)
{
	p->blocks = 1;
	p->used = 24; /* "." and ".." */
}

static void dpack_add(struct dpack *p, const struct geom *g, size_t name_len)
{
	uint32_t rec = rec_len_for(name_len);
	if (p->used + rec > dir_usable(g)) {
		p->blocks++;
		p->used = 0;
	}
	p->used += rec;
}

/* ---- size estimate -------------------------------------------------------- */

struct est {
	uint64_t inodes;  /* tree inodes + lost+found */
	uint64_t content; /* blocks: data, dirs, symlinks, xattrs, extent trees */
	bool lpf_in_tree;
	/* walk state */
	struct dpack *stack;
	size_t nstack, cap;
	const struct geom *g;
};

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

static uint64_t xattr_bytes(const struct i2k_inode *in)
{
	uint64_t n = 0;
	for (size_t i = 0; i < in->nxattrs; i++)
		n += 16 + ((strlen(in->xattrs[i].name) + 3) & ~(size_t)3) +
		     ((in->xattrs[i].len + 3) & ~(size_t)3);
	return n ? n + 4 : 0;
}

static void est_close_to(struct est *s, size_t depth)
{
	while (s->nstack > depth) {
		struct dpack *p = &s->stack[--s->nstack];
		s->content += p->blocks;
	}
}

static int est_cb(const struct i2k_walk_entry *e, void *ctx)
{
	struct est *s = ctx;
	const struct geom *g = s->g;
	if (e->depth == 0) {
		s->nstack = 0;
		i2k_xgrow((void **)&s->stack, &s->cap, 1, sizeof(*s->stack));
		dpack_start(&s->stack[s->nstack++]);
		s->inodes++;
		if (xattr_bytes(e->inode) > g->isz - EXT2_GOOD_OLD_INODE_SIZE - 36)
			s->content++;
		return 0;
	}
	est_close_to(s, e->depth);
	dpack_add(&s->stack[e->depth - 1], g, strlen(e->name));
	if (!e->first)
		return 0;
	const struct i2k_inode *in = e->inode;
	s->inodes++;
	if (xattr_bytes(in) > g->isz - EXT2_GOOD_OLD_INODE_SIZE - 36)
		s->content++;
	if (S_ISDIR(in->mode)) {
		i2k_xgrow((void **)&s->stack, &s->cap, s->nstack + 1, sizeof(*s->stack));
		dpack_start(&s->stack[s->nstack++]);
		if (e->depth == 1 && strcmp(e->name, LPF_NAME) == 0) {
			s->lpf_in_tree = true;
			s->content += LPF_MIN_BYTES / g->bs; /* at least that many blocks */
		}
	} else if (S_ISREG(in->mode)) {
		uint64_t b = div_up(in->size, g->bs);
		uint64_t ext = div_up(b, 16384) + 1;
		s->content += b + (ext > 4 ? div_up(ext, 300) + 1 : 0);
	} else if (S_ISLNK(in->mode) && in->target && strlen(in->target) >= 60) {
		s->content++;
	}
	return 0;
}

static int estimate(struct i2k_fstree *tree, const struct geom *g, struct est *s)
{
	memset(s, 0, sizeof(*s));
	s->g = g;
	i2k_fstree_walk(tree, true, est_cb, s); /* needs `first` only: no finalize */
	est_close_to(s, 0);
	free(s->stack);
	s->stack = NULL;
	if (!s->lpf_in_tree) {
		s->inodes++;
		s->content += LPF_MIN_BYTES / g->bs;
		/* and its entry in the root: one more root block at worst */
		s->content++;
	}
	return 0;
}

/* Inodes the file system gets for `blocks` blocks: one per 16 KiB, at least
 * `need` plus 64 and the reserved ones. */
static uint64_t inodes_for(uint64_t blocks, const struct geom *g, uint64_t need)
{
	uint64_t by_ratio = blocks * g->bs / 16384;
	uint64_t min = need + 64 + EXT2_GOOD_OLD_FIRST_INO;
	return by_ratio > min ? by_ratio : min;
}

static bool is_backup_group(uint64_t grp)
{
	if (grp <= 1)
		return true;
	for (uint64_t base = 3; base <= 7; base += 2) {
		uint64_t p = base;
		while (p < grp)
			p *= base;
		if (p == grp)
			return true;
	}
	return false;
}

/* Blocks of everything but content for a file system of `blocks` blocks
 * holding `inodes` inodes (a slight over-estimate of what libext2fs lays
 * out). */
static uint64_t meta_for(uint64_t blocks, uint64_t inodes, const struct geom *g)
{
	uint64_t bpg = 8ull * g->bs;
	uint64_t groups = div_up(blocks, bpg);
	uint64_t ipb = g->bs / g->isz;
	uint64_t ipg = div_up(div_up(inodes, groups), ipb) * ipb;
	uint64_t itable = groups * (ipg / ipb);
	uint64_t descs_per_block = g->bs / 64;
	uint64_t gdt = div_up(groups, descs_per_block);
	/* resize_inode: room for the descriptors of a 1024x bigger fs */
	uint64_t max_blocks = blocks * 1024 > 0xffffffffull ? 0xffffffffull : blocks * 1024;
	uint64_t rsv = div_up(div_up(max_blocks, bpg), descs_per_block);
	rsv = rsv > gdt ? rsv - gdt : 0;
	if (rsv > g->bs / 4)
		rsv = g->bs / 4;
	uint64_t backups = 0;
	for (uint64_t i = 0; i < groups; i++)
		backups += is_backup_group(i);
	uint64_t journal = 0;
	if (g->journal) {
		int j = ext2fs_default_journal_size(blocks);
		journal = j > 0 ? (uint64_t)j + 8 : 1024;
	}
	/* superblock area, bitmaps, the resize inode's indirect block, slack */
	return itable + 2 * groups + backups * (1 + gdt + rsv) + journal + 2 + 64 +
	       (g->bs == 1024 ? 1 : 0);
}

static uint64_t round_mib(uint64_t bytes)
{
	return div_up(bytes, 1ull << 20) << 20;
}

/* Whether the estimate fits in `blocks` blocks with `inodes` inodes (the
 * writer's check before it writes anything). */
static bool fits(const struct est *s, const struct geom *g, uint64_t blocks, uint64_t inodes)
{
	uint64_t max_inodes = div_up(blocks, 8ull * g->bs) * 8ull * g->bs;
	return blocks >= 2048 && blocks <= 0xffffffffull && inodes <= max_inodes &&
	       inodes <= 0xffffffffull && s->content + meta_for(blocks, inodes, g) <= blocks;
}

/* The inodes the writer gives `blocks` blocks: one per 16 KiB, at least
 * the tree's + 20%; only the tree's (+ 64) when that does not fit. */
static uint64_t inodes_chosen(const struct est *s, const struct geom *g, uint64_t blocks)
{
	uint64_t inodes = inodes_for(blocks, g, s->inodes + s->inodes / 5);
	return fits(s, g, blocks, inodes) ? inodes : inodes_for(0, g, s->inodes);
}

/* A size in bytes for content + headroom_pct percent (inodes too): the
 * estimate's fixed point, rounded up to 1 MiB, then grown 1 MiB at a time
 * until the writer's check passes (the journal size jumps at some sizes). */
static uint64_t fit_size(const struct est *s, const struct geom *g, unsigned headroom_pct)
{
	uint64_t content = s->content + s->content * headroom_pct / 100;
	uint64_t need_inodes = s->inodes + s->inodes * headroom_pct / 100;
	uint64_t n = content + 1024;
	for (int i = 0; i < 64; i++) {
		uint64_t inodes =
		    headroom_pct ? inodes_for(n, g, need_inodes) : inodes_for(0, g, need_inodes);
		uint64_t next = content + meta_for(n, inodes, g);
		if (next < inodes) /* at most one inode per block */
			next = inodes;
		if (next < 2048)
			next = 2048;
		if (next <= n)
			break;
		n = next;
	}
	uint64_t mib = (1ull << 20) / g->bs;
	n = div_up(n, mib) * mib;
	for (int i = 0; i < 4096 && !fits(s, g, n, inodes_chosen(s, g, n)); i++)
		n += mib;
	return n * g->bs;
}

static uint64_t auto_size(const struct est *s, const struct geom *g)
{
	uint64_t bytes = fit_size(s, g, 20);
	return bytes < I2K_EXT4_MIN_AUTO_SIZE ? I2K_EXT4_MIN_AUTO_SIZE : bytes;
}

static uint64_t min_size(const struct est *s, const struct geom *g)
{
	return fit_size(s, g, 0);
}

int i2k_ext4_size_for(struct i2k_fstree *tree, const struct i2k_ext4_opts *o, uint64_t *bytes,
		      struct i2k_error **err)
{
	struct geom g;
	if (check_opts(o, &g, err) < 0)
		return -1;
	struct est s;
	estimate(tree, &g, &s);
	*bytes = auto_size(&s, &g);
	return 0;
}

int i2k_ext4_min_size(struct i2k_fstree *tree, const struct i2k_ext4_opts *o, uint64_t *bytes,
		      struct i2k_error **err)
{
	struct geom g;
	if (check_opts(o, &g, err) < 0)
		return -1;
	struct est s;
	estimate(tree, &g, &s);
	*bytes = min_size(&s, &g);
	return 0;
}

static void fmt_size(char *buf, size_t n, uint64_t bytes)
{
	if (bytes % (1ull << 20) == 0)
		snprintf(buf, n, "%" PRIu64 " MiB", bytes >> 20);
	else
		snprintf(buf, n, "%" PRIu64 " bytes", bytes);
}

/* ---- the writer ----------------------------------------------------------- */

struct dirw {
	ext2_ino_t ino, parent;
	const struct i2k_inode *node; /* attributes; NULL for a lost+found of ours */
	const char *path;	      /* for messages (owned copy) */
	uint32_t nsub;		      /* subdirectories */
	unsigned char *buf;	      /* nblocks blocks */
	size_t nblocks, cap;
	uint32_t used, last; /* in the last block */
};

struct w {
	ext2_filsys fs;
	struct i2k_fstree *tree;
	const struct i2k_ext4_opts *o;
	struct geom g;
	struct sinkio sio;
	struct i2k_error **err;
	uint64_t size;	 /* bytes of the file system */
	uint64_t need;	 /* the smallest size that should do (for messages) */
	ext2_ino_t *map; /* tree ino → ext4 ino */
	size_t nmap;
	struct dirw *dirs; /* open directories, dirs[d] at depth d */
	size_t ndirs, capdirs;
	bool lpf_in_tree;
	ext2_ino_t lpf_ino;
	unsigned char *buf; /* CHUNK bytes */
	size_t count;
};

static int too_small(struct w *w)
{
	char have[64], need[64];
	fmt_size(have, sizeof(have), w->size);
	fmt_size(need, sizeof(need), w->need);
	return i2k_error_set(w->err, I2K_ERR_CONFIG,
			     "--size %s is too small: the root needs at least %s", have, need);
}

/* Turns a libext2fs error into ours: a sink error wins, out-of-space is the
 * size message, anything else is internal. */
static int fail(struct w *w, errcode_t rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct w *w, errcode_t rc, const char *fmt, ...)
{
	if (w->sio.err) {
		i2k_error_propagate(w->err, &w->sio.err);
		return i2k_error_wrap(w->err, "ext4");
	}
	if (rc == EXT2_ET_BLOCK_ALLOC_FAIL || rc == EXT2_ET_INODE_ALLOC_FAIL ||
	    rc == EXT2_ET_DIR_NO_SPACE || rc == EXT2_ET_TOO_MANY_INODES || rc == ENOSPC ||
	    rc == EXT2_ET_RES_GDT_BLOCKS || rc == EXT2_ET_TOOSMALL)
		return too_small(w);
	char ctx[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	return i2k_error_set(w->err, I2K_ERR_INTERNAL, "ext4: %s: %s", ctx, error_message(rc));
}

static void set_time(uint32_t *lo, uint32_t *extra, int64_t sec, uint32_t ns)
{
	*lo = (uint32_t)sec;
	uint32_t epoch = (uint32_t)(((uint64_t)(sec - (int64_t)(int32_t)(uint32_t)sec) >> 32) & 3);
	*extra = epoch | ((ns % 1000000000u) << 2);
}

static void set_times(struct ext2_inode_large *in, int64_t sec, uint32_t ns)
{
	set_time(&in->i_atime, &in->i_atime_extra, sec, ns);
	set_time(&in->i_ctime, &in->i_ctime_extra, sec, ns);
	set_time(&in->i_mtime, &in->i_mtime_extra, sec, ns);
	set_time(&in->i_crtime, &in->i_crtime_extra, sec, ns);
}

/* A fresh large inode with mode, owner, times and (if extents) an empty
 * extent header. */
static void inode_init(struct w *w, struct ext2_inode_large *in, uint32_t mode, uint32_t uid,
		       uint32_t gid, int64_t mtime, uint32_t ns, bool extents)
{
	memset(in, 0, sizeof(*in));
	in->i_mode = (uint16_t)mode;
	in->i_uid = (uint16_t)uid;
	in->osd2.linux2.l_i_uid_high = (uint16_t)(uid >> 16);
	in->i_gid = (uint16_t)gid;
	in->osd2.linux2.l_i_gid_high = (uint16_t)(gid >> 16);
	in->i_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
	set_times(in, mtime, ns);
	if (extents) {
		struct ext3_extent_header *eh = (struct ext3_extent_header *)in->i_block;
		eh->eh_magic = ext2fs_cpu_to_le16(EXT3_EXT_MAGIC);
		eh->eh_entries = 0;
		eh->eh_depth = 0;
		eh->eh_max = ext2fs_cpu_to_le16((sizeof(in->i_block) - sizeof(*eh)) /
						sizeof(struct ext3_extent));
		in->i_flags |= EXT4_EXTENTS_FL;
	}
}

static int write_inode(struct w *w, ext2_ino_t ino, struct ext2_inode_large *in, const char *path)
{
	errcode_t rc = ext2fs_write_inode_full(w->fs, ino, (struct ext2_inode *)in, sizeof(*in));
	if (rc)
		return fail(w, rc, "%s: writing inode %u", path, ino);
	return 0;
}

static int new_inode(struct w *w, ext2_ino_t parent, uint32_t mode, ext2_ino_t *ino,
		     const char *path)
{
	errcode_t rc = ext2fs_new_inode(w->fs, parent, (int)mode, NULL, ino);
	if (rc)
		return fail(w, rc, "%s: allocating an inode", path);
	ext2fs_inode_alloc_stats2(w->fs, *ino, +1, S_ISDIR(mode) ? 1 : 0);
	return 0;
}

/* Maps `count` blocks at logical `lblk` of the inode (initialized extents). */
static int map_blocks(struct w *w, ext2_ino_t ino, struct ext2_inode_large *in, uint64_t lblk,
		      uint64_t count, const char *path)
{
	errcode_t rc =
	    ext2fs_fallocate(w->fs, EXT2_FALLOCATE_FORCE_INIT | EXT2_FALLOCATE_INIT_BEYOND_EOF, ino,
			     (struct ext2_inode *)in, ~0ull, lblk, count);
	if (rc)
		return fail(w, rc, "%s: allocating blocks", path);
	return 0;
}

/* An extent handle on the inode (its tree is read from `in`). */
static int extents_open(struct w *w, ext2_ino_t ino, struct ext2_inode_large *in,
			ext2_extent_handle_t *h, const char *path)
{
	errcode_t rc = ext2fs_extent_open2(w->fs, ino, (struct ext2_inode *)in, h);
	return rc ? fail(w, rc, "%s: reading extents", path) : 0;
}

/* Calls fn for every mapped extent of the inode that overlaps blocks
 * [from, to), in logical order: whole extents, which fn clips if it needs. */
typedef int (*extent_fn)(struct w *w, uint64_t lblk, uint64_t pblk, uint64_t len, void *ctx);
static int each_extent(struct w *w, ext2_ino_t ino, struct ext2_inode_large *in, uint64_t from,
		       uint64_t to, extent_fn fn, void *ctx, const char *path)
{
	ext2_extent_handle_t h = NULL;
	if (extents_open(w, ino, in, &h, path) < 0)
		return -1;
	struct ext2fs_extent ex;
	int r = 0;
	/* the leaf extent holding `from`, or (in a hole) one next to it */
	errcode_t rc = ext2fs_extent_goto2(h, 0, from);
	if (rc == 0 || rc == EXT2_ET_EXTENT_NOT_FOUND)
		rc = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &ex);
	for (; rc == 0 && ex.e_lblk < to; rc = ext2fs_extent_get(h, EXT2_EXTENT_NEXT_LEAF, &ex)) {
		if (!(ex.e_flags & EXT2_EXTENT_FLAGS_LEAF) || ex.e_len == 0 ||
		    ex.e_lblk + ex.e_len <= from)
			continue;
		r = fn(w, ex.e_lblk, ex.e_pblk, ex.e_len, ctx);
		if (r < 0)
			break;
	}
	ext2fs_extent_free(h);
	if (r < 0)
		return r;
	if (rc && rc != EXT2_ET_EXTENT_NO_NEXT && rc != EXT2_ET_NO_CURRENT_NODE)
		return fail(w, rc, "%s: reading extents", path);
	return 0;
}

/* ---- regular files ---------------------------------------------------------- */

static bool block_is_zero(const unsigned char *p, size_t n)
{
	const uint64_t *q = (const uint64_t *)p;
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		if (q[i / 8])
			return false;
	for (; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* One chunk of a file: blocks [first, end) are in buf, the file ends at
 * byte size. */
struct window {
	uint64_t first, end, size;
	const unsigned char *buf;
};

/* Writes the part of an extent that lies in the window, from its buffer. */
static int copy_window(struct w *w, uint64_t lblk, uint64_t pblk, uint64_t len, void *ctx)
{
	const struct window *c = ctx;
	uint64_t bs = w->g.bs;
	uint64_t a = lblk > c->first ? lblk : c->first;
	uint64_t b = lblk + len < c->end ? lblk + len : c->end;
	uint64_t from = a * bs, to = b * bs < c->size ? b * bs : c->size;
	if (from < to && i2k_sink_write_at(w->sio.sink, (pblk + (a - lblk)) * bs,
					   c->buf + (from - c->first * bs), to - from, w->err) < 0)
		return i2k_error_wrap(w->err, "ext4");
	return 0;
}

/* Maps the first blocks of [lblk, lblk + count) by growing the inode's
 * last extent, which ends at lblk, over the free blocks right after it on
 * disk (as many as are free, up to count, while it stays a valid
 * initialized extent): the next piece of a run cut at a chunk boundary
 * lands where one ext2fs_fallocate for the whole run would have put it, in
 * the same extent. (ext2fs_fallocate itself would give the piece an extent
 * of its own: it grows an initialized extent only when it also zeroes the
 * new blocks.) Returns how many blocks it mapped (0: the caller maps them
 * all), or -1 on error. */
static int64_t grow_last_extent(struct w *w, ext2_ino_t ino, struct ext2_inode_large *in,
				uint64_t lblk, uint64_t count, const char *path)
{
	ext2_extent_handle_t h = NULL;
	if (extents_open(w, ino, in, &h, path) < 0)
		return -1;
	struct ext2fs_extent ex;
	int64_t grown = 0;
	errcode_t rc = ext2fs_extent_get(h, EXT2_EXTENT_LAST_LEAF, &ex);
	if (rc == 0 && ex.e_lblk + ex.e_len == lblk && !(ex.e_flags & EXT2_EXTENT_FLAGS_UNINIT)) {
		blk64_t at = ex.e_pblk + ex.e_len, end = ext2fs_blocks_count(w->fs->super), used;
		uint64_t n = count;
		if (n > EXT_INIT_MAX_LEN - ex.e_len)
			n = EXT_INIT_MAX_LEN - ex.e_len;
		if (n > end - at)
			n = end - at;
		/* the free blocks from `at` on: up to the first one in use */
		if (n && ext2fs_find_first_set_block_bitmap2(w->fs->block_map, at, at + n - 1,
							     &used) == 0)
			n = used - at;
		if (n) {
			ex.e_len += (uint32_t)n;
			rc = ext2fs_extent_replace(h, 0, &ex);
			if (rc == 0) {
				ext2fs_block_alloc_stats_range(w->fs, at, (blk_t)n, +1);
				rc = ext2fs_iblk_add_blocks(w->fs, (struct ext2_inode *)in, n);
			}
			grown = rc ? fail(w, rc, "%s: allocating blocks", path) : (int64_t)n;
		}
	}
	ext2fs_extent_free(h);
	return grown;
}

/* One pass over the file's data: each chunk is read once, its runs of
 * non-zero blocks are mapped (zero blocks stay holes), and the chunk's
 * mapped blocks are written from the same buffer. A run that goes on into
 * the next chunk goes on in the same extent (grow_last_extent), as when
 * it was mapped in one call. */
static int file_data(struct w *w, ext2_ino_t ino, struct ext2_inode_large *in,
		     const struct i2k_inode *node, const char *path)
{
	uint64_t size = node->size, bs = w->g.bs;
	bool carried = false; /* the previous chunk's last block held data */
	for (uint64_t off = 0; off < size; off += CHUNK) {
		size_t n = size - off > CHUNK ? CHUNK : (size_t)(size - off);
		if (i2k_fstree_read(w->tree, node, off, w->buf, n, w->err) < 0)
			return i2k_error_wrap(w->err, "ext4: %s", path);
		uint64_t first = off / bs, count = (n + bs - 1) / bs, run = 0;
		bool mapped = false, data = false;
		for (uint64_t i = 0; i <= count; i++) {
			if (i < count) {
				size_t at = (size_t)(i * bs);
				data = !block_is_zero(w->buf + at, n - at > bs ? bs : n - at);
				if (data) {
					run++;
					continue;
				}
			}
			if (run == 0)
				continue;
			/* blocks [start, first + i) hold data: a run, or its piece
			 * in this chunk */
			uint64_t start = first + i - run;
			int64_t grown = carried && start == first
					    ? grow_last_extent(w, ino, in, start, run, path)
					    : 0;
			if (grown < 0 || ((uint64_t)grown < run &&
					  map_blocks(w, ino, in, start + (uint64_t)grown,
						     run - (uint64_t)grown, path) < 0))
				return -1;
			mapped = true;
			run = 0;
		}
		carried = data; /* the chunk's last block */
		struct window c = {
		    .first = first, .end = first + count, .size = size, .buf = w->buf};
		if (mapped && each_extent(w, ino, in, c.first, c.end, copy_window, &c, path) < 0)
			return -1;
	}
	return 0;
}

/* ---- xattrs ------------------------------------------------------------------ */

static int write_xattrs(struct w *w, ext2_ino_t ino, const struct i2k_inode *node, const char *path)
{
	if (node == NULL || node->nxattrs == 0)
		return 0;
	struct ext2_xattr_handle *h = NULL;
	errcode_t rc = ext2fs_xattrs_open(w->fs, ino, &h);
	if (rc)
		return fail(w, rc, "%s: opening xattrs", path);
	rc = ext2fs_xattrs_read(h);
	for (size_t i = 0; rc == 0 && i < node->nxattrs; i++) {
		rc = ext2fs_xattr_set(h, node->xattrs[i].name, node->xattrs[i].value,
				      node->xattrs[i].len);
		if (rc == EXT2_ET_EA_NO_SPACE) {
			ext2fs_xattrs_close(&h);
			return i2k_error_set(w->err, I2K_ERR_UNSUPPORTED,
					     "%s: xattrs do not fit in one ext4 block", path);
		}
		if (rc) {
			ext2fs_xattrs_close(&h);
			return fail(w, rc, "%s: setting xattr %s", path, node->xattrs[i].name);
		}
	}
	errcode_t rc2 = ext2fs_xattrs_close(&h);
	if (rc || rc2)
		return fail(w, rc ? rc : rc2, "%s: writing xattrs", path);
	return 0;
}

/* ---- directories --------------------------------------------------------------- */

static struct ext2_dir_entry *dirent_at(struct dirw *d, size_t blk, uint32_t off, uint32_t bs)
{
	return (struct ext2_dir_entry *)(d->buf + blk * bs + off);
}

static void dir_new_block(struct w *w, struct dirw *d)
{
	uint32_t bs = w->g.bs;
	i2k_xgrow((void **)&d->buf, &d->cap, (d->nblocks + 1) * bs, 1);
	unsigned char *blk = d->buf + d->nblocks * bs;
	memset(blk, 0, bs);
	if (w->g.csum)
		ext2fs_initialize_dirent_tail(
		    w->fs, (struct ext2_dir_entry_tail *)(blk + dir_usable(&w->g)));
	d->nblocks++;
	d->used = 0;
	d->last = 0;
}

/* Extends the last entry of the last block to the usable end (an empty
 * block gets one unused entry spanning it). */
static void dir_seal_block(struct w *w, struct dirw *d)
{
	uint32_t bs = w->g.bs, usable = dir_usable(&w->g);
	struct ext2_dir_entry *de = dirent_at(d, d->nblocks - 1, d->last, bs);
	ext2fs_set_rec_len(w->fs, usable - d->last, de);
}

static void dir_put(struct w *w, struct dirw *d, const char *name, size_t len, ext2_ino_t ino,
		    int type)
{
	uint32_t bs = w->g.bs, rec = rec_len_for(len);
	if (d->used + rec > dir_usable(&w->g)) {
		dir_seal_block(w, d);
		dir_new_block(w, d);
	}
	struct ext2_dir_entry *de = dirent_at(d, d->nblocks - 1, d->used, bs);
	de->inode = ino;
	ext2fs_set_rec_len(w->fs, rec, de);
	ext2fs_dirent_set_name_len(de, (int)len);
	ext2fs_dirent_set_file_type(de, type);
	memcpy(de->name, name, len);
	d->last = d->used;
	d->used += rec;
}

static struct dirw *dir_open(struct w *w, size_t depth, ext2_ino_t ino, ext2_ino_t parent,
			     const struct i2k_inode *node, const char *path)
{
	i2k_xgrow((void **)&w->dirs, &w->capdirs, depth + 1, sizeof(*w->dirs));
	struct dirw *d = &w->dirs[depth];
	memset(d, 0, sizeof(*d));
	d->ino = ino;
	d->parent = parent;
	d->node = node;
	d->path = i2k_xstrdup(path[0] ? path : "/");
	dir_new_block(w, d);
	dir_put(w, d, ".", 1, ino, EXT2_FT_DIR);
	dir_put(w, d, "..", 2, parent, EXT2_FT_DIR);
	w->ndirs = depth + 1;
	return d;
}

struct dircopy {
	struct dirw *d;
};

static int copy_dir_extent(struct w *w, uint64_t lblk, uint64_t pblk, uint64_t len, void *ctx)
{
	struct dirw *d = ((struct dircopy *)ctx)->d;
	for (uint64_t i = 0; i < len && lblk + i < d->nblocks; i++) {
		errcode_t rc = ext2fs_write_dir_block4(w->fs, pblk + i,
						       d->buf + (lblk + i) * w->g.bs, 0, d->ino);
		if (rc)
			return fail(w, rc, "%s: writing directory block", d->path);
	}
	return 0;
}

static int dir_close(struct w *w, struct dirw *d)
{
	uint32_t bs = w->g.bs;
	uint32_t min_blocks = d->ino == w->lpf_ino ? LPF_MIN_BYTES / bs : 1;
	dir_seal_block(w, d);
	while (d->nblocks < min_blocks) {
		dir_new_block(w, d);
		dir_seal_block(w, d);
	}
	const struct i2k_inode *n = d->node;
	struct ext2_inode_large in;
	if (n)
		inode_init(w, &in, n->mode, n->uid, n->gid, n->mtime, n->mtime_ns, true);
	else
		inode_init(w, &in, S_IFDIR | 0700, 0, 0, w->o->epoch, 0, true);
	uint64_t links = 2ull + d->nsub;
	in.i_links_count = links > EXT4_LINK_MAX ? 1 : (uint16_t)links;
	errcode_t rc =
	    ext2fs_inode_size_set(w->fs, (struct ext2_inode *)&in, (uint64_t)d->nblocks * bs);
	if (rc)
		return fail(w, rc, "%s: directory size", d->path);
	if (map_blocks(w, d->ino, &in, 0, d->nblocks, d->path) < 0 ||
	    write_inode(w, d->ino, &in, d->path) < 0)
		return -1;
	struct dircopy c = {d};
	if (each_extent(w, d->ino, &in, 0, UINT64_MAX, copy_dir_extent, &c, d->path) < 0)
		return -1;
	return write_xattrs(w, d->ino, n, d->path);
}

static void dir_free(struct dirw *d)
{
	free(d->buf);
	free((char *)d->path);
	d->buf = NULL;
	d->path = NULL;
}

/* Closes the open directories deeper than `depth`. */
static int dirs_close_to(struct w *w, size_t depth)
{
	while (w->ndirs > depth) {
		struct dirw *d = &w->dirs[w->ndirs - 1];
		int r = dir_close(w, d);
		dir_free(d);
		w->ndirs--;
		if (r < 0)
			return -1;
	}
	return 0;
}

/* ---- entries --------------------------------------------------------------------- */

static int ftype(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return EXT2_FT_REG_FILE;
	case S_IFDIR:
		return EXT2_FT_DIR;
	case S_IFLNK:
		return EXT2_FT_SYMLINK;
	case S_IFCHR:
		return EXT2_FT_CHRDEV;
	case S_IFBLK:
		return EXT2_FT_BLKDEV;
	case S_IFIFO:
		return EXT2_FT_FIFO;
	case S_IFSOCK:
		return EXT2_FT_SOCK;
	}
	return EXT2_FT_UNKNOWN;
}

static int symlink_data(struct w *w, ext2_ino_t ino, struct ext2_inode_large *in,
			const char *target, size_t len, const char *path)
{
	if (len < sizeof(in->i_block)) {
		memcpy(in->i_block, target, len); /* fast symlink */
		return 0;
	}
	if (map_blocks(w, ino, in, 0, 1, path) < 0)
		return -1;
	blk64_t pblk = 0;
	errcode_t rc = ext2fs_bmap2(w->fs, ino, (struct ext2_inode *)in, NULL, 0, 0, NULL, &pblk);
	if (rc || pblk == 0)
		return fail(w, rc ? rc : EXT2_ET_BAD_BLOCK_NUM, "%s: symlink block", path);
	memset(w->buf, 0, w->g.bs);
	memcpy(w->buf, target, len);
	rc = io_channel_write_blk64(w->fs->io, pblk, 1, w->buf);
	if (rc)
		return fail(w, rc, "%s: writing symlink", path);
	return 0;
}

static int add_entry(struct w *w, const struct i2k_walk_entry *e)
{
	const struct i2k_inode *n = e->inode;
	const char *path = e->path;
	size_t len = strlen(e->name);
	if (len > EXT2_NAME_LEN)
		return i2k_error_set(w->err, I2K_ERR_UNSUPPORTED, "/%s: name longer than %d bytes",
				     path, EXT2_NAME_LEN);
	struct dirw *parent = &w->dirs[e->depth - 1];
	int type = ftype(n->mode);
	if (type == EXT2_FT_UNKNOWN)
		return i2k_error_set(w->err, I2K_ERR_UNSUPPORTED, "/%s: unknown file type %06o",
				     path, n->mode);
	if (n->ino == 0 || n->ino >= w->nmap)
		return i2k_error_set(w->err, I2K_ERR_INTERNAL, "/%s: tree not finalized", path);
	if (!e->first) {
		ext2_ino_t ino = w->map[n->ino];
		if (ino == 0 || S_ISDIR(n->mode))
			return i2k_error_set(w->err, I2K_ERR_INTERNAL, "/%s: bad hard link", path);
		dir_put(w, parent, e->name, len, ino, type);
		return 0;
	}
	ext2_ino_t ino = 0;
	if (S_ISDIR(n->mode)) {
		bool lpf = e->depth == 1 && w->lpf_in_tree && strcmp(e->name, LPF_NAME) == 0;
		if (lpf)
			ino = w->lpf_ino;
		else if (new_inode(w, parent->ino, n->mode, &ino, path) < 0)
			return -1;
		parent->nsub++;
		dir_put(w, parent, e->name, len, ino, type);
		w->map[n->ino] = ino;
		dir_open(w, e->depth, ino, parent->ino, n, path);
		return 0;
	}
	if (n->nlink > EXT4_LINK_MAX)
		return i2k_error_set(w->err, I2K_ERR_UNSUPPORTED,
				     "/%s: %" PRIu32 " hard links (ext4 allows %u)", path, n->nlink,
				     EXT4_LINK_MAX);
	size_t tlen = 0;
	if (S_ISLNK(n->mode)) {
		tlen = n->target ? strlen(n->target) : 0;
		if (tlen >= w->g.bs)
			return i2k_error_set(w->err, I2K_ERR_UNSUPPORTED,
					     "/%s: symlink target of %zu bytes (ext4 allows %u)",
					     path, tlen, w->g.bs - 1);
	}
	if (new_inode(w, parent->ino, n->mode, &ino, path) < 0)
		return -1;
	bool extents = S_ISREG(n->mode) || (S_ISLNK(n->mode) && tlen >= 60);
	struct ext2_inode_large in;
	inode_init(w, &in, n->mode, n->uid, n->gid, n->mtime, n->mtime_ns, extents);
	in.i_links_count = (uint16_t)(n->nlink ? n->nlink : 1);
	errcode_t rc = 0;
	if (S_ISREG(n->mode)) {
		rc = ext2fs_inode_size_set(w->fs, (struct ext2_inode *)&in, n->size);
		if (rc)
			return fail(w, rc, "/%s: file size", path);
		if (file_data(w, ino, &in, n, path) < 0)
			return -1;
	} else if (S_ISLNK(n->mode)) {
		in.i_size = (uint32_t)tlen;
		if (symlink_data(w, ino, &in, n->target ? n->target : "", tlen, path) < 0)
			return -1;
	} else if (S_ISCHR(n->mode) || S_ISBLK(n->mode)) {
		uint32_t ma = n->rdev_major, mi = n->rdev_minor;
		if (ma < 256 && mi < 256) {
			in.i_block[0] = ext2fs_cpu_to_le32(ma * 256 + mi);
		} else {
			in.i_block[1] =
			    ext2fs_cpu_to_le32((mi & 0xff) | (ma << 8) | ((mi & ~0xffu) << 12));
		}
	}
	if (write_inode(w, ino, &in, path) < 0)
		return -1;
	dir_put(w, parent, e->name, len, ino, type);
	w->map[n->ino] = ino;
	return write_xattrs(w, ino, n, path);
}

static int walk_cb(const struct i2k_walk_entry *e, void *ctx)
{
	struct w *w = ctx;
	if ((++w->count & 255) == 0 && i2k_check_interrupt(w->err) < 0)
		return -1;
	if (e->depth == 0) {
		w->dirs[0].node = e->inode;
		w->map[e->inode->ino] = EXT2_ROOT_INO;
		return 0;
	}
	if (dirs_close_to(w, e->depth) < 0)
		return -1;
	return add_entry(w, e) < 0 ? -1 : 0;
}

/* ---- file system set-up -------------------------------------------------------- */

static void derive(const uint8_t seed[32], const char *tag, uint8_t out[16])
{
	struct i2k_sha256 *h = i2k_sha256_new();
	i2k_sha256_update(h, tag, strlen(tag));
	i2k_sha256_update(h, seed, 32);
	uint8_t d[32];
	i2k_sha256_final_raw(h, d);
	i2k_sha256_free(h);
	memcpy(out, d, 16);
}

/* Sets the times of a special inode (resize, journal) to the epoch. */
static int stamp_inode(struct w *w, ext2_ino_t ino)
{
	struct ext2_inode_large in;
	errcode_t rc = ext2fs_read_inode_full(w->fs, ino, (struct ext2_inode *)&in, sizeof(in));
	if (rc)
		return fail(w, rc, "reading inode %u", ino);
	set_times(&in, w->o->epoch, 0);
	if (in.i_extra_isize < sizeof(in) - EXT2_GOOD_OLD_INODE_SIZE)
		in.i_extra_isize = sizeof(in) - EXT2_GOOD_OLD_INODE_SIZE;
	in.i_generation = 0;
	return write_inode(w, ino, &in, "special inode");
}

static int make_fs(struct w *w, uint64_t blocks, uint64_t inodes)
{
	const struct geom *g = &w->g;
	struct ext2_super_block p;
	memset(&p, 0, sizeof(p));
	ext2fs_blocks_count_set(&p, blocks);
	p.s_log_block_size = (uint32_t)(__builtin_ctz(g->bs) - 10);
	p.s_rev_level = EXT2_DYNAMIC_REV;
	p.s_inode_size = (uint16_t)g->isz;
	p.s_inodes_count = (uint32_t)inodes;
	p.s_log_groups_per_flex = 4;
	p.s_desc_size = EXT2_MIN_DESC_SIZE_64BIT;
	p.s_feature_compat = EXT2_FEATURE_COMPAT_EXT_ATTR | EXT2_FEATURE_COMPAT_RESIZE_INODE |
			     EXT2_FEATURE_COMPAT_DIR_INDEX;
	p.s_feature_incompat = EXT2_FEATURE_INCOMPAT_FILETYPE | EXT3_FEATURE_INCOMPAT_EXTENTS |
			       EXT4_FEATURE_INCOMPAT_64BIT | EXT4_FEATURE_INCOMPAT_FLEX_BG;
	p.s_feature_ro_compat =
	    EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER | EXT2_FEATURE_RO_COMPAT_LARGE_FILE |
	    EXT4_FEATURE_RO_COMPAT_HUGE_FILE | EXT4_FEATURE_RO_COMPAT_DIR_NLINK |
	    EXT4_FEATURE_RO_COMPAT_EXTRA_ISIZE | EXT4_FEATURE_RO_COMPAT_METADATA_CSUM;
	p.s_min_extra_isize = p.s_want_extra_isize =
	    sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
	char name[64];
	snprintf(name, sizeof(name), "i2k-sink:%p", (void *)&w->sio);
	errcode_t rc = ext2fs_initialize(name, EXT2_FLAG_64BITS, &p, &sink_io_manager, &w->fs);
	if (rc) {
		w->fs = NULL;
		return fail(w, rc, "initializing the file system");
	}
	ext2_filsys fs = w->fs;
	struct ext2_super_block *sb = fs->super;
	/* Nothing random, nothing from the clock. */
	fs->now = w->o->epoch > 0 ? (time_t)w->o->epoch : 1;
	sb->s_mkfs_time = sb->s_lastcheck = sb->s_wtime = (uint32_t)fs->now;
	sb->s_mkfs_time_hi = sb->s_lastcheck_hi = sb->s_wtime_hi = 0;
	sb->s_mtime = 0;
	sb->s_max_mnt_count = -1;
	sb->s_checkinterval = 0;
	uint8_t uuid[16];
	derive(w->o->uuid_seed, "i2kit ext4 uuid\n", uuid);
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
	memcpy(sb->s_uuid, uuid, 16);
	uint8_t seed[16];
	derive(w->o->uuid_seed, "i2kit ext4 hash seed\n", seed);
	memcpy(sb->s_hash_seed, seed, 16);
	sb->s_def_hash_version = EXT2_HASH_HALF_MD4;
	sb->s_flags &= ~(uint32_t)(EXT2_FLAGS_SIGNED_HASH | EXT2_FLAGS_UNSIGNED_HASH);
	sb->s_flags |= EXT2_FLAGS_UNSIGNED_HASH;
	memset(sb->s_volume_name, 0, sizeof(sb->s_volume_name));
	const char *label = w->o->label ? w->o->label : I2K_EXT4_DEFAULT_LABEL;
	memcpy(sb->s_volume_name, label, strlen(label));
	sb->s_checksum_type = EXT2_CRC32C_CHKSUM;
	ext2fs_init_csum_seed(fs);
	sb->s_kbytes_written = 0;

	rc = ext2fs_allocate_tables(fs);
	if (rc)
		return fail(w, rc, "allocating group tables");
	/* The sink reads zeros where nothing was written: inode tables are
	 * zeroed already (no lazy init needed in the kernel). */
	for (dgrp_t i = 0; i < fs->group_desc_count; i++) {
		ext2fs_bg_flags_set(fs, i, EXT2_BG_INODE_ZEROED);
		ext2fs_group_desc_csum_set(fs, i);
	}
	/* Root and reserved inodes. */
	ext2fs_inode_alloc_stats2(fs, EXT2_ROOT_INO, +1, 1);
	for (ext2_ino_t i = 1; i < EXT2_FIRST_INODE(sb); i++)
		if (i != EXT2_ROOT_INO)
			ext2fs_inode_alloc_stats2(fs, i, +1, 0);
	if (ext2fs_has_feature_resize_inode(sb)) {
		rc = ext2fs_create_resize_inode(fs);
		if (rc)
			return fail(w, rc, "creating the resize inode");
		if (stamp_inode(w, EXT2_RESIZE_INO) < 0)
			return -1;
	}
	if (w->g.journal) {
		struct ext2fs_journal_params jp;
		rc = ext2fs_get_journal_params(&jp, fs);
		if (rc)
			return fail(w, rc, "sizing the journal");
		rc = ext2fs_add_journal_inode3(
		    fs, &jp, ~0ull, EXT2_MKJOURNAL_LAZYINIT | EXT2_MKJOURNAL_NO_MNT_CHECK);
		if (rc)
			return fail(w, rc, "creating the journal");
		if (stamp_inode(w, EXT2_JOURNAL_INO) < 0)
			return -1;
	}
	return 0;
}

static void w_clear(struct w *w)
{
	while (w->ndirs > 0)
		dir_free(&w->dirs[--w->ndirs]);
	free(w->dirs);
	free(w->map);
	free(w->buf);
	if (w->fs)
		ext2fs_free(w->fs);
	w->fs = NULL;
	i2k_error_free(w->sio.err);
}

int i2k_ext4_write(struct i2k_fstree *tree, const struct i2k_ext4_opts *o, struct i2k_sink *out,
		   struct i2k_error **err)
{
	pthread_once(&et_once, et_init);
	struct w w = {.tree = tree, .o = o, .err = err};
	if (check_opts(o, &w.g, err) < 0)
		return -1;
	uint64_t size = o->size ? o->size : out->size;
	if (size > out->size)
		return i2k_error_set(err, I2K_ERR_INTERNAL,
				     "ext4: size %" PRIu64 " is larger than the sink (%" PRIu64 ")",
				     size, out->size);
	w.size = size;
	uint64_t blocks = size / w.g.bs;

	struct est s;
	i2k_fstree_finalize(tree); /* the walks below number inodes from ino */
	estimate(tree, &w.g, &s);
	w.need = min_size(&s, &w.g);
	uint64_t inodes = inodes_chosen(&s, &w.g, blocks);
	if (!fits(&s, &w.g, blocks, inodes))
		return too_small(&w);
	/* From here on a failed allocation means the estimate was short:
	 * point at the automatic size. */
	uint64_t a = auto_size(&s, &w.g), up = round_mib(size + size / 5);
	w.need = a > size ? a : up;

	w.sio.sink = out;
	w.nmap = i2k_fstree_count(tree) + 2;
	w.map = i2k_xcalloc(w.nmap, sizeof(*w.map));
	w.buf = i2k_xmalloc(CHUNK);
	w.lpf_in_tree = s.lpf_in_tree;
	int r = make_fs(&w, blocks, inodes);
	if (r == 0) {
		struct dirw *root = dir_open(&w, 0, EXT2_ROOT_INO, EXT2_ROOT_INO, NULL, "");
		/* lost+found: inode 11 as mke2fs makes it; the tree's own when it
		 * has one (filled when the walk gets there). */
		errcode_t rc = ext2fs_new_inode(w.fs, EXT2_ROOT_INO, S_IFDIR, NULL, &w.lpf_ino);
		if (rc) {
			r = fail(&w, rc, "allocating lost+found");
		} else {
			ext2fs_inode_alloc_stats2(w.fs, w.lpf_ino, +1, 1);
			if (!w.lpf_in_tree) {
				struct i2k_inode *x = i2k_fstree_lookup(tree, LPF_NAME);
				if (x == NULL) {
					root->nsub++;
					dir_put(&w, root, LPF_NAME, strlen(LPF_NAME), w.lpf_ino,
						EXT2_FT_DIR);
					dir_open(&w, 1, w.lpf_ino, EXT2_ROOT_INO, NULL, LPF_NAME);
					r = dirs_close_to(&w, 1);
				} else {
					i2k_warn("ext4: /lost+found is not a directory: "
						 "e2fsck will want to recreate it");
					ext2fs_inode_alloc_stats2(w.fs, w.lpf_ino, -1, 1);
					w.lpf_ino = 0;
				}
			}
		}
	}
	if (r == 0)
		r = i2k_fstree_walk(tree, true, walk_cb, &w);
	if (r == 0)
		r = dirs_close_to(&w, 0);
	if (r == 0) {
		errcode_t rc = ext2fs_close2(w.fs, 0);
		if (rc)
			r = fail(&w, rc, "writing the superblocks and bitmaps");
		else
			w.fs = NULL; /* freed by close */
	}
	if (r < 0 && err && *err == NULL)
		i2k_error_set(err, I2K_ERR_INTERNAL, "ext4: failed");
	w_clear(&w);
	return r < 0 ? -1 : 0;
}
