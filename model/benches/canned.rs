//! The composer's `/` picker on a keystroke: matching what was typed
//! against 500 canned responses, and filling the one inserted.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use meshdesk_model::canned::{self, Placeholders};
use meshdesk_model::{CampaignId, CannedId, CannedResponse};

fn responses(campaigns: &[CampaignId]) -> Vec<CannedResponse> {
    (0..500)
        .map(|n| CannedResponse {
            id: CannedId::new(),
            code: format!("{}-{n}", ["thanks", "refund", "shipping", "hello", "bye"][n % 5]),
            body: format!(
                "Hello {{contact.name}}, this is {{agent.name}}. About order {{field.Order}}: reply number {n}, \
                 with a few sentences of text as a real reply would have them."
            ),
            campaign: (n % 3 == 0).then(|| campaigns[n % campaigns.len()]),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let campaigns: Vec<CampaignId> = (0..4).map(|_| CampaignId::new()).collect();
    let all = responses(&campaigns);
    let here = Some(campaigns[0]);
    let mut group = c.benchmark_group("canned_picker_500");
    for typed in ["", "r", "ref", "refund-4", "order", "zzz"] {
        group.bench_function(format!("keystroke_{typed:?}"), |b| {
            b.iter(|| canned::matching(black_box(&all), here, black_box(typed)).len())
        });
    }
    let with = Placeholders {
        contact_name: Some("Marta Ruiz".into()),
        agent_name: Some("Ana".into()),
        fields: BTreeMap::from([("Order".into(), "1234".into())]),
    };
    group.bench_function("fill", |b| {
        b.iter(|| canned::fill(black_box(&all[7].body), &with))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
