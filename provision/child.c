/* child.c — kill and reap a scope's child (see child.h). */
#include "provision/child.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

void i2k_child_kill_reap(struct i2k_child *c)
{
	if (c->pid <= 0)
		return;
	kill(c->pid, SIGKILL);
	while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
		;
	c->pid = -1;
}

void i2k_child_forget(struct i2k_child *c)
{
	c->pid = -1;
}
