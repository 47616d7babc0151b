
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'patina-reap' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'patina-reap'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'patina-reap' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Minimum age of a stale process [default: 24h]')
            [CompletionResult]::new('--threshold', '--threshold', [CompletionResultType]::ParameterName, 'Minimum age of a stale process [default: 24h]')
            [CompletionResult]::new('--older', '--older', [CompletionResultType]::ParameterName, 'Minimum age of a stale process [default: 24h]')
            [CompletionResult]::new('--older-than', '--older-than', [CompletionResultType]::ParameterName, 'Minimum age of a stale process [default: 24h]')
            [CompletionResult]::new('-g', '-g', [CompletionResultType]::ParameterName, 'Wait between SIGTERM and SIGKILL')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'Wait between SIGTERM and SIGKILL')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Program name to match exactly; repeatable')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Consider the processes of USER (a name or a numeric uid); repeatable')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Consider the processes of USER (a name or a numeric uid); repeatable')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Daemon socket whose listener is kept (serving); repeatable, or ''none''')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to color human output and usage errors')
            [CompletionResult]::new('--generate', '--generate', [CompletionResultType]::ParameterName, 'Print a shell''s completions or the manual page, as shipped, and exit')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'List what would be reaped; send no signal')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'List what would be reaped; send no signal')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of lines')
            [CompletionResult]::new('--all-users', '--all-users', [CompletionResultType]::ParameterName, 'Also consider other users'' processes (needs privileges)')
            [CompletionResult]::new('--pids', '--pids', [CompletionResultType]::ParameterName, 'Print only PIDs, one per line: those reaped, or with --dry-run those that would be')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Show whole command lines: the path of argv[0] and every argument, never shortened')
            [CompletionResult]::new('--full', '--full', [CompletionResultType]::ParameterName, 'Show whole command lines: the path of argv[0] and every argument, never shortened')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Also list matched processes that are kept, with the reason')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Also list matched processes that are kept, with the reason')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors and warnings')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors and warnings')
            [CompletionResult]::new('--preflight', '--preflight', [CompletionResultType]::ParameterName, 'Run patina''s start-up check as the library runs it, for a launcher that execs this binary')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
