fn main() {
    // The config lives at the repository root, beside Cargo.toml, as the layout asks.
    if let Err(e) =
        tauri_build::try_build(tauri_build::Attributes::new().config_path("../tauri.conf.json"))
    {
        panic!("tauri build configuration: {e:#}");
    }
}
