//! The console's only way into Kumo: its public REST API over loopback HTTP, with the signed-in
//! user's bearer token. The server decides every permission exactly as for any other client.

use std::time::Duration;

use serde_json::Value;

/// An API answer that is not 2xx (or no answer at all).
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status; 0 when the API could not be reached.
    pub status: u16,
    /// Google's `error.message` (or the OAuth `error_description`, or the transport error).
    pub message: String,
}

impl ApiError {
    fn from_body(status: u16, body: &str) -> Self {
        let json: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let message = json["error"]["message"]
            .as_str()
            .or_else(|| json["error_description"].as_str())
            .map_or_else(|| format!("HTTP {status}"), str::to_owned);
        ApiError { status, message }
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(base: String) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .redirects(0)
            .user_agent("kumo-console")
            .build();
        Client { base, agent }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Calls `method path` with the user's token; `body` is sent as JSON.
    pub async fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ApiError> {
        let request = self
            .agent
            .request(method, &format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {token}"));
        run(move || {
            finish(match body {
                Some(body) => request.send_json(body),
                None => request.call(),
            })
        })
        .await
    }

    /// `POST /token` with a form (no bearer token).
    pub async fn token(&self, form: Vec<(&'static str, String)>) -> Result<Value, ApiError> {
        let request = self.agent.post(&format!("{}/token", self.base));
        run(move || {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            finish(request.send_form(&pairs))
        })
        .await
    }

    /// `GET /oauth2/v3/tokeninfo?access_token=…`.
    pub async fn tokeninfo(&self, access_token: &str) -> Result<Value, ApiError> {
        let request = self
            .agent
            .get(&format!("{}/oauth2/v3/tokeninfo", self.base))
            .query("access_token", access_token);
        run(move || finish(request.call())).await
    }

    /// `POST /revoke?token=…` (best effort at sign-out).
    pub async fn revoke(&self, token: &str) -> Result<Value, ApiError> {
        let request = self
            .agent
            .post(&format!("{}/revoke", self.base))
            .query("token", token);
        run(move || finish(request.send_form(&[]))).await
    }
}

/// ureq blocks; keep it off the async workers.
async fn run<F>(call: F) -> Result<Value, ApiError>
where
    F: FnOnce() -> Result<Value, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(call)
        .await
        .unwrap_or_else(|_| Err(transport("the API call task failed")))
}

/// A JSON answer, or the API's error.
fn finish(result: Result<ureq::Response, ureq::Error>) -> Result<Value, ApiError> {
    match result {
        Ok(response) => {
            let text = response
                .into_string()
                .map_err(|e| transport(&e.to_string()))?;
            if text.trim().is_empty() {
                return Ok(Value::Object(serde_json::Map::new()));
            }
            serde_json::from_str(&text).map_err(|e| transport(&format!("bad JSON: {e}")))
        }
        Err(ureq::Error::Status(status, response)) => {
            let text = response.into_string().unwrap_or_default();
            Err(ApiError::from_body(status, &text))
        }
        Err(ureq::Error::Transport(error)) => Err(transport(&error.to_string())),
    }
}

fn transport(message: &str) -> ApiError {
    ApiError {
        status: 0,
        message: format!("Kumo's API could not be reached: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_from_google_and_oauth_bodies() {
        let google = r#"{"error":{"code":403,"message":"Permission 'run.services.setIamPolicy' denied","status":"PERMISSION_DENIED"}}"#;
        assert_eq!(
            ApiError::from_body(403, google).message,
            "Permission 'run.services.setIamPolicy' denied"
        );
        let oauth = r#"{"error":"invalid_grant","error_description":"Malformed auth code."}"#;
        assert_eq!(
            ApiError::from_body(400, oauth).message,
            "Malformed auth code."
        );
        assert_eq!(ApiError::from_body(502, "<html>").message, "HTTP 502");
    }
}
