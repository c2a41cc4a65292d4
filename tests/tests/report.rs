//! The HTML report in a real headless Chromium: it loads from the file
//! system with no console errors and no broken images, shows one gallery per
//! cluster, and a screenshot is taken (kept in
//! `target/rollcall-test-artifacts/report.png`).

use std::sync::{Arc, Mutex};

use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::{Browser, LaunchOptions};
use rollcall_tests::{run_pipeline, workspace};

fn chromium() -> std::path::PathBuf {
    let path = std::env::var_os("CHROMIUM").map(std::path::PathBuf::from).unwrap_or_else(|| "/usr/bin/chromium".into());
    assert!(
        path.is_file(),
        "Chromium is needed for this test (apt-get install chromium; .ci/run installs it); not found at {}",
        path.display()
    );
    path
}

#[test]
fn report_loads_in_chromium_without_errors_or_broken_images() {
    let run = run_pipeline(&["dlib_johns"]);
    let page = run.work().report().join("index.html");
    let profile = tempfile::tempdir().expect("test step");
    let args: Vec<&std::ffi::OsStr> = [
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--allow-file-access-from-files",
    ]
    .iter()
    .map(std::ffi::OsStr::new)
    .collect();
    let options = LaunchOptions::default_builder()
        .path(Some(chromium()))
        .headless(true)
        .sandbox(false)
        .enable_gpu(false)
        .window_size(Some((1280, 2400)))
        .user_data_dir(Some(profile.path().to_path_buf()))
        .args(args)
        .build()
        .expect("launch options");
    let browser = Browser::new(options).expect("Chromium starts");
    let tab = browser.new_tab().expect("tab");
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = errors.clone();
    tab.add_event_listener(Arc::new(move |event: &Event| {
        let msg = match event {
            Event::RuntimeExceptionThrown(e) => Some(format!("exception: {:?}", e.params.exception_details.text)),
            Event::RuntimeConsoleAPICalled(e) if format!("{:?}", e.params.Type).to_lowercase().contains("error") => {
                Some(format!("console.error: {:?}", e.params.args.iter().map(|a| a.value.clone()).collect::<Vec<_>>()))
            }
            Event::LogEntryAdded(e) if format!("{:?}", e.params.entry.level).to_lowercase().contains("error") => {
                Some(format!("log: {} {:?}", e.params.entry.text, e.params.entry.url))
            }
            _ => None,
        };
        if let Some(m) = msg {
            sink.lock().expect("test step").push(m);
        }
    }))
    .expect("listener");
    tab.enable_log().expect("log domain");
    tab.enable_runtime().expect("runtime domain");
    tab.navigate_to(&format!("file://{}", page.display())).expect("navigate").wait_until_navigated().expect("page loads");

    let count = |js: &str| -> u64 {
        let v = tab.evaluate(js, false).unwrap_or_else(|e| panic!("{js}: {e}")).value.unwrap_or_default();
        v.as_u64().unwrap_or_else(|| panic!("{js} gave {v:?}"))
    };
    // Every image must have finished loading with real pixels.
    let images = count("document.images.length");
    // Face chips load lazily, when scrolled to; a headless window never
    // scrolls, so whether the ones below its height had loaded depended on
    // the layout (41 of them were "broken" once). Ask for every image now,
    // and give them ten seconds to load before calling any broken.
    tab.evaluate("document.querySelectorAll('img[loading=lazy]').forEach(i => { i.loading = 'eager'; })", false).expect("eager images");
    let unfinished = "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length";
    let started = std::time::Instant::now();
    let mut broken = count(unfinished);
    while broken > 0 && started.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(200));
        broken = count(unfinished);
    }
    let galleries = count("document.querySelectorAll('section.cluster-gallery').length");
    let png = tab.capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true).expect("screenshot");
    let artifacts = workspace().join("target").join("rollcall-test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("test step");
    std::fs::write(artifacts.join("report.png"), &png).expect("test step");

    assert!(images > 51, "the page shows charts and every face, found {images} images");
    let which = tab
        .evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).slice(0, 3).map(i => i.src + ' ' + i.complete + ' ' + i.loading).join(' | ')", false)
        .ok()
        .and_then(|v| v.value);
    assert_eq!(broken, 0, "broken images, among them {which:?}");
    assert_eq!(galleries as usize, run.selection.recommended_k, "one gallery per cluster");
    let errors = errors.lock().expect("test step").clone();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    assert!(png.len() > 10_000 && png.starts_with(b"\x89PNG"), "screenshot taken");
}
