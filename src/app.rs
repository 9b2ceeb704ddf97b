//! Page layout; the app state and the trainer are provided to every section by context.

use leptos::prelude::*;

use crate::sections::{DataSection, ErrorBanner, ImpactSection, RecommendSection, TrainSection};
use crate::sections::{ExportSection, RecContext, SimilarSection, TryItSection};
use crate::sections::{LibrarySection, StorageBanner};
use crate::state::AppState;
use crate::storage::Library;
use crate::trainer::Trainer;

/// The whole page.
#[component]
pub fn App() -> impl IntoView {
    let state = AppState::new();
    provide_context(state);
    provide_context(Trainer::spawn(state));
    provide_context(RecContext::new());
    // After the trainer: the library watches the state the trainer drives, and resumes into it.
    provide_context(Library::start(state));
    view! {
        <header class="masthead">
            <crate::sections::theme::ThemeToggle/>
            <h1>"Affinity"</h1>
            <p class="tagline">
                "A recommender studio that trains in your browser. Your ratings never leave this page."
            </p>
        </header>
        <ErrorBanner/>
        <StorageBanner/>
        <main class="sections">
            <DataSection/>
            <TrainSection/>
            <RecommendSection/>
            <TryItSection/>
            <SimilarSection/>
            <ExportSection/>
            <ImpactSection/>
            <LibrarySection/>
        </main>
        <footer class="footer">
            "Alternating Least Squares with Apache Spark MLlib's semantics, compiled to WebAssembly and run in a Web Worker."
        </footer>
    }
}
