use telemetry_runtime::instrumented_adapter;

// 16 labels of cap 2: 3^16 combinations, `_OTHER` counted, past any budget.
#[instrumented_adapter(
    labels(
        l0(cap = 2), l1(cap = 2), l2(cap = 2), l3(cap = 2),
        l4(cap = 2), l5(cap = 2), l6(cap = 2), l7(cap = 2),
        l8(cap = 2), l9(cap = 2), l10(cap = 2), l11(cap = 2),
        l12(cap = 2), l13(cap = 2), l14(cap = 2), l15(cap = 2),
    ),
    events(wide(l0, l1, l2, l3, l4, l5, l6, l7, l8, l9, l10, l11, l12, l13, l14, l15)),
    budget = 1000000,
)]
struct Wide {}

fn main() {}
