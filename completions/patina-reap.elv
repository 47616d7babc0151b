
use builtin;
use str;

set edit:completion:arg-completer[patina-reap] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'patina-reap'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'patina-reap'= {
            cand -t 'Minimum age of a stale process [default: 24h]'
            cand --threshold 'Minimum age of a stale process [default: 24h]'
            cand --older 'Minimum age of a stale process [default: 24h]'
            cand --older-than 'Minimum age of a stale process [default: 24h]'
            cand -g 'Wait between SIGTERM and SIGKILL'
            cand --grace 'Wait between SIGTERM and SIGKILL'
            cand --name 'Program name to match exactly; repeatable'
            cand -u 'Consider the processes of USER (a name or a numeric uid); repeatable'
            cand --user 'Consider the processes of USER (a name or a numeric uid); repeatable'
            cand --socket 'Daemon socket whose listener is kept (serving); repeatable, or ''none'''
            cand --color 'When to color human output and usage errors'
            cand --generate 'Print a shell''s completions or the manual page, as shipped, and exit'
            cand -n 'List what would be reaped; send no signal'
            cand --dry-run 'List what would be reaped; send no signal'
            cand --json 'Print one JSON document on stdout instead of lines'
            cand --all-users 'Also consider other users'' processes (needs privileges)'
            cand --pids 'Print only PIDs, one per line: those reaped, or with --dry-run those that would be'
            cand -f 'Show whole command lines: the path of argv[0] and every argument, never shortened'
            cand --full 'Show whole command lines: the path of argv[0] and every argument, never shortened'
            cand -v 'Also list matched processes that are kept, with the reason'
            cand --verbose 'Also list matched processes that are kept, with the reason'
            cand -q 'Print only errors and warnings'
            cand --quiet 'Print only errors and warnings'
            cand --preflight 'Run patina''s start-up check as the library runs it, for a launcher that execs this binary'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
