//! What one hold decision costs in the inventory store: the in-memory store of the embedded
//! default and, when Redis answers, the Redis store (one Lua script per decision).

use std::sync::Arc;

use boxoffice_bookings::domain::HoldRequest;
use boxoffice_bookings::inventory::{
    BoxFuture, CategorySpec, CategoryUnits, InventoryStore, MemoryInventory, RedisInventory, Snapshot,
};
use criterion::{criterion_group, criterion_main, Criterion};
use uuid::Uuid;

/// Units per event: large enough that a run of the benchmark never sells out.
const CAPACITY: u32 = 200_000;

fn snapshot(event_id: Uuid, category_id: Uuid) -> Snapshot {
    let units = CategoryUnits::GeneralAdmission { capacity: CAPACITY };
    Snapshot { event_id, categories: vec![CategorySpec { category_id, units }], live: Vec::new() }
}

async fn loaded(store: &dyn InventoryStore) -> (Uuid, Uuid) {
    let (event_id, category_id) = (Uuid::now_v7(), Uuid::now_v7());
    let source = move || -> BoxFuture<'static, anyhow::Result<Snapshot>> {
        Box::pin(async move { Ok(snapshot(event_id, category_id)) })
    };
    store.ensure_loaded(event_id, &source).await.unwrap();
    (event_id, category_id)
}

fn hold_request(category_id: Uuid) -> HoldRequest {
    HoldRequest {
        booking_id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        quantities: vec![(category_id, 2)],
        seats: Vec::new(),
        per_user_cap: 4,
    }
}

fn holds(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let memory: Arc<dyn InventoryStore> = Arc::new(MemoryInventory::new());
    let (event_id, category_id) = runtime.block_on(loaded(memory.as_ref()));
    c.bench_function("hold 2 general-admission units (memory)", |b| {
        b.to_async(&runtime).iter(|| {
            let memory = memory.clone();
            async move { memory.hold(event_id, &hold_request(category_id)).await.unwrap() }
        })
    });

    let url =
        std::env::var("BOXOFFICE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("bench:{}:", Uuid::now_v7());
    let Ok(redis) = runtime.block_on(RedisInventory::connect(&url, &prefix)) else {
        eprintln!("Redis at {url} does not answer; skipping the Redis benchmark");
        return;
    };
    let redis: Arc<dyn InventoryStore> = Arc::new(redis);
    let (event_id, category_id) = runtime.block_on(loaded(redis.as_ref()));
    c.bench_function("hold 2 general-admission units (Redis)", |b| {
        b.to_async(&runtime).iter(|| {
            let redis = redis.clone();
            async move { redis.hold(event_id, &hold_request(category_id)).await.unwrap() }
        })
    });
    runtime.block_on(delete_keys(&url, &prefix));
}

/// Removes what the benchmark wrote to Redis.
async fn delete_keys(url: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(url) else { return };
    let Ok(mut connection) = client.get_multiplexed_async_connection().await else { return };
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut connection).await.unwrap_or_default();
    for key in keys {
        let _: Result<(), _> = redis::cmd("DEL").arg(key).query_async(&mut connection).await;
    }
}

criterion_group!(benches, holds);
criterion_main!(benches);
