#!/usr/bin/env bash
# bench/run.sh — `make bench`: one table of medians and the ratios computed in
# the same run (bench/README.md says what each number means).
#
#   BENCH_RUNS  rounds of the build measures (default 5); every round runs each
#               measure once, in the same order, so load drift hits all sides
#   BOOT_RUNS   boots per boot kind (default 3)
#   BENCH_MEM   0 skips the --mem bisection (default 1)
#   BENCH_BIG   0 skips the 4x workload (default 1)
#   BENCH_SCALE 0 skips the ext4 data / file-count scaling rows (default 1);
#               SCALE_RUNS rounds of them (default 3)
#
# Leaves nothing running: the registries and every QEMU are stopped on exit.
# Results: stdout and build/bench/results.txt; raw samples in build/bench/*.t.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
RUNS=${BENCH_RUNS:-5}
BOOT_RUNS=${BOOT_RUNS:-3}
NPROC=$(nproc)
. tests/integration/lib/harness.sh >/dev/null
fixtures_ready >/dev/null 2>&1
B=$REPO/build/bench
rm -rf "$B" && mkdir -p "$B"
VMS=
cleanup() {
	local p
	for p in $VMS; do kill -INT "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in $VMS; do kill -KILL "$p" 2>/dev/null || true; done
	bash "$REPO/fixtures/registry.sh" stop "$I2K_REG_STATE" >/dev/null 2>&1 || true
}
on_exit cleanup
export SOURCE_DATE_EPOCH=1700000000
V=$(cat "$REPO/VERSION")
I2K=$REPO/i2kit
C=$B/cache
log() { echo "bench: $*" >&2; }

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 == 0) print "nan"; else printf "%.2f", a / b}'; }
# sample NAME CMD... — one run under /usr/bin/time; appends "wall cpu rss" to $B/NAME.t
sample() {
	local n=$1
	shift
	if ! /usr/bin/time -f '%e %U %S %M' -o "$B/$n.time" "$@" >"$B/$n.out" 2>&1; then
		log "$n failed:"
		tail -5 "$B/$n.out" >&2
		exit 1
	fi
	awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}' "$B/$n.time" >>"$B/$n.t"
}
col() { [ -f "$B/$1.t" ] && awk -v c="$2" '{print $c}' "$B/$1.t" | median || echo nan; } # NAME 1=wall 2=cpu 3=rss
wall() { col "$1" 1; }
cpu() { col "$1" 2; }
rss() { col "$1" 3; }

# ---- the workload: the issue's reference ------------------------------------------
cat >"$B/ref.yml" <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:6.1
  cmdline: "console=ttyS0"
  modules: all
init:
  - $REG_PLAIN/i2kit/init:$V
onboot:
  - name: hello
    image: $REG_PLAIN/fixtures/busybox:latest
    command: ["/bin/echo", "hello from onboot"]
services:
  - name: web
    image: $REG_PLAIN/fixtures/web:latest
    net: host
    capabilities.add:
      - CAP_NET_BIND_SERVICE
