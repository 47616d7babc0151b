complete -c patina-reap -s t -l threshold -l older -l older-than -d 'Minimum age of a stale process [default: 24h]' -r -f
complete -c patina-reap -s g -l grace -d 'Wait between SIGTERM and SIGKILL' -r -f
complete -c patina-reap -l name -d 'Program name to match exactly; repeatable' -r -f
complete -c patina-reap -s u -l user -d 'Consider the processes of USER (a name or a numeric uid); repeatable' -r -f -a "(__fish_complete_users)"
complete -c patina-reap -l socket -d 'Daemon socket whose listener is kept (serving); repeatable, or \'none\'' -r -F
complete -c patina-reap -l color -d 'When to color human output and usage errors' -r -f -a "auto\t'Color when writing to a terminal; see NO_COLOR, CLICOLOR_FORCE and FORCE_COLOR'
always\t'Always color'
never\t'Never color'"
complete -c patina-reap -l generate -d 'Print a shell\'s completions or the manual page, as shipped, and exit' -r -f -a "bash\t'Completions for bash'
zsh\t'Completions for zsh'
fish\t'Completions for fish'
elvish\t'Completions for elvish'
powershell\t'Completions for PowerShell'
man\t'The manual page, patina-reap(1), in roff'"
complete -c patina-reap -s n -l dry-run -d 'List what would be reaped; send no signal'
complete -c patina-reap -l json -d 'Print one JSON document on stdout instead of lines'
complete -c patina-reap -l all-users -d 'Also consider other users\' processes (needs privileges)'
complete -c patina-reap -l pids -d 'Print only PIDs, one per line: those reaped, or with --dry-run those that would be'
complete -c patina-reap -s f -l full -d 'Show whole command lines: the path of argv[0] and every argument, never shortened'
complete -c patina-reap -s v -l verbose -d 'Also list matched processes that are kept, with the reason'
complete -c patina-reap -s q -l quiet -d 'Print only errors and warnings'
complete -c patina-reap -l preflight -d 'Run patina\'s start-up check as the library runs it, for a launcher that execs this binary'
complete -c patina-reap -s h -l help -d 'Print help (see more with \'--help\')'
complete -c patina-reap -s V -l version -d 'Print version'
