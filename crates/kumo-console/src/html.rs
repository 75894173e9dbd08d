//! HTML building blocks: escaping and the page frame. Every value that comes from the API or
//! the request goes through [`esc`] (text and attributes alike), so a service or principal
//! name can never inject markup.

use std::fmt::Write as _;

/// Escapes text for both element content and double-quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// Percent-encodes one URL path segment or query value (RFC 3986 unreserved kept).
pub fn url_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Who is signed in, for the page header (absent on the sign-in page).
pub struct Viewer<'a> {
    pub email: &'a str,
    pub csrf: &'a str,
}

/// A breadcrumb link: (label, href); the last one is the current page and is not a link.
pub type Crumb = (String, String);

/// The whole document around `body` (already-escaped HTML).
pub fn page(title: &str, viewer: Option<&Viewer<'_>>, crumbs: &[Crumb], body: &str) -> String {
    refreshing_page(title, viewer, crumbs, body, None)
}

/// [`page`] that reloads itself every `refresh` seconds: the console runs no script, so a
/// "live" view is a `<meta http-equiv="refresh">`, which the page says where it is used.
pub fn refreshing_page(
    title: &str,
    viewer: Option<&Viewer<'_>>,
    crumbs: &[Crumb],
    body: &str,
    refresh: Option<u32>,
) -> String {
    let mut out = String::new();
    let refresh = refresh
        .map(|seconds| format!("<meta http-equiv=\"refresh\" content=\"{seconds}\">"))
        .unwrap_or_default();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{refresh}\
         <title>{} – Kumo console</title>\
         <link rel=\"stylesheet\" href=\"/console/assets/console.css\"></head><body>\
         <a class=\"skip\" href=\"#main\">Skip to content</a>\
         <header class=\"top\"><a class=\"brand\" href=\"/console\">Kumo console</a>",
        esc(title)
    );
    if let Some(viewer) = viewer {
        let _ = write!(
            out,
            "<form class=\"signout\" method=\"post\" action=\"/console/signout\">\
             <span class=\"who\">Signed in as <strong>{}</strong></span>{}\
             <button type=\"submit\">Sign out</button></form>",
            esc(viewer.email),
            csrf_field(viewer.csrf)
        );
    }
    out.push_str("</header>");
    if !crumbs.is_empty() {
        out.push_str("<nav aria-label=\"Breadcrumb\" class=\"crumbs\"><ol>");
        let last = crumbs.len() - 1;
        for (index, (label, href)) in crumbs.iter().enumerate() {
            if index == last {
                let _ = write!(out, "<li aria-current=\"page\">{}</li>", esc(label));
            } else {
                let _ = write!(out, "<li><a href=\"{}\">{}</a></li>", esc(href), esc(label));
            }
        }
        out.push_str("</ol></nav>");
    }
    let _ = write!(
        out,
        "<main id=\"main\"><h1>{}</h1>{body}</main></body></html>",
        esc(title)
    );
    out
}

/// The hidden per-session CSRF token every state-changing form carries.
pub fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf_token\" value=\"{}\">",
        esc(token)
    )
}

/// A status message box (`role=alert` for errors so screen readers announce it).
pub fn notice(kind: Notice, text: &str) -> String {
    match kind {
        Notice::Error => format!("<p class=\"notice error\" role=\"alert\">{}</p>", esc(text)),
        Notice::Info => format!("<p class=\"notice info\" role=\"status\">{}</p>", esc(text)),
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Notice {
    Error,
    Info,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        let cases = [
            ("plain", "plain"),
            (
                "<script>alert(1)</script>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            ("a\"b'c", "a&quot;b&#39;c"),
            ("&amp;", "&amp;amp;"),
            ("日本語", "日本語"),
        ];
        for (input, expected) in cases {
            assert_eq!(esc(input), expected, "{input}");
        }
    }

    #[test]
    fn page_escapes_title_viewer_and_crumbs() {
        let viewer = Viewer {
            email: "<b>@x",
            csrf: "t\"k",
        };
        let crumbs = vec![
            ("p<1>".to_owned(), "/console/projects/\"x".to_owned()),
            ("s&s".to_owned(), String::new()),
        ];
        let html = page("<svc>", Some(&viewer), &crumbs, "<p>body</p>");
        assert!(html.contains("<title>&lt;svc&gt; – Kumo console</title>"));
        assert!(html.contains("<h1>&lt;svc&gt;</h1>"));
        assert!(html.contains("<strong>&lt;b&gt;@x</strong>"));
        assert!(html.contains("value=\"t&quot;k\""));
        assert!(html.contains("href=\"/console/projects/&quot;x\">p&lt;1&gt;</a>"));
        assert!(html.contains("<li aria-current=\"page\">s&amp;s</li>"));
        assert!(!html.contains("<svc>"));
        assert!(!html.contains("<script"), "pages carry no script");
    }

    #[test]
    fn only_a_refreshing_page_reloads_itself() {
        let live = refreshing_page("Logs", None, &[], "", Some(5));
        assert!(live.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
        assert!(!page("Logs", None, &[], "").contains("http-equiv"));
    }

    #[test]
    fn url_components_are_encoded() {
        assert_eq!(url_component("a b/c?d&e"), "a%20b%2Fc%3Fd%26e");
        assert_eq!(
            url_component("user:bob@example.com"),
            "user%3Abob%40example.com"
        );
    }

    #[test]
    fn notices_escape() {
        assert_eq!(
            notice(Notice::Error, "<x>"),
            "<p class=\"notice error\" role=\"alert\">&lt;x&gt;</p>"
        );
    }
}
