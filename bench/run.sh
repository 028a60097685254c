#!/usr/bin/env bash
# bench/run.sh — `make bench`: i2kit against the standard-tools pipeline and
# against the codec limit, on the fixture images, reported as ratios
# (lower is better for i2kit; < 1.00 means i2kit is faster).
#
#   pull   i2kit cache pull (cold cache)  vs  skopeo copy docker:// → oci: of the same refs
#   build  i2kit build kernel+initrd (warm cache, offline)
#          vs  umoci unpack of each image + LinuxKit-style layout + find|cpio -o -H newc|gzip
#   codec  i2kit build kernel+initrd  vs  gzip -6 alone over the same uncompressed cpio
#          (the floor any gzip'd initrd writer pays on one core)
#   memory peak RSS of i2kit build (KiB) and its ratio to the size of the initrd
#   formats  each disk format vs the standard-tools pipeline (bench/formats.sh)
#   boot   QEMU/TCG start → the web service answers through --publish, median of
#          $BOOT_RUNS (default 5), kernel.modules auto vs all (initrd sizes too)
#
# Each timing is the median of $BENCH_RUNS runs (default 3). Results go to
# stdout and build/bench/results.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
RUNS=${BENCH_RUNS:-3}
. tests/integration/lib/harness.sh >/dev/null
fixtures_ready >/dev/null 2>&1
on_exit "bash '$REPO/fixtures/registry.sh' stop '$I2K_REG_STATE'" # leave nothing running
B=$REPO/build/bench
rm -rf "$B" && mkdir -p "$B"
export SOURCE_DATE_EPOCH=1700000000
REFS="kernel:6.1 busybox:latest web:latest"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
timeit() { # CMD... → seconds (median of RUNS), runs a setup function "pre" first if defined
	local i s e
	for i in $(seq "$RUNS"); do
		if declare -F pre >/dev/null; then pre; fi
		s=$(now)
		"$@" >/dev/null 2>&1
		e=$(now)
		echo "$e - $s" | bc -l
	done | median
}
ratio() { printf "%.2f" "$(echo "scale=4; $1 / $2" | bc -l)"; }

# modules: all — the standard-tools pipeline below cannot prune modules, so
# both sides write the same root.
cat >"$B/bench.yml" <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:6.1
  cmdline: "console=ttyS0"
  modules: all
init:
  - $REG_PLAIN/fixtures/busybox:latest
onboot:
  - name: hello
    image: $REG_PLAIN/fixtures/busybox:latest
services:
  - name: web
    image: $REG_PLAIN/fixtures/web:latest
YML

# ---- pull -----------------------------------------------------------------
pull_i2kit() {
	for r in $REFS; do "$REPO/i2kit" cache pull --cache "$B/cache" "$REG_PLAIN/fixtures/$r" || return 1; done
}
pull_skopeo() {
	for r in $REFS; do
		skopeo copy -q --src-tls-verify=false "docker://$REG_PLAIN/fixtures/$r" "oci:$B/skopeo:${r%%:*}" || return 1
	done
}
pre() { rm -rf "$B/cache" "$B/skopeo"; }
t_pull_i2k=$(timeit pull_i2kit)
t_pull_std=$(timeit pull_skopeo)
unset -f pre

# ---- build ------------------------------------------------------------------
pull_i2kit >/dev/null 2>&1
pull_skopeo >/dev/null 2>&1
build_i2kit() {
	"$REPO/i2kit" build --offline --cache "$B/cache" --dir "$B/out" --name bench "$B/bench.yml"
}
build_std() { # what a hand-written script does with the standard tools
	local R=$B/std
	rm -rf "$R" && mkdir -p "$R/root/boot" "$R/root/containers/onboot/000-hello" "$R/root/containers/services/web"
	umoci unpack --rootless --image "$B/skopeo:kernel" "$R/k" >/dev/null
	cp "$R/k/rootfs/kernel" "$R/root/boot/kernel"
	tar -xf "$R/k/rootfs/kernel.tar" -C "$R/root"
	umoci unpack --rootless --image "$B/skopeo:busybox" "$R/bb" >/dev/null
	cp -a "$R/bb/rootfs/." "$R/root/"
	cp -a "$R/bb/rootfs" "$R/root/containers/onboot/000-hello/lower"
	umoci unpack --rootless --image "$B/skopeo:web" "$R/web" >/dev/null
	cp -a "$R/web/rootfs" "$R/root/containers/services/web/lower"
	(cd "$R/root" && find . -path ./boot -prune -o -print | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -6) >"$R/initrd.img"
}
t_build_i2k=$(timeit build_i2kit)
t_build_std=$(timeit build_std)

