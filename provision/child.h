/* child.h — a child process owned by a scope: when the scope ends before the
 * child was reaped (an error path), the child is killed and reaped, so no
 * QEMU or helper outlives the function that started it.
 *
 *   _cleanup_child_ struct i2k_child c = I2K_CHILD_NONE;
 *   c.pid = fork(); ...
 *   i2k_child_forget(&c);   // reaped normally: nothing left to do
 */
#ifndef I2K_PROVISION_CHILD_H
#define I2K_PROVISION_CHILD_H

#include <sys/types.h>

struct i2k_child {
	pid_t pid; /* > 0 while the child is ours to reap */
};
#define I2K_CHILD_NONE                                                                             \
	{                                                                                          \
		.pid = -1                                                                          \
	}

/* SIGKILLs and reaps c->pid when it is > 0 (EINTR-safe), then sets it to -1. */
void i2k_child_kill_reap(struct i2k_child *c);
/* The child was reaped by its owner: forget it. */
void i2k_child_forget(struct i2k_child *c);

#define _cleanup_child_ __attribute__((cleanup(i2k_child_kill_reap)))

#endif
