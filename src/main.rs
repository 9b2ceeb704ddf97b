fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(affinity_app::app::App);
}
