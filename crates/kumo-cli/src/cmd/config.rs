//! `config set | get | get-value | unset | list`.

use crate::cli::ConfigCmd;
use crate::config::qualify;
use crate::context::Ctx;
use crate::error::Result;

pub fn config(ctx: &mut Ctx<'_>, cmd: ConfigCmd) -> Result<()> {
    match cmd {
        ConfigCmd::Set { property, value } => {
            let full = qualify(&property)?;
            ctx.props.set(&full, &value);
            ctx.props.save(ctx.env)?;
            ctx.status(&format!("Updated property [{full}]."));
            Ok(())
        }
        ConfigCmd::Get { property } | ConfigCmd::GetValue { property } => {
            let full = qualify(&property)?;
            match ctx.props.get(&full) {
                Some(v) => ctx.stdout(&format!("{v}\n")),
                // gcloud prints nothing on stdout so `$(… get-value project)` is empty.
                None => ctx.status("(unset)"),
            }
            Ok(())
        }
        ConfigCmd::Unset { property } => {
            let full = qualify(&property)?;
            ctx.props.unset(&full);
            ctx.props.save(ctx.env)?;
            ctx.status(&format!("Unset property [{full}]."));
            Ok(())
        }
        ConfigCmd::List => {
            let mut text = String::new();
            for (section, props) in ctx.props.sections() {
                text.push_str(&format!("[{section}]\n"));
                for (k, v) in props {
                    text.push_str(&format!("{k} = {v}\n"));
                }
            }
            ctx.stdout(&text);
            ctx.status("\nYour active configuration is: [default]");
            Ok(())
        }
    }
}
