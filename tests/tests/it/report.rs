//! The HTML report in a real headless Chromium: it loads from the file
//! system with no console errors and no broken images, shows one gallery per
//! cluster, and a screenshot is taken (kept in
//! `target/rollcall-test-artifacts/report.png`).

use rollcall_tests::browser::Browser;
use rollcall_tests::{run_pipeline, workspace};

#[test]
fn report_loads_in_chromium_without_errors_or_broken_images() {
    let run = run_pipeline(&["dlib_johns"]);
    let page = run.work().report().join("index.html");
    let browser = Browser::start(1280, 2400, &["--allow-file-access-from-files"]);
    browser.goto(&format!("file://{}", page.display()));

    let count = |js: &str| -> u64 {
        let v = browser.eval(js);
        v.as_u64().unwrap_or_else(|| panic!("{js} gave {v:?}"))
    };
    // Every image must have finished loading with real pixels.
    let images = count("document.images.length");
    // Face chips load lazily, when scrolled to; a headless window never
    // scrolls, so whether the ones below its height had loaded depended on
    // the layout (41 of them were "broken" once). Ask for every image now,
    // and give them ten seconds to load before calling any broken.
    browser.eval("document.querySelectorAll('img[loading=lazy]').forEach(i => { i.loading = 'eager'; })");
    let unfinished = "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length";
    let started = std::time::Instant::now();
    let mut broken = count(unfinished);
    while broken > 0 && started.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(200));
        broken = count(unfinished);
    }
    let galleries = count("document.querySelectorAll('section.cluster-gallery').length");
    let png = browser.screenshot();
    let artifacts = workspace().join("target").join("rollcall-test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("test step");
    std::fs::write(artifacts.join("report.png"), &png).expect("test step");

    assert!(images > 51, "the page shows charts and every face, found {images} images");
    let which = browser.eval("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).slice(0, 3).map(i => i.src + ' ' + i.complete + ' ' + i.loading).join(' | ')");
    assert_eq!(broken, 0, "broken images, among them {which:?}");
    assert_eq!(galleries as usize, run.selection.recommended_k, "one gallery per cluster");
    let errors = browser.errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    assert!(png.len() > 10_000 && png.starts_with(b"\x89PNG"), "screenshot taken");
}

/// The check above can fail: a page with an uncaught exception, a
/// `console.error` and a missing image shows all three in the browser's
/// errors, and the missing image counts as broken.
#[test]
fn the_browser_reports_console_errors_and_broken_images() {
    let dir = tempfile::tempdir().expect("temp dir");
    let page = dir.path().join("bad.html");
    let html = "<img src=\"missing.png\" alt=\"x\"><script>console.error('the error'); throw new Error('the exception');</script>";
    std::fs::write(&page, html).expect("write the page");
    let browser = Browser::start(400, 300, &["--allow-file-access-from-files"]);
    browser.goto(&format!("file://{}", page.display()));
    let broken = browser.eval("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length");
    assert_eq!(broken.as_u64(), Some(1));
    let errors = browser.errors().join("\n");
    for expected in ["the error", "the exception", "missing.png"] {
        assert!(errors.contains(expected), "{expected} not among {errors}");
    }
}
