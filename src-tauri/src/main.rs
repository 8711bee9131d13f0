fn main() {
    reclaim_app::run()
}
