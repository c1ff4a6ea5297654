#![no_main]
//! Account-domain normalisation: never panics; what it accepts is a Flowlu host and stable.
use connector_flowlu::AccountDomain;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(domain) = AccountDomain::parse(text) {
        let host = domain.host();
        assert!(host.ends_with(".flowlu.com") || host.ends_with(".flowlu.ru"));
        assert_eq!(AccountDomain::parse(&host).ok(), Some(domain));
    }
});
