/* background.h — one thread that writes cache entries while a build goes on.
 *
 * Storing what a build made for later builds (an unpacked layer's data,
 * builder/image/layercache.h) is work the build itself does not wait for:
 * it is queued here and done on one thread, in the order queued, while the
 * build's own thread goes on (the next layer, the initrd). A store holds one
 * (i2k_store_defer) and waits for it when freed, so nothing queued is lost
 * unless the process dies, and a job's files are unnamed until complete.
 *
 * A job names the entry it writes (its key); a reader of that entry waits
 * for it first (i2k_background_wait_key), so a build that needs an entry it
 * is still writing finds it complete. Jobs must not depend on one another's
 * order: a waiting reader runs its job ahead of the queue.
 */
#ifndef I2K_BUILDER_STORE_BACKGROUND_H
#define I2K_BUILDER_STORE_BACKGROUND_H

struct i2k_background;

typedef void (*i2k_background_fn)(void *arg);

struct i2k_background *i2k_background_new(void);
/* Queues fn(arg) under key (copied; NULL for none). fn owns arg. The thread
 * starts with the first job; where it cannot be started, fn runs at once,
 * on the caller's thread. */
void i2k_background_run(struct i2k_background *b, const char *key, i2k_background_fn fn, void *arg);
/* Returns once no job under key (NULL: any job) is queued or running:
 * queued ones are taken off the queue and run on the caller's thread (so a
 * small job never waits behind big ones queued before it), a running one
 * is waited for. */
void i2k_background_wait_key(struct i2k_background *b, const char *key);
/* Waits for every job, ends the thread, frees b. NULL is a no-op. */
void i2k_background_free(struct i2k_background *b);

#endif
