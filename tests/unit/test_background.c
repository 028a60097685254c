/* test_background.c — builder/store/background: the deferred-writes thread. */
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "builder/store/background.h"
#include "test.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static char order[64];
static bool gate_open;
static bool gate_entered;

static void record(void *arg)
{
	pthread_mutex_lock(&mu);
	size_t n = strlen(order);
	if (n + 1 < sizeof(order)) {
		order[n] = *(const char *)arg;
		order[n + 1] = '\0';
	}
	pthread_mutex_unlock(&mu);
}

/* Records, then blocks until the test opens the gate. */
static void gated(void *arg)
{
	pthread_mutex_lock(&mu);
	gate_entered = true;
	pthread_cond_broadcast(&cv);
	while (!gate_open)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	record(arg);
}

static void reset(void)
{
	order[0] = '\0';
	gate_open = gate_entered = false;
}

static char *snapshot(void)
{
	pthread_mutex_lock(&mu);
	char *s = strdup(order);
	pthread_mutex_unlock(&mu);
	return s;
}

TEST(runs_in_order_and_free_drains)
{
	reset();
	struct i2k_background *b = i2k_background_new();
	static const char *ids = "abcdef";
	for (int i = 0; i < 6; i++)
		i2k_background_run(b, NULL, record, (void *)(ids + i));
	i2k_background_free(b); /* everything queued has run */
	CHECK_STR(order, "abcdef");
	i2k_background_free(NULL);
	/* free without any job: no thread was started */
	i2k_background_free(i2k_background_new());
}

/* A waiter for a queued job runs it itself instead of waiting behind a
 * slow one; a waiter for a running job waits for it. */
TEST(wait_key_runs_a_queued_job_at_once)
{
	reset();
	struct i2k_background *b = i2k_background_new();
	i2k_background_run(b, "big", gated, "B");
	pthread_mutex_lock(&mu);
	while (!gate_entered)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	i2k_background_run(b, "x", record, "x");
	i2k_background_run(b, "small", record, "s");
	i2k_background_run(b, "y", record, "y");
	i2k_background_wait_key(b, "small"); /* "big" is still blocked */
	char *s = snapshot();
	CHECK_STR(s, "s");
	free(s);
	i2k_background_wait_key(b, "nothing-under-this-key");
	pthread_mutex_lock(&mu);
	gate_open = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	i2k_background_wait_key(b, "big"); /* running: waited for */
	s = snapshot();
	CHECK(strncmp(s, "sB", 2) == 0);
	free(s);
	i2k_background_wait_key(b, NULL); /* all */
	s = snapshot();
	CHECK_INT(strlen(s), 4);
	CHECK(strchr(s, 'x') && strchr(s, 'y'));
	free(s);
	i2k_background_free(b);
}

int main(void)
{
	t_prog = "test_background";
	RUN(runs_in_order_and_free_drains);
	RUN(wait_key_runs_a_queued_job_at_once);
	return TEST_DONE();
}
