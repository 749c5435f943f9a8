//! `boxoffice bench flash-sale` against the real thing, with small numbers: only what it says
//! about correctness is checked, never its timings.

use boxoffice::bench::{flash_sale, FlashSaleOptions, Report};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_general_admission_flash_sale_sells_every_unit_once,
    a_seated_flash_sale_sells_every_seat_once,
);

async fn run(app: &TestApp, options: FlashSaleOptions) -> Report {
    let options = FlashSaleOptions { url: vec![app.address.clone()], quiet: true, ..options };
    flash_sale(&options, &app.settings).await.expect("the flash sale runs")
}

/// Demand (1 to 4 tickets for each buyer) far exceeds supply in both runs, so the event sells out.
fn assert_sold_out_without_overselling(report: &Report) {
    assert!(report.consistent, "{}", report.table());
    assert_eq!(report.oversold, 0, "{}", report.table());
    assert_eq!(report.errors, 0, "{}", report.table());
    assert_eq!(report.holds + report.sold_out, report.attempts, "every buyer is answered");
    assert_eq!(report.sold + report.held, report.capacity, "the demand takes everything");
    assert_eq!(report.available, 0);
    assert_eq!(report.live_bookings, report.holds);
    assert!(report.sold_out > 0);
    assert!(report.confirms > 0 && report.confirms == report.confirm_attempts);
}

async fn a_general_admission_flash_sale_sells_every_unit_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let report = run(
        &app,
        FlashSaleOptions {
            units: 50,
            buyers: 200,
            concurrency: 16,
            confirm_share: 0.5,
            floor: true,
            ..Default::default()
        },
    )
    .await;
    assert!(!report.seated);
    // The floor ran first, on the same client: every /healthz answered, and the sale unchanged.
    assert!(report.floor_requests_per_s.is_some_and(|floor| floor > 0.0), "{}", report.table());
    assert!(report.attempts_share_of_floor.is_some_and(|share| share > 0.0));
    assert!(report.table().contains("floor: GET /healthz"));
    assert_eq!(report.capacity, 50);
    assert_sold_out_without_overselling(&report);
    let line: serde_json::Value = serde_json::from_str(&report.json_line()).unwrap();
    assert_eq!(line["oversold"], 0);
    assert_eq!(line["status_counts"]["hold"]["201"], report.holds);
}

async fn a_seated_flash_sale_sells_every_seat_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let report = run(
        &app,
        FlashSaleOptions {
            units: 30,
            buyers: 100,
            concurrency: 16,
            seated: true,
            confirm_share: 0.5,
            ..Default::default()
        },
    )
    .await;
    assert!(report.seated);
    assert_eq!(report.capacity, 30);
    assert_sold_out_without_overselling(&report);
}
