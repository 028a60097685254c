#!/bin/bash
# 44-distro-kernel.sh — a kernel image whose kernel.tar comes straight from a
# distribution package (fixtures/kernel:6.1-distro: no modules.dep, no
# modules.alias; depmod runs at install time there). i2kit computes them from
# the modules' .modinfo (kernel/depmod.c): the default pruning keeps the same
# modules as with the depmod'ed fixture kernel, the generated files are in the
# root at lib/modules/VER, and the VM boots to the web service (virtio_net,
# overlay loaded by the guest init from the generated files).
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
boot_test_setup qemu-system-x86_64 curl tar

web_yml() { # KERNEL_TAG
	cat <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:$1
  cmdline: "console=ttyS0"
init:
  - $REG_PLAIN/i2kit/init:$I2K_VERSION
services:
  - name: web
    image: $REG_PLAIN/fixtures/web:latest
    net: host
    capabilities.add:
      - CAP_NET_BIND_SERVICE
YML
}
web_yml 6.1-distro >"$W/distro.yml"
web_yml 6.1 >"$W/depmod.yml"

assert_exit distro-build 0 "$I2KIT" build --format kernel+initrd --format tar --dir "$W/d" --name web "$W/distro.yml"
assert_not_contains distro-no-warning "$T_OUT" "kernel.modules"
assert_exit depmod-build 0 "$I2KIT" build --format tar --dir "$W/r" --name web "$W/depmod.yml"

list_mods() { tar -tf "$1" | grep -E '\.ko(\.xz|\.zst|\.gz)?$' | sort; }
if [ -f "$W/d/web.tar" ] && [ -f "$W/r/web.tar" ]; then
	assert_eq distro-same-modules-kept "$(list_mods "$W/r/web.tar")" "$(list_mods "$W/d/web.tar")"
	n=$(list_mods "$W/d/web.tar" | wc -l)
	if [ "$n" -ge 15 ] && [ "$n" -le 40 ]; then t_pass distro-pruned; else t_fail distro-pruned "$n modules kept"; fi
	dep=$(tar -xOf "$W/d/web.tar" --wildcards 'lib/modules/*/modules.dep')
	assert_contains distro-modules-dep "$dep" "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko"
	alias=$(tar -xOf "$W/d/web.tar" --wildcards 'lib/modules/*/modules.alias')
	assert_contains distro-modules-alias "$alias" "alias virtio:d00000001v* virtio_net"
	assert_eq distro-same-modules-dep "$(tar -xOf "$W/r/web.tar" --wildcards 'lib/modules/*/modules.dep' | sort)" \
		"$(echo "$dep" | sort)"
else
	t_fail distro-tars "web.tar missing"
fi

# Boot it and fetch the page through the published port.
web_boot "$W/d/web" "$W/console.log" "$I2KIT"
assert_eq distro-boot-web-page "i2kit fixture web page" "$PAGE"
con=$(cat "$W/console.log" 2>/dev/null || true)
assert_contains distro-modules-loaded "$con" "modules: "
assert_not_contains distro-no-modules-dep-missing "$con" "no /lib/modules"
web_boot_stop
assert_eq distro-poweroff 0 "$VM_RC"
t_done
