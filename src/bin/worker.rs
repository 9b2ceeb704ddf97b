use gloo_worker::Registrable;

fn main() {
    console_error_panic_hook::set_once();
    affinity_app::worker::TrainWorker::registrar().register();
}
