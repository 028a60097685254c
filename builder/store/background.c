/* background.c — see background.h. */
#include "builder/store/background.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/util.h"

struct job {
	struct job *next;
	char *key;
	i2k_background_fn fn;
	void *arg;
};

struct i2k_background {
	pthread_mutex_t mu;
	pthread_cond_t work_cv, done_cv;
	struct job *head, *tail; /* queued, oldest first */
	struct job *running;	 /* the one the thread is doing, or NULL */
	pthread_t thread;
	bool started, stop;
};

struct i2k_background *i2k_background_new(void)
{
	struct i2k_background *b = i2k_xcalloc(1, sizeof(*b));
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->work_cv, NULL);
	pthread_cond_init(&b->done_cv, NULL);
	return b;
}

static void *main_loop(void *arg)
{
	struct i2k_background *b = arg;
	pthread_mutex_lock(&b->mu);
	for (;;) {
		struct job *j = b->head;
		if (j == NULL) {
			if (b->stop)
				break;
			pthread_cond_wait(&b->work_cv, &b->mu);
			continue;
		}
		b->head = j->next;
		if (b->head == NULL)
			b->tail = NULL;
		b->running = j;
		pthread_mutex_unlock(&b->mu);
		j->fn(j->arg);
		pthread_mutex_lock(&b->mu);
		b->running = NULL;
		free(j->key);
		free(j);
		pthread_cond_broadcast(&b->done_cv);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

void i2k_background_run(struct i2k_background *b, const char *key, i2k_background_fn fn, void *arg)
{
	pthread_mutex_lock(&b->mu);
	if (!b->started && pthread_create(&b->thread, NULL, main_loop, b) == 0)
		b->started = true;
	if (!b->started) {
		pthread_mutex_unlock(&b->mu);
		fn(arg);
		return;
	}
	struct job *j = i2k_xcalloc(1, sizeof(*j));
	*j = (struct job){.key = i2k_xstrdup(key), .fn = fn, .arg = arg};
	if (b->tail)
		b->tail->next = j;
	else
		b->head = j;
	b->tail = j;
	pthread_cond_signal(&b->work_cv);
	pthread_mutex_unlock(&b->mu);
}

static bool matches(const struct job *j, const char *key)
{
	return key == NULL || (j->key && strcmp(j->key, key) == 0);
}

/* Takes the oldest queued job under key (any for NULL) off the queue;
 * NULL when none is queued. Called with mu held. */
static struct job *take_queued(struct i2k_background *b, const char *key)
{
	for (struct job **pp = &b->head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next) {
		struct job *j = *pp;
		if (!matches(j, key))
			continue;
		*pp = j->next;
		if (b->tail == j)
			b->tail = prev;
		return j;
	}
	return NULL;
}

void i2k_background_wait_key(struct i2k_background *b, const char *key)
{
	pthread_mutex_lock(&b->mu);
	for (;;) {
		/* a queued job runs here at once rather than after the jobs
		 * queued before it (a small layer behind a big one) */
		struct job *j = take_queued(b, key);
		if (j) {
			pthread_mutex_unlock(&b->mu);
			j->fn(j->arg);
			free(j->key);
			free(j);
			pthread_mutex_lock(&b->mu);
			continue;
		}
		if (b->running == NULL || !matches(b->running, key))
			break;
		pthread_cond_wait(&b->done_cv, &b->mu);
	}
	pthread_mutex_unlock(&b->mu);
}

void i2k_background_free(struct i2k_background *b)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	b->stop = true;
	pthread_cond_signal(&b->work_cv);
	bool started = b->started;
	pthread_mutex_unlock(&b->mu);
	if (started)
		pthread_join(b->thread, NULL); /* it drains the queue before it stops */
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->work_cv);
	pthread_cond_destroy(&b->done_cv);
	free(b);
}
