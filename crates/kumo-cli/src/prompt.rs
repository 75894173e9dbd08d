//! gcloud's numbered-choice prompt (`console_io.PromptChoice`) and the Cloud Run region prompt
//! built on it (`command_lib/run/flags.PromptForRegion`).

use crate::context::Ctx;
use crate::error::{CliError, Result};
use crate::http::enc;

/// What a user chose from a [`choose`] list.
#[derive(Debug, PartialEq)]
pub enum Choice {
    Index(usize),
    /// The `cancel` entry gcloud appends with `cancel_option=True`.
    Cancel,
    /// End of input before a valid answer.
    Eof,
}

/// `console_io.PromptChoice(options, message=…, cancel_option=True, allow_freeform=True)`:
/// ` [n] option` lines, then a prompt re-asked until the answer is a number in range or (with
/// `freeform`) an exact list item; `list` prints the choices again.
pub fn choose(
    ctx: &mut Ctx<'_>,
    message: &str,
    options: &[String],
    freeform: bool,
) -> Result<Choice> {
    let mut all: Vec<&str> = options.iter().map(String::as_str).collect();
    all.push("cancel");
    let print_options = |ctx: &mut Ctx<'_>| {
        for (i, o) in all.iter().enumerate() {
            let _ = writeln!(ctx.err, " [{}] {o}", i + 1);
        }
    };
    let _ = writeln!(ctx.err, "{message}");
    print_options(ctx);
    let prompt = if freeform {
        "Please enter numeric choice or text value (must exactly match list item):  "
    } else {
        "Please enter your numeric choice:  "
    };
    let _ = write!(ctx.err, "{prompt}");
    let _ = ctx.err.flush();
    loop {
        let mut line = String::new();
        let read = ctx
            .input
            .read_line(&mut line)
            .map_err(|e| CliError::Msg(format!("cannot read from stdin: {e}")))?;
        if read == 0 {
            let _ = writeln!(ctx.err);
            return Ok(Choice::Eof);
        }
        let answer = line.trim();
        if answer == "list" {
            print_options(ctx);
            let _ = write!(ctx.err, "{prompt}");
            let _ = ctx.err.flush();
            continue;
        }
        let number = answer.parse::<usize>().ok().or_else(|| {
            freeform
                .then(|| all.iter().position(|o| *o == answer).map(|i| i + 1))
                .flatten()
        });
        match number {
            Some(n) if n == all.len() => return Ok(Choice::Cancel),
            Some(n) if n >= 1 && n < all.len() => {
                let _ = writeln!(ctx.err);
                return Ok(Choice::Index(n - 1));
            }
            _ => {
                let _ = write!(
                    ctx.err,
                    "Please enter a value between 1 and {}{}:  ",
                    all.len(),
                    if freeform {
                        ", or a value present in the list"
                    } else {
                        ""
                    }
                );
                let _ = ctx.err.flush();
            }
        }
    }
}

/// gcloud's text when no region can be found (`serverless_exceptions.ArgumentError` raised by
/// `connection_context.GetConnectionContext`).
pub fn missing_region() -> CliError {
    CliError::Msg(
        "You must specify a region. Either use the `--region` flag or set the run/region property."
            .to_owned(),
    )
}

/// `PromptForRegion`: the regions Cloud Run's v1 `projects.locations.list` names (sorted, as
/// gcloud's `ListRegions` sorts them), a numbered choice, then the hint to make it the default.
pub fn region(ctx: &mut Ctx<'_>) -> Result<String> {
    let project = ctx.project()?;
    let path = format!("/v1/projects/{}/locations", enc(&project));
    let mut regions: Vec<String> = ctx
        .list_all(&path, &[("pageSize", "100")], "locations")?
        .iter()
        .filter_map(|l| l["locationId"].as_str().map(str::to_owned))
        .collect();
    regions.sort();
    regions.dedup();
    if regions.is_empty() {
        return Err(missing_region());
    }
    match choose(ctx, "Please specify a region:", &regions, true)? {
        Choice::Index(i) => {
            let region = regions[i].clone();
            let _ = writeln!(
                ctx.err,
                "To make this the default region, run `{} config set run/region {region}`.\n",
                ctx.prog
            );
            Ok(region)
        }
        Choice::Cancel => Err(CliError::Msg("Aborted by user.".to_owned())),
        Choice::Eof => Err(missing_region()),
    }
}
