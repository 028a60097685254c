#!/bin/bash
# gen-man.sh I2KIT OUTDIR — writes a man page per command from the program's
# own --help texts (one source: they cannot drift): i2kit.1 from
# `i2kit --help`, i2kit-CMD.1 from `i2kit CMD --help` for every command that
# `i2kit --help` lists (i2kit-build.1 also documents the i2kit-build
# program). The help text is kept verbatim in a no-fill block; the first
# "Usage:" line becomes the SYNOPSIS.
set -euo pipefail
I2KIT=$1
OUT=$2
mkdir -p "$OUT"
VERSION=$("$I2KIT" version | awk '{print $2}')
DATE=${SOURCE_DATE_EPOCH:+$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)}
DATE=${DATE:-$(date -u +%Y-%m-%d)}

# roff-escape: backslashes, and a leading . or ' on a line
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }

page() { # NAME SUMMARY HELPTEXT-FILE
	local name=$1 summary=$2 help=$3 upper
	upper=$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')
	{
		printf '.TH %s 1 "%s" "i2kit %s" "i2kit manual"\n' "$upper" "$DATE" "$VERSION"
		printf '.SH NAME\n%s \\- %s\n' "$name" "$summary"
		printf '.SH SYNOPSIS\n.nf\n'
		grep -m1 '^Usage:' "$help" | sed 's/^Usage: *//' | esc
		printf '.fi\n.SH DESCRIPTION\n.nf\n'
		awk 'NR == 1 && /^Usage:/ { next } NR == 2 && /^$/ { next } { print }' "$help" | esc
		printf '.fi\n'
		if [ "$name" != i2kit ]; then
			printf '.SH SEE ALSO\n\\fBi2kit\\fR(1)\n'
		fi
	} >"$OUT/$name.1"
}

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$I2KIT" --help >"$tmp"
page i2kit "turn container images into small immutable VMs" "$tmp"
awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print } on && /^$/ { exit }' "$tmp" |
	while read -r cmd summary; do
		"$I2KIT" "$cmd" --help >"$tmp.c"
		page "i2kit-$cmd" "$summary" "$tmp.c"
		rm -f "$tmp.c"
	done
