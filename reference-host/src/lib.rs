//! # reference-host
//!
//! A reference host for the connector: what an integration platform's engineers copy into
//! their product. One page walks a credential's whole life: tiles, "Add credential" (the form
//! rendered by react-jsonschema-form from the generated schema and uiSchema), Save running the
//! validation call with each failure shown at its field, edit with the masked key, rotate the
//! key, delete, and "use for a source" (discover and a preview of a stream's first records).
//!
//! * [`connector_core::host::HostSchema`] splits what the form submits into its public part
//!   and its secrets, masks, merges edits and places failures: nothing here is Flowlu-specific
//!   but the credential type and the tile's account.
//! * [`store::Store`]: SQLite; each secret sealed with a [`crypto::DataKey`] held outside the
//!   database (an environment variable or a 0600 key file); never sent back, never logged.
//! * [`api::router`]: the HTTP API and the page; [`portals::Portals`]: where each account's
//!   requests go (the embedded stand-in here).
//!
//! ```sh
//! cargo run -p reference-host   # then open the URL it prints
//! ```

pub mod api;
pub mod clock;
pub mod crypto;
pub mod portals;
pub mod store;
pub mod webhooks;

pub use api::{authorities, router, Host};
pub use clock::{now, rfc3339};

/// Where the page's built script (`app.js`) is, found at run time so a binary works from any
/// directory: `flag` (`--assets`), else `env` (`REFERENCE_HOST_ASSETS`), else the first folder
/// holding `app.js` of: `reference-host-web/` beside the binary `exe`, the checkout the binary
/// was built in (`<checkout>/target/<profile>/reference-host` ->
/// `<checkout>/reference-host/web/dist`), `reference-host/web/dist` under the current
/// directory. A folder given by flag or variable must hold `app.js`. The error names every
/// place looked at and how to build the script.
pub fn find_assets(
    flag: Option<std::path::PathBuf>,
    env: Option<std::path::PathBuf>,
    exe: Option<&std::path::Path>,
) -> Result<std::path::PathBuf, String> {
    const BUILD: &str = "build it with `npm --prefix reference-host/web ci && npm --prefix reference-host/web run build`, or pass --assets DIR";
    if let Some(given) = flag.or(env) {
        return if given.join("app.js").is_file() {
            Ok(given)
        } else {
            Err(format!(
                "the page's script is not in {}: {BUILD}",
                given.join("app.js").display()
            ))
        };
    }
    let mut candidates = Vec::new();
    if let Some(dir) = exe.and_then(std::path::Path::parent) {
        candidates.push(dir.join("reference-host-web"));
        if let Some(checkout) = dir.parent().and_then(std::path::Path::parent) {
            candidates.push(checkout.join("reference-host/web/dist"));
        }
    }
    candidates.push(std::path::PathBuf::from("reference-host/web/dist"));
    candidates
        .iter()
        .find(|c| c.join("app.js").is_file())
        .cloned()
        .ok_or_else(|| {
            let looked: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
            format!(
                "the page's script (app.js) is in none of {}: {BUILD}",
                looked.join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::path::PathBuf;

    #[test]
    fn assets_are_found_beside_the_binary_or_in_its_checkout_from_any_directory() {
        let root = tempfile::tempdir().unwrap();
        let checkout = root.path().join("checkout");
        let exe = checkout.join("target/release/reference-host");
        std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
        let dist = checkout.join("reference-host/web/dist");
        std::fs::create_dir_all(&dist).unwrap();
        // Nothing built yet: the error names every place looked at.
        let err = super::find_assets(None, None, Some(&exe)).unwrap_err();
        assert_eq!(
            err,
            format!(
                "the page's script (app.js) is in none of {}, {}, reference-host/web/dist: build it with `npm --prefix reference-host/web ci && npm --prefix reference-host/web run build`, or pass --assets DIR",
                checkout.join("target/release/reference-host-web").display(),
                dist.clone().display()
            )
        );
        std::fs::write(dist.join("app.js"), "x").unwrap();
        assert_eq!(super::find_assets(None, None, Some(&exe)).unwrap(), dist.clone());
        // A copy beside the binary wins.
        let beside = checkout.join("target/release/reference-host-web");
        std::fs::create_dir_all(&beside).unwrap();
        std::fs::write(beside.join("app.js"), "x").unwrap();
        assert_eq!(super::find_assets(None, None, Some(&exe)).unwrap(), beside);
        // The flag, then the variable, win; a folder without app.js is refused by name.
        assert_eq!(
            super::find_assets(Some(dist.clone()), Some(PathBuf::from("/nope")), Some(&exe)).unwrap(),
            dist
        );
        assert_eq!(
            super::find_assets(None, Some(PathBuf::from("/nope")), Some(&exe)).unwrap_err(),
            "the page's script is not in /nope/app.js: build it with `npm --prefix reference-host/web ci && npm --prefix reference-host/web run build`, or pass --assets DIR"
        );
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(1_796_083_200 + 3661), "2026-12-01T01:01:01Z");
    }
}
