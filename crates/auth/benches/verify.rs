//! What verifying an access token costs: the gateway does it for every authenticated request.

use boxoffice_auth::{Claims, TokenKey};
use boxoffice_types::Role;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use uuid::Uuid;

fn verification(c: &mut Criterion) {
    let key = TokenKey::new(&TokenKey::generate_secret()).unwrap();
    let claims = Claims::new(Uuid::now_v7(), Role::Customer, Uuid::now_v7(), chrono::Utc::now());
    let token = key.sign(&claims).unwrap();
    c.bench_function("verify an access token", |b| b.iter(|| key.verify(black_box(&token)).unwrap()));
    c.bench_function("sign an access token", |b| b.iter(|| key.sign(black_box(&claims)).unwrap()));
}

criterion_group!(benches, verification);
criterion_main!(benches);
