# bench/aws.sh — `i2kit push aws` throughput against moto (authentication on)
# for --jobs 1, 8 and 64, on a sparse synthetic disk of 256 MiB with 64 MiB of
# random data; reported as the ratio to --jobs 1 (lower is faster) and MB/s of
# uploaded data. moto (python) is the bottleneck here, so the numbers bound
# the client's overhead rather than AWS's speed.
#
# Sourced by bench/run.sh (B, REPO, RUNS set) or run alone:
#   bash bench/aws.sh        (uses build/bench-aws, RUNS=3)
# Then the time from `i2kit build --format aws --push aws` start to the AMI
# id, beside `i2kit build --format aws` + `i2kit push aws` as two steps, on
# the web example (warm cache; needs REG_PLAIN from the fixture harness).
_aws_bench() {
	local B=${B:-$REPO/build/bench}/aws RUNS=${RUNS:-3} j i s e t
	mkdir -p "$B"
	. "$REPO/fixtures/moto.sh"
	if ! moto_start "$B/moto" >/dev/null 2>"$B/moto.err"; then
		echo "aws push: moto unavailable ($(head -c 200 "$B/moto.err"))"
		return 0
	fi
	python3 - "$B/disk.raw" <<'PY'
import os, sys
with open(sys.argv[1], "wb") as f:
    f.truncate(256 << 20)
    for k in range(32):  # 32 x 2 MiB of random data, spread out
        f.seek(k * (8 << 20)); f.write(os.urandom(2 << 20))
PY
	declare -A secs
	for j in 1 8 64; do
		secs[$j]=$(for i in $(seq "$RUNS"); do
			s=$(date +%s.%N)
			env AWS_ACCESS_KEY_ID="$MOTO_KEY_ID" AWS_SECRET_ACCESS_KEY="$MOTO_SECRET" \
				AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
				"$REPO/i2kit" push aws --endpoint-url "$MOTO_URL" --name "bench-$j-$i" \
				--jobs "$j" --no-wait "$B/disk.raw" >/dev/null 2>"$B/push-$j.err" || echo fail >&2
			e=$(date +%s.%N)
			echo "$e - $s" | bc -l
		done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
	done
	local t_one="" t_two="" yml=$B/web.yml
	if [ -n "${REG_PLAIN:-}" ]; then
		cat >"$yml" <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - i2kit/init:$(cat "$REPO/VERSION")
services:
  - name: web
    image: $REG_PLAIN/fixtures/web:latest
    net: host
YML
		local aws_env=(env AWS_ACCESS_KEY_ID="$MOTO_KEY_ID" AWS_SECRET_ACCESS_KEY="$MOTO_SECRET"
			AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true I2KIT_CACHE="$B/cache")
		"${aws_env[@]}" "$REPO/i2kit" build --format aws --dir "$B/warm" "$yml" >/dev/null 2>&1
		t_one=$(for i in $(seq "$RUNS"); do
			s=$(date +%s.%N)
			"${aws_env[@]}" "$REPO/i2kit" build --format aws --push aws --endpoint-url "$MOTO_URL" \
				--name "one-$i" --dir "$B/one" "$yml" >/dev/null 2>>"$B/one.err" || echo fail >&2
			e=$(date +%s.%N)
			echo "$e - $s" | bc -l
		done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
		t_two=$(for i in $(seq "$RUNS"); do
			s=$(date +%s.%N)
			"${aws_env[@]}" "$REPO/i2kit" build --format aws --dir "$B/two" --name "two-$i" "$yml" \
				>/dev/null 2>>"$B/two.err" &&
				"${aws_env[@]}" "$REPO/i2kit" push aws --endpoint-url "$MOTO_URL" \
					--name "two-$i" "$B/two/two-$i.raw" >/dev/null 2>>"$B/two.err" || echo fail >&2
			e=$(date +%s.%N)
			echo "$e - $s" | bc -l
		done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
	fi
	moto_stop "$B/moto"
	if [ -n "$t_one" ]; then
		printf '%-44s %8s   (build --push %.2fs, build then push %.2fs)\n' \
			"aws: build --push / build + push" \
			"$(printf '%.2f' "$(echo "scale=4; $t_one / $t_two" | bc -l)")" "$t_one" "$t_two"
	fi
	for j in 1 8 64; do
		t=${secs[$j]}
		printf '%-44s %8s   (%.2fs, %.1f MB/s of non-zero blocks)\n' \
			"aws push: --jobs $j / --jobs 1" \
			"$(printf '%.2f' "$(echo "scale=4; $t / ${secs[1]}" | bc -l)")" "$t" \
			"$(echo "scale=2; 64 * 1.048576 / $t" | bc -l)"
	done
}
if [ -z "${REPO:-}" ]; then
	REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	B=$REPO/build/bench-aws
fi
_aws_bench
