//! One pipeline, one verdict: the same world, run through the CLI with each output
//! option (plain, `-v`, `--json`, `--pids`, `-q`), as a dry run and for real, and
//! through the preflight, gets the same set of processes to reap.
//!
//! The world, built anew for each run as PID 1's children in a private PID namespace
//! (so that the default name `patina` hits nothing else): an old `patina serve`, a young
//! `patina mother start` that a second one superseded, that second (live) daemon, and a
//! young `patina serve`. With a threshold of 2s, the old one and the superseded one are
//! stale; the other two are kept.

use std::collections::BTreeSet;

use crate::common::*;

/// One run of the world: the command that judges it (`$P` is patina, `$R` the reaper),
/// and whether it signals.
struct Case {
    run: &'static str,
    real: bool,
}

const CASES: &[Case] = &[
    Case {
        run: r#""$R" -n -t 2s"#,
        real: false,
    },
    Case {
        run: r#""$R" -n -t 2s -v --color never"#,
        real: false,
    },
    Case {
        run: r#""$R" -n -t 2s --json"#,
        real: false,
    },
    Case {
        run: r#""$R" -n -t 2s --pids"#,
        real: false,
    },
    Case {
        run: r#""$R" -t 2s"#,
        real: true,
    },
    Case {
        run: r#""$R" -t 2s -v --color never"#,
        real: true,
    },
    Case {
        run: r#""$R" -t 2s --json"#,
        real: true,
    },
    Case {
        run: r#""$R" -t 2s --pids"#,
        real: true,
    },
    Case {
        run: r#""$R" -t 2s -q"#,
        real: true,
    },
    Case {
        run: r#"PATINA_REAP_THRESHOLD=2s "$P" status"#,
        real: true,
    },
];

/// Build the world, run `case`, and return (the world's pids by role, the pids the run
/// reaped or would reap, the text it printed).
fn run_world(p: &str, case: &Case) -> Option<([u32; 4], BTreeSet<u32>, String)> {
    let script = format!(
        r#"
state() {{ s=$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null); case "$s" in ""|Z|X) echo exited;; *) echo running;; esac; }}
P="{p}"; R="{r}"
d=$(mktemp -d); export HOME="$d"
# The world's own starts must not reap it: their preflight is off.
PATINA_REAP_THRESHOLD=off "$P" serve 2>/dev/null & OLD=$!
sleep 2.5
PATINA_REAP_THRESHOLD=off "$P" mother start 2>/dev/null & A=$!
i=0; while [ ! -S "$d/.patina/run/serve.sock" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
sleep 0.2
PATINA_REAP_THRESHOLD=off "$P" mother start 2>/dev/null & B=$!
i=0; while [ "$(cat "$d/.patina/run/mother.pid" 2>/dev/null)" != "$B" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
PATINA_REAP_THRESHOLD=off "$P" serve 2>/dev/null & Y=$!
sleep 0.2
{run} > "$d/out" 2>&1
echo rc=$?
sleep 0.3
echo pids=$OLD,$A,$B,$Y
echo states=$(state $OLD),$(state $A),$(state $B),$(state $Y)
echo out=$(tr '\n' '\036' < "$d/out")
kill -9 $OLD $A $B $Y 2>/dev/null
rm -rf "$d"
"#,
        r = reaper_bin(),
        run = case.run,
    );
    let out = in_pid_namespace(&script)?;
    let text = stdout(&out);
    let pids: Vec<u32> = field(&text, "pids")
        .split(',')
        .map(|p| p.parse().expect("a pid"))
        .collect();
    let pids: [u32; 4] = pids.try_into().expect("four pids");
    let printed = field(&text, "out").replace('\u{1e}', "\n");
    let states: Vec<&str> = field(&text, "states").split(',').collect();
    let set = if case.real {
        pids.iter()
            .zip(&states)
            .filter(|(_, s)| **s == "exited")
            .map(|(p, _)| *p)
            .collect()
    } else {
        would_reap(&printed)
    };
    Some((pids, set, printed))
}

/// The pids a dry run's output says it would reap, whatever its form.
fn would_reap(printed: &str) -> BTreeSet<u32> {
    let json = serde_json::from_str::<serde_json::Value>(printed.trim()).ok();
    if let Some(doc) = json.filter(serde_json::Value::is_object) {
        return doc["processes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["outcome"] == "would_reap")
            .map(|e| e["pid"].as_u64().unwrap() as u32)
            .collect();
    }
    printed
        .lines()
        .filter_map(|l| {
            if let Ok(pid) = l.trim().parse() {
                return Some(pid);
            }
            let rest = l.strip_prefix("Would clean up stale ")?;
            let pid = rest.split("(PID ").nth(1)?.split(',').next()?;
            pid.parse().ok()
        })
        .collect()
}

#[test]
fn every_output_option_the_dry_run_and_the_preflight_reap_the_same_processes() {
    let Some(p) = patina_for_namespace() else {
        return;
    };
    // The worlds are independent (each its own PID namespace and home): in parallel.
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = CASES
            .iter()
            .map(|case| scope.spawn(|| run_world(&p, case)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (case, result) in CASES.iter().zip(results) {
        let Some((pids, set, printed)) = result else {
            return;
        };
        let [old, superseded, _live, _young] = pids;
        let want: BTreeSet<u32> = [old, superseded].into_iter().collect();
        assert_eq!(set, want, "{}: {pids:?}\n{printed}", case.run);
    }
}
