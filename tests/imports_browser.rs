//! The Import / export page in a real browser (headless Chromium, `tests/browser_support`):
//! a file chosen, its preview and mapping shown, a column re-mapped (the preview follows),
//! a dry run that writes nothing, then the import. Saved as
//! `target/screenshots/dashboard-imports.png`.

mod browser_support;
mod common;

use browser_support::{click, screenshot_dir, wait_js, with_browser, Browser};
use common::spawn_app_with;
use fantoccini::Locator;

#[tokio::test]
async fn a_file_is_previewed_mapped_dry_run_and_imported_from_the_page() {
    let app = spawn_app_with(&[("LEADLINE_AUTOMATION_TICK_MS", "0")]).await;
    let a = app.account("Acme Roofing").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leads.csv");
    std::fs::write(
        &path,
        "Customer,E-mail,Mobile,Home phone,Stage\n\
         Ann Lee,ann@x.co,,(312) 641-2278,quoted\n\
         Bob Ray,bob@x.co,12,(312) 641-2279,new\n\
         No Contact,,,,new\n",
    )
    .unwrap();
    with_browser("imports", async |b: &Browser| {
        b.client.goto(&format!("{}/imports", app.base)).await.unwrap();
        wait_js(b, "the sign-in form", "return !!document.querySelector('[data-test=key-link]');").await;
        click(b, "[data-test=key-link]").await;
        wait_js(b, "the API-key form", "return !!document.querySelector('input[name=api_key]');").await;
        b.client
            .find(Locator::Css("input[name=api_key]"))
            .await
            .unwrap()
            .send_keys(&a.key)
            .await
            .unwrap();
        click(b, "form[action='/login'] button[type=submit]").await;
        wait_js(b, "the import page", "return !!document.querySelector('[data-import-file]');").await;

        b.client
            .find(Locator::Css("[data-import-file]"))
            .await
            .unwrap()
            .send_keys(path.to_str().unwrap())
            .await
            .unwrap();
        wait_js(
            b,
            "the preview",
            "const p = document.querySelector('[data-import-preview]');
             return !p.hidden && document.querySelectorAll('[data-import-sample] tbody tr').length === 3;",
        )
        .await;
        let mapped = b
            .js("return ['name','email','phone','status'].map((f) => document.querySelector('[data-map-field=' + f + ']').value);")
            .await;
        assert_eq!(mapped, serde_json::json!(["Customer", "E-mail", "Mobile", "Stage"]));
        // Bob's mobile is "12": the preview says so, until the phone comes from "Home phone".
        let why = b
            .js("return document.querySelectorAll('[data-import-sample] tbody tr')[1].lastChild.textContent;")
            .await;
        assert_eq!(why, "phone '12' is not a phone number");
        b.js("const s = document.querySelector('[data-map-field=phone]'); s.value = 'Home phone';
              s.dispatchEvent(new Event('change')); return true;")
            .await;
        wait_js(
            b,
            "the preview with the home phone",
            "const r = document.querySelectorAll('[data-import-sample] tbody tr')[1];
             return r && r.children[3].textContent === '+13126412279';",
        )
        .await;
        assert_eq!(
            b.js("return document.querySelector('[data-import-run]').disabled;").await,
            true,
            "import waits for a dry run"
        );
        click(b, "[data-import-dry]").await;
        let counts = wait_js(
            b,
            "the dry run's report",
            "const c = document.querySelector('[data-import-counts]').textContent;
             return c.startsWith('Dry run') && c;",
        )
        .await;
        assert!(counts.as_str().unwrap().contains("would create 2"), "{counts}");
        assert!(b
            .js("return document.querySelector('[data-import-skipped]').textContent;")
            .await
            .as_str()
            .unwrap()
            .contains("Row 4: no email or phone"));
        let none: i64 = sqlx::query_scalar("select count(*) from leads")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(none, 0);

        click(b, "[data-import-run]").await;
        wait_js(
            b,
            "the import's report",
            "return document.querySelector('[data-import-counts]').textContent.startsWith('Created 2');",
        )
        .await;
        let phones: Vec<String> = sqlx::query_scalar("select phone from leads order by phone")
            .fetch_all(&app.pool)
            .await
            .unwrap();
        assert_eq!(phones, ["+13126412278", "+13126412279"]);
        b.client.set_window_size(1280, 1800).await.unwrap();
        b.screenshot(&screenshot_dir().join("dashboard-imports.png")).await;
    })
    .await;
}
