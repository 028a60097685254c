# bash completion for i2kit and i2kit-build. Everything is asked from the
# program itself, so it cannot drift: subcommands from `i2kit --help`,
# output formats from `i2kit build --help` (the format table), options from
# each command's --help, cached refs from `i2kit cache ls`.

_i2kit_cmds() { i2kit --help 2>/dev/null | awk '/^Commands:/ {on=1; next} on && /^  [a-z]/ {print $1} on && /^$/ {exit}'; }
_i2kit_formats() { i2kit build --help 2>/dev/null | awk '/^Formats:/ {on=1; next} on && /^  [a-z]/ {print $1} on && /^$/ {exit}'; }
_i2kit_refs() { i2kit cache ls 2>/dev/null | awk 'NR > 1 {print $1}'; }
_i2kit_opts() { i2kit "$@" --help 2>/dev/null | grep -oE -- '(^|[ ,])--?[a-zA-Z][-a-zA-Z]*' | tr -d ' ,' | sort -u; }

_i2kit() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local cmd= verb= i
	if [[ ${COMP_WORDS[0]##*/} == i2kit-build ]]; then
		cmd=build
	fi
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-*) ;;
		*) if [[ -z $cmd ]]; then cmd=${COMP_WORDS[i]}; elif [[ -z $verb ]]; then verb=${COMP_WORDS[i]}; fi ;;
		esac
	done
	case $prev in
	--format | -f)
		local head=
		[[ $cur == *,* ]] && head=${cur%,*},
		COMPREPLY=($(compgen -P "$head" -W "$(_i2kit_formats)" -- "${cur##*,}"))
		return
		;;
	--dir | --cache | --state)
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	--console-file | --data-file | --ca-file | --mirrors-file | --verify-key | --key)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--accel)
		COMPREPLY=($(compgen -W "auto kvm tcg" -- "$cur"))
		return
		;;
	--compress)
		COMPREPLY=($(compgen -W "gzip zstd none" -- "$cur"))
		return
		;;
	--root)
		COMPREPLY=($(compgen -W "initramfs squashfs ext4" -- "$cur"))
		return
		;;
	--networking)
		COMPREPLY=($(compgen -W "user none tap: bridge:" -- "$cur"))
		return
		;;
	esac
	if [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W "$(_i2kit_cmds) --help --version" -- "$cur"))
		return
	fi
	if [[ $cur == -* ]]; then
		if [[ $cmd == run ]]; then
			COMPREPLY=($(compgen -W "$(_i2kit_opts run qemu)" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_i2kit_opts "$cmd")" -- "$cur"))
		fi
		return
	fi
	case $cmd in
	build | validate)
		COMPREPLY=($(compgen -f -X '!*.@(yml|yaml)' -- "$cur") $(compgen -d -- "$cur"))
		;;
	cache)
		if [[ -z $verb ]]; then
			COMPREPLY=($(compgen -W "ls pull rm clean export import" -- "$cur"))
		elif [[ $verb == rm || $verb == pull || $verb == export ]]; then
			COMPREPLY=($(compgen -W "$(_i2kit_refs)" -- "$cur") $(compgen -f -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		;;
	run)
		if [[ -z $verb ]]; then
			COMPREPLY=($(compgen -W "qemu" -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		;;
	*)
		COMPREPLY=($(compgen -f -- "$cur"))
		;;
	esac
}
shopt -s extglob
complete -F _i2kit i2kit i2kit-build
