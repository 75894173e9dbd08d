//! `auth …`: sign-in, service-account keys, tokens, Application Default Credentials.

use serde_json::{Value, json};

use crate::cli::{ApplicationDefaultCmd, AuthCmd};
use crate::context::Ctx;
use crate::creds::{self, Store};
use crate::error::{CliError, Result};
use crate::remote_login::{self, Target};

pub fn auth(ctx: &mut Ctx<'_>, cmd: AuthCmd) -> Result<()> {
    match cmd {
        AuthCmd::Login {
            account_arg,
            no_launch_browser,
            no_browser,
            remote_bootstrap,
            update_adc,
            cred_file,
        } => {
            if let Some(file) = cred_file {
                return login_with_cred_file(ctx, &file, account_arg.as_deref(), update_adc);
            }
            if let Some(url) = remote_bootstrap {
                return remote_login::bootstrap(ctx, &url, Target::Login);
            }
            let hint = account_arg.or_else(|| ctx.global.account.clone());
            let login = if no_browser {
                remote_login::no_browser(ctx, Target::Login)?
            } else {
                creds::login(ctx, hint.as_deref(), !no_launch_browser)?
            };
            creds::store_login(ctx, &login)?;
            ctx.props.set("core/account", &login.email);
            ctx.props.save(ctx.env)?;
            if update_adc {
                write_adc(ctx, &login.refresh_token)?;
            }
            let project = ctx
                .props
                .get("core/project")
                .unwrap_or_else(|| "None".to_owned());
            ctx.status(&format!(
                "\nYou are now logged in as [{}].\nYour current project is [{project}].  You can change this setting by running:\n  $ {} config set project PROJECT_ID\n",
                login.email, ctx.prog
            ));
            Ok(())
        }
        AuthCmd::ActivateServiceAccount {
            account_arg,
            key_file,
        } => {
            let email = creds::activate_service_account(ctx, &key_file, account_arg.as_deref())?;
            ctx.props.set("core/account", &email);
            ctx.props.save(ctx.env)?;
            ctx.status(&format!(
                "Activated service account credentials for: [{email}]"
            ));
            Ok(())
        }
        AuthCmd::List => {
            let store = Store::load(ctx.env)?;
            let active = ctx.account();
            let rows: Vec<Value> = store
                .accounts
                .keys()
                .map(|a| json!({"account": a, "status": if Some(a) == active.as_ref() { "ACTIVE" } else { "" }}))
                .collect();
            if ctx.global.format.is_some() {
                return crate::context::print_items(ctx, &rows);
            }
            if rows.is_empty() {
                ctx.status(&format!(
                    "No credentialed accounts.\n\nTo login, run:\n  $ {} auth login `ACCOUNT`\n",
                    ctx.prog
                ));
                return Ok(());
            }
            let mut table = vec![vec!["ACTIVE".to_owned(), "ACCOUNT".to_owned()]];
            for r in &rows {
                let mark = if r["status"] == "ACTIVE" { "*" } else { "" };
                table.push(vec![
                    mark.to_owned(),
                    r["account"].as_str().unwrap_or("").to_owned(),
                ]);
            }
            let body = crate::format::layout_table(None, &table);
            let width = body.lines().map(|l| l.chars().count()).max().unwrap_or(0);
            let title = "Credentialed Accounts";
            let pad = width.saturating_sub(title.len()) / 2;
            ctx.stdout(&format!("{}{title}\n{body}", " ".repeat(pad)));
            ctx.status(&format!(
                "\nTo set the active account, run:\n    $ {} config set account `ACCOUNT`\n",
                ctx.prog
            ));
            Ok(())
        }
        AuthCmd::Revoke { accounts, all } => {
            let mut store = Store::load(ctx.env)?;
            let targets: Vec<String> = if all {
                store.accounts.keys().cloned().collect()
            } else if accounts.is_empty() {
                vec![ctx.account().ok_or_else(|| {
                    CliError::Msg("No credentials available to revoke.".to_owned())
                })?]
            } else {
                accounts
            };
            for a in &targets {
                let cred = store.accounts.get(a).cloned().ok_or_else(|| {
                    CliError::Msg(format!(
                        "Unknown account [{a}]; run `{} auth list`.",
                        ctx.prog
                    ))
                })?;
                if let Some(t) = cred
                    .refresh_token
                    .as_deref()
                    .or(cred.access_token.as_deref())
                {
                    creds::revoke(ctx, t)?;
                }
                store.accounts.remove(a);
            }
            store.save(ctx.env)?;
            if ctx.account().is_some_and(|a| targets.contains(&a)) {
                ctx.props.unset("core/account");
                ctx.props.save(ctx.env)?;
            }
            let list: Vec<String> = targets.iter().map(|t| format!(" - {t}")).collect();
            ctx.status(&format!("Revoked credentials:\n{}", list.join("\n")));
            Ok(())
        }
        AuthCmd::PrintAccessToken { account_arg } => {
            let token = match account_arg {
                Some(a) if ctx.impersonated().is_none() => creds::access_token(ctx, Some(&a))?,
                _ => creds::api_token(ctx)?,
            };
            ctx.stdout(&format!("{token}\n"));
            Ok(())
        }
        AuthCmd::PrintIdentityToken {
            account_arg,
            audiences,
            include_email,
        } => {
            let token = creds::identity_token(
                ctx,
                account_arg.as_deref(),
                audiences.as_deref(),
                include_email,
            )?;
            ctx.stdout(&format!("{token}\n"));
            Ok(())
        }
        AuthCmd::ApplicationDefault(a) => application_default(ctx, a.cmd),
    }
}