YML
IMAGES="fixtures/kernel:6.1 fixtures/busybox:latest fixtures/web:latest i2kit/init:$V"
log "pulling into $C and into OCI layouts for the tools pipeline"
for r in $IMAGES; do
	"$I2K" cache pull --cache "$C" "$REG_PLAIN/$r" >/dev/null 2>&1
	n=${r#*/}
	skopeo copy -q --src-tls-verify=false "docker://$REG_PLAIN/$r" "oci:$B/oci:${n%%:*}"
done
export B C I2K REG_PLAIN NPROC
I2KB=("$I2K" build --offline --cache "$C" --name ref "$B/ref.yml")

# The standard-tools pipeline a user would script for the same two disks:
# umoci unpack, cpio | gzip -6, objcopy UKI, mkfs.vfat + mcopy, sgdisk, dd,
# qemu-img convert (from the OCI layouts already on disk: warm, like i2kit).
std_ref() {
	set -e
	local R=$B/std
	rm -rf "$R" && mkdir -p "$R/root/containers/onboot/000-hello" "$R/root/containers/services/web"
	umoci unpack --rootless --image "$B/oci:kernel" "$R/k" >/dev/null
	tar -xf "$R/k/rootfs/kernel.tar" -C "$R/root"
	umoci unpack --rootless --image "$B/oci:init" "$R/init" >/dev/null
	cp -a "$R/init/rootfs/." "$R/root/"
	umoci unpack --rootless --image "$B/oci:busybox" "$R/bb" >/dev/null
	cp -a "$R/bb/rootfs" "$R/root/containers/onboot/000-hello/lower"
	umoci unpack --rootless --image "$B/oci:web" "$R/web" >/dev/null
	cp -a "$R/web/rootfs" "$R/root/containers/services/web/lower"
	(cd "$R/root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -6) >"$R/initrd.img"
	printf 'console=ttyS0' >"$R/cmdline.txt"
	objcopy --add-section .cmdline="$R/cmdline.txt" --change-section-vma .cmdline=0x30000 \
		--add-section .initrd="$R/initrd.img" --change-section-vma .initrd=0x3000000 \
		--add-section .linux="$R/k/rootfs/kernel" --change-section-vma .linux=0x2000000 \
		/usr/lib/systemd/boot/efi/linuxx64.efi.stub "$R/uki.efi"
	local mb=$(($(stat -c %s "$R/uki.efi") / 1048576 + 8))
	mkfs.vfat -C -F 32 "$R/esp.img" $((mb * 1024)) >/dev/null
	mmd -i "$R/esp.img" ::/EFI ::/EFI/BOOT
	mcopy -i "$R/esp.img" "$R/uki.efi" ::/EFI/BOOT/BOOTX64.EFI
	truncate -s $((mb + 2))M "$R/disk.img"
	sgdisk -q -n 1:1M:+${mb}M -t 1:ef00 "$R/disk.img"
	dd if="$R/esp.img" of="$R/disk.img" bs=1M seek=1 conv=notrunc,sparse status=none
	qemu-img convert -O qcow2 "$R/disk.img" "$R/disk.qcow2"
}
export -f std_ref

# The codec limit: inflate every layer of the four images (from the cache),
# deflate the same uncompressed cpio on all cores.
LAYERS=$(for n in kernel busybox web init; do
	m=$(jq -r --arg n "$n" '.manifests[] | select(.annotations."org.opencontainers.image.ref.name" == $n) | .digest' "$B/oci/index.json")
	jq -r '.layers[].digest' "$B/oci/blobs/sha256/${m#sha256:}"
done | sort -u)
LAYER_FILES=$(for l in $LAYERS; do echo "$B/oci/blobs/sha256/${l#sha256:}"; done | tr '\n' ' ')
export LAYER_FILES
# (igzip: ISA-L's inflater, i2kit's too: builder/image/gzinput.h)
inflate() { for f in $LAYER_FILES; do igzip -dc "$f"; done >/dev/null; }
export -f inflate
"$I2K" build --offline --cache "$C" --name raw --compress none --dir "$B/raw" "$B/ref.yml" >/dev/null 2>&1
CPIO=$B/raw/raw-initrd.img
export CPIO
# the same limit with libdeflate, the deflater i2kit uses (whole buffers,
# one thread each: the cpio cut in $NPROC parts, compressed side by side)
rm -rf "$B/cpio-parts" && mkdir -p "$B/cpio-parts"
split -n "$NPROC" -d "$CPIO" "$B/cpio-parts/p"
CPIO_PARTS=$B/cpio-parts
export CPIO_PARTS
ldeflate() { for f in "$CPIO_PARTS"/p*; do libdeflate-gzip -6 -c "$f" >/dev/null & done; wait; }
export -f ldeflate
# compressed sizes (not timed): i2kit's gzip initrd against pigz -6's
"$I2K" build --offline --cache "$C" --name gz --dir "$B/gz" "$B/ref.yml" >/dev/null 2>&1
GZ_I2K=$(stat -c %s "$B/gz/gz-initrd.img")
GZ_PIGZ=$(pigz -6 -p"$NPROC" -c "$CPIO" | wc -c)

# cold: an empty cache, every blob from the local registry
# (the previous round's cache is removed before the sample, not in it: that
# is the bench's own cleanup, ≈0.1 s of unlinking 250 MB here)
cold_build() { "$I2K" build --cache "$B/cold" --name ref --dir "$B/o-cold" "$B/ref.yml" --format raw-efi --format qcow2-efi; }
cold_pull() { for r in $IMAGES; do "$I2K" cache pull --cache "$B/cold" "$REG_PLAIN/$r" || return 1; done; }
export IMAGES
export -f cold_build cold_pull

# warm rebuild, modules: auto, after a change that does not touch the kernel
# image (the onboot command differs every time: nothing can be reused whole)
sed 's/modules: all/modules: auto/' "$B/ref.yml" >"$B/auto.yml"
"$I2K" build --offline --cache "$C" --name auto --dir "$B/o-auto" "$B/auto.yml" >/dev/null 2>&1

log "build measures: $RUNS interleaved rounds"
for i in $(seq "$RUNS"); do
	log "round $i/$RUNS"
	# the full work: no compressed blocks of earlier rounds (the next row
	# measures what reusing them gives)
	rm -rf "$C/compressed"
	sample ref "${I2KB[@]}" --format raw-efi --format qcow2-efi --dir "$B/o-ref"
	sample same "${I2KB[@]}" --format raw-efi --format qcow2-efi --dir "$B/o-ref"
	sample std bash -c std_ref
	rm -rf "$C/compressed"
	sample one "${I2KB[@]}" --format raw-efi --dir "$B/o-one"
	sample inflate bash -c inflate
	sample pigz bash -c 'pigz -6 -p"$NPROC" -c "$CPIO" >/dev/null'
	sample ldeflate bash -c ldeflate
	sample zstd bash -c 'zstd -q -3 -T0 -c "$CPIO" >/dev/null'
	sample refz "${I2KB[@]}" --format raw-efi --format qcow2-efi --compress zstd --dir "$B/o-refz"
	rm -rf "$B/cold"
	sample cold bash -c cold_build
	rm -rf "$B/cold"
	sample pull bash -c cold_pull
	sed "s/hello from onboot/hello $i/" "$B/auto.yml" >"$B/auto-$i.yml"
	sample auto "$I2K" build --offline --cache "$C" --name auto --dir "$B/o-auto" "$B/auto-$i.yml"
done

# ---- 4x workload: the reference plus a service image holding three more
# copies of the kernel's modules (built with umoci from the fixture image) ----
if [ "${BENCH_BIG:-1}" != 0 ]; then
	log "4x workload"
	G=$B/big
	rm -rf "$G" && mkdir -p "$G"
	umoci unpack --rootless --image "$B/oci:kernel" "$G/b" >/dev/null
	mkdir -p "$G/m"
	tar -xf "$G/b/rootfs/kernel.tar" -C "$G/m"
	rm -rf "$G/b/rootfs/"*
	for k in 1 2 3; do cp -a "$G/m" "$G/b/rootfs/copy$k"; done
	rm -rf "$G/m"
	skopeo copy -q "oci:$B/oci:kernel" "oci:$G/oci:big" # a base layout to repack into
	umoci repack --image "$G/oci:big" "$G/b" >/dev/null
	skopeo copy -q --dest-tls-verify=false "oci:$G/oci:big" "docker://$REG_PLAIN/bench/big:1"
	"$I2K" cache pull --cache "$C" "$REG_PLAIN/bench/big:1" >/dev/null 2>&1
	sed "s|^services:|services:\n  - name: big\n    image: $REG_PLAIN/bench/big:1\n    command: [\"/bin/true\"]|" "$B/ref.yml" >"$G/big.yml"
	rm -rf "$C/compressed"
	sample big "$I2K" build --offline --cache "$C" --name big --dir "$G/o" "$G/big.yml" --format raw-efi --format qcow2-efi
	sample bigz "$I2K" build --offline --cache "$C" --name bigz --dir "$G/o" "$G/big.yml" --format raw-efi --format qcow2-efi --compress zstd
	"$I2K" build --offline --cache "$C" --name bigraw --compress none --dir "$G/o" "$G/big.yml" >/dev/null 2>&1
	big_mib=$(($(stat -c %s "$G/o/bigraw-initrd.img") >> 20))
	rm -rf "$G/b" "$G/o"
fi
ref_mib=$(($(stat -c %s "$CPIO") >> 20))

# ---- scaling: an ext4 root of 512 MiB vs 2 GiB of data, and 25,000 vs
# 100,000 files (synthetic images, umoci-packed, pulled from the registry);
# BENCH_SCALE=0 skips it. Time should grow linearly, RSS stay flat. ------------
if [ "${BENCH_SCALE:-1}" != 0 ]; then
	log "scaling workloads (ext4 root: 0.5 vs 2 GiB, 25k vs 100k files)"
	Sd=$B/scale
	rm -rf "$Sd" && mkdir -p "$Sd"
	skopeo copy -q "oci:$B/oci:busybox" "oci:$Sd/oci:base"
	# scale_image NAME KIND N: KIND data → N MiB in 64 MiB files of varied,
	# compressible bytes; KIND files → N files of 1..4 KiB in 100 dirs
	scale_image() {
		umoci unpack --rootless --image "$Sd/oci:base" "$Sd/u" >/dev/null
		python3 - "$Sd/u/rootfs/data" "$2" "$3" <<'PY'
import os, sys, random
root, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(root)
rnd = random.Random(7)
if kind == "data":
    block = bytes(rnd.getrandbits(8) for _ in range(1 << 14)) * 16  # 256 KiB
    for i in range(n // 64):
        with open(f"{root}/blob{i}", "wb") as f:
            for j in range(256):
                f.write(block[j:] + block[:j])
else:
    for i in range(n):
        d = f"{root}/d{i % 100}"
        if i < 100:
            os.makedirs(d)
        with open(f"{d}/f{i}", "wb") as f:
            f.write((b"%d " % i) * rnd.randint(200, 800))
PY
		umoci repack --image "$Sd/oci:base" "$Sd/u" >/dev/null
		rm -rf "$Sd/u"
		skopeo copy -q --dest-tls-verify=false "oci:$Sd/oci:base" "docker://$REG_PLAIN/bench/$1:1"
		skopeo copy -q "oci:$B/oci:busybox" "oci:$Sd/oci:base" # back to the plain base
		"$I2K" cache pull --cache "$C" "$REG_PLAIN/bench/$1:1" >/dev/null 2>&1
		sed "s|^services:|services:\n  - name: $1\n    image: $REG_PLAIN/bench/$1:1\n    command: [\"/bin/true\"]|" \
			"$B/auto.yml" >"$Sd/$1.yml"
	}
	scale_image data512 data 512
	scale_image data2g data 2048
	scale_image files25k files 25000
	scale_image files100k files 100000
	# the first build of a newly pulled image also inflates its layer into
	# DIR/unpacked (gigabytes of page cache being written out): not a row
	for w in data512 data2g files25k files100k; do
		"$I2K" build --offline --cache "$C" --name "$w" --dir "$Sd/o" --format raw-efi \
			--root ext4 "$Sd/$w.yml" >/dev/null 2>&1
		rm -rf "$Sd/o"
	done
	# a sync before each sample: the image the one before wrote is still
	# going to disk (see bench/README.md)
	for i in $(seq "${SCALE_RUNS:-3}"); do
		for w in data512 data2g files25k files100k; do
			sync
			sample "s-$w" "$I2K" build --offline --cache "$C" --name "$w" --dir "$Sd/o" \
				--format raw-efi --root ext4 "$Sd/$w.yml"
			rm -rf "$Sd/o"
		done
	done
fi

# ---- boots --------------------------------------------------------------------
log "boot measures: $BOOT_RUNS boots of each kind (TCG)"
# The rows above leave gigabytes of cache and page cache behind: whatever
# the kernel still has to write back must not fall on the timed boots.
sync
sed 's/modules: all/modules: auto/' "$B/ref.yml" >"$B/boot.yml"
"$I2K" build --offline --cache "$C" --name web --dir "$B/boot" "$B/boot.yml" \
	--format kernel+initrd --format raw-bios --format raw-efi >/dev/null 2>&1
# the interpreter itself: a pyenv shim costs ≈0.3 s of CPU per start, which
# would fall on the boot that bench/probe.py times
PY=$(python3 -c 'import sys; print(sys.executable)')
CLK_TCK=$(getconf CLK_TCK)
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# boot_once IMAGE MEM LIMIT_S [RUN_ARGS...] → "qemu fw init svc answer" (host
# seconds from the start of `i2kit run` to: QEMU's pid file, the first kernel
# line, the init's first line, "boot finished", the first answer) then QEMU's
# system CPU seconds and anonymous memory (MB) at the first answer; nan when
# not reached
boot_once() {
	local img=$1 mem=$2 limit=$3 port st s vm tq e i
	shift 3
	port=$(freeport)
	st=$B/boot/state-$RANDOM
	rm -rf "$st"
	s=$EPOCHREALTIME
	("$I2K" run qemu --accel tcg --mem "$mem" --publish "$port:80" --timeout "$((limit + 10))" \
		--state "$st" "$@" "$img" 2>&1 | while IFS= read -r l; do echo "$EPOCHREALTIME $l"; done >"$st.log") &
	vm=$!
	VMS="$VMS $vm"
	# bench/probe.py: when QEMU's pid file appears, and the first answer
	# (a GET every 50 ms, each in a thread; it stops at a panic in the log)
	read -r tq e < <("$PY" -S "$REPO/bench/probe.py" "$port" "$limit" "$st/pid" "$st.log") || true
	[ "$tq" = nan ] && tq=
	[ "$e" = nan ] && e=
	local qp
	qp=$(cat "$st/pid" 2>/dev/null || true)
	# QEMU's system time and anonymous memory so far: the pages it touched
	# first (guest RAM, TCG's code) and what they cost the host (README)
	local qsys=nan qmb=nan
	if [ -n "$qp" ] && [ -r "/proc/$qp/stat" ]; then
		qsys=$(sed 's/.*) //' "/proc/$qp/stat" 2>/dev/null | awk -v hz="$CLK_TCK" '{printf "%.2f", $13 / hz}') || qsys=nan
		qmb=$(awk '/^RssAnon:/ {printf "%d", $2 / 1024}' "/proc/$qp/status" 2>/dev/null) || qmb=nan
		qsys=${qsys:-nan} qmb=${qmb:-nan}
	fi
	[ -n "$qp" ] && kill -INT "$qp" 2>/dev/null
	for i in $(seq 1 100); do kill -0 "$vm" 2>/dev/null || break; sleep 0.1; done
	kill -INT "$vm" 2>/dev/null || true
	wait "$vm" 2>/dev/null || true
	awk -v s="$s" -v tq="${tq:-nan}" -v e="${e:-nan}" -v qs="$qsys" -v qm="$qmb" '
		function at(x) { return x == "nan" ? "nan" : sprintf("%.2f", x - s) }
		!k && /^[0-9.]+ \[ *[0-9]+\.[0-9]+\]/ { k = $1 }
		!n && /i2kit-init.*starting/ { n = $1 }
		!v && /boot finished/ { v = $1 }
		END { print at(tq), at(k ? k : "nan"), at(n ? n : "nan"), at(v ? v : "nan"), at(e), qs, qm }' "$st.log"
}
# What fresh memory costs this host: the first touch of 128 MiB (huge pages
# where the kernel gives them, as QEMU asks for its guest RAM and code) after
# 3 s idle, then again right after that process freed its memory. A VM whose
# hypervisor takes back the memory its guest freed (virtio-balloon free page
# reporting) makes the first far dearer; README, "boot".
memcost() {
	"$PY" -S -c '
import mmap, time
n = 128 << 20
m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
try:
    m.madvise(mmap.MADV_HUGEPAGE)
except (AttributeError, OSError):
    pass
t = time.perf_counter()
m[::4096] = b"\1" * (n // 4096)
print("%.2f" % ((time.perf_counter() - t) * 1000 / 128))'
}
sleep 3
mem_fresh=$(memcost)
mem_reused=$(memcost)
# The kernel's PVH ELF is extracted into the cache on the first kernel+initrd
# run (once per kernel, provision/pvh.h): do that before the timed boots.
export I2KIT_CACHE=$C
# So is the trimmed copy of OVMF (provision/ovmf.h), before QEMU starts, and
# the packed variable store (provision/efivars.h), after a boot that got as
# far as the disk's loader: that one runs long enough for it.
"$I2K" run qemu --accel tcg --timeout 1 --state "$B/boot/warm" "$B/boot/web" >/dev/null 2>&1 || true
"$I2K" run qemu --accel tcg --timeout 15 --state "$B/boot/warm-efi" "$B/boot/web-efi.img" >/dev/null 2>&1 || true
# Interleaved rounds: one boot of each kind per round, so that a change in
# the machine's load falls on every kind alike. Each boot starts right after
# the previous one ended, so QEMU mostly gets the pages the last QEMU freed;
# the two *-idle kinds start after 3 s of idle, when such a host has taken
# them back (the host memory line).
BOOT_KINDS="initrd initrd-bz bios efi initrd-idle efi-idle"
for i in $(seq "$BOOT_RUNS"); do
	for kind in $BOOT_KINDS; do
		extra=()
		case $kind in
		initrd*) img=$B/boot/web ;;&
		initrd-bz) extra=(--no-pvh) ;;
		bios) img=$B/boot/web-bios.img ;;
		efi*) img=$B/boot/web-efi.img ;;
		esac
		case $kind in *-idle) sleep 3 ;; esac
		boot_once "$img" 512 120 "${extra[@]}" >>"$B/boot-$kind.t"
	done
