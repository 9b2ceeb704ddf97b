fn main() {
    console_error_panic_hook::set_once();
    affinity_app::worker::run();
}
