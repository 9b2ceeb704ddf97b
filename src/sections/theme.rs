//! Light and dark themes: the page follows the system's `prefers-color-scheme` until the
//! visitor presses the toggle; the choice is then kept in `localStorage`.
//!
//! The CSS keys its colours on `data-theme` on the root element; the charts, which are SVG
//! drawn with fixed colours, read [`chart_theme`] inside their reactive closures and are
//! redrawn when the theme changes.

use std::cell::Cell;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::charts::ChartTheme;

/// Where the visitor's choice is kept.
const STORAGE_KEY: &str = "affinity-theme";

/// The page's colour theme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    /// Dark ink on a light page.
    Light,
    /// Light ink on a dark page.
    Dark,
}

impl Theme {
    /// The chart palette that matches this theme.
    pub fn charts(self) -> ChartTheme {
        match self {
            Theme::Light => ChartTheme::light(),
            Theme::Dark => ChartTheme::dark(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }
}

// Declared here rather than through web-sys features so this module needs no change to the
// crate's manifest; each call is guarded (`catch`) because storage can be disabled.
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = localStorage, js_name = getItem)]
    fn storage_get(key: &str) -> Result<Option<String>, JsValue>;
    #[wasm_bindgen(catch, js_namespace = localStorage, js_name = setItem)]
    fn storage_set(key: &str, value: &str) -> Result<(), JsValue>;

    type MediaQueryList;
    #[wasm_bindgen(catch, js_name = matchMedia)]
    fn match_media(query: &str) -> Result<MediaQueryList, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn matches(this: &MediaQueryList) -> bool;
    #[wasm_bindgen(method, js_name = addEventListener)]
    fn add_event_listener(this: &MediaQueryList, kind: &str, listener: &js_sys::Function);
}

const DARK_QUERY: &str = "(prefers-color-scheme: dark)";

thread_local! {
    // An Arc signal lives as long as this thread-local, not as long as the component that
    // first asked for it, so every section can read it without a provider in the app shell.
    static THEME: ArcRwSignal<Theme> = ArcRwSignal::new(initial_theme());
    // Whether the visitor chose a theme; until then the page follows the system.
    static CHOSEN: Cell<bool> = Cell::new(stored_theme().is_some());
    static WATCHING_SYSTEM: Cell<bool> = const { Cell::new(false) };
}

fn stored_theme() -> Option<Theme> {
    storage_get(STORAGE_KEY)
        .ok()
        .flatten()
        .and_then(|s| Theme::from_name(&s))
}

fn system_theme() -> Theme {
    match match_media(DARK_QUERY) {
        Ok(mq) if mq.matches() => Theme::Dark,
        _ => Theme::Light,
    }
}

fn initial_theme() -> Theme {
    stored_theme().unwrap_or_else(system_theme)
}

/// The current theme as a signal (reading it inside a reactive closure tracks it).
pub fn theme() -> ArcRwSignal<Theme> {
    THEME.with(Clone::clone)
}

/// The chart palette for the current theme; tracked, so a chart drawn in a reactive closure
/// is redrawn when the theme changes.
pub fn chart_theme() -> ChartTheme {
    theme().get().charts()
}

/// Sets `data-theme` on the root element, which the CSS keys its colours on.
fn apply(theme: Theme) {
    if let Some(root) = document().document_element() {
        // Only fails for an invalid attribute name, which this is not.
        let _ = root.set_attribute("data-theme", theme.name());
    }
}

/// Follows the system's theme while the visitor has not chosen one.
fn watch_system(signal: ArcRwSignal<Theme>) {
    if WATCHING_SYSTEM.with(|w| w.replace(true)) {
        return;
    }
    let Ok(mq) = match_media(DARK_QUERY) else {
        return;
    };
    let listener = Closure::<dyn Fn()>::new(move || {
        if !CHOSEN.with(Cell::get) {
            signal.set(system_theme());
        }
    });
    mq.add_event_listener("change", listener.as_ref().unchecked_ref());
    // The listener lives as long as the page.
    listener.forget();
}

/// A button that switches between the light and dark themes and remembers the choice.
/// Its name stays "Dark theme"; `aria-pressed` says whether it is on.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let signal = theme();
    watch_system(signal.clone());
    let current = signal.clone();
    Effect::new(move |_| apply(current.get()));
    let pressed = signal.clone();
    let toggle = move |_| {
        let next = match signal.get_untracked() {
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::Light,
        };
        CHOSEN.with(|c| c.set(true));
        // Private browsing may refuse storage: the theme still switches for this visit.
        let _ = storage_set(STORAGE_KEY, next.name());
        signal.set(next);
    };
    view! {
        <button
            type="button"
            class="theme-toggle"
            data-testid="theme-toggle"
            aria-pressed=move || (pressed.get() == Theme::Dark).to_string()
            on:click=toggle
        >
            <span aria-hidden="true" class="theme-icon">"◐"</span>
            " Dark theme"
        </button>
    }
}
