/* net.h — the guest init's network and identity steps: loopback up, the
 * hostname (i2kit.hostname= on the kernel cmdline, else /etc/hostname,
 * else "i2kit"), seeding the kernel RNG with boot noise (written to
 * /dev/urandom: mixed in, not credited), and a built-in DHCP client on
 * eth0 (on unless i2kit.dhcp=0; about 5 s at most, never blocks boot
 * beyond that) that sets the address, netmask, MTU and default route and
 * writes /run/resolvconf/resolv.conf (plus /etc/resolv.conf when that is a
 * regular file). The lease is not renewed: the address stays configured
 * for the VM's life (enough for QEMU user networking and EC2). */
#ifndef I2K_INITRD_INIT_NET_H
#define I2K_INITRD_INIT_NET_H

void i2ki_net_hostname(void);
void i2ki_net_seed_rng(void);
void i2ki_net_loopback(void);
/* Runs DHCP on IFNAME for at most timeout_ms; 0 when configured, else -1. */
int i2ki_net_dhcp(const char *ifname, int timeout_ms);
/* All of the above, as configured on the kernel cmdline. */
void i2ki_net_boot(void);

#endif
