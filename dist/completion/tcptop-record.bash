# bash completion for tcptop-record: options and their values.

_tcptop_record_opts="--live --format --quiet --sort --top --events --utc --interval --duration
	--udp-idle --output --no-store --flush --keyframe --segment-duration --segment-size --retain-age
	--retain-size --bucket --group --user --metrics-file --ship --pid --comm --port --proto --max-sockets --max-peers
	--ring-size --verbose --help --version -l -f -q -s -n -i -d -o -v -h -V"

_tcptop_record()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()

	case $prev in
	-f | --format)
		COMPREPLY=($(compgen -W "text json none" -- "$cur")); return ;;
	-s | --sort)
		COMPREPLY=($(compgen -W "rate bytes packets rtt retrans duration" -- "$cur")); return ;;
	--proto)
		COMPREPLY=($(compgen -W "tcp udp" -- "$cur")); return ;;
	-o | --output)
		COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
	--group)
		COMPREPLY=($(compgen -g -- "$cur")); return ;;
	--user)
		COMPREPLY=($(compgen -u -- "$cur")); return ;;
	--metrics-file)
		COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
	--retain-size | --segment-size | --ring-size)
		COMPREPLY=($(compgen -W "64M 256M 1G 2G 10G 0" -- "$cur")); return ;;
	-i | --interval | -d | --duration | --udp-idle | --flush | --keyframe | --segment-duration | \
	--retain-age | --bucket | -n | --top | --pid | --comm | --port | --max-sockets | \
	--max-peers | --ship)
		return ;;
	esac
	COMPREPLY=($(compgen -W "$_tcptop_record_opts" -- "$cur"))
}

complete -F _tcptop_record tcptop-record
