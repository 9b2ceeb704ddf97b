//! Business impact: what better retention from recommendations is worth, recalculated as the
//! visitor types.

use leptos::prelude::*;

use crate::format::thousands;
use crate::impact::ImpactInputs;

/// Currencies offered, with the symbol shown before amounts.
const CURRENCIES: [(&str, &str); 6] = [
    ("USD", "$"),
    ("EUR", "€"),
    ("GBP", "£"),
    ("JPY", "¥"),
    ("INR", "₹"),
    ("CHF", "CHF "),
];

/// The business-impact section.
#[component]
pub fn ImpactSection() -> impl IntoView {
    let defaults = ImpactInputs::default();
    let customers = RwSignal::new(defaults.customers.to_string());
    let revenue = RwSignal::new(defaults.revenue_per_customer.to_string());
    let retention = RwSignal::new((defaults.retention * 100.0).round().to_string());
    let uplift = RwSignal::new((defaults.uplift * 100.0).round().to_string());
    let currency = RwSignal::new(CURRENCIES[0].0.to_owned());

    let result = Memo::new(move |_| {
        let number = |s: RwSignal<String>| s.get().trim().parse::<f64>().unwrap_or(f64::NAN);
        ImpactInputs {
            customers: number(customers),
            revenue_per_customer: number(revenue),
            retention: number(retention) / 100.0,
            uplift: number(uplift) / 100.0,
        }
        .impact()
        .map_err(|e| e.to_string())
    });
    let symbol = move || {
        let code = currency.get();
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map_or("", |(_, s)| s)
    };
    let count = |x: f64| thousands(x.round() as usize);

    view! {
        <section class="card" aria-labelledby="impact-title">
            <h2 id="impact-title">"7. Business impact"</h2>
            <p class="hint">
                "What keeping more customers is worth: recommendations lift retention of the retained base."
            </p>
            <div class="params">
                <NumberInput label="Active customers" testid="impact-customers" value=customers step="1000"/>
                <NumberInput label="Annual revenue per customer" testid="impact-revenue-per-customer" value=revenue step="100"/>
                <NumberInput label="Current retention (%)" testid="impact-retention" value=retention step="1"/>
                <NumberInput label="Retention uplift (% of retained)" testid="impact-uplift" value=uplift step="1"/>
                <label class="param">
                    <span class="param-label">"Currency"</span>
                    <select
                        data-testid="impact-currency"
                        on:change=move |ev| currency.set(event_target_value(&ev))
                        prop:value=move || currency.get()
                    >
                        {CURRENCIES
                            .iter()
                            .map(|(code, _)| view! { <option value=*code>{*code}</option> })
                            .collect_view()}
                    </select>
                </label>
            </div>
            {move || match result.get() {
                Ok(r) => view! {
                    <dl class="summary impact">
                        <div>
                            <dt>"Retained customers"</dt>
                            <dd data-testid="impact-retained">{count(r.retained)}</dd>
                        </div>
                        <div>
                            <dt>"Additional customers"</dt>
                            <dd data-testid="impact-customers-gained">{count(r.additional_customers)}</dd>
                        </div>
                        <div>
                            <dt>"Additional annual revenue"</dt>
                            <dd data-testid="impact-revenue">{format!("{}{}", symbol(), count(r.additional_revenue))}</dd>
                        </div>
                    </dl>
                }
                .into_any(),
                Err(message) => view! { <p class="status" role="alert">{message}</p> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn NumberInput(
    label: &'static str,
    testid: &'static str,
    value: RwSignal<String>,
    step: &'static str,
) -> impl IntoView {
    view! {
        <label class="param">
            <span class="param-label">{label}</span>
            <input
                type="number"
                min="0"
                step=step
                data-testid=testid
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
        </label>
    }
}
