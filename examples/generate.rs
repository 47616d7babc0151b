//! Writes the man page (`man/patina-reap.1`) and the shell completions (`completions/`),
//! as `patina-reap --generate` prints them, and the README's copy of `-h`, all from the
//! one clap definition in `src/cli.rs`:
//!
//! ```sh
//! cargo run --example generate
//! ```
//!
//! `tests/generated.rs` fails when a committed file differs from what the binary
//! prints, so the files in the repository always match it.

use std::io;
use std::path::Path;

use clap::{CommandFactory, ValueEnum};

// Only the definition and its texts are used here, not the parsed fields.
#[allow(dead_code)]
#[path = "../src/cli.rs"]
pub(crate) mod cli;
#[path = "../src/generate.rs"]
mod generate;

/// One generated file.
pub(crate) struct Generated {
    /// Relative to the repository root, with `/` separators.
    pub(crate) path: String,
    pub(crate) content: Vec<u8>,
}

/// Every generated file, rendered in memory.
pub(crate) fn all() -> io::Result<Vec<Generated>> {
    let mut files = vec![Generated {
        path: "README.md".to_owned(),
        content: readme()?,
    }];
    for &kind in cli::Generate::value_variants() {
        files.push(Generated {
            path: kind.path(),
            content: kind.render()?,
        });
    }
    Ok(files)
}

fn main() -> io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in all()? {
        let path = root.join(&file.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, &file.content)?;
        println!("wrote {}", file.path);
    }
    Ok(())
}

/// The width the README's copy of `-h` is wrapped at.
pub(crate) const README_COLUMNS: usize = 80;
/// The lines around the README's options block.
pub(crate) const README_START: &str =
    "<!-- `patina-reap -h` at 80 columns, written by `cargo run --example generate` -->\n```text\n";
pub(crate) const README_END: &str = "```\n<!-- end of `patina-reap -h` -->\n";

/// `patina-reap -h` (uncolored) as a terminal of [`README_COLUMNS`] columns shows it.
pub(crate) fn short_help() -> String {
    cli::Cli::command()
        .term_width(README_COLUMNS)
        .render_help()
        .to_string()
}

/// The committed README with its options block set to [`short_help`].
fn readme() -> io::Result<Vec<u8>> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))?;
    let missing = || io::Error::other("README.md lacks the markers of its options block");
    let start = text.find(README_START).ok_or_else(missing)? + README_START.len();
    let end = start + text[start..].find(README_END).ok_or_else(missing)?;
    let help = short_help();
    Ok(format!("{}{}{}", &text[..start], help.trim_end(), &text[end - 1..]).into_bytes())
}
