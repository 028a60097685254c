/* runtime.h — LinuxKit's runtime.json for the guest init's container
 * runner (what LinuxKit's `service` tool does around runc):
 *
 *   i2ki_runtime_prepare (in the init's mount namespace, before the container
 *   process exists): "mounts" in order (destinations relative to
 *   BUNDLE/rootfs when not absolute; the destination and an overlay's
 *   upperdir/workdir are created first), then "mkdir" (same path rule),
 *   then "cgroups" (bare cgroup v2 groups CGROUP_ROOT/NAME).
 *
 *   i2ki_runtime_attach (after the process is created, before it runs):
 *   "interfaces" — {name, add, peer, createInRoot}: with add "veth" (or a
 *   peer and no add) a veth pair name/peer is created in the init's
 *   network namespace and name is moved into the container's; another
 *   add kind is created in the container's namespace (or in the root one
 *   then moved when createInRoot); without add the existing interface
 *   name is moved in. Then "bindNS": /proc/PID/ns/X bind-mounted on each
 *   non-empty path (its directory and an empty file created first).
 *
 *   "namespace" (a containerd namespace) is ignored.
 *
 * Failures return -1 with a one-line reason in errbuf.
 */
#ifndef I2K_INITRD_INIT_RUNTIME_H
#define I2K_INITRD_INIT_RUNTIME_H

#include <stddef.h>
#include <sys/types.h>

struct jnode;

/* rt may be NULL (no runtime.json): nothing to do. */
int i2ki_runtime_prepare(const struct jnode *rt, const char *bundle, char *errbuf, size_t errlen);
int i2ki_runtime_attach(const struct jnode *rt, pid_t pid, char *errbuf, size_t errlen);
/* Best effort: unmounts runtime "mounts" in reverse order (lazily). */
void i2ki_runtime_cleanup(const struct jnode *rt, const char *bundle);

/* rtnetlink helpers (exported for the tests and for reuse). */
/* Creates a veth pair name <-> peer in the caller's network namespace. */
int i2ki_runtime_veth_add(const char *name, const char *peer, char *errbuf, size_t errlen);
/* Creates a link of kind (e.g. "dummy"); in pid's network namespace when pid > 0. */
int i2ki_runtime_link_add(const char *name, const char *kind, pid_t pid, char *errbuf,
			  size_t errlen);
/* Moves interface name into pid's network namespace. */
int i2ki_runtime_link_move(const char *name, pid_t pid, char *errbuf, size_t errlen);

#endif
