//! The HTML pages Google's front end answers refusals with (cloudrun-security-spec.md §2.6).
//! They come from the front end, never from the container; the requested path is echoed
//! HTML-escaped.

/// 403: no token on a private service, or the caller lacks `run.routes.invoke`.
pub fn forbidden(path: &str) -> String {
    gfe_page(
        "403 Forbidden",
        "Error: Forbidden",
        &format!(
            "Your client does not have permission to get URL <code>{}</code> from this server.",
            escape(path)
        ),
    )
}

/// 401: a token that does not verify.
pub fn unauthorized(path: &str) -> String {
    gfe_page(
        "401 Unauthorized",
        "Error: Unauthorized",
        &format!(
            "Your client does not have permission to the requested URL <code>{}</code>.",
            escape(path)
        ),
    )
}

/// 429: every instance busy and the maximum reached. UNCONFIRMED: the front end's exact page for
/// this case; the text is Cloud Run's documented message.
pub fn too_many_requests() -> String {
    gfe_page(
        "429 Too Many Requests",
        "Error: Too Many Requests",
        "The request was aborted because there was no available instance.",
    )
}

/// 500/503: the instance could not be started or reached. UNCONFIRMED page shape (the front end's).
pub fn server_error(status: u16, reason: &str, message: &str) -> String {
    gfe_page(
        &format!("{status} {reason}"),
        &format!("Error: {reason}"),
        &escape(message),
    )
}

/// 404: unknown host, ingress refusal, reserved `…z` paths. Google's standard 404 page.
pub fn not_found(path: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <meta name=viewport content=\"initial-scale=1, minimum-scale=1, width=device-width\">\n  <title>Error 404 (Not Found)!!1</title>\n  <style>\n    {NOT_FOUND_STYLE}\n  </style>\n  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>\n  <p><b>404.</b> <ins>That\u{2019}s an error.</ins>\n  <p>The requested URL <code>{}</code> was not found on this server.  <ins>That\u{2019}s all we know.</ins>\n",
        escape(path)
    )
}

const NOT_FOUND_STYLE: &str = "*{margin:0;padding:0}html,code{font:15px/22px arial,sans-serif}html{background:#fff;color:#222;padding:15px}body{margin:7% auto 0;max-width:390px;min-height:180px;padding:30px 0 15px}* > body{background:url(//www.google.com/images/errors/robot.png) 100% 5px no-repeat;padding-right:205px}p{margin:11px 0 22px;overflow:hidden}ins{color:#777;text-decoration:none}a img{border:0}@media screen and (max-width:772px){body{background:none;margin-top:0;max-width:none;padding-right:0}}#logo{background:url(//www.google.com/images/branding/googlelogo/1x/googlelogo_color_150x54dp.png) no-repeat;margin-left:-5px}@media only screen and (min-resolution:192dpi){#logo{background:url(//www.google.com/images/branding/googlelogo/2x/googlelogo_color_150x54dp.png) no-repeat 0% 0%/100% 100%;-moz-border-image:url(//www.google.com/images/branding/googlelogo/2x/googlelogo_color_150x54dp.png) 0}}@media only screen and (-webkit-min-device-pixel-ratio:2){#logo{background:url(//www.google.com/images/branding/googlelogo/2x/googlelogo_color_150x54dp.png) no-repeat;-webkit-background-size:100% 100%}}#logo{display:inline-block;height:54px;width:150px}";

fn gfe_page(title: &str, h1: &str, h2: &str) -> String {
    format!(
        "<html><head>\n<meta http-equiv=\"content-type\" content=\"text/html;charset=utf-8\">\n<title>{title}</title>\n</head>\n<body text=#000000 bgcolor=#ffffff>\n<h1>{h1}</h1>\n<h2>{h2}</h2>\n<h2></h2>\n</body></html>\n"
    )
}

/// HTML-escapes text for element content.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden(name: &str, actual: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(name);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, actual).unwrap();
        }
        let expected = std::fs::read_to_string(&path).unwrap();
        assert_eq!(actual, expected, "{name}");
    }

    #[test]
    fn pages_match_golden_files() {
        golden("403.html", &forbidden("/"));
        golden("401.html", &unauthorized("/"));
        golden("404.html", &not_found("/"));
        golden("429.html", &too_many_requests());
    }

    #[test]
    fn paths_are_escaped() {
        assert!(forbidden("/<script>").contains("<code>/&lt;script&gt;</code>"));
        assert!(not_found("/a\"b").contains("/a&quot;b"));
    }
}