/// `auth login --cred-file=KEY.json` (gcloud's `LoginWithCredFileConfig`): a service account
/// key file is stored and activated like `activate-service-account`; external account
/// (workload identity federation) files have no issuer to exchange them with in Kumo.
fn login_with_cred_file(
    ctx: &mut Ctx<'_>,
    file: &str,
    account: Option<&str>,
    update_adc: bool,
) -> Result<()> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::Msg(format!("Unable to read file [{file}]: {e}")))?;
    let config: Value = serde_json::from_str(&text)
        .map_err(|e| CliError::Msg(format!("Could not read json file {file}: {e}")))?;
    match config["type"].as_str() {
        Some("service_account") => {}
        Some("external_account" | "external_account_authorized_user") => {
            return Err(CliError::Msg(format!(
                "Invalid value for [--cred-file]: external account credential files (workload identity federation) are not supported by {}; use a service account key file.",
                ctx.prog
            )));
        }
        _ => {
            return Err(CliError::Msg(
                "Invalid value for [--cred-file]: Only external account or service account JSON credential file types are supported.".to_owned(),
            ));
        }
    }
    if let Some(a) = account
        && config["client_email"].as_str() != Some(a)
    {
        return Err(CliError::Msg(
            "Invalid value for [ACCOUNT]: The given account name does not match the account name in the credential file. This argument can be omitted when using credential files.".to_owned(),
        ));
    }
    let email = creds::activate_service_account(ctx, file, None)?;
    ctx.props.set("core/account", &email);
    ctx.props.save(ctx.env)?;
    if update_adc {
        let path = creds::adc_path(ctx.env);
        let text = serde_json::to_string_pretty(&config)
            .map_err(|e| CliError::Msg(format!("cannot encode credentials: {e}")))?;
        crate::config::write_private(&path, &text)?;
        ctx.status("\nApplication Default Credentials (ADC) were updated.");
    }
    let project = ctx
        .props
        .get("core/project")
        .unwrap_or_else(|| "None".to_owned());
    ctx.status(&format!(
        "\nAuthenticated with service account credentials for: [{email}].\nYour current project is [{project}].  You can change this setting by running:\n  $ {} config set project PROJECT_ID\n",
        ctx.prog
    ));
    Ok(())
}

fn write_adc(ctx: &mut Ctx<'_>, refresh_token: &str) -> Result<()> {
    let path = creds::adc_path(ctx.env);
    let text = serde_json::to_string_pretty(&creds::adc_json(ctx, refresh_token))
        .map_err(|e| CliError::Msg(format!("cannot encode credentials: {e}")))?;
    crate::config::write_private(&path, &text)?;
    ctx.status(&format!(
        "\nCredentials saved to file: [{}]\n\nThese credentials will be used by any library that requests Application Default Credentials (ADC).",
        path.display()
    ));
    Ok(())
}

/// The ADC file google-auth would use: `GOOGLE_APPLICATION_CREDENTIALS` first, then the
/// well-known file `auth application-default login` writes.
fn read_adc(ctx: &Ctx<'_>, honour_env: bool) -> Result<(std::path::PathBuf, Value)> {
    if let Some(path) = ctx.env.adc_file.as_ref().filter(|_| honour_env) {
        let shown = path.display().to_string();
        if !path.is_file() {
            return Err(CliError::Msg(format!("File {shown} was not found.")));
        }
        return Ok((path.clone(), creds::read_credential_file(&shown)?));
    }
    let path = creds::adc_path(ctx.env);
    let text = std::fs::read_to_string(&path).map_err(|_| {
        CliError::Msg(format!(
            "Your default credentials were not found. To set up Application Default Credentials, run `{} auth application-default login`.",
            ctx.prog
        ))
    })?;
    let v = serde_json::from_str(&text)
        .map_err(|e| CliError::Msg(format!("cannot parse {}: {e}", path.display())))?;
    Ok((path, v))
}

fn application_default(ctx: &mut Ctx<'_>, cmd: ApplicationDefaultCmd) -> Result<()> {
    match cmd {
        ApplicationDefaultCmd::Login {
            no_launch_browser,
            no_browser,
            remote_bootstrap,
        } => {
            if let Some(url) = remote_bootstrap {
                return remote_login::bootstrap(ctx, &url, Target::ApplicationDefault);
            }
            let hint = ctx.global.account.clone();
            let login = if no_browser {
                remote_login::no_browser(ctx, Target::ApplicationDefault)?
            } else {
                creds::login(ctx, hint.as_deref(), !no_launch_browser)?
            };
            write_adc(ctx, &login.refresh_token)
        }
        ApplicationDefaultCmd::PrintAccessToken => {
            let (_, adc) = read_adc(ctx, true)?;
            let resp = creds::file_grant(ctx, &adc, None)?;
            let token = resp["access_token"].as_str().ok_or_else(|| {
                CliError::Msg("the token endpoint returned no access_token".to_owned())
            })?;
            ctx.stdout(&format!("{token}\n"));
            Ok(())
        }
        ApplicationDefaultCmd::Revoke => {
            // Like gcloud, revoke acts on the well-known file only, never on a key file that
            // GOOGLE_APPLICATION_CREDENTIALS names.
            let (path, adc) = read_adc(ctx, false)?;
            if adc["type"] == "service_account" {
                return Err(CliError::Msg(
                    "The given credential file is a service account credential, and cannot be revoked."
                        .to_owned(),
                ));
            }
            if let Some(t) = adc["refresh_token"].as_str() {
                creds::revoke(ctx, t)?;
            }
            std::fs::remove_file(&path)
                .map_err(|e| CliError::Msg(format!("cannot remove {}: {e}", path.display())))?;
            ctx.status("Credentials revoked.");
            Ok(())
        }
    }
}
