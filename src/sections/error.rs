//! The error banner: every failure a visitor should know about shows here.

use leptos::prelude::*;

use crate::state::AppState;

/// A dismissible banner holding the latest error.
#[component]
pub fn ErrorBanner() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <div class="error" role="alert" hidden=move || state.error.with(Option::is_none)>
            <span data-testid="error">{move || state.error.get().unwrap_or_default()}</span>
            <button class="dismiss" aria-label="Dismiss" on:click=move |_| state.error.set(None)>
                "×"
            </button>
        </div>
    }
}
