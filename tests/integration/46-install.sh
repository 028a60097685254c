#!/bin/bash
# 46-install.sh — `make install` / `make uninstall` into a DESTDIR: the
# binary and i2kit-build, one man page per command generated from the
# --help texts (each help line is in its page; `man -l` renders it), bash
# and zsh completions (subcommands, formats from the format table, cache
# verbs; zsh -n parses _i2kit), and nothing left after uninstall.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
W=$(t_tmpdir)
D=$W/dest
P=/usr/local
for c in make man zsh; do
	command -v $c >/dev/null || { t_skip_is_fail install-prereqs "missing $c"; t_done; exit 1; }
done

assert_exit make-install 0 make -C "$REPO" install DESTDIR="$D" PREFIX="$P"
assert_eq installed-binary yes "$([ -x "$D$P/bin/i2kit" ] && echo yes || echo no)"
assert_eq installed-i2kit-build i2kit "$(readlink "$D$P/bin/i2kit-build")"
for c in "" -build -validate -cache -run -version; do
	assert_file "man-page-i2kit$c" "$D$P/share/man/man1/i2kit$c.1"
done
# the pages say what --help says, line by line
missing=0
while IFS= read -r line; do
	[ -z "$line" ] && continue
	grep -qF -- "$(printf '%s' "$line" | sed 's/\\/\\e/g')" "$D$P/share/man/man1/i2kit-build.1" || missing=$((missing + 1))
done < <("$D$P/bin/i2kit" build --help | tail -n +2)
assert_eq man-build-has-every-help-line 0 "$missing"
assert_contains man-run-renders "$(MANWIDTH=100 man -l "$D$P/share/man/man1/i2kit-run.1" 2>&1)" "Ctrl-A x stops the VM"
assert_contains man-i2kit-build-found "$(MANPATH="$D$P/share/man" man -w i2kit-build 2>&1)" "i2kit-build.1"

# bash completion, with the installed binary on PATH
B=$D$P/share/bash-completion/completions/i2kit
assert_file bash-completion "$B"
comp() { # WORDS...: completions for the last word
	PATH="$D$P/bin:$PATH" I2KIT_CACHE="$W/cache" bash -c '
		. "$0"
		COMP_WORDS=("${@}"); COMP_CWORD=$(($# - 1)); _i2kit; printf "%s\n" "${COMPREPLY[@]}"' "$B" "$@"
}
assert_contains bash-subcommands "$(comp i2kit "")" "validate"
assert_contains bash-formats "$(comp i2kit build --format raw-)" "raw-efi"
assert_contains bash-format-list "$(comp i2kit build -f tar,qcow2-)" "tar,qcow2-efi"
assert_contains bash-cache-verbs "$(comp i2kit cache ex)" "export"
assert_contains bash-run-options "$(comp i2kit run qemu --det)" "--detached"
assert_contains bash-i2kit-build "$(comp i2kit-build --dr)" "--dry-run"
Z=$D$P/share/zsh/site-functions/_i2kit
assert_file zsh-completion "$Z"
assert_exit zsh-parses 0 zsh -n "$Z"

assert_exit make-uninstall 0 make -C "$REPO" uninstall DESTDIR="$D" PREFIX="$P"
assert_eq uninstall-leaves-no-file "" "$(find "$D" ! -type d)"
t_done
