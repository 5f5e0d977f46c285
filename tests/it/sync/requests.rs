//! The requests a sync makes: one listing and the uploads for a new tree, the listing alone for a
//! no-op, and parts that do not wait for a slow one.
use super::servers::{self, recording_proxy};
use super::{Fixture, counts, data};
use std::sync::atomic::Ordering;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tree_is_one_listing_and_its_uploads_and_a_no_op_is_the_listing_alone() {
    let f = Fixture::new().await;
    for i in 0..5u8 {
        f.write(&format!("d{i}/f.txt"), &data(i, 100 + i as usize));
    }
    // 20 MiB: three parts of 8 MiB.
    f.write("big.zip", &data(9, 20 << 20));
    let (proxy, requests) = recording_proxy(&crate::common::moto()).await;
    let sync = || {
        let out = f.cmd(&[]).env("AWS_ENDPOINT_URL", &proxy).output().unwrap();
        crate::common::json_stdout(&out)
    };
    let taken = |requests: &servers::Requests| std::mem::take(&mut *requests.lock().unwrap());
    let counted = |lines: &[String]| {
        let mut by: std::collections::BTreeMap<String, usize> = Default::default();
        for l in lines {
            *by.entry(l.clone()).or_default() += 1;
        }
        by
    };

    let first = sync();
    assert_eq!(counts(&first, ["uploaded", "unchanged"]), [6, 0], "{first}");
    let b = &f.bucket;
    let mut expected: std::collections::BTreeMap<String, usize> = [
        (format!("GET /{b}/"), 1),
        (format!("POST /{b}/res/big.zip"), 2), // start and complete
        (format!("PUT /{b}/res/big.zip"), 3),  // the parts
    ]
    .into_iter()
    .collect();
    for i in 0..5 {
        expected.insert(format!("PUT /{b}/res/d{i}/f.txt"), 1);
    }
    // No HEAD, no second listing, no request for a file beyond its upload.
    assert_eq!(counted(&taken(&requests)), expected);

    let again = sync();
    assert_eq!(counts(&again, ["uploaded", "unchanged"]), [0, 6], "{again}");
    assert_eq!(taken(&requests), vec![format!("GET /{b}/")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_part_does_not_hold_back_the_next_parts() {
    let f = Fixture::new().await;
    // 20 MiB: parts 1 and 2 of 8 MiB, part 3 of 4 MiB.
    let content = data(7, 20 << 20);
    f.write("big.zip", &content);
    // Part 1 is held until part 3 has been sent. With two requests in flight, part 3 can only start
    // once part 2 is done and while part 1 is still under way.
    let (proxy, held) = servers::holding_proxy("partNumber=1&", "partNumber=3&").await;
    let out = f
        .cmd(&["--concurrency", "2"])
        .env("AWS_ENDPOINT_URL", &proxy)
        .output()
        .unwrap();
    let report = crate::common::json_stdout(&out);
    assert_eq!(counts(&report, ["uploaded"]), [1], "{report}");
    assert!(
        !held.deadline_passed.load(Ordering::SeqCst),
        "part 3 was not sent while part 1 was under way"
    );
    assert!(
        f.get("res/big.zip").await == content,
        "the object is the file"
    );
}