# ---- codec limit --------------------------------------------------------------
"$REPO/i2kit" build --offline --cache "$B/cache" --dir "$B/raw" --name bench --compress none "$B/bench.yml" >/dev/null 2>&1
gzip_only() { gzip -6 -c "$B/raw/bench-initrd.img" >"$B/raw/x.gz"; }
t_codec=$(timeit gzip_only)

# ---- memory -------------------------------------------------------------------
/usr/bin/time -f '%M' -o "$B/rss" "$REPO/i2kit" build --offline --cache "$B/cache" --dir "$B/out" --name bench "$B/bench.yml" >/dev/null 2>&1
rss=$(cat "$B/rss")
initrd_kib=$(($(stat -c %s "$B/out/bench-initrd.img") / 1024))
raw_kib=$(($(stat -c %s "$B/raw/bench-initrd.img") / 1024))

# ---- boot to service ready ---------------------------------------------------
BOOT_RUNS=${BOOT_RUNS:-5}
"$REPO/i2kit" cache import --cache "$B/cache" "$REPO/build/init/i2kit-init-$(cat "$REPO/VERSION").tar" >/dev/null 2>&1
for mods in auto all; do
	cat >"$B/boot-$mods.yml" <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:6.1
  cmdline: "console=ttyS0"
  modules: $mods
init:
  - i2kit/init:$(cat "$REPO/VERSION")
services:
  - name: web
    image: $REG_PLAIN/fixtures/web:latest
    net: host
YML
	"$REPO/i2kit" build --offline --cache "$B/cache" --dir "$B/boot" --name "$mods" "$B/boot-$mods.yml" >/dev/null 2>&1
done
boot_once() { # NAME → seconds until the page answers (or 999)
	local port s e vm
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	s=$(now)
	"$REPO/i2kit" run qemu --accel tcg --mem 512 --publish "$port:80" --timeout 120 \
		--state "$B/boot/run-$1" "$B/boot/$1" >/dev/null 2>&1 &
	vm=$!
	e=
	for _ in $(seq 1 600); do
		if curl -fs -m 1 "http://127.0.0.1:$port/" >/dev/null 2>&1; then e=$(now); break; fi
		sleep 0.1
	done
	kill -INT $vm 2>/dev/null; wait $vm 2>/dev/null || true
	if [ -n "$e" ]; then echo "$e - $s" | bc -l; else echo 999; fi
}
t_boot_auto=$(for i in $(seq "$BOOT_RUNS"); do boot_once auto; done | median)
t_boot_all=$(for i in $(seq "$BOOT_RUNS"); do boot_once all; done | median)
size_auto=$(($(stat -c %s "$B/boot/auto-initrd.img") / 1024))
size_all=$(($(stat -c %s "$B/boot/all-initrd.img") / 1024))

{
	echo "i2kit bench ($(nproc) cores, median of $RUNS)"
	printf '%-44s %8s\n' "measure" "ratio"
	printf '%-44s %8s   (i2kit %.2fs, skopeo %.2fs)\n' "pull: i2kit / skopeo copy" "$(ratio "$t_pull_i2k" "$t_pull_std")" "$t_pull_i2k" "$t_pull_std"
	printf '%-44s %8s   (i2kit %.2fs, umoci+cpio+gzip %.2fs)\n' "build: i2kit / umoci+cpio+gzip" "$(ratio "$t_build_i2k" "$t_build_std")" "$t_build_i2k" "$t_build_std"
	printf '%-44s %8s   (i2kit %.2fs, gzip -6 alone %.2fs)\n' "build: i2kit / gzip codec limit" "$(ratio "$t_build_i2k" "$t_codec")" "$t_build_i2k" "$t_codec"
	printf '%-44s %8s   (peak RSS %d KiB, uncompressed initrd %d KiB)\n' "memory: peak RSS / uncompressed initrd" "$(ratio "$rss" "$raw_kib")" "$rss" "$raw_kib"
	printf '%-44s %8s   (auto %.2fs, all %.2fs; median of %d TCG boots)\n' "boot to service: modules auto / all" "$(ratio "$t_boot_auto" "$t_boot_all")" "$t_boot_auto" "$t_boot_all" "$BOOT_RUNS"
	printf '%-44s %8s   (auto %d KiB, all %d KiB)\n' "initrd size: modules auto / all" "$(ratio "$size_auto" "$size_all")" "$size_auto" "$size_all"
	echo "initrd: $initrd_kib KiB gzip"
	B=$B REPO=$REPO REG_PLAIN=$REG_PLAIN RUNS=$RUNS . "$REPO/bench/formats.sh"
	B=$B REPO=$REPO RUNS=$RUNS . "$REPO/bench/aws.sh"
} | tee "$B/results.txt"