done
bootcol() { awk -v c="$2" '$c != "nan" {print $c}' "$B/boot-$1.t" | median; }
phase() { # KIND FROM TO → median of (TO - FROM) per boot
	awk -v a="$2" -v b="$3" '$a != "nan" && $b != "nan" {print $b - $a}' "$B/boot-$1.t" | median
}

# ---- smallest --mem that serves (bisection down to 2 MB, bounded boots) ----
mem_min=skipped
if [ "${BENCH_MEM:-1}" != 0 ]; then
	log "--mem bisection"
	lo=32 hi=256 # lo fails (assumed), hi serves (checked)
	serves() { [ "$(boot_once "$B/boot/web" "$1" 60 | awk '{print $5}')" != nan ]; }
	if serves $hi; then
		n=0
		while [ $((hi - lo)) -gt 2 ] && [ $n -lt 8 ]; do
			mid=$(((lo + hi) / 2))
			if serves $mid; then hi=$mid; else lo=$mid; fi
			n=$((n + 1))
		done
		mem_min="$hi MB ($((lo + 1))..$hi; $((n + 1)) boots)"
	else
		mem_min="none up to $hi MB"
	fi
fi

# ---- the table ------------------------------------------------------------------
row() { printf '%-52s %8s   %s\n' "$@"; }
{
	echo "i2kit bench: $NPROC cores, load $(cut -d' ' -f1-3 /proc/loadavg), medians of $RUNS interleaved rounds (wall s / user+sys CPU s)"
	row "measure" "ratio" "detail"
	row "warm raw-efi+qcow2-efi, all modules, gzip: i2kit / tools" "$(ratio "$(wall ref)" "$(wall std)")" \
		"i2kit $(wall ref)s ($(cpu ref) cpu), tools $(wall std)s ($(cpu std) cpu); cpu ratio $(ratio "$(cpu ref)" "$(cpu std)"); target <= 0.33"
	lim=$(awk -v a="$(wall inflate)" -v b="$(wall pigz)" 'BEGIN {printf "%.2f", a + b}')
	limc=$(awk -v a="$(cpu inflate)" -v b="$(cpu pigz)" 'BEGIN {printf "%.2f", a + b}')
	row "  i2kit / codec limit (inflate + pigz -6 -p$NPROC)" "$(ratio "$(wall ref)" "$lim")" \
		"limit ${lim}s (inflate $(wall inflate)s + pigz $(wall pigz)s; $limc cpu); cpu ratio $(ratio "$(cpu ref)" "$limc"); target <= 1.2"
	row "  raw-efi alone / codec limit" "$(ratio "$(wall one)" "$lim")" "raw-efi alone $(wall one)s ($(cpu one) cpu)"
	liml=$(awk -v a="$(wall inflate)" -v b="$(wall ldeflate)" 'BEGIN {printf "%.2f", a + b}')
	row "  i2kit / (inflate + libdeflate -6, $NPROC parts)" "$(ratio "$(wall ref)" "$liml")" \
		"limit ${liml}s (libdeflate-gzip $(wall ldeflate)s); initrd $(awk -v a="$GZ_I2K" 'BEGIN {printf "%.2f", a / 1e6}') MB, pigz -6 $(awk -v a="$GZ_PIGZ" 'BEGIN {printf "%.2f", a / 1e6}') MB"
	limz=$(awk -v a="$(wall inflate)" -v b="$(wall zstd)" 'BEGIN {printf "%.2f", a + b}')
	row "  zstd: i2kit --compress zstd / (inflate + zstd -3 -T0)" "$(ratio "$(wall refz)" "$limz")" \
		"i2kit $(wall refz)s ($(cpu refz) cpu), limit ${limz}s (zstd $(wall zstd)s)"
	row "  unchanged rebuild (initrd blocks reused) / tools" "$(ratio "$(wall same)" "$(wall std)")" \
		"i2kit $(wall same)s ($(cpu same) cpu): the same build again, nothing to compress"
	row "shared intermediates: raw-efi+qcow2-efi / raw-efi" "$(ratio "$(wall ref)" "$(wall one)")" \
		"cpu ratio $(ratio "$(cpu ref)" "$(cpu one)"); target <= 1.15"
	row "cold / (warm + pull into an empty cache)" "$(ratio "$(wall cold)" "$(awk -v a="$(wall ref)" -v b="$(wall pull)" 'BEGIN {print a + b}')")" \
		"cold $(wall cold)s, warm $(wall ref)s, pull $(wall pull)s; cold / warm $(ratio "$(wall cold)" "$(wall ref)"); target <= 1.3"
	if [ "${BENCH_BIG:-1}" != 0 ]; then
		row "peak RSS, gzip: 4x workload / reference" "$(ratio "$(rss big)" "$(rss ref)")" \
			"ref $(($(rss ref) / 1024)) MiB (cpio $ref_mib MiB), 4x $(($(rss big) / 1024)) MiB (cpio $big_mib MiB); target flat, <= 64 MiB"
		row "peak RSS, zstd: 4x workload / reference" "$(ratio "$(rss bigz)" "$(rss refz)")" \
			"ref $(($(rss refz) / 1024)) MiB, 4x $(($(rss bigz) / 1024)) MiB; 4x build $(wall big)s gzip, $(wall bigz)s zstd"
	else
		row "peak RSS (4x workload skipped)" "" "ref gzip $(($(rss ref) / 1024)) MiB, zstd $(($(rss refz) / 1024)) MiB"
	fi
	row "warm rebuild, modules auto, kernel image unchanged" "$(wall auto)s" \
		"$(cpu auto) cpu s, RSS $(($(rss auto) / 1024)) MiB; target <= 0.15 s"
	if [ "${BENCH_SCALE:-1}" != 0 ]; then
		row "ext4 root (raw-efi --root ext4): 2 GiB / 0.5 GiB of data" "$(ratio "$(wall s-data2g)" "$(wall s-data512)")" \
			"$(wall s-data512)s -> $(wall s-data2g)s (linear: 4.00), cpu $(cpu s-data512) -> $(cpu s-data2g) s, ratio $(ratio "$(cpu s-data2g)" "$(cpu s-data512)"); RSS $(($(rss s-data512) / 1024)) -> $(($(rss s-data2g) / 1024)) MiB, ratio $(ratio "$(rss s-data2g)" "$(rss s-data512)") (flat: 1.00)"
		row "  100,000 / 25,000 files" "$(ratio "$(wall s-files100k)" "$(wall s-files25k)")" \
			"$(wall s-files25k)s -> $(wall s-files100k)s (linear: 4.00), cpu $(cpu s-files25k) -> $(cpu s-files100k) s, ratio $(ratio "$(cpu s-files100k)" "$(cpu s-files25k)"); RSS $(($(rss s-files25k) / 1024)) -> $(($(rss s-files100k) / 1024)) MiB, ratio $(ratio "$(rss s-files100k)" "$(rss s-files25k)") (flat: 1.00)"
	fi
	echo "boot (TCG, --mem 512, modules auto; median of $BOOT_RUNS; seconds from 'i2kit run'):"
	printf '  %-11s %6s %9s %9s %9s %9s %9s %7s %6s\n' kind qemu "firmware" "kernel" "init" "services" "answer" "QEMU" "QEMU"
	printf '  %-11s %6s %9s %9s %9s %9s %9s %7s %6s\n' "" "(start)" "+decomp." "->init" "->svc" "->answer" "(total)" "sys s" "MB"
	for kind in $BOOT_KINDS; do
		printf '  %-11s %6s %9s %9s %9s %9s %9s %7s %6s\n' "$kind" "$(bootcol $kind 1)" "$(phase $kind 1 2)" \
			"$(phase $kind 2 3)" "$(phase $kind 3 4)" "$(phase $kind 4 5)" "$(bootcol $kind 5)" \
			"$(bootcol $kind 6)" "$(bootcol $kind 7)"
	done
	echo "  initrd: PVH entry, no decompressor (firmware only); initrd-bz: the same build with --no-pvh;"
	echo "  *-idle: the same boot after 3 s of idle (no freshly freed memory to reuse)"
	echo "  QEMU: its system CPU time and anonymous memory at the first answer (guest RAM touched, TCG's code)"
	echo "  host memory: first touch ${mem_fresh} ms/MB after 3 s idle, ${mem_reused} ms/MB right after another process freed it"
	echo "  targets: initrd answer <= 2.0 s, efi <= 4 s"
	echo "smallest --mem that serves the web example (kernel+initrd): $mem_min; target <= 64 MB"
} | tee "$B/results.txt"
rm -rf "$B/std" "$B/cold" "$B/o-"* "$B/raw" "$B/scale"
# AWS: push throughput against moto (--jobs 1, 8, 64) and build --push vs
# build + push; BENCH_AWS=0 skips it.
if [ "${BENCH_AWS:-1}" != 0 ]; then
	REG_PLAIN=$REG_PLAIN B=$B REPO=$REPO RUNS=$RUNS . "$REPO/bench/aws.sh" | tee -a "$B/results.txt"
fi
