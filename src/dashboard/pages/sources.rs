//! The Lead sources page: the account's web forms, ad lead forms, marketplaces and generic
//! senders, each with its URL, its health (last lead, last error, Facebook leads waiting),
//! a copy-paste HTML form and fetch/curl examples for a web form, and the field mapping
//! of a generic source with a live preview. Read here from `intake::sources`; changed by
//! the page's script (`/static/sources.js`) through `/api/sources` (admins and owners).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;

use super::{layout, PageError};
use crate::auth::session::Dash;
use crate::auth::Role;
use crate::dashboard::render;
use crate::intake::sources::{list_views, SourceView};
use crate::state::AppState;

/// What a kind is called on the page.
fn kind_label(kind: &str) -> &'static str {
    match kind {
        "web_form" => "Website form",
        "google_ads" => "Google Ads lead form",
        "facebook" => "Facebook / Instagram Lead Ads",
        "homeadvisor" => "HomeAdvisor",
        "angi" => "Angi",
        _ => "Generic JSON (Zapier, Make…)",
    }
}

/// A copy-paste HTML form posting to `endpoint` (a hidden honeypot, the page and referrer
/// filled in by a two-line script so the lead keeps its UTM parameters).
pub fn html_snippet(endpoint: &str) -> String {
    format!(
        r#"<form action="{endpoint}" method="post" id="leadline-form">
  <input name="name" placeholder="Your name" required>
  <input name="email" type="email" placeholder="Email">
  <input name="phone" type="tel" placeholder="Phone">
  <input name="address" placeholder="Property address">
  <select name="timeline">
    <option value="">When do you need the work?</option>
    <option>As soon as possible</option><option>This month</option><option>In a few months</option>
  </select>
  <textarea name="message" placeholder="What is going on with your roof?"></textarea>
  <input type="hidden" name="page_url"><input type="hidden" name="referrer">
  <input name="_gotcha" tabindex="-1" autocomplete="off" aria-hidden="true" style="position:absolute;left:-9999px">
  <button type="submit">Get my free estimate</button>
</form>
<script>
  (function (f) {{ f.page_url.value = location.href; f.referrer.value = document.referrer; }})(document.getElementById('leadline-form'));
</script>"#
    )
}

/// The same post from a script (fetch) and from a shell (curl).
pub fn json_examples(endpoint: &str) -> (String, String) {
    let fetch = format!(
        r#"fetch("{endpoint}", {{
  method: "POST",
  headers: {{ "Content-Type": "application/json" }},
  body: JSON.stringify({{
    name: "Jane Doe", email: "jane@example.com", phone: "(312) 555-0100",
    address: "12 Oak St, Springfield, IL", message: "Shingles blew off last night",
    roof_age: 18, timeline: "asap", page_url: location.href, referrer: document.referrer
  }})
}}).then(r => r.json()); // {{ ok: true }}"#
    );
    let curl = format!(
        r#"curl -s {endpoint} -H 'Content-Type: application/json' \
  -d '{{"name":"Jane Doe","email":"jane@example.com","phone":"(312) 555-0100","message":"Leak over the kitchen"}}'"#
    );
    (fetch, curl)
}

fn row(v: SourceView) -> minijinja::Value {
    let (fetch, curl) = json_examples(&v.endpoint);
    let snippet = (v.kind == "web_form").then(|| html_snippet(&v.endpoint));
    let mapping = serde_json::to_string_pretty(&v.config.mapping).unwrap_or_default();
    let origins = v.config.allowed_origins.join("\n");
    context! {
        label => kind_label(&v.kind),
        mappable => matches!(v.kind.as_str(), "generic" | "homeadvisor" | "angi"),
        snippet,
        fetch,
        curl,
        mapping,
        origins,
        source => minijinja::Value::from_serialize(&v),
    }
}

pub async fn sources(
    State(state): State<AppState>,
    Dash(s): Dash,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let base = state.public_base(&headers);
    let may_edit = s.role >= Role::Admin;
    // A source's URL token is its key (HomeAdvisor's feed has no other): admins only.
    let views = if may_edit {
        list_views(&state, s.account_id, &base).await?
    } else {
        vec![]
    };
    let sites: Vec<(i64, String)> =
        sqlx::query_as("select id, name from sites where account_id = $1 order by id")
            .bind(s.account_id)
            .fetch_all(&state.pool)
            .await?;
    let sites: Vec<minijinja::Value> = sites
        .into_iter()
        .map(|(id, name)| context! { id, name })
        .collect();
    Ok(render(
        StatusCode::OK,
        "sources.html",
        context! {
            sources => views.into_iter().map(row).collect::<Vec<_>>(),
            sites,
            may_edit,
            facebook_webhook => format!("{base}/webhooks/facebook"),
            ..layout(&s, "sources", "Lead sources")
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snippet_posts_to_the_form_and_carries_a_honeypot_and_the_page() {
        let s = html_snippet("https://leads.example.com/api/forms/src_abc");
        assert!(s.contains(r#"action="https://leads.example.com/api/forms/src_abc" method="post""#));
        assert!(s.contains(r#"name="_gotcha""#));
        assert!(s.contains("f.page_url.value = location.href"));
        let (fetch, curl) = json_examples("https://x.test/api/forms/k");
        assert!(fetch.contains(r#"fetch("https://x.test/api/forms/k""#));
        assert!(curl.starts_with("curl -s https://x.test/api/forms/k"));
    }
}
