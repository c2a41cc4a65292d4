//! The committed gallery the device's fast tests load
//! (`testkit/fixtures/tiny.rcg`) is what today's code makes from three
//! painted people. Run with `ROLLCALL_BLESS=1` to rewrite it after a change
//! to training or the gallery format.

use crate::common;

use rollcall_host::artifacts::Work;
use rollcall_host::artifacts::training::ModelDir;
use rollcall_host::pipeline::{self, RunOptions};
use rollcall_host::stages::{export, train};
use rollcall_models::fake::FakeModels;
use rollcall_models::{ModelCard, Models};
use rollcall_shared::gallery::{Gallery, VectorForm};
use rollcall_testkit::{TINY_PEOPLE, synthetic, tiny_gallery};

fn without_provenance(mut g: Gallery) -> Gallery {
    g.created.unix_seconds = 0;
    g.created.note.clear();
    g.created.tool.clear();
    g
}

#[test]
fn tiny_gallery_is_current() {
    let dir = tempfile::tempdir().expect("temp dir");
    let photos = dir.path().join("photos");
    let ids: Vec<u64> = TINY_PEOPLE.iter().map(|p| p.1).collect();
    synthetic::portraits(&photos, &ids, 4);
    let work = Work::new(dir.path().join("work")).claim().expect("work dir");
    let models = FakeModels::default();
    pipeline::run(&photos, &work, &models, &RunOptions::default()).expect("run");
    common::name_clusters(work.root(), &photos);
    for (name, id) in TINY_PEOPLE {
        std::fs::rename(work.clusters().join(format!("p{id}")), work.clusters().join(name)).expect("rename");
    }
    let load = || Ok(std::sync::Arc::new(FakeModels::default()) as std::sync::Arc<dyn Models>);
    let (gallery, report) = train::train_from_work(&work.clusters(), &work, &train::TrainOptions::default(), &load).expect("train");
    let model = ModelDir::new(dir.path().join("model"));
    train::write_model_dir(&model, &gallery, &report).expect("model");
    let made = dir.path().join("tiny.rcg");
    export::export(&model, &made, VectorForm::I8, "rollcall-testkit fixture: three painted people").expect("export");

    let committed = tiny_gallery();
    if std::env::var_os("ROLLCALL_BLESS").is_some() {
        std::fs::copy(&made, &committed).expect("bless");
    }
    let now = rollcall_shared::gallery::read_file(&made).expect("made");
    let then = rollcall_shared::gallery::read_file(&committed).expect("committed fixture (ROLLCALL_BLESS=1 writes it)");
    assert_eq!(without_provenance(then.clone()), without_provenance(now), "the fixture is stale: rerun with ROLLCALL_BLESS=1");
    let card: ModelCard = models.card().clone();
    then.check_models(&card.detector.digest(), &card.recognizer.digest()).expect("made with the fake engine");
    assert_eq!(then.labels, TINY_PEOPLE.map(|p| p.0.to_string()));
}
