# bash completion for tcptop-analyze: commands, each command's options (from
# the program's own table: tcptop-analyze help --options CMD), option values,
# and store directories.

_tcptop_analyze_commands="info verify reindex top events timeline report diff extract sql export replay help"

# _tcptop_analyze_list WORDS: complete the last comma-separated item of $cur from WORDS
_tcptop_analyze_list()
{
	local pre=""
	[[ $cur == *,* ]] && pre=${cur%,*},
	COMPREPLY=($(compgen -P "$pre" -W "$1" -- "${cur##*,}"))
	compopt -o nospace 2>/dev/null
}

_tcptop_analyze()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local prog=${COMP_WORDS[0]} cmd=${COMP_WORDS[1]} o opts
	COMPREPLY=()

	if ((COMP_CWORD == 1)); then
		COMPREPLY=($(compgen -W "$_tcptop_analyze_commands --help --version" -- "$cur"))
		return
	fi
	if [[ $cmd == help ]]; then
		((COMP_CWORD == 2)) && COMPREPLY=($(compgen -W "$_tcptop_analyze_commands" -- "$cur"))
		return
	fi
	case $prev in
	--by)
		COMPREPLY=($(compgen -W "bytes tx rx rate packets rtt retrans duration conns" -- "$cur"))
		return ;;
	--group-by)
		_tcptop_analyze_list "conn pid process remote-host remote-net/ remote-port local-port service-port cgroup host"
		return ;;
	--fields)
		case $cmd in
		top) _tcptop_analyze_list "host proto laddr lport raddr rport pid comm state rnet service_port cgroup cgroup_path container interval_start conns bytes_in bytes_out rate_in rate_out peak_rate_in peak_rate_out packets_in packets_out rtt_us rtt_max_us retransmits resets duration" ;;
		events) _tcptop_analyze_list "ts host event proto laddr lport raddr rport pid comm detail bytes_in bytes_out" ;;
		esac
		return ;;
	--type)
		_tcptop_analyze_list "connect accept close reset retransmit state loss"
		return ;;
	--format)
		if [[ $cmd == info ]]; then
			COMPREPLY=($(compgen -W "text json" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "table csv json" -- "$cur"))
		fi
		return ;;
	--sort)
		COMPREPLY=($(compgen -W "rate bytes packets rtt retrans duration" -- "$cur"))
		return ;;
	--proto)
		COMPREPLY=($(compgen -W "tcp udp" -- "$cur"))
		return ;;
	--state)
		COMPREPLY=($(compgen -W "ESTAB SYN-SENT SYN-RECV FIN-WAIT-1 FIN-WAIT-2 TIME-WAIT CLOSE CLOSE-WAIT LAST-ACK LISTEN CLOSING" -- "$cur"))
		return ;;
	--speed)
		COMPREPLY=($(compgen -W "0.25 0.5 1 2 5 10 60 max" -- "$cur"))
		return ;;
	-o | --output)
		if [[ $cmd == report ]]; then
			COMPREPLY=($(compgen -f -- "$cur"))
		else
			COMPREPLY=($(compgen -d -- "$cur"))
		fi
		return ;;
	esac
	# an option that takes a value we cannot guess (times, numbers, globs): nothing
	opts=$("$prog" help --options "$cmd" 2>/dev/null)
	for o in $opts; do
		[[ $o == "$prev=" ]] && return
	done
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "${opts//=/}" -- "$cur"))
		return
	fi
	# stores are directories
	COMPREPLY=($(compgen -d -- "$cur"))
	compopt -o filenames 2>/dev/null
}

complete -F _tcptop_analyze tcptop-analyze
