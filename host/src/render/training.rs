//! What `train` prints about a training report (the review page shows
//! the same text).

use crate::artifacts::training::{Calibration, Method, TrainingReport};

/// The report in one plain sentence, for the review page: "13 people
/// learned; 69 of 69 test faces recognised; 0 of 92 tries with a
/// stranger's face taken for someone". Test faces are the held-out faces of
/// cross-validation, counted as recognised when named correctly and sure
/// enough (not `unknown`); the tries are each stranger's face (the user's
/// strangers, and each person left out in turn) against the gallery.
pub(crate) fn plain(report: &TrainingReport) -> String {
    let people = report.people.len();
    let mut out = format!("{people} {} learned", if people == 1 { "person" } else { "people" });
    let measured = report.never_held_out.len() < report.people.len();
    if let Some(c) = report.classifiers.iter().find(|c| c.classifier == report.default_classifier) {
        let tested: usize = c.confusion.iter().flatten().sum();
        if measured && tested > 0 {
            let recognised = (c.open_set_accuracy * tested as f64).round() as usize;
            out.push_str(&format!("; {recognised} of {tested} test faces recognised"));
        } else {
            out.push_str("; not tested (one photo each: none could be held out to test on)");
        }
        match &c.calibration {
            Some(cal) if cal.impostors > 0 => {
                out.push_str(&format!("; {} of {} tries with a stranger's face taken for someone", cal.accepted, cal.impostors))
            }
            _ => out.push_str("; no strangers to test with"),
        }
    }
    out.push('.');
    out
}

/// The report in plain words first (how many, how well, how safe), then
/// the details.
pub fn summary(report: &TrainingReport) -> String {
    let mut out = String::new();
    // Lines go into `out` instead of stdout.
    macro_rules! say {
    ($($t:tt)*) => {{
        out.push_str(&format!($($t)*));
        out.push('\n');
    }};
}
    // First in plain words: how many, how well, how safe.
    let faces: usize = report.faces.iter().sum();
    say!("learned {} people from {} faces.", report.people.len(), faces);
    // With one photo each, no face can be held out of training to test
    // on: an accuracy would be a figure for nothing.
    let measured = report.never_held_out.len() < report.people.len();
    if let Some(c) = report.classifiers.iter().find(|c| c.classifier == report.default_classifier) {
        if !measured {
            say!(
                "telling them apart: not measured: each person has one photo, so none could be held out of training to \
                 test on; with 2 or more photos of each person (5 or more for a steady figure), train measures it."
            );
        } else {
            say!(
                "telling them apart: {:.0} in 100 faces held out of training were named correctly{}.",
                100.0 * c.accuracy,
                c.calibration
                    .as_ref()
                    .map_or(String::new(), |cal| format!("; {:.0} in 100 were too unsure and said `unknown`", 100.0 * cal.frr))
            );
        }
        if let Some(cal) = &c.calibration {
            if cal.impostors > 0 {
                say!(
                    "strangers: in {1} tries with a face it had not learned (a person left out, an outlier, a bystander), \
                     {0} were taken for someone; at most {2:.1} in 100 strangers would be (95% sure).",
                    cal.accepted,
                    cal.impostors,
                    100.0 * cal.far_upper
                );
            } else {
                say!("strangers: none to test with; add photos of other people (bystanders, `unknown`) to measure it.");
            }
        }
    }
    say!("");
    say!("details:");
    say!(
        "{} people, {} faces; {}-fold cross-validation; {} of your own strangers (outliers, junk folders, bystanders):",
        report.people.len(),
        report.faces.iter().sum::<usize>(),
        report.folds,
        report.strangers
    );
    say!("  classifier  accuracy  open-set  threshold  set by        FAR seen      FAR 95% bound  FRR");
    for c in &report.classifiers {
        let Some(cal) = &c.calibration else { continue };
        say!(
            "  {:<10}  {:>8.3}  {:>8.3}  {:>9.4}  {:<12}  {:>3} of {:<5}  {:>13.4}  {:.3}",
            c.classifier.name(),
            c.accuracy,
            c.open_set_accuracy,
            cal.threshold,
            method(cal.method),
            cal.accepted,
            cal.impostors,
            cal.far_upper,
            cal.frr
        );
    }
    say!("default classifier: {} (most held-out faces accepted and named correctly)", report.default_classifier.name());
    if let Some(cal) = report.classifiers.iter().find(|c| c.classifier == report.default_classifier).and_then(|c| c.calibration.as_ref()) {
        out.push_str(&explain(cal));
    }
    if !report.suspects.is_empty() {
        say!("faces that look like label mistakes, left out of training and calibration:");
        for s in &report.suspects {
            say!("  {}: {}", s.file.display(), s.why);
        }
    }
    for la in &report.look_alikes {
        say!(
            "  note: {} and {} look like one person (centroid cosine {:.3}); neither counts as a stranger to the other",
            la.a,
            la.b,
            la.cosine
        );
    }
    if !report.never_held_out.is_empty() {
        say!("  note: one face only, so never held out: {}", report.never_held_out.join(", "));
    }
    for s in &report.skipped {
        say!("  skipped {}: {}", s.path.display(), s.reason);
    }
    out
}

fn method(m: Method) -> &'static str {
    match m {
        Method::Prior => "prior",
        Method::Model => "model",
        Method::HighestSeen => "highest seen",
        Method::None => "nothing",
    }
}

/// A rate as a percentage, without trailing zeros: 0.01 is "1", 0.001 is "0.1".
fn percent(rate: f64) -> String {
    let s = format!("{:.4}", rate * 100.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// What the default classifier's false-accept figures rest on, in words.
fn explain(c: &Calibration) -> String {
    let mut out = String::new();
    macro_rules! say {
        ($($t:tt)*) => {{
            out.push_str(&format!($($t)*));
            out.push('\n');
        }};
    }
    let target = percent(f64::from(c.target_far));
    let model = match (&c.model, c.model_far) {
        (Some(m), Some(far)) => format!(
            "a model of {} {} scores (as good as {:.0} independent ones: they come in {} groups of the same two people) puts its false-accept rate at {:.3}%",
            m.sample.n,
            if c.per_member { "single stranger-member" } else { "whole-gallery stranger" },
            m.sample.effective,
            m.sample.groups,
            far * 100.0
        ),
        _ => "there are too few stranger scores for a model".into(),
    };
    let set_by = match c.method {
        Method::Prior => {
            "the recognizer's published same-person score, on this classifier's scale and raised for the gallery's size (the model of stranger scores asked for less)"
        }
        Method::Model => "the model of stranger scores",
        Method::HighestSeen => "the highest stranger score seen",
        Method::None => "nothing: no stranger score was seen",
    };
    say!("  threshold {:.4} set by {set_by}; {model}", c.threshold);
    if c.too_thin {
        say!(
            "  note: the data is too thin to show a {target}% false-accept rate: {} of {} stranger scores (as good as {:.0} independent ones) were accepted, which supports no better than {:.1}% (95% bound). Add photos of more people, or keep outliers and junk folders: they are strangers too.",
            c.accepted,
            c.impostors,
            c.effective_impostors,
            c.far_upper * 100.0
        );
    } else {
        say!("  the data supports a false-accept rate of at most {:.3}% (95% bound; target {target}%)", c.far_upper * 100.0);
    }
    out
}
