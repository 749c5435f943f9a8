//! One suite of the waiting room's rules, run against both stores, with the clock given.

use rand::Rng as _;

use crate::{Kv, Standing, Visit, Visited};

async fn redis_kv() -> Kv {
    let url =
        std::env::var("BOXOFFICE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    Kv::redis(&url, &format!("boxoffice-test:{}:", uuid::Uuid::new_v4()))
        .await
        .expect("Redis is reachable for the tests")
}

const START: u64 = 1_000_000_000;

fn visit(member: &str, join: bool, now_ms: u64, rate_per_minute: u32, max_admitted: u32) -> Visit<'_> {
    Visit {
        member,
        join,
        now_ms,
        start_ms: START,
        draw: rand::thread_rng().gen::<u64>() >> 11,
        rate_per_minute,
        admission_ms: 600_000,
        max_admitted,
        keep_ms: 60_000,
    }
}

async fn at(kv: &Kv, member: &str, now_ms: u64, rate: u32, max: u32) -> Visited {
    kv.queue_visit("room", &visit(member, false, now_ms, rate, max)).await.unwrap()
}

/// Spearman's rank correlation of two orders of the same items.
fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let d2: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}

async fn early_arrivals_are_shuffled_and_later_ones_follow_in_order(kv: Kv) {
    let members: Vec<String> = (0..1000).map(|i| format!("early-{i}")).collect();
    for (i, member) in members.iter().enumerate() {
        let visited =
            kv.queue_visit("room", &visit(member, true, START - 60_000 + i as u64, 1, 1)).await.unwrap();
        assert_eq!(visited.standing, Standing::Drawing, "no place before the start");
    }
    // Joining again changes nothing.
    let again = kv.queue_visit("room", &visit(&members[0], true, START - 1, 1, 1)).await.unwrap();
    assert_eq!(again.queued, 1000);
    let late: Vec<String> = (0..20).map(|i| format!("late-{i}")).collect();
    for (i, member) in late.iter().enumerate() {
        kv.queue_visit("room", &visit(member, true, START + 1 + i as u64, 1, 1)).await.unwrap();
    }
    let mut places = Vec::new();
    for member in &members {
        let visited = at(&kv, member, START + 100, 1, 1).await;
        places.push(match visited.standing {
            Standing::Admitted { .. } => 0.0,
            Standing::Waiting { ahead } => (ahead + visited.served) as f64,
            other => panic!("{member} is {other:?}"),
        });
    }
    let arrival: Vec<f64> = (0..members.len()).map(|i| i as f64).collect();
    let rho = spearman(&arrival, &places);
    assert!(rho.abs() < 0.1, "arrival order and place are not correlated (rho = {rho})");
    let mut sorted = places.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(sorted, arrival, "every early arrival has a place of its own");
    for (i, member) in late.iter().enumerate() {
        assert_eq!(
            at(&kv, member, START + 100, 1, 1).await.standing,
            Standing::Waiting { ahead: 999 + i as u64 }
        );
    }
}

async fn admissions_flow_at_the_rate_and_within_the_places(kv: Kv) {
    for i in 0..300 {
        kv.queue_visit("room", &visit(&format!("m{i}"), true, START - 10, 600, 1000)).await.unwrap();
    }
    // 600 a minute: one at the start, then one every 100 ms, whoever's visit lets them in.
    for step in 0..=100u64 {
        let visited = at(&kv, "m0", START + step * 100, 600, 1000).await;
        assert_eq!(visited.served, step + 1, "at {} ms", step * 100);
    }
    // The places cap the flow; a completed booking frees one at once, an unused admission
    // when it runs out.
    let capped = at(&kv, "m0", START + 20_000, 100_000, 101).await;
    assert_eq!(capped.served, 101);
    let admitted: Vec<String> = {
        let mut admitted = Vec::new();
        for i in 0..300 {
            let member = format!("m{i}");
            if matches!(
                at(&kv, &member, START + 20_000, 100_000, 101).await.standing,
                Standing::Admitted { .. }
            ) {
                admitted.push(member);
            }
        }
        admitted
    };
    assert_eq!(admitted.len(), 101);
    assert!(kv.queue_finish("room", &admitted[0]).await.unwrap());
    assert!(!kv.queue_finish("room", &admitted[0]).await.unwrap(), "once");
    assert_eq!(at(&kv, &admitted[0], START + 20_001, 100_000, 101).await.standing, Standing::Completed);
    assert_eq!(at(&kv, "m0", START + 20_001, 100_000, 101).await.served, 102);
    let after = at(&kv, &admitted[1], START + 20_000 + 600_000, 100_000, 101).await;
    assert_eq!(after.standing, Standing::Expired);
    assert!(after.served > 102, "the expired admissions' places went to the next ones");
    // Ended admissions may join again, at the back of the queue.
    let back = kv.queue_visit("room", &visit(&admitted[1], true, START + 620_001, 600, 1000)).await.unwrap();
    assert_eq!(back.queued, 300);
    assert!(
        matches!(back.standing, Standing::Waiting { .. } | Standing::Admitted { .. }),
        "{:?}",
        back.standing
    );
    if let Standing::Waiting { ahead } = back.standing {
        assert_eq!(ahead, 300 - back.served - 1, "at the back");
    }
    assert_eq!(at(&kv, "nobody", START, 600, 1000).await.standing, Standing::NotQueued);
}

async fn an_idle_room_saves_up_no_burst(kv: Kv) {
    kv.queue_visit("room", &visit("first", true, START, 60, 100)).await.unwrap();
    assert!(matches!(at(&kv, "first", START, 60, 100).await.standing, Standing::Admitted { .. }));
    // Ten minutes later, ten arrive at once: one is let in now, the next a second later (60 a
    // minute), not ten at once for the time nobody waited.
    for i in 0..10 {
        kv.queue_visit("room", &visit(&format!("later-{i}"), true, START + 600_000, 60, 100)).await.unwrap();
    }
    assert_eq!(at(&kv, "first", START + 600_000, 60, 100).await.served, 2);
    assert_eq!(at(&kv, "first", START + 601_000, 60, 100).await.served, 3);
    let measured = at(&kv, "first", START + 660_000, 60, 100).await;
    assert!(measured.measured_per_minute.is_some());
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $name() { super::$name(crate::Kv::memory()).await })*
        }
        mod redis {
            $(#[tokio::test] async fn $name() { super::$name(super::redis_kv().await).await })*
        }
    };
}

on_both_stores!(
    early_arrivals_are_shuffled_and_later_ones_follow_in_order,
    admissions_flow_at_the_rate_and_within_the_places,
    an_idle_room_saves_up_no_burst,
);
